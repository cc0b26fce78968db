package fetchtest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
)

var (
	t0   = time.Date(2026, 3, 1, 0, 0, 0, 0, order.Shanghai)
	tEnd = t0.AddDate(0, 0, 60)
)

func newShop(t *testing.T, n int) *fetchtest.Shop {
	t.Helper()
	return fetchtest.New(fetchtest.Options{Seed: 42, Orders: n, From: t0, To: tEnd,
		Now: func() time.Time { return tEnd.Add(time.Hour) }})
}

func TestShopIsDeterministic(t *testing.T) {
	a, b := newShop(t, 300), newShop(t, 300)
	ma, mb := a.Mutate(40, tEnd.Add(time.Minute)), b.Mutate(40, tEnd.Add(time.Minute))
	if strings.Join(ma, ",") != strings.Join(mb, ",") {
		t.Fatalf("the same seed mutated different orders")
	}
	oa, ob := a.Orders(), b.Orders()
	if len(oa) != 300 || len(ob) != 300 {
		t.Fatalf("got %d and %d orders, want 300", len(oa), len(ob))
	}
	for i := range oa {
		if oa[i].ID != ob[i].ID || !bytes.Equal(oa[i].Detail, ob[i].Detail) || !bytes.Equal(oa[i].ListItem, ob[i].ListItem) {
			t.Fatalf("order %d differs between two shops of the same seed: %s, %s", i, oa[i].ID, ob[i].ID)
		}
	}
	c := fetchtest.New(fetchtest.Options{Seed: 43, Orders: 300, From: t0, To: tEnd})
	if c.Orders()[0].ID == oa[0].ID {
		t.Errorf("another seed gave the same orders")
	}
}

// listItem is the part of a list item the checks read.
type listItem struct {
	OrderInfo struct {
		OrderID            string     `json:"order_id"`
		CreatedTime        order.Time `json:"created_time"`
		UpdateTime         order.Time `json:"update_time"`
		PayStateTime       order.Time `json:"pay_state_time"`
		OrderState         int        `json:"order_state"`
		AftersaleShowState int        `json:"aftersale_show_state"`
		PayType            int        `json:"pay_type"`
		SettleState        int        `json:"settle_state"`
		ActualFee          int64      `json:"actual_fee"`
		RefundFee          int64      `json:"refund_fee"`
		DiscountAmount     int64      `json:"discount_amount"`
		GoodsBuyNum        int64      `json:"goods_buy_num"`
		GoodsOriginal      int64      `json:"goods_original_total_price"`
	} `json:"order_info"`
	PriceInfo struct {
		ActualPrice int64 `json:"actual_price"`
		TotalPrice  int64 `json:"total_price"`
	} `json:"price_info"`
	PaymentInfo struct {
		OutOrderID   string `json:"out_order_id"`
		ThirdOrderID string `json:"third_order_id"`
	} `json:"payment_info"`
	GoodList []struct {
		BuyNum     int64 `json:"buy_num"`
		UnitPrice  int64 `json:"unit_price"`
		TotalPrice int64 `json:"total_price"`
	} `json:"good_list"`
	BuyerInfo, PromoterInfo, ShipInfo json.RawMessage
}

var (
	newID = regexp.MustCompile(`^E(\d{14})[a-z0-9]{6}V2$`)
	oldID = regexp.MustCompile(`^o_(\d{10})_[0-9a-f]{13}_\d{9}$`)
)

// TestOrdersAreConsistent checks every order's detail against its list item and the money
// rules: what a sync compares and stores must add up.
func TestOrdersAreConsistent(t *testing.T) {
	t.Parallel()
	s := newShop(t, 700)
	s.Mutate(200, tEnd.Add(time.Minute))
	for _, o := range s.Orders() {
		d, err := order.Decode(o.Detail)
		if err != nil {
			t.Fatalf("%s: %v", o.ID, err)
		}
		var li listItem
		if err := json.Unmarshal(o.ListItem, &li); err != nil {
			t.Fatalf("%s: list item: %v", o.ID, err)
		}
		oi := &d.OrderInfo
		if string(oi.OrderID) != o.ID || li.OrderInfo.OrderID != o.ID {
			t.Errorf("%s: ids %q (detail), %q (list)", o.ID, oi.OrderID, li.OrderInfo.OrderID)
		}
		switch m := newID.FindStringSubmatch(o.ID); {
		case m != nil:
			embedded, _ := time.ParseInLocation("20060102150405", m[1], order.Shanghai)
			if d := o.Created.Sub(embedded); d < 0 || d > time.Second {
				t.Errorf("%s: embedded time %v, created %v", o.ID, embedded, o.Created)
			}
		case oldID.MatchString(o.ID):
			if !strings.Contains(o.ID, "_"+itoa(o.Created.Unix())+"_") {
				t.Errorf("%s: embedded time is not created %v", o.ID, o.Created)
			}
		default:
			t.Errorf("%s: not an id of either form", o.ID)
		}
		if !oi.OrderCreateTime.Equal(o.Created) || !li.OrderInfo.CreatedTime.Equal(o.Created) {
			t.Errorf("%s: created %v, detail %v, list %v", o.ID, o.Created, oi.OrderCreateTime, li.OrderInfo.CreatedTime)
		}
		if !li.OrderInfo.UpdateTime.Equal(o.Updated) || o.Updated.Before(o.Created) {
			t.Errorf("%s: updated %v, list %v, created %v", o.ID, o.Updated, li.OrderInfo.UpdateTime, o.Created)
		}
		if !oi.OrderPayTime.Equal(li.OrderInfo.PayStateTime.Time) {
			t.Errorf("%s: pay time %v (detail) vs %v (list)", o.ID, oi.OrderPayTime, li.OrderInfo.PayStateTime)
		}
		for _, c := range [][2]int64{
			{oi.OrderState.V, int64(li.OrderInfo.OrderState)},
			{oi.AfterSaleShowState.V, int64(li.OrderInfo.AftersaleShowState)},
			{oi.PaymentType.V, int64(li.OrderInfo.PayType)},
			{oi.SettleState.V, int64(li.OrderInfo.SettleState)},
			{d.PriceInfo.Collectibles.V, li.OrderInfo.ActualFee},
			{d.PriceInfo.Collectibles.V, li.PriceInfo.ActualPrice},
			{d.PriceInfo.GrossTotal.V, li.PriceInfo.TotalPrice},
			{d.PriceInfo.GrossTotal.V, li.OrderInfo.GoodsOriginal},
			{d.PriceInfo.GoodsTotalCount.V, li.OrderInfo.GoodsBuyNum},
			{int64(len(d.GoodsInfo.GoodsList)), int64(len(li.GoodList))},
		} {
			if c[0] != c[1] {
				t.Errorf("%s: detail says %d, list item %d", o.ID, c[0], c[1])
			}
		}
		if d.PaymentInfo.OutOrderID != order.Str(li.PaymentInfo.OutOrderID) || d.PaymentInfo.TransactionID != order.Str(li.PaymentInfo.ThirdOrderID) {
			t.Errorf("%s: payment ids differ", o.ID)
		}
		var gross, discounts, actual, refundedGoods int64
		for i, g := range d.GoodsInfo.GoodsList {
			var listed int64
			for _, x := range g.DiscountsInfo.DiscountsList {
				listed += x.DiscountAmount.V
			}
			if g.SubTotal.V != g.UnitPrice.V*g.Quantity.V-listed || g.ActualFee.V != g.SubTotal.V+g.ModifiedAmount.V {
				t.Errorf("%s line %d: unit %d × %d − discounts %d ≠ sub_total %d, or + modified %d ≠ actual %d",
					o.ID, i, g.UnitPrice.V, g.Quantity.V, listed, g.SubTotal.V, g.ModifiedAmount.V, g.ActualFee.V)
			}
			if g.RefundAmount.V > g.ActualFee.V || g.ActualFee.V < 0 {
				t.Errorf("%s line %d: refunded %d of %d", o.ID, i, g.RefundAmount.V, g.ActualFee.V)
			}
			if li.GoodList[i].UnitPrice != g.UnitPrice.V || li.GoodList[i].BuyNum != g.Quantity.V {
				t.Errorf("%s line %d: list and detail goods differ", o.ID, i)
			}
			gross += g.UnitPrice.V * g.Quantity.V
			discounts += listed
			actual += g.ActualFee.V
			refundedGoods += g.RefundAmount.V
		}
		if discounts != li.OrderInfo.DiscountAmount || gross != d.PriceInfo.GrossTotal.V {
			t.Errorf("%s: discounts %d vs %d, gross %d vs %d", o.ID, discounts, li.OrderInfo.DiscountAmount, gross, d.PriceInfo.GrossTotal.V)
		}
		if want := actual + d.PriceInfo.ShipmentFee.V + d.PriceInfo.ShipmentModifiedAmount.V; d.PriceInfo.Collectibles.V != want {
			t.Errorf("%s: collectibles %d, goods and freight %d", o.ID, d.PriceInfo.Collectibles.V, want)
		}
		var refunds int64
		for _, r := range d.InternalExtraInfo.RefundInfo.RefundRecords {
			if r.RefundState.V == 2 {
				refunds += r.RefundAmount.V
			}
		}
		if refunds != li.OrderInfo.RefundFee || refunds > d.PriceInfo.EarnedRevenue.V {
			t.Errorf("%s: refunds %d, list refund_fee %d, paid %d", o.ID, refunds, li.OrderInfo.RefundFee, d.PriceInfo.EarnedRevenue.V)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestOrdersShowEveryFieldAndQuirk checks that the generated details fill every documented
// field somewhere, and show each documented quirk somewhere.
func TestOrdersShowEveryFieldAndQuirk(t *testing.T) {
	t.Parallel()
	s := newShop(t, 1200)
	for i := range 3 {
		s.Mutate(250, tEnd.Add(time.Duration(i+1)*time.Hour))
	}
	filled := map[string]bool{}
	quirks := map[string]*regexp.Regexp{
		`paid_coupon_info ""`:       regexp.MustCompile(`"paid_coupon_info":""`),
		`paid_coupon_info array`:    regexp.MustCompile(`"paid_coupon_info":\[\{`),
		`"--"`:                      regexp.MustCompile(`":"--"`),
		`numeric string`:            regexp.MustCompile(`"unit_price":"\d+"`),
		`section {}`:                regexp.MustCompile(`"invoice_info":\{\}`),
		`section []`:                regexp.MustCompile(`_info":\[\]`),
		`section missing`:           regexp.MustCompile(`^[^\n]*$`), // checked below
		`has_result:false list`:     regexp.MustCompile(`"after_sale_records":\[\{"after_sale_id":"","goods_name":""\}\],"has_result":false`),
		`19-digit out_order_id`:     regexp.MustCompile(`"out_order_id":"\d{19}"`),
		`unknown field`:             regexp.MustCompile(`"marketing_info":`),
		`0000-00-00 00:00:00`:       regexp.MustCompile(`"0000-00-00 00:00:00"`),
		`0001-01-01 00:00:00`:       regexp.MustCompile(`"0001-01-01 00:00:00"`),
		`refund of the whole order`: regexp.MustCompile(`"goods_info":\[\]`),
		`knowledge goods`:           regexp.MustCompile(`"spu_type":"COP"`),
		`physical goods`:            regexp.MustCompile(`"spu_type":"ENT"`),
		`multi-line order`:          regexp.MustCompile(`\}\],"has_result":true\},"internal_extra_info"`),
	}
	seen := map[string]int{}
	missingSection, oldIDs := 0, 0
	for _, o := range s.Orders() {
		for name, re := range quirks {
			if re.Match(o.Detail) {
				seen[name]++
			}
		}
		if !bytes.Contains(o.Detail, []byte(`"invoice_info"`)) {
			missingSection++
		}
		if strings.HasPrefix(o.ID, "o_") {
			oldIDs++
		}
		var v any
		if err := json.Unmarshal(o.Detail, &v); err != nil {
			t.Fatal(err)
		}
		walk("data", v, filled)
	}
	seen["section missing"] = missingSection
	seen["o_ ids"] = oldIDs
	for name := range quirks {
		if seen[name] == 0 {
			t.Errorf("no order shows the quirk %s", name)
		}
	}
	if oldIDs == 0 {
		t.Errorf("no order has an o_ id")
	}

	f, err := os.Open("testdata/order-detail-fields.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		path, typ := cols[0], cols[1]
		if typ == "object" || typ == "array" && !strings.HasSuffix(path, "paid_coupon_info[].app_id") {
			continue // containers: their leaves are checked
		}
		path = strings.ReplaceAll(path, "c_data.", "c_data[].")
		if !filled[path] {
			t.Errorf("no order fills %s (%s)", path, typ)
		}
	}
}

// walk records the paths of v that hold a value other than "", 0, false or "--".
func walk(path string, v any, filled map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walk(path+"."+k, e, filled)
		}
	case []any:
		for _, e := range x {
			walk(path+"[]", e, filled)
		}
	case string:
		if x != "" && x != "--" {
			filled[path] = true
		}
	case float64:
		if x != 0 {
			filled[path] = true
		}
	case bool:
		if x {
			filled[path] = true
		}
	}
}

func TestMutateChangesOrders(t *testing.T) {
	t.Parallel()
	s := newShop(t, 400)
	s.AddOrders(80, tEnd) // new orders, unpaid: they can be paid, closed or edited
	before := map[string]fetchtest.Order{}
	for _, o := range s.Orders() {
		before[o.ID] = o
	}
	kinds := map[string]int{}
	for round := range 6 {
		at := tEnd.Add(time.Duration(round+1) * time.Hour)
		ids := s.Mutate(60, at)
		if len(ids) == 0 {
			t.Fatalf("round %d changed nothing", round)
		}
		for _, id := range ids {
			o, _ := s.Order(id)
			if !o.Updated.Equal(at) {
				t.Errorf("%s: update_time %v, want %v", id, o.Updated, at)
			}
			prev := before[id]
			if bytes.Equal(prev.Detail, o.Detail) || bytes.Equal(prev.ListItem, o.ListItem) {
				t.Errorf("%s: changed, but its payloads did not", id)
			}
			a, _ := order.Decode(prev.Detail)
			b, _ := order.Decode(o.Detail)
			switch {
			case len(b.GoodsInfo.GoodsList) < len(a.GoodsInfo.GoodsList):
				kinds["shrink"]++
			case len(b.InternalExtraInfo.LogisticsInfo.PackagesInfo) > len(a.InternalExtraInfo.LogisticsInfo.PackagesInfo):
				kinds["ship"]++
			case len(b.InternalExtraInfo.RefundInfo.RefundRecords) > len(a.InternalExtraInfo.RefundInfo.RefundRecords):
				kinds["refund"]++
			case a.OrderInfo.OrderState.V == 0 && b.OrderInfo.OrderState.V != 0:
				kinds["pay or close"]++
			case b.OrderInfo.SettleState.V == 2 && a.OrderInfo.SettleState.V != 2:
				kinds["settle"]++
			default:
				kinds["other"]++
			}
			before[id] = o
		}
	}
	for _, k := range []string{"shrink", "ship", "refund", "pay or close", "settle"} {
		if kinds[k] == 0 {
			t.Errorf("no %s among the changes %v", k, kinds)
		}
	}
	for id, o := range before {
		now, _ := s.Order(id)
		if !bytes.Equal(now.Detail, o.Detail) {
			t.Errorf("%s changed without being reported", id)
		}
	}

	added := s.AddOrders(5, tEnd.Add(10*time.Hour))
	if len(added) != 5 || len(s.Orders()) != 485 {
		t.Fatalf("AddOrders: %d ids, %d orders", len(added), len(s.Orders()))
	}
	for _, id := range added {
		o, ok := s.Order(id)
		if !ok || !o.Created.Equal(tEnd.Add(10*time.Hour)) || !o.Updated.Equal(o.Created) {
			t.Errorf("added %s: %+v", id, o)
		}
	}
}
