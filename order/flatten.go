package order

import (
	"reflect"
	"time"
)

// Rows holds rows for every table, indexed by TableID; each row holds its table's columns
// in order, nil for NULL.
type Rows [NumTables][][]any

// The kinds of the three discount lists, as stored in the discount tables' kind column.
const (
	KindCoupon   = "coupon"
	KindDiscount = "discount"
	KindNoCoupon = "no_coupon"
)

type sqlValuer interface{ SQL() any }

// Flatten returns the rows of every table for one decoded order. It is pure and does no I/O.
//
// Every row is keyed by the order's id (order_info.order_id). A 1:1 section becomes a row
// when has_result is true or any of its fields is set; a list element whose fields are all
// empty or zero (the placeholder the docs show) is no row, but keeps its position: positions
// (line_no, package_no, refund_no, entry_no) are 0-based indexes in the API's lists.
//
// updated is the order's change cursor, orders.update_time: the detail has no such field,
// it comes from the order's list item (order_info.update_time). Zero is NULL.
func Flatten(d *Detail, updated time.Time) *Rows {
	var r Rows
	id := string(d.OrderInfo.OrderID)
	ie := &d.InternalExtraInfo
	key := []any{id}

	orders := r.add(TOrders, true, key, &d.OrderInfo, &d.GoodsInfo, &ie.AfterSaleInfo, &ie.LogisticsInfo, &ie.RefundInfo)
	var cursor any
	if !updated.IsZero() {
		cursor = updated.In(Shanghai)
	}
	r[TOrders][0] = append(orders, cursor)

	r.add(TBuyers, false, key, &d.BuyerInfo)
	r.add(TPrices, false, key, &d.PriceInfo)
	r.add(TPayments, false, key, &d.PaymentInfo)
	r.add(TInvoices, false, key, &d.InvoiceInfo)

	for line := range d.GoodsInfo.GoodsList {
		g := &d.GoodsInfo.GoodsList[line]
		r.add(TGoods, false, []any{id, line}, g, &g.DiscountsInfo)
		r.discounts(TGoodsDiscounts, []any{id, line}, &g.DiscountsInfo)
		for e := range g.PaidCouponInfo {
			r.add(TGoodsPaidCoupons, false, []any{id, line, e}, &g.PaidCouponInfo[e])
		}
	}

	for e := range ie.AfterSaleInfo.AfterSaleRecords {
		r.add(TAfterSales, false, []any{id, e}, &ie.AfterSaleInfo.AfterSaleRecords[e])
	}
	r.add(TConsignees, false, key, &ie.ConsigneeInfo)
	r.add(TDistributions, false, key, &ie.ContentDistributionInfo)
	r.add(TIndentors, false, key, &ie.IndentorInfo)

	for pn := range ie.LogisticsInfo.PackagesInfo {
		p := &ie.LogisticsInfo.PackagesInfo[pn]
		r.add(TPackages, false, []any{id, pn}, p)
		for line := range p.PackageGoodsInfo {
			g := &p.PackageGoodsInfo[line]
			r.add(TPackageGoods, false, []any{id, pn, line}, g, &g.DiscountsInfo)
			r.discounts(TPackageGoodsDiscounts, []any{id, pn, line}, &g.DiscountsInfo)
		}
		for e := range p.PackageTraceInfo {
			r.add(TPackageTraces, false, []any{id, pn, e}, &p.PackageTraceInfo[e])
		}
	}

	for rn := range ie.RefundInfo.RefundRecords {
		rec := &ie.RefundInfo.RefundRecords[rn]
		r.add(TRefunds, false, []any{id, rn}, rec)
		r.add(TRefundGoods, false, []any{id, rn}, &rec.GoodsInfo, &rec.GoodsInfo.DiscountsInfo)
		r.discounts(TRefundGoodsDiscounts, []any{id, rn}, &rec.GoodsInfo.DiscountsInfo)
	}

	r.add(TStudents, false, key, &ie.StudentInfo)
	for e := range ie.StudentInfo.CData {
		r.add(TStudentData, false, []any{id, e}, &ie.StudentInfo.CData[e])
	}
	r.add(TTalentDouyin, false, key, &ie.TalentDouyinInfo)
	r.add(TVeriInfo, false, key, &ie.VeriCodeInfo)
	for e := range ie.VeriCodeInfo.VeriCodeList {
		r.add(TVeriCodes, false, []any{id, e}, &ie.VeriCodeInfo.VeriCodeList[e])
	}
	r.add(TThirdParty, false, key, &d.ThirdPartyInfo.DouyinInfo, &d.ThirdPartyInfo.QuickHandInfo)
	return &r
}

// discounts adds the rows of the three discount lists of one goods line; keys are the
// line's keys, to which kind and entry_no are added.
func (r *Rows) discounts(id TableID, keys []any, di *DiscountsInfo) {
	lists := [...]struct {
		kind string
		list List[Discount]
	}{{KindCoupon, di.CouponsList}, {KindDiscount, di.DiscountsList}, {KindNoCoupon, di.NoCouponList}}
	for _, l := range lists {
		for e := range l.list {
			k := make([]any, 0, len(keys)+2)
			k = append(append(k, keys...), l.kind, e)
			r.add(id, false, k, &l.list[e])
		}
	}
}

// add builds a row of table id from its keys and the structs of its parts, in order, and
// keeps it unless every value is empty and always is false.
func (r *Rows) add(id TableID, always bool, keys []any, srcs ...any) []any {
	t := Tables[id]
	row := make([]any, len(keys), len(t.Columns))
	copy(row, keys)
	empty := true
	for i := range t.parts {
		v := reflect.ValueOf(srcs[i]).Elem()
		for _, idx := range t.parts[i].fields {
			x := v.FieldByIndex(idx).Addr().Interface().(sqlValuer).SQL()
			if empty && !isZero(x) {
				empty = false
			}
			row = append(row, x)
		}
	}
	if empty && !always {
		return nil
	}
	r[id] = append(r[id], row)
	return row
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case int64:
		return x == 0
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	case time.Time:
		return x.IsZero()
	}
	return false
}
