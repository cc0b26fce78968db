package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"ordersync/migrations"
	"ordersync/order"
	"ordersync/store"
	"ordersync/store/storetest"
)

// The report fixture: orders of two shops, as order detail 2.0 payloads, by shop. Every
// figure the tests expect is computed by hand from these, in the comments beside it. Times
// are Beijing time, as the API sends them.
//
// Shop app_a, five orders:
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
//
// Shop app_b sells on the same days, with the same product ids and carrier as app_a, so that
// a view mixing the shops up shows it:
//
//	b_late      created and paid 2026-03-01 22:00: 1 × 礼盒A 10000, paid 10000. Package SF101
//	            shipped 03-02 09:00, delivered 03-03 09:00.
//	b_shipping  created and paid 2026-03-02 10:00: 2 × 书B 3000 = gross 6000, coupon 600,
//	            shipping 800, paid 6200. On 03-05 a refund of 800 naming no goods (the shipping).
func reportFixture(t testing.TB) map[string][]order.Payload {
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

	shopA := map[string]obj{
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
	shopB := map[string]obj{
		"b_late": detail(
			obj{"user_id": "u_6", "order_state": 4, "order_state_description": "已完成",
				"order_create_time": "2026-03-01 22:00:00", "order_pay_time": "2026-03-01 22:00:30"},
			price(10000, 0, 10000, 10000), "4200000006",
			[]obj{a1(10000, nil)}, nil,
			[]obj{pkg("顺丰速运", "SF101", "2026-03-02 09:00:00",
				trace("2026-03-03 09:00:00", "已签收，签收人：本人"))}),
		"b_shipping": detail(
			obj{"user_id": "u_7", "order_state": 4, "order_state_description": "已完成",
				"order_create_time": "2026-03-02 10:00:00", "order_pay_time": "2026-03-02 10:00:30"},
			price(6000, 800, 6200, 6200), "4200000007",
			[]obj{goods("SPU_B", "SKU_B1", "书B", 2, 3000, 5400, obj{"discounts_info": obj{
				"coupons_list":                  []obj{discount("店铺券", 600)},
				"total_coupons_discount_amount": 600,
			}})},
			[]obj{refund("B_S_0", 800, 2, 2, "2026-03-05 12:00:00", []any{})}, nil),
	}
	out := map[string][]order.Payload{}
	for shop, details := range map[string]map[string]obj{"app_a": shopA, "app_b": shopB} {
		for id, d := range details {
			d["order_info"].(obj)["order_id"] = id
			d["order_info"].(obj)["app_id"] = shop
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			out[shop] = append(out[shop], order.Payload{OrderID: id, UpdateTime: time.Date(2026, 3, 6, 0, 0, 0, 0, order.Shanghai), Detail: b})
		}
	}
	return out
}

// reportStore returns a store holding the report fixture, each shop's orders written as
// that shop's sync writes them.
func reportStore(t testing.TB) *store.Store {
	t.Helper()
	s := storetest.Store(t)
	for shop, payloads := range reportFixture(t) {
		if _, err := s.Write(context.Background(), store.Batch{AppID: shop, Orders: prepare(t, payloads...)}); err != nil {
			t.Fatal(err)
		}
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

// TestReports checks every report view against the fixture's hand-computed figures, shop by
// shop. The subtests share one database: they only read it.
func TestReports(t *testing.T) {
	t.Parallel()
	s := reportStore(t)
	check := func(t *testing.T, query string, want []string) {
		t.Helper()
		if diff := cmp.Diff(want, rowsOf(t, s, query)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}

	t.Run("every view begins with app_id", func(t *testing.T) {
		check(t, `SELECT v.table_name, c.column_name
			FROM information_schema.views v
			JOIN information_schema.columns c USING (table_schema, table_name)
			WHERE v.table_schema = current_schema() AND c.ordinal_position = 1
			ORDER BY v.table_name`, []string{
			"(order_lines,app_id)",
			"(report_carriers,app_id)",
			"(report_daily_sales,app_id)",
			"(report_goods_sales,app_id)",
			"(report_orders,app_id)",
			"(report_packages,app_id)",
			"(report_refund_goods,app_id)",
			"(report_refunds,app_id)",
		})
	})

	t.Run("daily sales", func(t *testing.T) {
		check(t, `SELECT app_id, day, orders_placed, orders_paid, gross, shipment, discounts, collected,
			refunds, refunded, net FROM report_daily_sales ORDER BY app_id, day`, []string{
			// o_late only: 23:30 Shanghai is still 03-01. discounts 10000 + 0 - 9000 = 1000
			// (the coupon once, though two lists carry it).
			"(app_a,2026-03-01,1,1,10000,0,1000,9000,0,0,9000)",
			// placed: o_early (00:30), o_refunded, o_cancelled = 3. paid: o_early and
			// o_refunded (closed by a full refund, so it was paid) = 2; o_cancelled has an
			// order_pay_time but was never paid. gross 7000 + 10000 = 17000; shipment 1000;
			// collected 7200 + 10000 = 17200; discounts 17000 + 1000 - 17200 = 800 (500 + 300
			// once each, though the lists carry 1600).
			"(app_a,2026-03-02,3,2,17000,1000,800,17200,0,0,17200)",
			// placed: o_unpaid (not paid). refunded: o_refunded's full refund 10000, on the day
			// of the refund, not of the payment. net 0 - 10000.
			"(app_a,2026-03-03,1,0,0,0,0,0,1,10000,-10000)",
			// Refunds only: o_early's 1000 + 500; its 2000 退款中 is not money back yet.
			"(app_a,2026-03-05,0,0,0,0,0,0,2,1500,-1500)",
			// app_b on the same days, in rows of its own: b_late.
			"(app_b,2026-03-01,1,1,10000,0,0,10000,0,0,10000)",
			// b_shipping: 6000 + 800 shipping - 600 coupon = 6200.
			"(app_b,2026-03-02,1,1,6000,800,600,6200,0,0,6200)",
			// b_shipping's shipping refunded. app_b has no 03-03 row: nothing happened.
			"(app_b,2026-03-05,0,0,0,0,0,0,1,800,-800)",
		})
		// Over all days net is what each shop kept: app_a o_late 9000 + o_early 7200 - 1500;
		// app_b 10000 + 6200 - 800.
		check(t, `SELECT app_id, sum(net) FROM report_daily_sales GROUP BY app_id ORDER BY app_id`,
			[]string{"(app_a,14700)", "(app_b,15400)"})
		// Across shops every order is placed once and every successful refund counted once:
		// 5 + 2 orders; o_refunded's, o_early's two and b_shipping's refunds.
		check(t, `SELECT sum(orders_placed), sum(refunds) FROM report_daily_sales`, []string{"(7,4)"})
	})

	t.Run("gross plus shipment less discounts is collected", func(t *testing.T) {
		// Discounts are the remainder, so this holds by construction: it fails when one of the
		// four columns is redefined without the others, such as discounts summed from the
		// discount lists (1600 on app_a's 03-02, not 800, as the lists repeat entries).
		check(t, `SELECT app_id, day FROM report_daily_sales WHERE gross + shipment - discounts <> collected`, nil)
		// The remainder is what the goods lines say too, which the remainder alone cannot
		// prove: the paid lines' gross adds up to gross, their actual_fee to collected less
		// shipment, so discounts is the lines' gross less their actual_fee. It holds here
		// because no price in the fixture was changed (改价) after it was set.
		check(t, `SELECT app_id, day FROM (
				SELECT app_id, day, sum(gross) AS gross, sum(revenue) AS revenue FROM report_goods_sales GROUP BY app_id, day
			) g JOIN report_daily_sales d USING (app_id, day)
			WHERE g.gross <> d.gross OR g.gross - g.revenue <> d.discounts`, nil)
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
					FROM report_daily_sales WHERE app_id = 'app_a' AND orders_paid > 0`).Scan(&got)
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
		check(t, `SELECT app_id, day, spu_id, sku_id, goods_name, orders, quantity, gross, revenue, refunds, refunded
			FROM report_goods_sales ORDER BY app_id, day, sku_id NULLS LAST`, []string{
			// o_late: 1 × 10000, actual_fee 9000 after the coupon.
			"(app_a,2026-03-01,SPU_A,SKU_A1,礼盒A,1,1,10000,9000,0,0)",
			// o_refunded: its sale stays on its pay day; the refund is on 03-03.
			"(app_a,2026-03-02,SPU_A,SKU_A1,礼盒A,1,1,10000,10000,0,0)",
			// o_early only: 2 × 3000 = 6000, actual_fee 6000 - 800 = 5200. o_cancelled's 书B
			// is not a sale.
			"(app_a,2026-03-02,SPU_B,SKU_B1,书B,1,2,6000,5200,0,0)",
			// o_early only; o_unpaid's 5 × 笔C is not a sale.
			"(app_a,2026-03-02,SPU_C,SKU_C1,笔C,1,1,1000,1000,0,0)",
			"(app_a,2026-03-03,SPU_A,SKU_A1,礼盒A,0,0,0,0,1,10000)",
			// o_early's refunds: 笔C 1000, and 500 naming no goods. 书B's 2000 is still 退款中.
			"(app_a,2026-03-05,SPU_C,SKU_C1,笔C,0,0,0,0,1,1000)",
			"(app_a,2026-03-05,,,,0,0,0,0,1,500)",
			// app_b's 礼盒A and 书B, the same ids on the same days, in rows of their own.
			"(app_b,2026-03-01,SPU_A,SKU_A1,礼盒A,1,1,10000,10000,0,0)",
			"(app_b,2026-03-02,SPU_B,SKU_B1,书B,1,2,6000,5400,0,0)",
			"(app_b,2026-03-05,,,,0,0,0,0,1,800)",
		})
		// Per shop and day, the goods' refunds add up to the daily refunded and their revenue
		// to the collected amount without shipping.
		check(t, `SELECT app_id, day FROM (
				SELECT app_id, day, sum(revenue) AS revenue, sum(refunded) AS refunded FROM report_goods_sales GROUP BY app_id, day
			) g FULL JOIN report_daily_sales d USING (app_id, day)
			WHERE g.revenue IS DISTINCT FROM d.collected - d.shipment OR g.refunded IS DISTINCT FROM d.refunded`, nil)
	})

	t.Run("refunds", func(t *testing.T) {
		check(t, `SELECT app_id, day, refund_state, refund_state_description, refund_type, refund_type_description,
				refunds, orders, refund_amount
			FROM report_refunds ORDER BY app_id, day, refund_state, refund_type`, []string{
			"(app_a,2026-03-03,2,退款成功,1,全额退款,1,1,10000)",
			// o_early's pending 书B refund, on its own row.
			"(app_a,2026-03-05,1,退款中,2,部分退款,1,1,2000)",
			// o_early's two successful partial refunds: 1000 + 500; app_b's of the same day
			// and kind apart.
			"(app_a,2026-03-05,2,退款成功,2,部分退款,2,1,1500)",
			"(app_b,2026-03-05,2,退款成功,2,部分退款,1,1,800)",
		})
		check(t, `SELECT app_id, order_id, refund_no, day, refund_state, refund_type, refund_amount, sku_id, goods_name,
				quantity, order_pay_day
			FROM report_refund_goods ORDER BY order_id, refund_no`, []string{
			"(app_b,b_shipping,0,2026-03-05,2,2,800,,,,2026-03-02)",
			"(app_a,o_early,0,2026-03-05,2,2,1000,SKU_C1,笔C,1,2026-03-02)",
			"(app_a,o_early,1,2026-03-05,2,2,500,,,,2026-03-02)",
			"(app_a,o_early,2,2026-03-05,1,2,2000,SKU_B1,书B,1,2026-03-02)",
			"(app_a,o_refunded,0,2026-03-03,2,1,10000,SKU_A1,礼盒A,1,2026-03-02)",
		})
	})

	t.Run("packages", func(t *testing.T) {
		check(t, `SELECT app_id, order_id, package_no, logistics_company_name, express_id, ship_day, traces,
				to_char(first_trace_time AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'), first_trace_text,
				to_char(last_trace_time AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'), last_trace_text,
				delivered, time_to_delivery, hours_to_delivery
			FROM report_packages ORDER BY order_id, package_no`, []string{
			// 03-02 09:00 → 03-03 09:00 = 24 h.
			`(app_b,b_late,0,顺丰速运,SF101,2026-03-02,1,"03-03 09:00",已签收，签收人：本人,"03-03 09:00",已签收，签收人：本人,t,"1 day",24.00)`,
			// 03-02 10:00 → 03-04 14:00 = 2 days 4 hours = 52 h.
			`(app_a,o_early,0,顺丰速运,SF001,2026-03-02,3,"03-02 12:00",已揽收,"03-04 14:00",已签收，签收人：本人,t,"2 days 04:00:00",52.00)`,
			// Its last trace mentions 签收 but is waiting for it: in transit.
			`(app_a,o_early,1,中通快递,ZT002,2026-03-03,2,"03-03 11:00",已揽收,"03-04 06:00",快件派送中，请保持电话畅通，等待签收,f,,)`,
			// 03-02 10:00 → 03-03 10:00 = 24 h.
			`(app_a,o_early,2,顺丰速运,SF003,2026-03-02,1,"03-03 10:00",您的快件已签收,"03-03 10:00",您的快件已签收,t,"1 day",24.00)`,
			// 03-02 12:00 → 03-03 08:00 = 20 h.
			`(app_a,o_refunded,0,顺丰速运,SF004,2026-03-02,1,"03-03 08:00",已签收，签收人：本人,"03-03 08:00",已签收，签收人：本人,t,20:00:00,20.00)`,
		})
		check(t, `SELECT app_id, logistics_company_name, packages, delivered, avg_hours_to_delivery, median_hours_to_delivery,
				to_char(first_departure_time AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'),
				to_char(last_departure_time AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI')
			FROM report_carriers ORDER BY app_id, packages DESC`, []string{
			// avg (52 + 24 + 20) / 3 = 32; median of 20, 24, 52 = 24. app_b's 24 h is not
			// in it (with it: 4 packages, avg 30).
			`(app_a,顺丰速运,3,3,32.00,24.00,"03-02 10:00","03-02 12:00")`,
			`(app_a,中通快递,1,0,,,"03-03 09:00","03-03 09:00")`,
			`(app_b,顺丰速运,1,1,24.00,24.00,"03-02 09:00","03-02 09:00")`,
		})
	})

	t.Run("order lines", func(t *testing.T) {
		check(t, `SELECT app_id, order_id, line_no, nickname, order_state, paid, create_day, pay_day, sku_id, quantity,
				unit_price, actual_fee
			FROM order_lines ORDER BY order_id, line_no`, []string{
			"(app_b,b_late,0,买家u_6,4,t,2026-03-01,2026-03-01,SKU_A1,1,10000,10000)",
			"(app_b,b_shipping,0,买家u_7,4,t,2026-03-02,2026-03-02,SKU_B1,2,3000,5400)",
			// Closed unpaid: order_pay_time is set, yet not paid and no pay_day.
			"(app_a,o_cancelled,0,买家u_4,5,f,2026-03-02,,SKU_B1,1,3000,3000)",
			"(app_a,o_early,0,买家u_2,3,t,2026-03-02,2026-03-02,SKU_B1,2,3000,5200)",
			"(app_a,o_early,1,买家u_2,3,t,2026-03-02,2026-03-02,SKU_C1,1,1000,1000)",
			"(app_a,o_late,0,买家u_1,4,t,2026-03-01,2026-03-01,SKU_A1,1,10000,9000)",
			"(app_a,o_refunded,0,买家u_3,5,t,2026-03-02,2026-03-02,SKU_A1,1,10000,10000)",
			"(app_a,o_unpaid,0,买家u_5,0,f,2026-03-03,,SKU_C1,5,1000,5000)",
		})
		check(t, `SELECT app_id, count(*) FROM report_orders GROUP BY app_id ORDER BY app_id`,
			[]string{"(app_a,5)", "(app_b,2)"})
	})
}

func TestDailySales(t *testing.T) {
	t.Parallel()
	s := reportStore(t)
	ctx := context.Background()
	// 2026-03-01 16:30 UTC is 03-02 00:30 in Shanghai: the range starts on 03-02, and
	// o_late (paid 03-01 23:30 Shanghai, 15:30 UTC) is not in it.
	from := time.Date(2026, 3, 1, 16, 30, 0, 0, time.UTC)
	to := time.Date(2026, 3, 5, 0, 0, 0, 0, order.Shanghai)
	// The figures of the "daily sales" subtest of TestReports, 03-04 having no row.
	a02 := store.DailySales{AppID: "app_a", Day: "2026-03-02", OrdersPlaced: 3, OrdersPaid: 2, Gross: 17000, Shipment: 1000, Discounts: 800, Collected: 17200, Net: 17200}
	a03 := store.DailySales{AppID: "app_a", Day: "2026-03-03", OrdersPlaced: 1, Refunds: 1, Refunded: 10000, Net: -10000}
	a05 := store.DailySales{AppID: "app_a", Day: "2026-03-05", Refunds: 2, Refunded: 1500, Net: -1500}
	b02 := store.DailySales{AppID: "app_b", Day: "2026-03-02", OrdersPlaced: 1, OrdersPaid: 1, Gross: 6000, Shipment: 800, Discounts: 600, Collected: 6200, Net: 6200}
	b05 := store.DailySales{AppID: "app_b", Day: "2026-03-05", Refunds: 1, Refunded: 800, Net: -800}
	tests := []struct {
		name string
		get  func() ([]store.DailySales, error)
		want []store.DailySales
	}{
		{"one shop", func() ([]store.DailySales, error) { return s.DailySalesByShop(ctx, "app_a", from, to) },
			[]store.DailySales{a02, a03, a05}},
		{"every shop, apart", func() ([]store.DailySales, error) { return s.DailySalesByShop(ctx, "", from, to) },
			[]store.DailySales{a02, b02, a03, a05, b05}},
		{"a shop with no orders", func() ([]store.DailySales, error) { return s.DailySalesByShop(ctx, "app_none", from, to) },
			nil},
		// What callers of the single-shop days get: each day the sum of a02 and b02, and so on.
		{"every shop, summed", func() ([]store.DailySales, error) { return s.DailySales(ctx, from, to) },
			[]store.DailySales{
				{Day: "2026-03-02", OrdersPlaced: 4, OrdersPaid: 3, Gross: 23000, Shipment: 1800, Discounts: 1400, Collected: 23400, Net: 23400},
				{Day: "2026-03-03", OrdersPlaced: 1, Refunds: 1, Refunded: 10000, Net: -10000},
				{Day: "2026-03-05", Refunds: 3, Refunded: 2300, Net: -2300},
			}},
	}
	for _, tt := range tests {
		got, err := tt.get()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	// A single day, given as its last instant in UTC terms.
	day := time.Date(2026, 3, 1, 15, 59, 59, 0, time.UTC)
	got, err := s.DailySalesByShop(ctx, "app_a", day, day)
	if err != nil || len(got) != 1 || got[0].Day != "2026-03-01" || got[0].Collected != 9000 {
		t.Errorf("DailySalesByShop of app_a on 03-01 = %+v, %v; want o_late's day alone", got, err)
	}
}

// TestReportsByShopDownAndUp rolls 00008 back, with any later migration, on a database
// holding both shops: migrate down lists the eight views it drops and puts back 00003's
// views exactly as 00003 made them, whose daily figures are the shops' rows added up, and
// migrate up makes the views per shop again.
func TestReportsByShopDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := reportStore(t)
	// report_daily_sales before 00008 had one row per day, over every shop.
	const summedDays = `SELECT day, sum(orders_placed), sum(orders_paid), sum(gross), sum(shipment), sum(discounts),
		sum(collected), sum(refunds), sum(refunded), sum(net) FROM report_daily_sales GROUP BY day ORDER BY day`
	perShop, summed := viewDefinitions(t, s.Pool()), rowsOf(t, s, summedDays)

	// 7 is River's migration, the one before 00008.
	rolled, err := s.MigrateDown(ctx, 7, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rolled) == 0 || rolled[len(rolled)-1].Version != 8 {
		t.Fatalf("rolled back %+v; want 00008 last", rolled)
	}
	var drops []store.Drop
	for _, v := range []string{"order_lines", "report_carriers", "report_packages", "report_refund_goods",
		"report_refunds", "report_goods_sales", "report_daily_sales", "report_orders"} {
		drops = append(drops, store.Drop{Kind: "view", Name: v})
	}
	if diff := cmp.Diff(store.Rollback{Version: 8, File: "00008_reports_by_shop.sql", Drops: drops}, rolled[len(rolled)-1]); diff != "" {
		t.Errorf("rolled back 00008 (-want +got):\n%s", diff)
	}
	// The reference: a database that goose took to 00003 and no further.
	ref := storetest.Pool(t, storetest.NewDatabase(t))
	db := stdlib.OpenDBFromPool(ref)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	old := viewDefinitions(t, ref)
	if len(old) != 8 || old["report_orders"] == perShop["report_orders"] {
		t.Fatalf("00003's views are %d, report_orders the same as 00008's; want 8 of their own", len(old))
	}
	if diff := cmp.Diff(old, viewDefinitions(t, s.Pool())); diff != "" {
		t.Errorf("views after rolling back 00008, against 00003's (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(summed, rowsOf(t, s, `SELECT * FROM report_daily_sales ORDER BY day`)); diff != "" {
		t.Errorf("00003's daily sales against the shops' added up (-want +got):\n%s", diff)
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate up again: %v", err)
	}
	if diff := cmp.Diff(perShop, viewDefinitions(t, s.Pool())); diff != "" {
		t.Errorf("views after migrating up again (-want +got):\n%s", diff)
	}
}

// viewDefinitions returns the views of the current schema by name: each one's definition,
// as PostgreSQL prints it, and its COMMENT.
func viewDefinitions(t testing.TB, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT c.relname, pg_get_viewdef(c.oid, true) || E'\n-- ' || coalesce(obj_description(c.oid, 'pg_class'), '')
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'v'`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var name, def string
	if _, err := pgx.ForEachRow(rows, []any{&name, &def}, func() error {
		out[name] = def
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
