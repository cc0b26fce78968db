package store_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"ordersync/order"
	"ordersync/store"
	"ordersync/store/storetest"
)

// field is a row of the API's field table (testdata/order-detail-fields.tsv).
type field struct{ path, typ string }

func readFieldTable(t *testing.T) []field {
	t.Helper()
	f, err := os.Open("../testdata/order-detail-fields.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []field
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 2 {
			continue
		}
		out = append(out, field{strings.TrimPrefix(cols[0], "data."), cols[1]})
	}
	if len(out) != 382 {
		t.Fatalf("field table has %d paths, want the 382 documented ones", len(out))
	}
	return out
}

// designTables is DESIGN.md's table map, written out independently of the code: the
// section (by longest path prefix) that feeds each table.
var designTables = []struct{ prefix, table string }{
	{"order_info", "orders"},
	{"buyer_info", "order_buyers"},
	{"price_info", "order_prices"},
	{"payment_info", "order_payments"},
	{"invoice_info", "order_invoices"},
	{"goods_info.goods_list[]", "order_goods"},
	{"goods_info.goods_list[].discounts_info.coupons_list[]", "order_goods_discounts"},
	{"goods_info.goods_list[].discounts_info.discounts_list[]", "order_goods_discounts"},
	{"goods_info.goods_list[].discounts_info.no_coupon_list[]", "order_goods_discounts"},
	{"goods_info.goods_list[].paid_coupon_info[]", "order_goods_paid_coupons"},
	{"internal_extra_info.after_sale_info.after_sale_records[]", "order_after_sales"},
	{"internal_extra_info.consignee_info", "order_consignees"},
	{"internal_extra_info.content_distribution_info", "order_distributions"},
	{"internal_extra_info.indentor_info", "order_indentors"},
	{"internal_extra_info.logistics_info.packages_info[]", "order_packages"},
	{"internal_extra_info.logistics_info.packages_info[].package_goods_info[]", "order_package_goods"},
	{"internal_extra_info.logistics_info.packages_info[].package_goods_info[].discounts_info.coupons_list[]", "order_package_goods_discounts"},
	{"internal_extra_info.logistics_info.packages_info[].package_goods_info[].discounts_info.discounts_list[]", "order_package_goods_discounts"},
	{"internal_extra_info.logistics_info.packages_info[].package_goods_info[].discounts_info.no_coupon_list[]", "order_package_goods_discounts"},
	{"internal_extra_info.logistics_info.packages_info[].package_trace_info[]", "order_package_traces"},
	{"internal_extra_info.refund_info.refund_records[]", "order_refunds"},
	{"internal_extra_info.refund_info.refund_records[].goods_info", "order_refund_goods"},
	{"internal_extra_info.refund_info.refund_records[].goods_info.discounts_info.coupons_list[]", "order_refund_goods_discounts"},
	{"internal_extra_info.refund_info.refund_records[].goods_info.discounts_info.discounts_list[]", "order_refund_goods_discounts"},
	{"internal_extra_info.refund_info.refund_records[].goods_info.discounts_info.no_coupon_list[]", "order_refund_goods_discounts"},
	{"internal_extra_info.student_info", "order_students"},
	{"internal_extra_info.student_info.c_data", "order_student_data"},
	{"internal_extra_info.talent_douyin_info", "order_talent_douyin"},
	{"internal_extra_info.veri_code_info", "order_veri_info"},
	{"internal_extra_info.veri_code_info.veri_code_list[]", "order_veri_codes"},
	{"third_party_info.douyin_info", "order_third_party"},
	{"third_party_info.quick_hand_info", "order_third_party"},
}

// renamed are the documented fields whose column is not named like the field, because
// several has_result flags meet in one table. Nothing else may be renamed.
var renamed = map[string]struct{ table, column string }{
	"goods_info.has_result":                          {"orders", "goods_info_has_result"},
	"internal_extra_info.after_sale_info.has_result": {"orders", "after_sale_info_has_result"},
	"internal_extra_info.logistics_info.has_result":  {"orders", "logistics_info_has_result"},
	"internal_extra_info.refund_info.has_result":     {"orders", "refund_info_has_result"},
	"third_party_info.douyin_info.has_result":        {"order_third_party", "douyin_info_has_result"},
	"third_party_info.quick_hand_info.has_result":    {"order_third_party", "quick_hand_info_has_result"},
}

// expectedPlace is where DESIGN.md says a documented leaf field lands.
func expectedPlace(path string) (table, column string) {
	if r, ok := renamed[path]; ok {
		return r.table, r.column
	}
	best := ""
	for _, d := range designTables {
		if strings.HasPrefix(path, d.prefix+".") && len(d.prefix) > len(best) {
			best, table = d.prefix, d.table
		}
	}
	return table, path[strings.LastIndex(path, ".")+1:]
}

func discountKind(path string) string {
	for _, k := range []struct{ list, kind string }{
		{"coupons_list[]", order.KindCoupon}, {"discounts_list[]", order.KindDiscount}, {"no_coupon_list[]", order.KindNoCoupon},
	} {
		if strings.Contains(path, k.list) {
			return k.kind
		}
	}
	return ""
}

// codeColumns indexes the code's table map by field path.
func codeColumns() map[string][]struct{ table, column, typ string } {
	out := map[string][]struct{ table, column, typ string }{}
	for _, t := range order.Tables {
		for _, c := range t.Columns {
			for _, p := range c.Paths {
				out[p] = append(out[p], struct{ table, column, typ string }{t.Name, c.Name, c.Type})
			}
		}
	}
	return out
}

func leaves(fields []field) []field {
	var out []field
	for _, f := range fields {
		leaf := true
		for _, g := range fields {
			if strings.HasPrefix(g.path, f.path+".") || strings.HasPrefix(g.path, f.path+"[]") {
				leaf = false
				break
			}
		}
		if leaf {
			out = append(out, f)
		}
	}
	return out
}

// TestMappingMatchesFieldTable checks the code's table map against the field table in both
// directions: every documented leaf field has exactly the column DESIGN.md names, and no
// column claims a field the docs lack.
func TestMappingMatchesFieldTable(t *testing.T) {
	fields := readFieldTable(t)
	documented := map[string]bool{}
	for _, f := range fields {
		documented[f.path] = true
	}
	cols := codeColumns()
	for _, f := range leaves(fields) {
		table, column := expectedPlace(f.path)
		got := cols[f.path]
		if len(got) != 1 || got[0].table != table || got[0].column != column {
			t.Errorf("%s: mapped to %v, want %s.%s", f.path, got, table, column)
		}
	}
	var undocumented []string
	for p := range cols {
		if !documented[p] {
			undocumented = append(undocumented, p)
		}
	}
	sort.Strings(undocumented)
	for _, p := range undocumented {
		t.Errorf("column for %s, which the field table does not document", p)
	}
}

// TestEveryFieldLands stores an order in which every documented field holds a value of its
// own, and reads each one back from the table and column DESIGN.md names.
func TestEveryFieldLands(t *testing.T) {
	t.Parallel()
	fields := readFieldTable(t)
	cols := codeColumns()
	const id = "E20260102030405abcdefV2"
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, order.Shanghai)

	types := map[string]string{}
	for _, f := range fields {
		types[f.path] = f.typ
	}
	root := map[string]any{}
	want := map[string]string{} // path -> the column's text
	for n, f := range leaves(fields) {
		var v any
		var text string
		place := cols[f.path]
		if len(place) != 1 {
			t.Fatalf("%s has no single column: %v", f.path, place)
		}
		switch {
		case strings.HasSuffix(f.path, ".order_id"):
			v, text = id, id
		case place[0].typ == "timestamptz":
			tm := base.Add(time.Duration(n) * time.Minute)
			v, text = tm.Format(time.DateTime), tm.Format("2006-01-02 15:04:05-07")
		case place[0].typ == "date":
			d := base.AddDate(0, 0, n)
			v, text = d.Format(time.DateOnly), d.Format(time.DateOnly)
		case f.typ == "int":
			v, text = 1000+n, fmt.Sprint(1000+n)
		case f.typ == "number":
			v, text = float64(n)+0.25, fmt.Sprint(float64(n)+0.25)
		case f.typ == "boolean":
			v, text = true, "true"
		case f.typ == "array": // paid_coupon_info[].app_id: documented as an array of ids
			v, text = []any{fmt.Sprintf("app%d", n)}, fmt.Sprintf(`["app%d"]`, n)
		default:
			v, text = fmt.Sprintf("s%d", n), fmt.Sprintf("s%d", n)
		}
		setPath(root, f.path, types, v)
		want[f.path] = text
	}
	detail, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	updated := base.Add(48 * time.Hour)
	o, err := order.Prepare(order.Payload{OrderID: id, UpdateTime: updated, Detail: detail})
	if err != nil {
		t.Fatal(err)
	}
	s := storetest.Store(t)
	ctx := context.Background()
	if _, err := s.Write(ctx, store.Batch{Orders: []*order.Prepared{o}}); err != nil {
		t.Fatal(err)
	}

	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET TimeZone = 'Asia/Shanghai'"); err != nil {
		t.Fatal(err)
	}
	for _, f := range leaves(fields) {
		table, column := expectedPlace(f.path)
		q := fmt.Sprintf("SELECT %s::text FROM %s WHERE order_id = $1", column, table)
		args := []any{id}
		if k := discountKind(f.path); k != "" {
			q += " AND kind = $2"
			args = append(args, k)
		}
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		var got []*string
		for rows.Next() {
			var v *string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		rows.Close()
		if len(got) != 1 || got[0] == nil || *got[0] != want[f.path] {
			t.Errorf("%s: %s.%s holds %v, want %q", f.path, table, column, deref(got), want[f.path])
		}
	}
	var ut time.Time
	if err := conn.QueryRow(ctx, "SELECT update_time FROM orders WHERE order_id = $1", id).Scan(&ut); err != nil || !ut.Equal(updated) {
		t.Errorf("orders.update_time = %v (%v), want %v", ut, err, updated)
	}
}

func deref(vs []*string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		if v == nil {
			out[i] = "NULL"
		} else {
			out[i] = *v
		}
	}
	return out
}

// setPath puts v at a field-table path in a JSON tree; a segment whose path is typed array
// holds a list of one element.
func setPath(root map[string]any, path string, types map[string]string, v any) {
	segs := strings.Split(path, ".")
	node := root
	prefix := ""
	for i, seg := range segs {
		name := strings.TrimSuffix(seg, "[]")
		if prefix != "" {
			prefix += "."
		}
		prefix += seg
		if i == len(segs)-1 {
			node[name] = v
			return
		}
		isList := strings.HasSuffix(seg, "[]") || types[prefix] == "array"
		if isList {
			list, _ := node[name].([]any)
			if len(list) == 0 {
				list = []any{map[string]any{}}
				node[name] = list
			}
			node = list[0].(map[string]any)
		} else {
			child, _ := node[name].(map[string]any)
			if child == nil {
				child = map[string]any{}
				node[name] = child
			}
			node = child
		}
	}
}
