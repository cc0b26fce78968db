package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"ordersync/order"
	"ordersync/store"
	"ordersync/store/storetest"
)

// The report fixture: five orders of one shop, as order detail 2.0 payloads. Every figure the
// tests expect is computed by hand from these, in the comments beside it. Times are Beijing
// time, as the API sends them.
//
//	o_late      created and paid 2026-03-01 23:30 (15:30 UTC): 1 × 礼盒A 10000, coupon 1000
//	            (listed in coupons_list AND discounts_list, as the API repeats entries), paid 9000.
//	o_early     created and paid 2026-03-02 00:30 (2026-03-01 16:30 UTC: the same UTC day as
//	            o_late, the next Shanghai day): 2 × 书B 3000 + 1 × 笔C 1000 = gross 7000,
//	            discounts 500 coupon + 300 promotion (each listed twice across the three lists),
//	            shipping 1000, paid 7200. Three packages: SF001 delivered, ZT002 waiting for
//	            signature, SF003 delivered. Refunds on 03-05, three days after payment: 笔C 1000
//	            (success), 500 naming no goods (success), 书B 2000 (退款中, not money back yet).
//	o_refunded  created 03-02 09:00, paid 09:05: 1 × 礼盒A 10000, paid 10000, package SF004
//	            delivered, full refund 10000 on 03-03 15:00, closed with close type 4 (全额退款).
//	o_cancelled created 03-02 20:00, never paid, auto-closed at 20:30 (close type 1); its
//	            order_pay_time is the close time, as the API sets it when the payment state
//	            changes: 1 × 书B 3000.
//	o_unpaid    created 03-03 10:00, waiting for payment (order_state 0): 5 × 笔C 1000.
func reportFixture(t testing.TB) []order.Payload {
	t.Helper()
	type obj = map[string]any
	goods := func(spu, sku, name string, qty, unit, actual int, more obj) obj {
		g := obj{"spu_id": spu, "sku_id": sku, "spu_type": "ENT", "goods_name": name,
			"quantity": qty, "unit_price": unit, "actual_fee": actual}
		for k, v := range more {
			g[k] = v
		}
		return g
	}
	discount := func(name string, amount int) obj { return obj{"discount_name": name, "discount_amount": amount} }
	refund := func(id string, amount, typ, state int, at string, goods any) obj {
		states := map[int]string{1: "退款中", 2: "退款成功"}
		types := map[int]string{1: "全额退款", 2: "部分退款"}
		return obj{"after_sale_id": id, "refund_amount": amount, "refund_type": typ,
			"refund_type_description": types[typ], "refund_state": state,
			"refund_state_description": states[state], "refund_time": at, "goods_info": goods}
	}
	trace := func(at, text string) obj { return obj{"time": at, "text": text} }
	pkg := func(carrier, express, departure string, traces ...obj) obj {
		return obj{"logistics_company_name": carrier, "express_id": express,
			"departure_time": departure, "package_trace_info": traces}
	}
	detail := func(info, price obj, transaction string, lines []obj, refunds, packages []obj) obj {
		return obj{
			"order_info":   info,
			"buyer_info":   obj{"user_id": info["user_id"], "nickname": "买家" + info["user_id"].(string), "has_result": true},
			"price_info":   price,
			"payment_info": obj{"transaction_id": transaction},
			"goods_info":   obj{"goods_list": lines, "has_result": true},
			"internal_extra_info": obj{
				"refund_info":    obj{"refund_records": refunds, "has_result": len(refunds) > 0},
				"logistics_info": obj{"packages_info": packages, "has_result": len(packages) > 0},
			},
		}
	}
	price := func(gross, shipment, collectibles, earned int) obj {
		return obj{"gross_total": gross, "shipment_fee": shipment, "collectibles": collectibles,
			"earned_revenue": earned, "has_result": true}
	}
	a1 := func(actual int, more obj) obj { return goods("SPU_A", "SKU_A1", "礼盒A", 1, 10000, actual, more) }

	details := map[string]obj{
		"o_late": detail(
			obj{"user_id": "u_1", "order_state": 4, "order_state_description": "已完成",
				"order_create_time": "2026-03-01 23:30:00", "order_pay_time": "2026-03-01 23:30:20"},
			price(10000, 0, 9000, 9000), "4200000001",
			[]obj{a1(9000, obj{"discounts_info": obj{
				"coupons_list":                  []obj{discount("满减券", 1000)},
				"discounts_list":                []obj{discount("满减券", 1000)},
				"total_coupons_discount_amount": 1000,
			}})}, nil, nil),
		"o_early": detail(
			obj{"user_id": "u_2", "order_state": 3, "order_state_description": "已发货",
				"order_create_time": "2026-03-02 00:30:00", "order_pay_time": "2026-03-02 00:30:40",
				"after_sale_show_state": 2},
			price(7000, 1000, 7200, 7200), "4200000002",
			[]obj{
				goods("SPU_B", "SKU_B1", "书B", 2, 3000, 5200, obj{"refund_state": 1, "discounts_info": obj{
					"coupons_list":                  []obj{discount("优惠券", 500)},
					"discounts_list":                []obj{discount("优惠券", 500), discount("限时折扣", 300)},
					"no_coupon_list":                []obj{discount("限时折扣", 300)},
					"total_coupons_discount_amount": 500,
				}}),
				goods("SPU_C", "SKU_C1", "笔C", 1, 1000, 1000, obj{"refund_state": 3, "refund_amount": 1000}),
			},
			[]obj{
				refund("A_E_0", 1000, 2, 2, "2026-03-05 10:00:00", goods("SPU_C", "SKU_C1", "笔C", 1, 1000, 1000, nil)),
				refund("A_E_1", 500, 2, 2, "2026-03-05 10:05:00", []any{}),
				refund("A_E_2", 2000, 2, 1, "2026-03-05 11:00:00", goods("SPU_B", "SKU_B1", "书B", 1, 3000, 2600, nil)),
			},
			[]obj{
				// Traces newest first, as the API lists them; the views order by time.
				pkg("顺丰速运", "SF001", "2026-03-02 10:00:00",
					trace("2026-03-04 14:00:00", "已签收，签收人：本人"),
					trace("2026-03-03 08:00:00", "运输中"),
					trace("2026-03-02 12:00:00", "已揽收")),
				pkg("中通快递", "ZT002", "2026-03-03 09:00:00",
					trace("2026-03-04 06:00:00", "快件派送中，请保持电话畅通，等待签收"),
					trace("2026-03-03 11:00:00", "已揽收")),
				pkg("顺丰速运", "SF003", "2026-03-02 10:00:00",
					trace("2026-03-03 10:00:00", "您的快件已签收")),
			}),
		"o_refunded": detail(
			obj{"user_id": "u_3", "order_state": 5, "order_state_description": "已关闭",
				"order_close_type": 4, "order_close_type_description": "全额退款",
				"order_create_time": "2026-03-02 09:00:00", "order_pay_time": "2026-03-02 09:05:00",
				"after_sale_show_state": 3},
			price(10000, 0, 10000, 10000), "4200000003",
			[]obj{a1(10000, obj{"refund_state": 3, "refund_amount": 10000})},
			[]obj{refund("A_R_0", 10000, 1, 2, "2026-03-03 15:00:00", a1(10000, nil))},
			[]obj{pkg("顺丰速运", "SF004", "2026-03-02 12:00:00",
				trace("2026-03-03 08:00:00", "已签收，签收人：本人"))}),
		"o_cancelled": detail(
			obj{"user_id": "u_4", "order_state": 5, "order_state_description": "已关闭",
				"order_close_type": 1, "order_close_type_description": "自动取消",
				"order_create_time": "2026-03-02 20:00:00", "order_pay_time": "2026-03-02 20:30:00"},
			price(3000, 0, 3000, 0), "",
			[]obj{goods("SPU_B", "SKU_B1", "书B", 1, 3000, 3000, nil)}, nil, nil),
		"o_unpaid": detail(
			obj{"user_id": "u_5", "order_state": 0, "order_state_description": "待付款",
				"order_create_time": "2026-03-03 10:00:00"},
			price(5000, 0, 5000, 0), "",
			[]obj{goods("SPU_C", "SKU_C1", "笔C", 5, 1000, 5000, nil)}, nil, nil),
	}
	var out []order.Payload
	for id, d := range details {
		d["order_info"].(obj)["order_id"] = id
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, order.Payload{OrderID: id, UpdateTime: time.Date(2026, 3, 6, 0, 0, 0, 0, order.Shanghai), Detail: b})
	}
	return out
}

// reportStore returns a store holding the report fixture.
func reportStore(t testing.TB) *store.Store {
	t.Helper()
	s := storetest.Store(t)
	if _, err := s.Write(context.Background(), store.Batch{Orders: prepare(t, reportFixture(t)...)}); err != nil {
		t.Fatal(err)
	}
	return s
}

// rowsOf runs query and returns each row as PostgreSQL's text form of a record:
// (a,b,"c d",) where an empty field is NULL.
func rowsOf(t testing.TB, s *store.Store, query string) []string {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), "SELECT r::text FROM ("+query+") r")
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// TestReports checks every report view against the fixture's hand-computed figures. The
// subtests share one database: they only read it.
func TestReports(t *testing.T) {
	t.Parallel()
	s := reportStore(t)
	check := func(t *testing.T, query string, want []string) {
		t.Helper()
		if diff := cmp.Diff(want, rowsOf(t, s, query)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}

	t.Run("daily sales", func(t *testing.T) {
		check(t, `SELECT day, orders_placed, orders_paid, gross, shipment, discounts, collected,
			refunds, refunded, net FROM report_daily_sales ORDER BY day`, []string{
			// o_late only: 23:30 Shanghai is still 03-01. discounts 10000 + 0 - 9000 = 1000
			// (the coupon once, though two lists carry it).
			"(2026-03-01,1,1,10000,0,1000,9000,0,0,9000)",
			// placed: o_early (00:30), o_refunded, o_cancelled = 3. paid: o_early and
			// o_refunded (closed by a full refund, so it was paid) = 2; o_cancelled has an
			// order_pay_time but was never paid. gross 7000 + 10000 = 17000; shipment 1000;
			// collected 7200 + 10000 = 17200; discounts 17000 + 1000 - 17200 = 800 (500 + 300
			// once each, though the lists carry 1600).
			"(2026-03-02,3,2,17000,1000,800,17200,0,0,17200)",
			// placed: o_unpaid (not paid). refunded: o_refunded's full refund 10000, on the day
			// of the refund, not of the payment. net 0 - 10000.
			"(2026-03-03,1,0,0,0,0,0,1,10000,-10000)",
			// Refunds only: o_early's 1000 + 500; its 2000 退款中 is not money back yet.
			"(2026-03-05,0,0,0,0,0,0,2,1500,-1500)",
		})
		// Over all days net is what the shop kept: o_late 9000 + o_early 7200 - 1500.
		check(t, `SELECT sum(net) FROM report_daily_sales`, []string{"(14700)"})
	})

	t.Run("days are Shanghai days in any session time zone", func(t *testing.T) {
		ctx := context.Background()
		tx, err := s.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		for _, zone := range []string{"UTC", "America/Los_Angeles", "Asia/Shanghai"} {
			var got []string
			err := tx.QueryRow(ctx, `SELECT set_config('TimeZone', $1, true)`, zone).Scan(new(string))
			if err == nil {
				err = tx.QueryRow(ctx, `SELECT array_agg(to_char(day, 'MM-DD') || ':' || orders_paid ORDER BY day)
					FROM report_daily_sales WHERE orders_paid > 0`).Scan(&got)
			}
			if err != nil {
				t.Fatal(err)
			}
			// o_late and o_early were paid an hour apart on the same UTC day, 03-01.
			if diff := cmp.Diff([]string{"03-01:1", "03-02:2"}, got); diff != "" {
				t.Errorf("session time zone %s: paid per day (-want +got):\n%s", zone, diff)
			}
		}
	})

	t.Run("goods sales", func(t *testing.T) {
		check(t, `SELECT day, spu_id, sku_id, goods_name, orders, quantity, gross, revenue, refunds, refunded
			FROM report_goods_sales ORDER BY day, sku_id NULLS LAST`, []string{
			// o_late: 1 × 10000, actual_fee 9000 after the coupon.
			"(2026-03-01,SPU_A,SKU_A1,礼盒A,1,1,10000,9000,0,0)",
			// o_refunded: its sale stays on its pay day; the refund is on 03-03.
			"(2026-03-02,SPU_A,SKU_A1,礼盒A,1,1,10000,10000,0,0)",
			// o_early only: 2 × 3000 = 6000, actual_fee 6000 - 800 = 5200. o_cancelled's 书B
			// is not a sale.
			"(2026-03-02,SPU_B,SKU_B1,书B,1,2,6000,5200,0,0)",
			// o_early only; o_unpaid's 5 × 笔C is not a sale.
			"(2026-03-02,SPU_C,SKU_C1,笔C,1,1,1000,1000,0,0)",
			"(2026-03-03,SPU_A,SKU_A1,礼盒A,0,0,0,0,1,10000)",
			// o_early's refunds: 笔C 1000, and 500 naming no goods. 书B's 2000 is still 退款中.
			"(2026-03-05,SPU_C,SKU_C1,笔C,0,0,0,0,1,1000)",
			"(2026-03-05,,,,0,0,0,0,1,500)",
		})
		// Per day, the goods' refunds add up to the daily refunded and their revenue to the
		// collected amount without shipping.
		check(t, `SELECT day FROM (
				SELECT day, sum(revenue) AS revenue, sum(refunded) AS refunded FROM report_goods_sales GROUP BY day
			) g FULL JOIN report_daily_sales d USING (day)
			WHERE g.revenue IS DISTINCT FROM d.collected - d.shipment OR g.refunded IS DISTINCT FROM d.refunded`, nil)
	})

	t.Run("refunds", func(t *testing.T) {
		check(t, `SELECT day, refund_state, refund_state_description, refund_type, refund_type_description,
				refunds, orders, refund_amount
			FROM report_refunds ORDER BY day, refund_state, refund_type`, []string{
			"(2026-03-03,2,退款成功,1,全额退款,1,1,10000)",
			// o_early's pending 书B refund, on its own row.
			"(2026-03-05,1,退款中,2,部分退款,1,1,2000)",
			// o_early's two successful partial refunds: 1000 + 500.
			"(2026-03-05,2,退款成功,2,部分退款,2,1,1500)",
		})
		check(t, `SELECT order_id, refund_no, day, refund_state, refund_type, refund_amount, sku_id, goods_name,
				quantity, order_pay_day
			FROM report_refund_goods ORDER BY order_id, refund_no`, []string{
			"(o_early,0,2026-03-05,2,2,1000,SKU_C1,笔C,1,2026-03-02)",
			"(o_early,1,2026-03-05,2,2,500,,,,2026-03-02)",
			"(o_early,2,2026-03-05,1,2,2000,SKU_B1,书B,1,2026-03-02)",
			"(o_refunded,0,2026-03-03,2,1,10000,SKU_A1,礼盒A,1,2026-03-02)",
		})
	})

	t.Run("packages", func(t *testing.T) {
		check(t, `SELECT order_id, package_no, logistics_company_name, express_id, ship_day, traces,
				to_char(first_trace_time AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'), first_trace_text,
				to_char(last_trace_time AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'), last_trace_text,
				delivered, time_to_delivery, hours_to_delivery
			FROM report_packages ORDER BY order_id, package_no`, []string{
			// 03-02 10:00 → 03-04 14:00 = 2 days 4 hours = 52 h.
			`(o_early,0,顺丰速运,SF001,2026-03-02,3,"03-02 12:00",已揽收,"03-04 14:00",已签收，签收人：本人,t,"2 days 04:00:00",52.00)`,
			// Its last trace mentions 签收 but is waiting for it: in transit.
			`(o_early,1,中通快递,ZT002,2026-03-03,2,"03-03 11:00",已揽收,"03-04 06:00",快件派送中，请保持电话畅通，等待签收,f,,)`,
			// 03-02 10:00 → 03-03 10:00 = 24 h.
			`(o_early,2,顺丰速运,SF003,2026-03-02,1,"03-03 10:00",您的快件已签收,"03-03 10:00",您的快件已签收,t,"1 day",24.00)`,
			// 03-02 12:00 → 03-03 08:00 = 20 h.
			`(o_refunded,0,顺丰速运,SF004,2026-03-02,1,"03-03 08:00",已签收，签收人：本人,"03-03 08:00",已签收，签收人：本人,t,20:00:00,20.00)`,
		})
		check(t, `SELECT logistics_company_name, packages, delivered, avg_hours_to_delivery, median_hours_to_delivery,
				to_char(first_departure_time AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'),
				to_char(last_departure_time AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI')
			FROM report_carriers ORDER BY packages DESC`, []string{
			// avg (52 + 24 + 20) / 3 = 32; median of 20, 24, 52 = 24.
			`(顺丰速运,3,3,32.00,24.00,"03-02 10:00","03-02 12:00")`,
			`(中通快递,1,0,,,"03-03 09:00","03-03 09:00")`,
		})
	})

	t.Run("order lines", func(t *testing.T) {
		check(t, `SELECT order_id, line_no, nickname, order_state, paid, create_day, pay_day, sku_id, quantity,
				unit_price, actual_fee
			FROM order_lines ORDER BY order_id, line_no`, []string{
			// Closed unpaid: order_pay_time is set, yet not paid and no pay_day.
			"(o_cancelled,0,买家u_4,5,f,2026-03-02,,SKU_B1,1,3000,3000)",
			"(o_early,0,买家u_2,3,t,2026-03-02,2026-03-02,SKU_B1,2,3000,5200)",
			"(o_early,1,买家u_2,3,t,2026-03-02,2026-03-02,SKU_C1,1,1000,1000)",
			"(o_late,0,买家u_1,4,t,2026-03-01,2026-03-01,SKU_A1,1,10000,9000)",
			"(o_refunded,0,买家u_3,5,t,2026-03-02,2026-03-02,SKU_A1,1,10000,10000)",
			"(o_unpaid,0,买家u_5,0,f,2026-03-03,,SKU_C1,5,1000,5000)",
		})
	})
}

func TestDailySales(t *testing.T) {
	t.Parallel()
	s := reportStore(t)
	// 2026-03-01 16:30 UTC is 03-02 00:30 in Shanghai: the range starts on 03-02, and
	// o_late (paid 03-01 23:30 Shanghai, 15:30 UTC) is not in it.
	from := time.Date(2026, 3, 1, 16, 30, 0, 0, time.UTC)
	to := time.Date(2026, 3, 5, 0, 0, 0, 0, order.Shanghai)
	got, err := s.DailySales(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	// The figures of the "daily sales" subtest of TestReports, 03-04 having no row.
	want := []store.DailySales{
		{Day: "2026-03-02", OrdersPlaced: 3, OrdersPaid: 2, Gross: 17000, Shipment: 1000, Discounts: 800, Collected: 17200, Net: 17200},
		{Day: "2026-03-03", OrdersPlaced: 1, Refunds: 1, Refunded: 10000, Net: -10000},
		{Day: "2026-03-05", Refunds: 2, Refunded: 1500, Net: -1500},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DailySales (-want +got):\n%s", diff)
	}
	// A single day, given as its last instant in UTC terms.
	got, err = s.DailySales(context.Background(), time.Date(2026, 3, 1, 15, 59, 59, 0, time.UTC), time.Date(2026, 3, 1, 15, 59, 59, 0, time.UTC))
	if err != nil || len(got) != 1 || got[0].Day != "2026-03-01" || got[0].Collected != 9000 {
		t.Errorf("DailySales of 03-01 = %+v, %v; want o_late's day alone", got, err)
	}
}
