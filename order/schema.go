package order

import (
	"fmt"
	"reflect"
	"strings"
)

// TableID indexes Tables and Rows. The order is the order of inserts: parents first.
type TableID int

const (
	TOrders TableID = iota
	TBuyers
	TPrices
	TPayments
	TInvoices
	TGoods
	TGoodsDiscounts
	TGoodsPaidCoupons
	TAfterSales
	TConsignees
	TDistributions
	TIndentors
	TPackages
	TPackageGoods
	TPackageGoodsDiscounts
	TPackageTraces
	TRefunds
	TRefundGoods
	TRefundGoodsDiscounts
	TStudents
	TStudentData
	TTalentDouyin
	TVeriInfo
	TVeriCodes
	TThirdParty
	NumTables
)

// Column is one column of an order table.
type Column struct {
	Name string
	// Type is the PostgreSQL type, as the migrations declare it.
	Type string
	// Paths are the field paths of order detail 2.0 (without the leading "data.") whose
	// values land in this column; several when lists of one shape share a table. Empty for
	// positions, the discount kind and update_time, which the API does not name.
	Paths []string
}

// Table is the mapping of one table: the contract between the API's field table, Flatten
// and the migrations, checked by tests in both directions.
type Table struct {
	ID   TableID
	Name string
	// Keys are the primary key's columns: order_id, then positions in the API's lists.
	Keys    []string
	Columns []Column

	parts []part
}

// ColumnNames returns the names of all columns in row order.
func (t *Table) ColumnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// Tables is the table map, indexed by TableID.
var Tables = buildTables()

// part is a run of columns read from one struct by reflection.
type part struct {
	typ    reflect.Type
	fields [][]int // index path of each column's field
}

// SQL types of the lenient field types.
var sqlTypes = map[reflect.Type]string{
	reflect.TypeFor[Str]():   "text",
	reflect.TypeFor[Int]():   "integer",
	reflect.TypeFor[Fen]():   "bigint",
	reflect.TypeFor[Int64](): "bigint",
	reflect.TypeFor[Bool]():  "boolean",
	reflect.TypeFor[Ratio](): "numeric",
	reflect.TypeFor[Time]():  "timestamptz",
	reflect.TypeFor[Date]():  "date",
}

var keyTypes = map[string]string{
	"order_id": "text", "line_no": "integer", "package_no": "integer", "refund_no": "integer",
	"entry_no": "integer", "kind": "text",
}

// src names a struct whose scalar fields become columns.
type src struct {
	v      any      // a zero value of the struct
	paths  []string // the API paths of the struct (several for the three discount lists)
	only   []string // when set, just these fields
	rename map[string]string
}

func buildTables() [NumTables]*Table {
	const (
		goods    = "goods_info.goods_list[]"
		extra    = "internal_extra_info."
		pkg      = extra + "logistics_info.packages_info[]"
		pkgGoods = pkg + ".package_goods_info[]"
		refund   = extra + "refund_info.refund_records[]"
	)
	discountLists := func(prefix string) []string {
		return []string{
			prefix + ".discounts_info.coupons_list[]",
			prefix + ".discounts_info.discounts_list[]",
			prefix + ".discounts_info.no_coupon_list[]",
		}
	}
	one := func(p string) []string { return []string{p} }
	// The wrapper sections of lists carry a has_result of their own; it lands on orders
	// under the section's name because four columns cannot all be called has_result.
	wrapperFlag := func(v any, section string) src {
		return src{v: v, paths: one(section), only: []string{"has_result"},
			rename: map[string]string{"has_result": strings.TrimPrefix(section, extra) + "_has_result"}}
	}

	defs := []struct {
		id   TableID
		name string
		keys []string
		srcs []src
	}{
		{TOrders, "orders", []string{"order_id"}, []src{
			{v: OrderInfo{}, paths: one("order_info")},
			wrapperFlag(GoodsInfo{}, "goods_info"),
			wrapperFlag(AfterSaleInfo{}, extra+"after_sale_info"),
			wrapperFlag(LogisticsInfo{}, extra+"logistics_info"),
			wrapperFlag(RefundInfo{}, extra+"refund_info"),
		}},
		{TBuyers, "order_buyers", []string{"order_id"}, []src{{v: BuyerInfo{}, paths: one("buyer_info")}}},
		{TPrices, "order_prices", []string{"order_id"}, []src{{v: PriceInfo{}, paths: one("price_info")}}},
		{TPayments, "order_payments", []string{"order_id"}, []src{{v: PaymentInfo{}, paths: one("payment_info")}}},
		{TInvoices, "order_invoices", []string{"order_id"}, []src{{v: InvoiceInfo{}, paths: one("invoice_info")}}},
		{TGoods, "order_goods", []string{"order_id", "line_no"}, []src{
			{v: Goods{}, paths: one(goods)},
			{v: DiscountsInfo{}, paths: one(goods + ".discounts_info")},
		}},
		{TGoodsDiscounts, "order_goods_discounts", []string{"order_id", "line_no", "kind", "entry_no"},
			[]src{{v: Discount{}, paths: discountLists(goods)}}},
		{TGoodsPaidCoupons, "order_goods_paid_coupons", []string{"order_id", "line_no", "entry_no"},
			[]src{{v: PaidCoupon{}, paths: one(goods + ".paid_coupon_info[]")}}},
		{TAfterSales, "order_after_sales", []string{"order_id", "entry_no"},
			[]src{{v: AfterSaleRecord{}, paths: one(extra + "after_sale_info.after_sale_records[]")}}},
		{TConsignees, "order_consignees", []string{"order_id"}, []src{{v: ConsigneeInfo{}, paths: one(extra + "consignee_info")}}},
		{TDistributions, "order_distributions", []string{"order_id"},
			[]src{{v: ContentDistributionInfo{}, paths: one(extra + "content_distribution_info")}}},
		{TIndentors, "order_indentors", []string{"order_id"}, []src{{v: IndentorInfo{}, paths: one(extra + "indentor_info")}}},
		{TPackages, "order_packages", []string{"order_id", "package_no"}, []src{{v: Package{}, paths: one(pkg)}}},
		{TPackageGoods, "order_package_goods", []string{"order_id", "package_no", "line_no"}, []src{
			{v: PackageGoods{}, paths: one(pkgGoods)},
			{v: DiscountsInfo{}, paths: one(pkgGoods + ".discounts_info")},
		}},
		{TPackageGoodsDiscounts, "order_package_goods_discounts", []string{"order_id", "package_no", "line_no", "kind", "entry_no"},
			[]src{{v: Discount{}, paths: discountLists(pkgGoods)}}},
		{TPackageTraces, "order_package_traces", []string{"order_id", "package_no", "entry_no"},
			[]src{{v: PackageTrace{}, paths: one(pkg + ".package_trace_info[]")}}},
		{TRefunds, "order_refunds", []string{"order_id", "refund_no"}, []src{{v: RefundRecord{}, paths: one(refund)}}},
		{TRefundGoods, "order_refund_goods", []string{"order_id", "refund_no"}, []src{
			{v: PackageGoods{}, paths: one(refund + ".goods_info")},
			{v: DiscountsInfo{}, paths: one(refund + ".goods_info.discounts_info")},
		}},
		{TRefundGoodsDiscounts, "order_refund_goods_discounts", []string{"order_id", "refund_no", "kind", "entry_no"},
			[]src{{v: Discount{}, paths: discountLists(refund + ".goods_info")}}},
		{TStudents, "order_students", []string{"order_id"}, []src{{v: StudentInfo{}, paths: one(extra + "student_info")}}},
		// The field table spells this list's elements without [] (student_info.c_data.key).
		{TStudentData, "order_student_data", []string{"order_id", "entry_no"},
			[]src{{v: StudentKV{}, paths: one(extra + "student_info.c_data")}}},
		{TTalentDouyin, "order_talent_douyin", []string{"order_id"},
			[]src{{v: TalentDouyinInfo{}, paths: one(extra + "talent_douyin_info")}}},
		{TVeriInfo, "order_veri_info", []string{"order_id"}, []src{{v: VeriCodeInfo{}, paths: one(extra + "veri_code_info")}}},
		{TVeriCodes, "order_veri_codes", []string{"order_id", "entry_no"},
			[]src{{v: VeriCode{}, paths: one(extra + "veri_code_info.veri_code_list[]")}}},
		{TThirdParty, "order_third_party", []string{"order_id"}, []src{
			{v: DouyinInfo{}, paths: one("third_party_info.douyin_info"),
				rename: map[string]string{"has_result": "douyin_info_has_result"}},
			{v: QuickHandInfo{}, paths: one("third_party_info.quick_hand_info"),
				rename: map[string]string{"has_result": "quick_hand_info_has_result"}},
		}},
	}

	var tables [NumTables]*Table
	for _, d := range defs {
		t := &Table{ID: d.id, Name: d.name, Keys: d.keys}
		keyIndex := map[string]int{}
		for _, k := range d.keys {
			keyIndex[k] = len(t.Columns)
			t.Columns = append(t.Columns, Column{Name: k, Type: keyTypes[k]})
		}
		seen := map[string]bool{}
		for _, s := range d.srcs {
			p := part{typ: reflect.TypeOf(s.v)}
			for _, f := range scalarFields(p.typ, nil) {
				name := f.name
				if s.only != nil && !contains(s.only, name) {
					continue
				}
				var paths []string
				for _, base := range s.paths {
					paths = append(paths, base+"."+name)
				}
				if r, ok := s.rename[name]; ok {
					name = r
				}
				if i, ok := keyIndex[name]; ok {
					// A section's own order_id is the order's: the key column holds it.
					t.Columns[i].Paths = append(t.Columns[i].Paths, paths...)
					continue
				}
				if seen[name] {
					panic(fmt.Sprintf("order: table %s has two columns named %s", d.name, name))
				}
				seen[name] = true
				p.fields = append(p.fields, f.index)
				t.Columns = append(t.Columns, Column{Name: name, Type: sqlTypes[f.typ], Paths: paths})
			}
			t.parts = append(t.parts, p)
		}
		if d.id == TOrders {
			t.Columns = append(t.Columns, Column{Name: "update_time", Type: "timestamptz"})
		}
		tables[d.id] = t
	}
	for i, t := range tables {
		if t == nil {
			panic(fmt.Sprintf("order: table %d has no definition", i))
		}
	}
	return tables
}

type scalarField struct {
	name  string
	typ   reflect.Type
	index []int
}

// scalarFields lists the fields of t that map to a column, descending into embedded
// structs; lists and nested sections are left to their own tables.
func scalarFields(t reflect.Type, index []int) []scalarField {
	var out []scalarField
	for i := range t.NumField() {
		f := t.Field(i)
		idx := append(append([]int(nil), index...), i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, scalarFields(f.Type, idx)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if _, ok := sqlTypes[f.Type]; !ok {
			continue
		}
		out = append(out, scalarField{name: name, typ: f.Type, index: idx})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
