package fetchtest

import "time"

// The shop's orders are held as a model, from which the detail and the list item are
// rendered: the two views then agree by construction (amounts, states, times), and a
// mutation changes both.

// product is a catalog entry.
type product struct {
	name     string
	spuType  string // letter codes as the real list shows: ENT (physical), COP, VDO, ADO, ITX, CMN, OLC
	typeDesc string // spu_type_description
	resType  int    // resource_type: 21 physical, 69 COP, …
	price    int64  // fen
	physical bool
	spec     string // goods_spec_description
	desc     string // goods_description
	offline  bool   // an offline course: verification codes and student info
	period   int    // period_type: 0 long-term, 1 until a date, 2 a span

	spuID, skuID, resourceID, image, goodsSn, skuSpecCode string // filled per shop
}

// discount is one entry of a goods line's discounts. Coupons appear in coupons_list, the
// others in no_coupon_list, and all of them in discounts_list.
type discount struct {
	id      string // cu_… for coupons
	name    string
	kind    string // the list item's discount_type
	desc    string // the list item's discount_desc
	amount  int64
	subType int
	subDesc string
	coupon  bool
}

type paidCoupon struct {
	code, password string
	receiveAt      time.Time
}

// line is a goods line. Its money: gross = unit × qty; subTotal = gross − discounts;
// actual = subTotal + modified (modified ≤ 0 is the merchant's price cut); refunds ≤ actual.
type line struct {
	p           *product
	qty         int64
	unit        int64
	discounts   []discount
	modified    int64
	paidCoupons []paidCoupon
	refunded    int64
	refundState int // 0 none, 1 after-sale open, 2 partly refunded, 3 fully refunded
	shipState   int // 0 to ship, 1 shipped, 3 received; knowledge goods 0
	checkState  int // 0 none, 1 to verify, 2 verified
	remain      int // verifications left
	expireStart time.Time
	expireEnd   time.Time // zero: long-term
	relType     int
	relID       string
	vs          *videoShop
}

type videoShop struct {
	nick            string
	commission, fee int64
}

func (l *line) gross() int64 { return l.unit * l.qty }

func (l *line) discountTotal() int64 {
	var s int64
	for _, d := range l.discounts {
		s += d.amount
	}
	return s
}

func (l *line) couponTotal() int64 {
	var s int64
	for _, d := range l.discounts {
		if d.coupon {
			s += d.amount
		}
	}
	return s
}

func (l *line) subTotal() int64 { return l.gross() - l.discountTotal() }
func (l *line) actual() int64   { return l.subTotal() + l.modified }

type trace struct {
	at   time.Time
	text string
}

type parcelLine struct {
	line int
	qty  int64
}

type parcel struct {
	parcelID, expressID, company string
	departure                    time.Time
	lines                        []parcelLine
	traces                       []trace
	shipmentType                 int // 1 contacted a courier, 2 ordered online
	failReason                   string
	state                        string // logistics_state_description
}

type refund struct {
	afterSaleID string
	line        int // index in goods; -1 for the whole order (goods_info sent as [])
	amount      int64
	state       int // 1 refunding, 2 refunded
	at          time.Time
	full        bool
	operator    string
	remark      string
	deleteBuy   bool
}

type afterSale struct{ id, goodsName string }

type address struct {
	province, city, county, detail, name, phone string
}

type buyer struct {
	nickname, phone, avatar, comment, unionID, collectPhone string
}

type invoice struct {
	title, taxID, email, phone, content, bank, bankAccount, regAddress, regContact string
}

type student struct {
	id, name, phone, wechat, grade, school, schoolAddr, intention, address, courseID string
	gender                                                                           int
	birth                                                                            time.Time
	cdata                                                                            [][2]string
}

type veriCode struct {
	code      string
	line      int
	checked   time.Time
	operator  string
	opContact string
}

type distribution struct {
	isChannel       bool
	market, appName string
	appImage        string
	ratio           float64
	typeDesc        string
}

type douyin struct {
	nick string
	fee  int64
}

type quickHand struct{ authorID, itemID, itemType string }

type talent struct{ nick, id string }

type redeem struct{ code, batch, activity, url string }

type gift struct {
	batch                              string
	total, available, claimed, invalid int64
}

type indentor struct {
	id, name, phone, avatar, staffID, staffName, staffPhone string
	deduct, remaining                                       int64
}

// emptyStyle is how an order's renderer writes a section with no content.
type emptyStyle int

const (
	emptyPlaceholder emptyStyle = iota // every field, empty, has_result false (the docs' sample)
	emptyObject                        // {}
	emptyArray                         // [] (an empty PHP array)
	emptyMissing                       // the key left out
)

// quirks are the documented oddities an order's payloads show, chosen once per order.
type quirks struct {
	numStrings   bool       // some numbers sent as numeric strings
	empty        emptyStyle // how empty sections look
	extraField   bool       // a field the docs do not know
	zeroTime     string     // how the detail writes "no time"
	paidCouponAr bool       // paid_coupon_info [] instead of "" when there is none
}

// model is one order.
type model struct {
	id, userID, tradeID, appID string
	created, updated           time.Time

	orderType  int // 1 trade, 2 imported, 3 channel purchase, 4 redeemed
	state      int // order_state 0..5
	stateTime  time.Time
	payTime    time.Time
	payType    int // 1 WeChat, 2 Alipay, -1 nothing to pay
	closeType  int
	closeTime  time.Time
	settle     int // 0 to settle, 1 settling, 2 settled
	settleTime time.Time
	afterSale  int // aftersale_show_state 0..3
	asTime     time.Time
	refundTime time.Time
	received   time.Time
	pendingGrp bool // a knowledge order waiting for its group (待成交)

	goods      []*line
	freight    int64
	freightCut int64 // ≤ 0
	parcels    []*parcel
	refunds    []*refund
	afterSales []afterSale

	addr      *address
	buyer     buyer
	promoter  [2]string // nick_name, user_id
	outID     string
	txID      string
	subMerch  string
	channel   int // channel_type: 0 goods page, 1 live room, 2 ads
	channelID string
	remarks   string
	finder    string

	invoice  *invoice
	student  *student
	veri     []veriCode
	douyin   *douyin
	quick    *quickHand
	talent   *talent
	dist     *distribution
	indentor *indentor
	redeem   *redeem
	gift     *gift

	q quirks
}

func (m *model) physical() bool {
	for _, l := range m.goods {
		if l.p.physical {
			return true
		}
	}
	return false
}

func (m *model) paid() bool { return !m.payTime.IsZero() }

func (m *model) sum(f func(*line) int64) int64 {
	var s int64
	for _, l := range m.goods {
		s += f(l)
	}
	return s
}

// collectibles is what the buyer owes: goods after discounts and cuts, plus freight.
func (m *model) collectibles() int64 {
	return m.sum((*line).actual) + m.freight + m.freightCut
}

func (m *model) refunded() int64 {
	var s int64
	for _, r := range m.refunds {
		if r.state == 2 {
			s += r.amount
		}
	}
	return s
}

func (m *model) touch(at time.Time) {
	if at.After(m.updated) {
		m.updated = at
	}
}

func (m *model) setState(s int, at time.Time) {
	m.state, m.stateTime = s, at
	m.touch(at)
}
