package fetchtest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"ordersync/order"
)

// gen makes realistic orders and moves them through their lives. It is deterministic: the
// same seed and the same sequence of calls give the same orders.
type gen struct {
	rng     *rand.Rand
	appID   string
	catalog []product
	ids     map[string]bool // every order id handed out
}

func newGen(seed int64, appID string) *gen {
	g := &gen{
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		appID: appID,
		ids:   make(map[string]bool),
	}
	g.catalog = make([]product, len(catalog))
	epoch := time.Date(2024, 3, 1, 0, 0, 0, 0, order.Shanghai).Unix()
	for i, p := range catalog {
		ts := strconv.FormatInt(epoch+int64(g.rng.IntN(50_000_000)), 10)
		p.spuID = "SPU_" + p.spuType + "_" + ts + g.alnum(15)
		p.skuID = "SKU_" + p.spuType + "_" + ts + g.alnum(10)
		p.resourceID = "g_" + g.hex(13) + "_" + g.alnum(10)
		if p.spuType == "COP" {
			p.resourceID = p.spuID // api-notes §2.3: a SPU id for COP
		}
		p.image = "https://wechatapppro-1252524126.cdn.xiaoeknow.com/" + appID + "/image/" + g.alnum(14) + ".jpg"
		p.goodsSn, p.skuSpecCode = "--", "--"
		if p.physical && g.chance(0.5) {
			p.goodsSn = "SN" + g.digits(8)
			p.skuSpecCode = "SC-" + g.digits(4)
		}
		g.catalog[i] = p
	}
	return g
}

var catalog = []product{
	{name: "高一下生物同步课（教材套装）", spuType: "ENT", typeDesc: "实物商品", resType: 21, price: 249900, physical: true, spec: "规格:1套", desc: "全彩印刷，附赠练习册"},
	{name: "中考物理有大招", spuType: "ENT", typeDesc: "实物商品", resType: 21, price: 69800, physical: true, spec: "规格:1本"},
	{name: "化学实验器材包", spuType: "ENT", typeDesc: "实物商品", resType: 21, price: 12900, physical: true, spec: "版本:标准版"},
	{name: "手账本礼盒", spuType: "ENT", typeDesc: "实物商品", resType: 21, price: 5900, physical: true, spec: "颜色:雾蓝"},
	{name: "高三一轮复习", spuType: "COP", typeDesc: "课程", resType: 69, price: 199900},
	{name: "Python 入门训练营", spuType: "COP", typeDesc: "课程", resType: 69, price: 39900, period: 2},
	{name: "每日英语听力", spuType: "ADO", typeDesc: "音频", resType: 2, price: 9900},
	{name: "摄影大师课", spuType: "VDO", typeDesc: "视频", resType: 3, price: 29900, period: 1},
	{name: "职场写作专栏", spuType: "ITX", typeDesc: "图文", resType: 1, price: 1990},
	{name: "年度会员", spuType: "CMN", typeDesc: "会员", resType: 5, price: 36500, period: 1},
	{name: "书法线下体验课", spuType: "OLC", typeDesc: "线下课", resType: 29, price: 19900, offline: true},
	{name: "直播公开课", spuType: "VDO", typeDesc: "视频", resType: 4, price: 0},
	{name: "研学营礼包（到店核销）", spuType: "ENT", typeDesc: "实物商品", resType: 21, price: 59900, physical: true, offline: true, period: 1, spec: "场次:暑期", desc: "含研学手册一套，到店出示核销码领取"},
}

const (
	lower    = "abcdefghijklmnopqrstuvwxyz"
	alnumSet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

func (g *gen) pick(set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[g.rng.IntN(len(set))]
	}
	return string(b)
}

func (g *gen) hex(n int) string    { return g.pick(hexDigits, n) }
func (g *gen) alnum(n int) string  { return g.pick(alnumSet, n) }
func (g *gen) digits(n int) string { return g.pick("0123456789", n) }

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }

func (g *gen) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.rng.Int64N(int64(hi-lo)+1)).Truncate(time.Second)
}

func oneOf[T any](g *gen, xs ...T) T { return xs[g.rng.IntN(len(xs))] }

// orderID makes a new id embedding created: mostly E20250421104858a0b1c2V2, sometimes
// the older o_<unix>_<13 hex>_<9 digits>.
func (g *gen) orderID(created time.Time) string {
	for {
		var id string
		if g.chance(0.1) {
			id = fmt.Sprintf("o_%d_%s_%s", created.Unix(), g.hex(13), g.digits(9))
		} else {
			// The embedded time is that of the cart, a second before the order at most.
			t := created.Add(-time.Duration(g.rng.IntN(2)) * time.Second).In(order.Shanghai)
			id = "E" + t.Format("20060102150405") + g.pick(lower+"0123456789", 6) + "V2"
		}
		if !g.ids[id] {
			g.ids[id] = true
			return id
		}
	}
}

var (
	nicknames = []string{"yxl", "勤奋", "仅此而已&", "窦晓清", "Zooter", "小鹅", "晴天", "阿杰", "Momo", "林间"}
	receivers = []string{"王康桐", "张丽", "王", "窦晓清", "李雷", "韩梅梅", "陈晨", "刘洋"}
	places    = [][4]string{
		{"安徽省", "合肥市", "瑶海区", "和平路广和花园8栋2703"},
		{"河北省", "石家庄市", "长安区", "紫晶悦城7区菜鸟驿站"},
		{"云南省", "昆明市", "五华区", "高新区新域盛景小区8栋"},
		{"上海市", "上海市", "浦东新区", "张江路88弄5号1202室"},
		{"广东省", "深圳市", "南山区", "科技园南区T3栋"},
		{"四川省", "成都市", "武侯区", "天府大道北段1700号"},
	}
	couriers = []struct{ name, prefix string }{
		{"顺丰速运", "SF"}, {"中通快递", "7"}, {"圆通速递", "YT"}, {"京东物流", "JD"}, {"邮政EMS", "11"},
	}
)

func (g *gen) phone() string { return "1" + oneOf(g, "3", "5", "8") + g.digits(9) }

func (g *gen) userID() string { return "u_" + g.hex(13) + "_" + g.alnum(10) }

// newOrder makes an order created at created and lives it up to horizon.
func (g *gen) newOrder(created, horizon time.Time) *model {
	created = created.Truncate(time.Second)
	m := &model{
		id:        g.orderID(created),
		userID:    g.userID(),
		tradeID:   "t_" + g.hex(32),
		appID:     g.appID,
		created:   created,
		updated:   created,
		stateTime: created,
		orderType: 1,
	}
	m.q = quirks{
		numStrings:   g.chance(0.08),
		empty:        oneOf(g, emptyPlaceholder, emptyPlaceholder, emptyPlaceholder, emptyObject, emptyArray, emptyMissing),
		extraField:   g.chance(0.05),
		zeroTime:     oneOf(g, "", "", "0000-00-00 00:00:00", "0001-01-01 00:00:00"),
		paidCouponAr: g.chance(0.2),
	}
	m.buyer = buyer{
		nickname: oneOf(g, nicknames...),
		phone:    g.phone(),
		avatar:   "https://wechatavator-1252524126.cdn.xiaoeknow.com/" + g.appID + "/image/compress/" + g.hex(32) + ".jpeg",
	}
	if g.chance(0.3) { // shops whose buyers are masked
		m.buyer.phone = m.buyer.phone[:3] + "****" + m.buyer.phone[7:]
		m.buyer.nickname = ""
	}
	if g.chance(0.1) {
		m.buyer.comment = oneOf(g, "请尽快发货", "周末送货", "谢谢")
	}
	if g.chance(0.2) {
		m.buyer.unionID = "o" + g.alnum(27)
	}
	if g.chance(0.1) {
		m.buyer.collectPhone = g.phone()
	}

	nLines := 1
	switch r := g.rng.Float64(); {
	case r < 0.08:
		nLines = 3
	case r < 0.3:
		nLines = 2
	}
	for range nLines {
		m.goods = append(m.goods, g.newLine(m))
	}
	if m.physical() {
		pl := oneOf(g, places...)
		m.addr = &address{province: pl[0], city: pl[1], county: pl[2], detail: pl[3], name: oneOf(g, receivers...), phone: g.phone()}
		if g.chance(0.4) {
			m.freight = oneOf[int64](g, 800, 1000, 1200)
			if g.chance(0.1) {
				m.freightCut = -m.freight
			}
		}
	}
	g.extras(m)
	g.live(m, horizon)
	return m
}

func (g *gen) newLine(m *model) *line {
	p := &g.catalog[g.rng.IntN(len(g.catalog))]
	l := &line{p: p, qty: 1, unit: p.price, expireStart: m.created}
	if g.chance(0.15) {
		l.qty = int64(2 + g.rng.IntN(2))
	}
	if p.period == 1 {
		l.expireEnd = m.created.AddDate(1, 0, 0)
	} else if p.period == 2 {
		l.expireEnd = m.created.AddDate(0, 3, 0)
	}
	gross := l.gross()
	if gross > 0 && g.chance(0.25) {
		amt := min(gross, gross*int64(10+g.rng.IntN(30))/100/100*100)
		l.discounts = append(l.discounts, discount{id: "cu_" + g.hex(13) + "_" + g.alnum(8),
			name: oneOf(g, "生物专属优惠券", "新人券", "满199减30"), kind: "商品优惠券", desc: "满减",
			amount: amt, subType: 1, subDesc: "优惠券", coupon: true})
		if left := gross - amt; left > 1000 && g.chance(0.2) { // coupons stacked
			l.discounts = append(l.discounts, discount{id: "cu_" + g.hex(13) + "_" + g.alnum(8),
				name: "店铺通用券", kind: "店铺优惠券", desc: "立减", amount: left / 20 / 100 * 100,
				subType: 2, subDesc: "店铺券", coupon: true})
		}
	}
	if gross-l.discountTotal() > 1000 && g.chance(0.15) {
		amt := (gross - l.discountTotal()) / 10 / 100 * 100
		l.discounts = append(l.discounts, discount{id: "dc_" + g.hex(13),
			name: oneOf(g, "限时折扣", "会员折扣"), kind: "限时折扣", desc: "折扣",
			amount: amt, subType: oneOf(g, 3, 5), subDesc: "限时折扣"})
	}
	if l.subTotal() > 500 && g.chance(0.05) {
		l.modified = -int64(100 * (1 + g.rng.IntN(int(l.subTotal()/100/2)+1)))
		l.modified = max(l.modified, -l.subTotal())
	}
	if g.chance(0.04) {
		for range 1 + g.rng.IntN(2) {
			l.paidCoupons = append(l.paidCoupons, paidCoupon{code: g.alnum(12), password: g.digits(8), receiveAt: m.created})
		}
	}
	if g.chance(0.03) {
		l.relType, l.relID = oneOf(g, 1, 2, 3), "og_"+g.hex(32)
	}
	if g.chance(0.03) {
		l.vs = &videoShop{nick: "主播" + g.alnum(4), commission: l.actual() / 10, fee: l.actual() / 50}
	}
	if p.offline {
		l.checkState, l.remain = 1, int(l.qty)
	}
	return l
}

// extras adds the rarer sections.
func (g *gen) extras(m *model) {
	if g.chance(0.08) {
		m.channel, m.channelID = 1, "alive_l_"+g.hex(24)
	} else if g.chance(0.03) {
		m.channel = 2
	}
	if g.chance(0.1) {
		m.promoter = [2]string{oneOf(g, nicknames...), g.userID()}
	}
	if g.chance(0.05) {
		m.remarks = oneOf(g, "老客户", "赠品已备注", "加急")
	}
	if g.chance(0.08) {
		if g.chance(0.5) {
			m.invoice = &invoice{title: "个人", email: "buyer" + g.digits(4) + "@example.com", phone: g.phone(), content: "商品明细"}
		} else {
			m.invoice = &invoice{title: "某某科技有限公司", taxID: "91310000" + g.alnum(10), email: "finance@example.com",
				phone: g.phone(), content: "培训费", bank: "招商银行上海分行", bankAccount: g.digits(16),
				regAddress: "上海市浦东新区张江路88号", regContact: "021-" + g.digits(8)}
		}
	}
	for i, l := range m.goods {
		if !l.p.offline {
			continue
		}
		if m.student == nil {
			m.student = &student{id: "stu_" + g.hex(12), name: oneOf(g, receivers...), phone: g.phone(),
				wechat: "wx_" + g.alnum(8), grade: oneOf(g, "三年级", "初二", "高一"), school: "朝阳校区",
				schoolAddr: "北京市朝阳区建国路1号", intention: oneOf(g, "周六上午", "工作日晚上 7 点后", "都可以"),
				address: "北京市朝阳区", courseID: "olc_" + g.hex(16), gender: 1 + g.rng.IntN(2),
				birth: time.Date(2010+g.rng.IntN(8), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), 0, 0, 0, 0, order.Shanghai),
				cdata: [][2]string{{"家长姓名", "王女士"}, {"是否有基础", oneOf(g, "是", "否")}}}
		}
		for range l.qty {
			m.veri = append(m.veri, veriCode{code: g.digits(10), line: i})
		}
	}
	switch r := g.rng.Float64(); {
	case r < 0.03:
		m.douyin = &douyin{nick: "抖音主播" + g.alnum(3), fee: m.collectibles() / 20}
		if g.chance(0.5) {
			m.talent = &talent{nick: "达人" + g.alnum(3), id: g.digits(11)}
		}
	case r < 0.05:
		m.quick = &quickHand{authorID: g.digits(10), itemID: g.digits(12), itemType: oneOf(g, "VIDEO", "LIVE")}
	case r < 0.09:
		m.dist = &distribution{isChannel: g.chance(0.5), market: "内容分销市场", appName: "知识星球店铺",
			appImage: "https://commonresource-1252524126.cdn.xiaoeknow.com/image/" + g.alnum(12) + ".png",
			ratio:    oneOf(g, 0.3, 0.25, 0.5), typeDesc: "内容分销"}
		m.orderType = 3
	case r < 0.1:
		m.indentor = &indentor{id: "ind_" + g.hex(10), name: "某某书店", phone: g.phone(),
			avatar:  "https://commonresource-1252524126.cdn.xiaoeknow.com/image/" + g.alnum(12) + ".png",
			staffID: "staff_" + g.hex(8), staffName: oneOf(g, receivers...), staffPhone: g.phone(),
			deduct: m.collectibles(), remaining: int64(g.rng.IntN(1_000_000))}
	case r < 0.12:
		m.orderType = 4
		m.redeem = &redeem{code: g.alnum(10), batch: "rb_" + g.hex(12), activity: "ra_" + g.hex(12),
			url: "https://" + g.appID + ".h5.xiaoeknow.com/redeem/" + g.alnum(8)}
		for _, l := range m.goods { // a redeemed order costs nothing
			l.discounts = append(l.discounts[:0], discount{id: "rd_" + g.hex(10), name: "兑换码", kind: "兑换码",
				desc: "兑换", amount: l.gross(), subType: 9, subDesc: "兑换码"})
			l.modified = 0
		}
		m.freight, m.freightCut = 0, 0
	case r < 0.13:
		m.orderType = 2
	case r < 0.15:
		m.gift = &gift{batch: "gb_" + g.hex(12), total: 3, available: 1, claimed: 1, invalid: 1}
	}
	if g.chance(0.03) {
		m.finder = "视频号" + g.alnum(4)
	}
}

// live moves a new order through the events that happen to it up to horizon.
func (g *gen) live(m *model, horizon time.Time) {
	at := func(d time.Duration) (time.Time, bool) {
		t := m.updated.Add(d)
		return t, !t.After(horizon)
	}
	switch r := g.rng.Float64(); {
	case r < 0.01: // a bank transfer that the shop waits a week for
		if t, ok := at(7 * 24 * time.Hour); ok {
			g.close(m, t, 1)
		}
		return
	case r < 0.05: // never paid: auto-cancelled after 30 minutes, if that has come
		if t, ok := at(30 * time.Minute); ok {
			g.close(m, t, 1)
		}
		return
	case r < 0.07: // cancelled by the buyer
		if t, ok := at(g.between(time.Minute, 20*time.Minute)); ok {
			g.close(m, t, 2)
		}
		return
	}
	t, ok := at(g.between(5*time.Second, 15*time.Minute))
	if !ok {
		return // still unpaid
	}
	g.pay(m, t)
	if m.physical() {
		if t, ok = at(g.between(2*time.Hour, 72*time.Hour)); !ok {
			return
		}
		g.ship(m, t)
		for g.chance(0.6) {
			if t, ok = at(g.between(3*time.Hour, 20*time.Hour)); !ok {
				return
			}
			g.addTrace(m, t)
		}
		if t, ok = at(g.between(24*time.Hour, 5*24*time.Hour)); !ok {
			return
		}
		g.receive(m, t)
	} else if m.pendingGrp {
		if t, ok = at(g.between(time.Hour, 48*time.Hour)); !ok {
			return
		}
		g.complete(m, t)
	}
	switch r := g.rng.Float64(); {
	case r < 0.08:
		if t, ok = at(g.between(time.Hour, 10*24*time.Hour)); ok {
			g.refundPart(m, t)
		}
	case r < 0.12:
		if t, ok = at(g.between(time.Hour, 10*24*time.Hour)); ok {
			g.refundAll(m, t)
		}
	case r < 0.14:
		if t, ok = at(g.between(time.Hour, 5*24*time.Hour)); ok {
			g.openAfterSale(m, t)
		}
	}
	if m.state == 4 && m.afterSale != 1 {
		if t, ok = at(7 * 24 * time.Hour); ok {
			g.settle(m, t)
		}
	}
}

// The events. Each one moves update_time to at, as the real API does on every change.

func (g *gen) pay(m *model, at time.Time) {
	m.payTime = at
	m.payType = oneOf(g, 1, 1, 2)
	if m.collectibles() == 0 {
		m.payType = -1
	}
	if m.payType != -1 {
		if g.chance(0.3) {
			m.outID = "3" + g.digits(18) // 19 digits: beyond 2^53
		} else {
			m.outID = "oo_" + g.hex(13) + g.alnum(8)
		}
		if m.payType == 1 {
			m.txID, m.subMerch = "42000"+g.digits(23), "17"+g.digits(8)
		} else {
			m.txID, m.subMerch = at.In(order.Shanghai).Format("20060102")+"22001"+g.digits(15), "2088"+g.digits(12)
		}
	}
	for _, pc := range m.goods {
		for i := range pc.paidCoupons {
			pc.paidCoupons[i].receiveAt = at
		}
	}
	switch {
	case m.physical():
		m.setState(2, at)
	case g.chance(0.05):
		m.pendingGrp = true
		m.setState(1, at)
	default:
		m.setState(4, at)
	}
}

func (g *gen) close(m *model, at time.Time, closeType int) {
	m.closeType, m.closeTime = closeType, at
	m.setState(5, at)
}

func (g *gen) complete(m *model, at time.Time) {
	m.pendingGrp = false
	m.setState(4, at)
}

// ship sends the order's unshipped physical lines in a parcel; false when there are none
// (shrink may have taken the order's last physical line).
func (g *gen) ship(m *model, at time.Time) bool {
	c := oneOf(g, couriers...)
	p := &parcel{parcelID: "pk_" + g.hex(16), expressID: c.prefix + g.digits(13), company: c.name,
		departure: at, shipmentType: 1 + g.rng.IntN(2), state: "已揽收"}
	if p.shipmentType == 2 && g.chance(0.1) {
		p.failReason = "电子面单余额不足，已改为手动发货"
	}
	for i, l := range m.goods {
		if l.p.physical && l.shipState == 0 && l.refundState != 3 {
			p.lines = append(p.lines, parcelLine{line: i, qty: l.qty})
			l.shipState = 1
		}
	}
	if len(p.lines) == 0 || m.addr == nil {
		return false
	}
	p.traces = append(p.traces, trace{at, "【" + m.addr.city + "】快件已由" + c.name + "揽收"})
	m.parcels = append(m.parcels, p)
	m.setState(3, at)
	return true
}

func (g *gen) addTrace(m *model, at time.Time) {
	if len(m.parcels) == 0 {
		return
	}
	p := m.parcels[len(m.parcels)-1]
	city := "收货地"
	if m.addr != nil {
		city = m.addr.city
	}
	p.traces = append(p.traces, trace{at, oneOf(g, "快件到达【上海转运中心】", "快件已发往【"+city+"】", "快件正在派送中")})
	p.state = "运输中"
	m.touch(at)
}

func (g *gen) receive(m *model, at time.Time) {
	for _, p := range m.parcels {
		p.traces = append(p.traces, trace{at, "已签收，签收人：本人"})
		p.state = "已签收"
	}
	for _, l := range m.goods {
		if l.shipState == 1 {
			l.shipState = 3
		}
	}
	m.received = at
	m.setState(4, at)
}

func (g *gen) settle(m *model, at time.Time) {
	m.settle, m.settleTime = 2, at
	m.touch(at)
}

func (g *gen) verify(m *model, at time.Time) bool {
	for i := range m.veri {
		v := &m.veri[i]
		if v.checked.IsZero() {
			v.checked, v.operator, v.opContact = at, "店员"+g.alnum(2), g.phone()
			l := m.goods[v.line]
			l.remain--
			if l.remain == 0 {
				l.checkState = 2
			}
			m.touch(at)
			return true
		}
	}
	return false
}

// refundable lines: paid, with money left to refund.
func (m *model) refundable() []int {
	var ix []int
	for i, l := range m.goods {
		if l.actual()-l.refunded > 0 {
			ix = append(ix, i)
		}
	}
	return ix
}

func (g *gen) newRefund(m *model, at time.Time, lineIx int, amount int64, full bool) {
	r := &refund{afterSaleID: fmt.Sprintf("A%d_%s_%s", at.Unix(), g.hex(13), g.digits(8)),
		line: lineIx, amount: amount, state: 2, at: at, full: full,
		operator: oneOf(g, "系统", "客服小王", "店长"), remark: oneOf(g, "", "七天无理由", "商品破损"),
		deleteBuy: full && g.chance(0.5)}
	m.refunds = append(m.refunds, r)
	name := ""
	if lineIx >= 0 {
		name = m.goods[lineIx].p.name
	} else {
		name = m.goods[0].p.name
	}
	m.afterSales = append(m.afterSales, afterSale{r.afterSaleID, name})
	m.refundTime = at
}

// refundPart refunds part of one line, and reports whether it could.
func (g *gen) refundPart(m *model, at time.Time) bool {
	ix := m.refundable()
	if !m.paid() || len(ix) == 0 || m.state == 5 {
		return false
	}
	i := ix[g.rng.IntN(len(ix))]
	l := m.goods[i]
	left := l.actual() - l.refunded
	amount := left * int64(20+g.rng.IntN(60)) / 100
	if amount <= 0 {
		if len(ix) == 1 {
			return false // it would refund the whole order
		}
		amount = left
	}
	l.refunded += amount
	l.refundState = 2
	if l.refunded == l.actual() {
		l.refundState = 3
	}
	g.newRefund(m, at, i, amount, false)
	m.afterSale, m.asTime = 2, at
	m.touch(at)
	return true
}

// refundAll refunds everything left and closes the order: one record per line, or one for
// the whole order (whose goods_info the API sends as []).
func (g *gen) refundAll(m *model, at time.Time) bool {
	if !m.paid() || m.state == 5 {
		return false
	}
	whole := g.chance(0.4)
	total := m.freight + m.freightCut
	for i, l := range m.goods {
		left := l.actual() - l.refunded
		l.refunded += left
		l.refundState = 3
		if whole || left == 0 {
			total += left
			continue
		}
		g.newRefund(m, at, i, left, true)
	}
	if total > 0 {
		g.newRefund(m, at, -1, total, true)
	}
	m.afterSale, m.asTime = 3, at
	m.closeType, m.closeTime = 4, at
	m.setState(5, at)
	return true
}

func (g *gen) openAfterSale(m *model, at time.Time) bool {
	ix := m.refundable()
	if !m.paid() || len(ix) == 0 || m.state == 5 || m.afterSale == 1 {
		return false
	}
	i := ix[g.rng.IntN(len(ix))]
	l := m.goods[i]
	l.refundState = 1
	r := &refund{afterSaleID: fmt.Sprintf("A%d_%s_%s", at.Unix(), g.hex(13), g.digits(8)),
		line: i, amount: max(1, (l.actual()-l.refunded)/2), state: 1, at: at, operator: "系统"}
	m.refunds = append(m.refunds, r)
	m.afterSales = append(m.afterSales, afterSale{r.afterSaleID, l.p.name})
	m.afterSale, m.asTime = 1, at
	m.touch(at)
	return true
}

// closeAfterSale completes an open after-sale: the pending refund is paid.
func (g *gen) closeAfterSale(m *model, at time.Time) bool {
	for _, r := range m.refunds {
		if r.state != 1 {
			continue
		}
		l := m.goods[r.line]
		r.state, r.at = 2, at
		l.refunded += r.amount
		l.refundState = 2
		m.refundTime = at
		m.afterSale, m.asTime = 2, at
		m.touch(at)
		return true
	}
	return false
}

func (g *gen) changeAddress(m *model, at time.Time) bool {
	if m.addr == nil {
		return false // nothing physical left to deliver
	}
	pl := oneOf(g, places...)
	m.addr = &address{province: pl[0], city: pl[1], county: pl[2], detail: pl[3] + "（改）", name: m.addr.name, phone: m.addr.phone}
	m.touch(at)
	return true
}

// shrink removes the last goods line of an order that has not shipped or refunded
// anything: the merchant took it out.
func (g *gen) shrink(m *model, at time.Time) bool {
	if len(m.goods) < 2 || len(m.parcels) > 0 || len(m.refunds) > 0 {
		return false
	}
	last := len(m.goods) - 1
	veri := m.veri[:0]
	for _, v := range m.veri {
		if v.line != last {
			veri = append(veri, v)
		}
	}
	m.veri = veri
	m.goods = m.goods[:last]
	if !m.physical() {
		m.addr, m.freight, m.freightCut = nil, 0, 0
	}
	hasOffline := false
	for _, l := range m.goods {
		hasOffline = hasOffline || l.p.offline
	}
	if !hasOffline {
		m.student = nil
	}
	m.touch(at)
	return true
}

// mutate applies one realistic change to m at at, and reports whether it could.
func (g *gen) mutate(m *model, at time.Time) bool {
	if at.Before(m.updated) {
		return false
	}
	type change func() bool
	var options []change
	add := func(weight int, c change) {
		for range weight {
			options = append(options, c)
		}
	}
	switch m.state {
	case 0:
		add(6, func() bool { g.pay(m, at); return true })
		add(2, func() bool { g.close(m, at, oneOf(g, 1, 2)); return true })
		add(3, func() bool { return g.shrink(m, at) })
	case 1:
		add(5, func() bool { g.complete(m, at); return true })
		add(2, func() bool { return g.refundAll(m, at) })
	case 2:
		add(5, func() bool { return g.ship(m, at) })
		add(2, func() bool { return g.changeAddress(m, at) })
		add(2, func() bool { return g.shrink(m, at) })
		add(2, func() bool { return g.refundPart(m, at) })
		add(1, func() bool { return g.refundAll(m, at) })
	case 3:
		add(4, func() bool { g.receive(m, at); return true })
		add(2, func() bool { g.addTrace(m, at); return true })
		add(2, func() bool { return g.refundPart(m, at) })
	case 4:
		if m.settle != 2 {
			add(4, func() bool { g.settle(m, at); return true })
		}
		if m.afterSale == 1 {
			add(4, func() bool { return g.closeAfterSale(m, at) })
		}
		add(1, func() bool { return g.verify(m, at) })
		add(2, func() bool { return g.refundPart(m, at) })
		add(1, func() bool { return g.refundAll(m, at) })
	}
	for len(options) > 0 {
		i := g.rng.IntN(len(options))
		if options[i]() {
			m.touch(at)
			return true
		}
		options = append(options[:i], options[i+1:]...)
	}
	return false
}
