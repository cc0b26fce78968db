package fetchtest

import (
	"bytes"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"ordersync/order"
)

var (
	orderStateDesc  = []string{"待付款", "待成交", "待发货", "已发货", "已完成", "已关闭"}
	closeTypeDesc   = []string{"未关闭", "自动取消", "用户手动取消", "商家取消", "全额退款", "拼团失败", "系统取消"}
	orderTypeDesc   = []string{"", "交易订单", "导入订单", "渠道采购订单", "兑换订单"}
	goodsRefundDesc = []string{"", "售后中", "部分退款", "全额退款"}
	checkStateDesc  = []string{"无", "待核销", "已核销", "已失效", "部分核销"}
	refundStateDesc = []string{"待退款", "退款中", "退款成功", "退款失败"}
)

func payTypeDesc(t int) string {
	switch t {
	case 1:
		return "微信支付"
	case 2:
		return "支付宝"
	case -1:
		return "无需支付"
	}
	return ""
}

func shipStateDesc(s int) string {
	switch s {
	case 1:
		return "已发货"
	case 3:
		return "已收货"
	}
	return "待发货"
}

// renderer writes one order's payloads.
type renderer struct {
	m *model
	w jw
}

// money writes an amount, as a numeric string for an order with that quirk.
func (r *renderer) money(k string, v int64) {
	if r.m.q.numStrings {
		r.w.numStr(k, v)
		return
	}
	r.w.int(k, v)
}

func (r *renderer) detailTime(k string, t time.Time) { r.w.time(k, t, r.m.q.zeroTime) }

// section writes a 1:1 section with a has_result flag: its fields, or, when it has no
// content, the order's way of saying so (placeholder fields, {}, [] or nothing).
func (r *renderer) section(k string, has bool, fields func()) {
	if !has {
		switch r.m.q.empty {
		case emptyObject:
			r.w.raw(k, []byte("{}"))
			return
		case emptyArray:
			r.w.raw(k, []byte("[]"))
			return
		case emptyMissing:
			return
		}
	}
	r.w.obj(k)
	fields()
	r.w.bool("has_result", has)
	r.w.end()
}

// list writes an array of n elements; with none, the placeholder style writes one empty
// element (the docs' sample), the others [].
func (r *renderer) list(k string, n int, elem func(i int)) {
	r.w.arr(k)
	for i := range n {
		r.w.obj("")
		elem(i)
		r.w.end()
	}
	if n == 0 && r.m.q.empty == emptyPlaceholder {
		r.w.obj("")
		elem(-1)
		r.w.end()
	}
	r.w.endArr()
}

// renderDetail writes the data object of the order's detail 2.0.
func (m *model) renderDetail() []byte {
	r := &renderer{m: m, w: jw{b: make([]byte, 0, 8<<10)}}
	w := &r.w
	w.obj("")
	r.buyerInfo()
	r.goodsInfo()
	w.obj("internal_extra_info")
	r.afterSaleInfo()
	r.consigneeInfo()
	r.distributionInfo()
	r.indentorInfo()
	r.logisticsInfo()
	r.refundInfo()
	r.studentInfo()
	r.talentInfo()
	r.veriCodeInfo()
	w.end()
	r.invoiceInfo()
	r.orderInfo()
	r.section("payment_info", m.outID != "", func() {
		w.str("out_order_id", m.outID)
		w.str("transaction_id", m.txID)
	})
	r.priceInfo()
	r.thirdPartyInfo()
	if m.q.extraField {
		// A section the docs do not know yet: the API adds fields over time.
		w.obj("marketing_info")
		w.str("activity_id", "act_"+m.tradeID[2:14])
		w.int("activity_type", 2)
		w.bool("has_result", true)
		w.end()
	}
	w.end()
	return w.b
}

func (r *renderer) buyerInfo() {
	m, w := r.m, &r.w
	r.section("buyer_info", true, func() {
		w.str("avatar_url", m.buyer.avatar)
		w.str("comment", m.buyer.comment)
		w.str("info_collect_phone_number", m.buyer.collectPhone)
		w.str("nickname", m.buyer.nickname)
		w.str("phone_number", m.buyer.phone)
		w.str("user_id", m.userID)
	})
}

func (r *renderer) goodsInfo() {
	m, w := r.m, &r.w
	w.obj("goods_info")
	w.arr("goods_list")
	for _, l := range m.goods {
		w.obj("")
		r.goodsFields(l, l.qty, l.refunded)
		if len(l.paidCoupons) == 0 && !m.q.paidCouponAr {
			w.str("paid_coupon_info", "") // typed array, sent as "" (the docs' sample)
		} else {
			w.arr("paid_coupon_info")
			for _, pc := range l.paidCoupons {
				w.obj("")
				w.str("app_id", m.appID)
				w.str("coupon_code", pc.code)
				w.str("coupon_password", pc.password)
				w.str("goods_id", l.p.spuID)
				w.str("order_id", m.id)
				w.time("receive_at", pc.receiveAt, "")
				w.int("stat", 2)
				w.str("user_id", m.userID)
				w.end()
			}
			w.endArr()
		}
		w.end()
	}
	w.endArr()
	w.bool("has_result", len(m.goods) > 0)
	w.end()
}

// goodsFields writes the fields shared by a goods line, a package's goods and a refund's
// goods, for qty of the line's quantity (its amounts pro rata).
func (r *renderer) goodsFields(l *line, qty int64, refunded int64) {
	m, w := r.m, &r.w
	part := func(v int64) int64 {
		if qty == l.qty || l.qty == 0 {
			return v
		}
		return v * qty / l.qty
	}
	actual := part(l.actual())
	r.money("actual_fee", actual)
	w.str("app_id", m.appID)
	w.int("check_state", int64(l.checkState))
	w.str("check_state_description", checkStateDesc[l.checkState])
	w.obj("discounts_info")
	discountList := func(k string, keep func(discount) bool) {
		n := 0
		w.arr(k)
		for _, d := range l.discounts {
			if keep(d) {
				n++
				w.obj("")
				r.money("discount_amount", part(d.amount))
				w.str("discount_name", d.name)
				w.int("discount_sub_type", int64(d.subType))
				w.str("discount_sub_type_description", d.subDesc)
				w.end()
			}
		}
		if n == 0 && m.q.empty == emptyPlaceholder {
			w.obj("")
			w.int("discount_amount", 0)
			w.str("discount_name", "")
			w.int("discount_sub_type", 0)
			w.str("discount_sub_type_description", "")
			w.end()
		}
		w.endArr()
	}
	coupons := 0
	for _, d := range l.discounts {
		if d.coupon {
			coupons++
		}
	}
	discountList("coupons_list", func(d discount) bool { return d.coupon })
	discountList("discounts_list", func(discount) bool { return true })
	w.bool("multi_coupons_usage", coupons > 1)
	discountList("no_coupon_list", func(d discount) bool { return !d.coupon })
	r.money("total_coupons_discount_amount", part(l.couponTotal()))
	w.end()
	if l.expireEnd.IsZero() {
		w.str("expire_desc", "长期有效")
		w.bool("expire_display", false)
		w.str("expire_end", "--")
	} else {
		w.str("expire_desc", "有效期至"+l.expireEnd.In(order.Shanghai).Format(time.DateOnly))
		w.bool("expire_display", true)
		w.time("expire_end", l.expireEnd, "")
	}
	w.time("expire_start", l.expireStart, "")
	w.str("goods_description", l.p.desc)
	w.str("goods_image", l.p.image)
	w.str("goods_name", l.p.name)
	w.str("goods_sn", l.p.goodsSn)
	w.str("goods_spec_description", l.p.spec)
	r.money("modified_amount", part(l.modified))
	w.int("period_type", int64(l.p.period))
	if m.q.numStrings {
		w.numStr("quantity", qty)
	} else {
		w.int("quantity", qty)
	}
	r.money("refund_amount", part(refunded))
	w.int("refund_state", int64(l.refundState))
	w.str("refund_state_description", goodsRefundDesc[l.refundState])
	refundable := int64(0)
	if m.paid() {
		refundable = part(l.actual() - l.refunded)
	}
	r.money("refundable_amount", refundable)
	w.str("relation_goods_id", l.relID)
	w.int("relation_goods_type", int64(l.relType))
	if l.relType == 1 || l.relType == 2 {
		w.str("relation_goods_type_description", "套餐商品")
	} else {
		w.str("relation_goods_type_description", "")
	}
	w.int("remain_count", int64(l.remain))
	w.int("ship_state", int64(l.shipState))
	if l.p.physical {
		w.str("ship_state_description", shipStateDesc(l.shipState))
	} else {
		w.str("ship_state_description", "")
	}
	w.str("sku_id", l.p.skuID)
	w.str("sku_spec_code", l.p.skuSpecCode)
	if l.p.offline {
		w.str("spec_value", "周六 09:00-11:00")
	} else {
		w.str("spec_value", "")
	}
	w.str("spu_id", l.p.spuID)
	w.str("spu_type", l.p.spuType)
	w.str("spu_type_description", l.p.typeDesc)
	r.money("sub_total", part(l.subTotal()))
	if l.p.price >= 100000 {
		w.str("tag_description", "热销")
	} else {
		w.str("tag_description", "")
	}
	r.money("unit_price", l.unit)
	if l.vs != nil {
		r.money("vs_commission", part(l.vs.commission))
		w.str("vs_nick_name", l.vs.nick)
		r.money("vs_platform_fee", part(l.vs.fee))
	} else {
		w.int("vs_commission", 0)
		w.str("vs_nick_name", "")
		w.int("vs_platform_fee", 0)
	}
}

// couponCodes is a package's or refund's paid_coupon_info, documented as a string there.
func couponCodes(l *line) string {
	codes := make([]string, len(l.paidCoupons))
	for i, pc := range l.paidCoupons {
		codes[i] = pc.code
	}
	return strings.Join(codes, ",")
}

func (r *renderer) afterSaleInfo() {
	m, w := r.m, &r.w
	r.section("after_sale_info", len(m.afterSales) > 0, func() {
		r.list("after_sale_records", len(m.afterSales), func(i int) {
			var a afterSale
			if i >= 0 {
				a = m.afterSales[i]
			}
			w.str("after_sale_id", a.id)
			w.str("goods_name", a.goodsName)
		})
	})
}

func (r *renderer) consigneeInfo() {
	m, w := r.m, &r.w
	a := m.addr
	if a == nil {
		a = &address{}
	}
	r.section("consignee_info", m.addr != nil, func() {
		full := ""
		if m.addr != nil {
			full = a.province + a.city + a.county + a.detail
		}
		w.str("address", full)
		w.str("address_city", a.city)
		w.str("address_county", a.county)
		w.str("address_detail", a.detail)
		w.str("address_province", a.province)
		w.str("contact", a.phone)
		if m.addr != nil {
			w.str("contact_country_code", "86")
			w.int("express_type", 1)
			w.str("full_contact", "+86 "+a.phone)
		} else {
			w.str("contact_country_code", "")
			w.int("express_type", 0)
			w.str("full_contact", "")
		}
		w.str("name", a.name)
	})
}

func (r *renderer) distributionInfo() {
	m, w := r.m, &r.w
	d := m.dist
	if d == nil {
		d = &distribution{}
	}
	r.section("content_distribution_info", m.dist != nil, func() {
		total := m.collectibles()
		if m.dist == nil {
			total = 0
		}
		r.money("channel_order_actual_price", total)
		r.money("distribution_amount", int64(float64(total)*d.ratio))
		w.float("distribution_ratio", d.ratio)
		w.bool("is_channel", d.isChannel)
		w.str("market_name", d.market)
		w.str("relation_app_image", d.appImage)
		w.str("relation_app_name", d.appName)
		w.str("type_description", d.typeDesc)
	})
}

func (r *renderer) indentorInfo() {
	m, w := r.m, &r.w
	d := m.indentor
	if d == nil {
		d = &indentor{}
	}
	r.section("indentor_info", m.indentor != nil, func() {
		w.str("indentor_avatar", d.avatar)
		w.int("indentor_deduct_quota", d.deduct)
		w.str("indentor_id", d.id)
		w.str("indentor_name", d.name)
		w.str("indentor_phone", d.phone)
		w.int("indentor_remaining_quota", d.remaining)
		w.str("indentor_staff_id", d.staffID)
		w.str("indentor_staff_name", d.staffName)
		w.str("indentor_staff_phone", d.staffPhone)
	})
}

func (r *renderer) logisticsInfo() {
	m, w := r.m, &r.w
	r.section("logistics_info", len(m.parcels) > 0, func() {
		r.list("packages_info", len(m.parcels), func(i int) {
			p := &parcel{}
			if i >= 0 {
				p = m.parcels[i]
			}
			r.detailTime("departure_time", p.departure)
			w.str("electronic_order_fail_reason", p.failReason)
			w.str("express_id", p.expressID)
			w.str("logistics_company_name", p.company)
			w.str("logistics_state_description", p.state)
			w.arr("package_goods_info")
			for _, pl := range p.lines {
				w.obj("")
				l := m.goods[pl.line]
				r.goodsFields(l, pl.qty, 0)
				w.str("paid_coupon_info", couponCodes(l))
				w.end()
			}
			w.endArr()
			w.arr("package_trace_info")
			for _, t := range p.traces {
				w.obj("")
				w.str("text", t.text)
				w.time("time", t.at, "")
				w.end()
			}
			w.endArr()
			w.str("parcel_id", p.parcelID)
			w.int("shipment_type", int64(p.shipmentType))
		})
	})
}

func (r *renderer) refundInfo() {
	m, w := r.m, &r.w
	r.section("refund_info", len(m.refunds) > 0, func() {
		r.list("refund_records", len(m.refunds), func(i int) {
			rf := &refund{line: -2}
			if i >= 0 {
				rf = m.refunds[i]
			}
			w.str("after_sale_id", rf.afterSaleID)
			switch {
			case rf.line >= 0:
				w.obj("goods_info")
				l := m.goods[rf.line]
				r.goodsFields(l, l.qty, rf.amount)
				w.str("paid_coupon_info", couponCodes(l))
				w.end()
			case rf.line == -1:
				w.raw("goods_info", []byte("[]")) // a refund of the whole order names no goods
			default:
				w.raw("goods_info", []byte("{}"))
			}
			deleted := int64(0)
			if rf.deleteBuy {
				deleted = 1
			}
			w.int("is_delete_purchase", deleted)
			w.str("operator", rf.operator)
			r.money("refund_amount", rf.amount)
			w.int("refund_state", int64(rf.state))
			if i >= 0 {
				w.str("refund_state_description", refundStateDesc[rf.state])
			} else {
				w.str("refund_state_description", "")
			}
			r.detailTime("refund_time", rf.at)
			switch {
			case i < 0:
				w.int("refund_type", 0)
				w.str("refund_type_description", "")
			case rf.full:
				w.int("refund_type", 1)
				w.str("refund_type_description", "全额退款")
			default:
				w.int("refund_type", 2)
				w.str("refund_type_description", "部分退款")
			}
			w.str("remark", rf.remark)
		})
	})
}

func (r *renderer) studentInfo() {
	m, w := r.m, &r.w
	s := m.student
	if s == nil {
		s = &student{}
	}
	r.section("student_info", m.student != nil, func() {
		if s.birth.IsZero() {
			w.str("birth_date", "")
		} else {
			w.str("birth_date", s.birth.Format(time.DateOnly))
		}
		r.list("c_data", len(s.cdata), func(i int) {
			var kv [2]string
			if i >= 0 {
				kv = s.cdata[i]
			}
			w.str("key", kv[0])
			w.str("value", kv[1])
		})
		w.str("contact_address", s.address)
		w.str("course_offline_id", s.courseID)
		w.int("gender", int64(s.gender))
		w.str("grade", s.grade)
		w.str("intention_school", s.school)
		w.str("intention_school_address", s.schoolAddr)
		w.str("intention_time", s.intention)
		w.str("name", s.name)
		if m.student != nil {
			w.str("order_id", m.id)
			w.str("user_id", m.userID)
		} else {
			w.str("order_id", "")
			w.str("user_id", "")
		}
		w.str("phone", s.phone)
		w.str("student_id", s.id)
		w.str("wechat_id", s.wechat)
	})
}

func (r *renderer) talentInfo() {
	m, w := r.m, &r.w
	t := m.talent
	if t == nil {
		t = &talent{}
	}
	r.section("talent_douyin_info", m.talent != nil, func() {
		w.str("nickname", t.nick)
		w.str("talent_douyin_id", t.id)
	})
}

func (r *renderer) veriCodeInfo() {
	m, w := r.m, &r.w
	r.section("veri_code_info", len(m.veri) > 0, func() {
		remain := 0
		for _, v := range m.veri {
			if v.checked.IsZero() {
				remain++
			}
		}
		w.int("remain_count", int64(remain))
		r.list("veri_code_list", len(m.veri), func(i int) {
			if i < 0 {
				for _, k := range []string{"app_id", "check_time"} {
					w.str(k, "")
				}
				w.int("check_type", 0)
				for _, k := range []string{"goods_img", "operator", "operator_contact", "order_id"} {
					w.str(k, "")
				}
				w.int("price", 0)
				for _, k := range []string{"sku_id", "spu_id", "spu_name"} {
					w.str(k, "")
				}
				w.int("status", 0)
				for _, k := range []string{"status_description", "user_contact", "user_id", "user_name", "veri_code"} {
					w.str(k, "")
				}
				return
			}
			v := m.veri[i]
			l := m.goods[v.line]
			status := 1
			if !v.checked.IsZero() {
				status = 2
			}
			w.str("app_id", m.appID)
			r.detailTime("check_time", v.checked)
			w.int("check_type", 1)
			w.str("goods_img", l.p.image)
			w.str("operator", v.operator)
			w.str("operator_contact", v.opContact)
			w.str("order_id", m.id)
			r.money("price", l.unit)
			w.str("sku_id", l.p.skuID)
			w.str("spu_id", l.p.spuID)
			w.str("spu_name", l.p.name)
			w.int("status", int64(status))
			w.str("status_description", checkStateDesc[status])
			w.str("user_contact", m.buyer.phone)
			w.str("user_id", m.userID)
			w.str("user_name", m.buyer.nickname)
			w.str("veri_code", v.code)
		})
	})
}

func (r *renderer) invoiceInfo() {
	m, w := r.m, &r.w
	v := m.invoice
	if v == nil {
		v = &invoice{}
	}
	r.section("invoice_info", m.invoice != nil, func() {
		w.str("bank", v.bank)
		w.str("bank_account", v.bankAccount)
		w.str("content", v.content)
		w.str("email", v.email)
		w.str("phone_number", v.phone)
		w.str("registered_address", v.regAddress)
		w.str("registered_contact", v.regContact)
		w.str("tax_id", v.taxID)
		w.str("title", v.title)
	})
}

// spuTypes is the order's goods types joined with |, as order_spu_type and
// goods_spu_sub_type show them ("COP|ENT").
func (m *model) spuTypes() string {
	var ts []string
	for _, l := range m.goods {
		if !contains(ts, l.p.spuType) {
			ts = append(ts, l.p.spuType)
		}
	}
	sort.Strings(ts)
	return strings.Join(ts, "|")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// goodsSpuType is 1 for physical goods only, 0 for knowledge goods only, 6 for a mix.
func (m *model) goodsSpuType() int64 {
	phys, know := false, false
	for _, l := range m.goods {
		phys = phys || l.p.physical
		know = know || !l.p.physical
	}
	switch {
	case phys && know:
		return 6
	case phys:
		return 1
	}
	return 0
}

func (m *model) estimateSettle() time.Time {
	if m.state == 4 && m.settle != 2 {
		return m.stateTime.Add(7 * 24 * time.Hour)
	}
	return time.Time{}
}

func (r *renderer) orderInfo() {
	m, w := r.m, &r.w
	r.section("order_info", true, func() {
		activity := ""
		for _, l := range m.goods {
			for _, d := range l.discounts {
				if !d.coupon {
					activity = d.name
				}
			}
		}
		w.str("activity_description", activity)
		w.int("after_sale_show_state", int64(m.afterSale))
		w.str("app_id", m.appID)
		w.int("app_type", 1)
		w.str("app_type_description", "店铺")
		w.bool("can_modify_price", m.state == 0)
		if m.state == 0 {
			w.str("cant_modify_price_reason", "")
		} else {
			w.str("cant_modify_price_reason", "订单状态不支持改价")
		}
		w.str("channel_source_description", []string{"商详页", "直播间", "广告渠道"}[m.channel])
		w.int("channel_type", int64(m.channel))
		w.int("collection_type", 2)
		w.str("collection_type_description", "小鹅通代收")
		community := ""
		for _, l := range m.goods {
			if l.p.spuType == "CMN" {
				community = "会员交流圈"
			}
		}
		w.str("community_name", community)
		coupons := m.sum((*line).couponTotal)
		if coupons > 0 {
			w.str("discount_description", "优惠券抵扣"+yuan(coupons))
		} else {
			w.str("discount_description", "")
		}
		if m.redeem != nil {
			w.str("discount_jump_url", m.redeem.url)
			w.str("redeem_batch_id", m.redeem.batch)
			w.str("redeem_activity_id", m.redeem.activity)
			w.str("redeem_code", m.redeem.code)
		} else {
			for _, k := range []string{"discount_jump_url", "redeem_batch_id", "redeem_activity_id", "redeem_code"} {
				w.str(k, "")
			}
		}
		if m.promoter[1] != "" {
			w.str("distribution_description", "推广员："+m.promoter[0])
		} else {
			w.str("distribution_description", "")
		}
		r.detailTime("estimate_settle_time", m.estimateSettle())
		w.str("finder_nickname", m.finder)
		g := m.gift
		if g == nil {
			g = &gift{}
		}
		w.int("gift_available_count", g.available)
		w.str("gift_batch_id", g.batch)
		w.int("gift_claimed_count", g.claimed)
		w.int("gift_invalid_count", g.invalid)
		w.int("gift_total_count", g.total)
		w.int("goods_spu_type", m.goodsSpuType())
		if m.quick != nil {
			w.str("ks_author_id", m.quick.authorID)
		} else {
			w.str("ks_author_id", "")
		}
		if m.closeType != 0 {
			w.str("order_close_info", closeTypeDesc[m.closeType]+"于"+m.closeTime.In(order.Shanghai).Format(time.DateTime))
			w.str("order_close_reason", []string{"", "超时未支付", "买家取消", "商家取消", "全额退款", "", ""}[m.closeType])
		} else {
			w.str("order_close_info", "")
			w.str("order_close_reason", "")
		}
		w.int("order_close_type", int64(m.closeType))
		w.str("order_close_type_description", closeTypeDesc[m.closeType])
		w.time("order_create_time", m.created, "")
		w.str("order_id", m.id)
		r.detailTime("order_pay_time", m.payTime)
		r.detailTime("order_settle_time", m.settleTime)
		w.str("order_spu_type", m.spuTypes())
		w.int("order_state", int64(m.state))
		w.str("order_state_description", orderStateDesc[m.state])
		w.int("order_type", int64(m.orderType))
		w.str("order_type_description", orderTypeDesc[m.orderType])
		w.int("payment_type", int64(m.payType))
		w.str("payment_type_description", payTypeDesc(m.payType))
		if m.state == 0 {
			w.time("plan_auto_cancel_time", m.created.Add(30*time.Minute), "")
		} else {
			r.detailTime("plan_auto_cancel_time", time.Time{})
		}
		if m.state == 3 {
			confirm := m.stateTime.Add(10 * 24 * time.Hour)
			w.time("plan_auto_confirm_time", confirm, "")
			w.int("plan_auto_confirm_timestamp", confirm.Unix())
		} else {
			r.detailTime("plan_auto_confirm_time", time.Time{})
			w.int("plan_auto_confirm_timestamp", 0)
		}
		promoter := int64(0)
		if m.promoter[1] != "" {
			promoter = 1
		}
		w.int("promoter_type", promoter)
		if m.dist != nil {
			w.str("relation_app_id", "app"+m.tradeID[2:14])
			w.str("relation_order_id", "E"+m.id[1:min(len(m.id), 15)]+"rel0V2")
			w.int("relation_order_type", 5)
		} else {
			w.str("relation_app_id", "")
			w.str("relation_order_id", "")
			w.int("relation_order_type", 0)
		}
		w.int("settle_state", int64(m.settle))
		w.str("sub_merchant_id", m.subMerch)
		w.str("user_id", m.userID)
		if m.q.extraField {
			w.str("order_source_tag", "mini_program") // a field the docs do not know
		}
	})
}

func yuan(fen int64) string {
	return strconv.FormatInt(fen/100, 10) + "." + strconv.FormatInt(100+fen%100, 10)[1:]
}

func (r *renderer) priceInfo() {
	m := r.m
	r.section("price_info", true, func() {
		paid := int64(0)
		if m.paid() {
			paid = m.collectibles()
		}
		r.money("collectibles", m.collectibles())
		r.money("earned_revenue", paid)
		r.money("goods_modified_amount", m.sum(func(l *line) int64 { return l.modified }))
		r.w.int("goods_total_count", m.sum(func(l *line) int64 { return l.qty }))
		r.money("gross_total", m.sum((*line).gross))
		r.money("shipment_fee", m.freight)
		r.money("shipment_modified_amount", m.freightCut)
		r.money("total_modified_amount", m.sum(func(l *line) int64 { return l.modified })+m.freightCut)
	})
}

func (r *renderer) thirdPartyInfo() {
	m, w := r.m, &r.w
	if m.douyin == nil && m.quick == nil && m.q.empty == emptyMissing {
		return
	}
	w.obj("third_party_info")
	d := m.douyin
	if d == nil {
		d = &douyin{}
	}
	r.section("douyin_info", m.douyin != nil, func() {
		w.str("dy_nick_name", d.nick)
		r.money("service_fee", d.fee)
	})
	q := m.quick
	if q == nil {
		q = &quickHand{}
	}
	r.section("quick_hand_info", m.quick != nil, func() {
		w.str("author_id", q.authorID)
		w.str("item_id", q.itemID)
		w.str("item_type", q.itemType)
	})
	w.end()
}

// The list item, shaped as in real list 2.0 replies (api-notes §2.3): seven sibling objects,
// keys in alphabetical order, "0000-00-00 00:00:00" for no time in order_info and
// "0001-01-01 00:00:00" in ship_info.

const (
	listNoTime = "0000-00-00 00:00:00"
	shipNoTime = "0001-01-01 00:00:00"
)

// renderListItem returns the order's list item.
func (m *model) renderListItem() []byte {
	w := &jw{b: make([]byte, 0, 4<<10)}
	m.writeListItem(w)
	return w.b
}

// writeListItem writes the order's list item as the next value of w: a list page renders
// its items in place.
func (m *model) writeListItem(w *jw) {
	w.obj("")

	w.obj("buyer_info")
	w.str("avatar_url", m.buyer.avatar)
	w.str("comment", m.buyer.comment)
	w.str("nickname", m.buyer.nickname)
	w.str("phone_number", m.buyer.phone)
	w.str("union_id", m.buyer.unionID)
	w.end()

	w.arr("good_list")
	for _, l := range m.goods {
		w.obj("")
		w.int("buy_num", l.qty)
		w.int("check_state", int64(l.checkState))
		w.obj("discounts_info")
		w.int("discount_amount_total", l.discountTotal())
		w.int("discount_count", int64(len(l.discounts)))
		w.arr("discount_detail")
		for _, d := range l.discounts {
			w.obj("")
			w.str("discount_desc", d.desc)
			w.str("discount_id", d.id)
			w.str("discount_name", d.name)
			w.int("discount_price", d.amount)
			w.str("discount_type", d.kind)
			w.end()
		}
		w.endArr()
		w.end()
		if l.expireEnd.IsZero() {
			w.str("expire_desc", "长期有效")
			w.str("expire_end", "--")
		} else {
			w.str("expire_desc", "有效期至"+l.expireEnd.In(order.Shanghai).Format(time.DateOnly))
			w.time("expire_end", l.expireEnd, "")
		}
		w.time("expire_start", l.expireStart, "")
		w.str("goods_desc", "")
		w.str("goods_image", l.p.image)
		w.str("goods_name", l.p.name)
		w.str("goods_sn", l.p.goodsSn)
		w.str("goods_spec_desc", l.p.spec)
		w.int("period_type", int64(l.p.period))
		w.int("refund_state", int64(l.refundState))
		if l.refundState == 0 {
			w.str("refund_state_desc", "--")
		} else {
			w.str("refund_state_desc", goodsRefundDesc[l.refundState])
		}
		w.str("relation_goods_id", l.relID)
		w.int("relation_goods_type", int64(l.relType))
		if l.relType == 1 || l.relType == 2 {
			w.str("relation_goods_type_desc", "套餐商品")
		} else {
			w.str("relation_goods_type_desc", "")
		}
		w.str("resource_id", l.p.resourceID)
		w.int("resource_type", int64(l.p.resType))
		w.int("ship_state", int64(l.shipState))
		if l.p.physical {
			w.str("ship_state_desc", shipStateDesc(l.shipState))
		} else {
			w.str("ship_state_desc", "")
		}
		w.str("sku_id", l.p.skuID)
		w.str("sku_spec_code", l.p.skuSpecCode)
		w.str("spu_id", l.p.spuID)
		w.str("spu_type", l.p.spuType)
		w.int("total_price", l.gross())
		w.int("unit_price", l.unit)
		w.end()
	}
	w.endArr()

	w.obj("order_info")
	activity := "[]"
	if m.sum((*line).couponTotal) > 0 {
		activity = "[2]"
	}
	w.raw("activity_type_bitmap", []byte(activity))
	w.int("actual_fee", m.collectibles())
	w.int("aftersale_show_state", int64(m.afterSale))
	w.time("aftersale_show_state_time", m.asTime, listNoTime)
	w.str("app_id", m.appID)
	w.str("channel_bus_id", m.channelID)
	w.int("channel_type", int64(m.channel))
	check := int64(0)
	for _, l := range m.goods {
		check = max(check, int64(l.checkState))
	}
	w.int("check_state", check)
	w.time("created_time", m.created, listNoTime)
	deduct := int64(0)
	if m.indentor != nil {
		deduct = m.indentor.deduct
	}
	w.int("deduct_amount", deduct)
	w.int("discount_amount", m.sum((*line).discountTotal))
	if m.promoter[1] != "" {
		w.raw("distribute_type_bitmap", []byte("[1]"))
	} else {
		w.raw("distribute_type_bitmap", []byte("[]"))
	}
	w.int("freight_actual_price", m.freight+m.freightCut)
	w.int("freight_original_price", m.freight)
	w.int("goods_buy_num", m.sum(func(l *line) int64 { return l.qty }))
	names := make([]string, len(m.goods))
	for i, l := range m.goods {
		names[i] = l.p.name
	}
	w.str("goods_name", strings.Join(names, "|"))
	w.int("goods_original_total_price", m.sum((*line).gross))
	w.str("goods_spu_sub_type", m.spuTypes())
	w.int("goods_spu_type", m.goodsSpuType())
	w.int("modified_amount", m.sum(func(l *line) int64 { return l.modified })+m.freightCut)
	w.int("order_close_type", int64(m.closeType))
	w.str("order_id", m.id)
	w.str("order_remarks", m.remarks)
	w.int("order_state", int64(m.state))
	w.time("order_state_time", m.stateTime, listNoTime)
	w.int("order_tag_type", 0)
	w.int("order_type", int64(m.orderType))
	payState := int64(0)
	switch {
	case m.paid():
		payState = 1
	case m.state == 5:
		payState = 2
	}
	w.int("pay_state", payState)
	w.time("pay_state_time", m.payTime, listNoTime)
	w.int("pay_type", int64(m.payType))
	w.int("refund_fee", m.refunded())
	w.time("refund_time", m.refundTime, listNoTime)
	w.str("relation_order_appid", "")
	w.str("relation_order_id", "")
	w.int("relation_order_type", 0)
	w.int("settle_state", int64(m.settle))
	w.time("settle_state_time", m.settleTime, listNoTime)
	if m.promoter[1] != "" {
		w.int("share_type", 1)
		w.str("share_user_id", m.promoter[1])
	} else {
		w.int("share_type", 0)
		w.str("share_user_id", "")
	}
	ship := int64(0)
	if m.physical() {
		ship = 1
	}
	w.int("ship_way_choose_type", ship)
	w.int("sub_order_type", 0)
	w.str("trade_id", m.tradeID)
	w.time("update_time", m.updated, listNoTime)
	if m.payType == -1 {
		w.int("use_collection", -1)
	} else {
		w.int("use_collection", 2)
	}
	w.str("user_id", m.userID)
	w.int("wx_app_type", 1)
	w.end()

	w.obj("payment_info")
	w.str("out_order_id", m.outID)
	if m.q.zeroTime != "" { // older shops' items lack sub_merchant_id
		w.str("sub_merchant_id", m.subMerch)
	}
	w.str("third_order_id", m.txID)
	w.end()

	w.obj("price_info")
	w.int("actual_price", m.collectibles())
	w.int("freight_modified_price", m.freightCut)
	w.int("freight_price", m.freight)
	w.int("origin_price", m.sum((*line).gross)+m.freight)
	w.int("total_modified_amount", m.sum(func(l *line) int64 { return l.modified })+m.freightCut)
	w.int("total_price", m.sum((*line).gross))
	w.end()

	w.obj("promoter_info")
	w.str("nick_name", m.promoter[0])
	w.str("user_id", m.promoter[1])
	w.end()

	w.obj("ship_info")
	a := m.addr
	if a == nil {
		a = &address{}
	}
	var p parcel
	if len(m.parcels) > 0 {
		p = *m.parcels[0]
	}
	w.str("city", a.city)
	w.str("company", p.company)
	w.time("confirm_time", m.received, shipNoTime)
	w.str("county", a.county)
	w.str("detail", a.detail)
	w.str("express_id", p.expressID)
	w.time("invalid_time", m.received, shipNoTime)
	w.str("phone", a.phone)
	w.str("province", a.province)
	w.str("receiver", a.name)
	w.str("remark", "")
	w.time("ship_time", p.departure, shipNoTime)
	if m.addr != nil {
		w.str("user_id", m.userID)
	} else {
		w.str("user_id", "")
	}
	w.end()

	w.end()
}

// corrupt returns a broken copy of a detail payload: a field of the wrong type
// ("unit_price":"abc") for some orders, invalid JSON for others.
func corrupt(id string, detail []byte) []byte {
	h := fnv.New32a()
	h.Write([]byte(id))
	key := []byte(`"unit_price":`) // every order has a goods line
	i := bytes.Index(detail, key)
	if i < 0 {
		return append(detail[:len(detail):len(detail)], '}')
	}
	start := i + len(key)
	end := start
	if detail[end] == '"' {
		end = start + 1 + bytes.IndexByte(detail[start+1:], '"') + 1
	} else {
		for end < len(detail) && detail[end] != ',' && detail[end] != '}' {
			end++
		}
	}
	bad := `"abc"`
	if h.Sum32()%2 == 1 {
		bad = `12.3.4`
	}
	out := make([]byte, 0, len(detail)+8)
	out = append(out, detail[:start]...)
	out = append(out, bad...)
	return append(out, detail[end:]...)
}
