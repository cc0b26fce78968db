package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/store"
	"ordersync/store/storetest"
)

// storeShop writes the orders of a simulated shop, changed a few times as shops change
// them (payments, shipping, refunds), into a fresh store.
func storeShop(t *testing.T, opts fetchtest.Options) (*store.Store, *fetchtest.Shop) {
	t.Helper()
	shop := fetchtest.New(opts)
	for i := range 2 {
		shop.Mutate(opts.Orders/3, opts.To.Add(time.Duration(i+1)*time.Hour))
	}
	st := storetest.Store(t)
	var batch []*order.Prepared
	for _, o := range shop.Orders() {
		p, err := order.Prepare(order.Payload{OrderID: o.ID, UpdateTime: o.Updated, Detail: o.Detail, ListItem: o.ListItem})
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, p)
	}
	if _, err := st.Write(context.Background(), store.Batch{AppID: shop.Options().AppID, Orders: batch}); err != nil {
		t.Fatal(err)
	}
	return st, shop
}

// TestCheckOrders: the simulated shop's orders pass every check, and each rule names the
// order whose row breaks it, with its kind.
func TestCheckOrders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := fetchtest.Options{Seed: 31, Orders: 1500, From: t0, To: t0.AddDate(0, 0, 20)}
	st, shop := storeShop(t, opts)
	app := shop.Options().AppID
	start, end := opts.From, opts.To.Add(5*time.Hour)
	fs, err := st.CheckOrders(ctx, app, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) > 0 {
		t.Fatalf("%d findings in the shop's own orders, e.g. %+v", len(fs), fs[0])
	}

	// One order per rule, each with what the rule needs.
	one := func(query string) string {
		t.Helper()
		var id string
		if err := st.Pool().QueryRow(ctx, query).Scan(&id); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return id
	}
	refunded := one(`SELECT order_id FROM order_refunds WHERE refund_state = 2 ORDER BY order_id LIMIT 1`)
	shipped := one(`SELECT order_id FROM order_package_goods WHERE order_id <> '` + refunded + `' ORDER BY order_id LIMIT 1`)
	var plain []string
	rows, err := st.Pool().Query(ctx, `SELECT order_id FROM order_prices WHERE order_id NOT IN ($1, $2) ORDER BY order_id LIMIT 4`, refunded, shipped)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		plain = append(plain, id)
	}
	if rows.Err() != nil || len(plain) != 4 {
		t.Fatalf("%d orders with prices: %v", len(plain), rows.Err())
	}
	plant := []struct {
		id, sql, kind, detail string
	}{
		{plain[0], `UPDATE order_prices SET goods_total_count = goods_total_count + 1 WHERE order_id = $1`, "consistency", "goods_total_count"},
		{plain[1], `UPDATE order_prices SET gross_total = gross_total + 1 WHERE order_id = $1`, "money", "gross_total"},
		{plain[2], `UPDATE order_goods SET actual_fee = actual_fee + 100 WHERE order_id = $1 AND line_no = 0`, "money", "goods line 0: sub_total"},
		{plain[3], `UPDATE order_prices SET total_modified_amount = total_modified_amount - 100 WHERE order_id = $1`, "money", "total_modified_amount"},
		{refunded, `UPDATE order_refunds r SET refund_amount = r.refund_amount + p.earned_revenue + 1 FROM order_prices p
			WHERE r.order_id = $1 AND p.order_id = r.order_id AND r.refund_no = (SELECT min(refund_no) FROM order_refunds WHERE order_id = $1 AND refund_state = 2)`,
			"money", "successful refunds add up to"},
		{shipped, `UPDATE order_package_goods SET sku_id = 'SKU_NONE' WHERE order_id = $1 AND package_no = 0 AND line_no = 0`,
			"consistency", "is no goods line of the order"},
	}
	type found struct{ id, kind string }
	var want []found
	for _, p := range plant {
		tag, err := st.Pool().Exec(ctx, p.sql, p.id)
		if err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("%s: %v, %d rows", p.sql, err, tag.RowsAffected())
		}
		want = append(want, found{p.id, p.kind})
	}
	fs, err = st.CheckOrders(ctx, app, start, end)
	if err != nil {
		t.Fatal(err)
	}
	var got []found
	for _, f := range fs {
		got = append(got, found{f.OrderID, f.Kind})
		for _, p := range plant {
			if p.id == f.OrderID && !strings.Contains(f.Detail, p.detail) {
				t.Errorf("%s: detail %q lacks %q", f.OrderID, f.Detail, p.detail)
			}
		}
	}
	less := func(a, b found) int { return strings.Compare(a.id, b.id) }
	slices.SortFunc(want, less)
	slices.SortFunc(got, less)
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(found{})); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}

	// Only the shop's orders of the range are checked.
	if fs, err := st.CheckOrders(ctx, "appothershop001", start, end); err != nil || len(fs) != 0 {
		t.Errorf("another shop: %d findings, %v", len(fs), err)
	}
	if fs, err := st.CheckOrders(ctx, app, end.Add(time.Second), end.AddDate(0, 0, 1)); err != nil || len(fs) != 0 {
		t.Errorf("after the range: %d findings, %v", len(fs), err)
	}
}

// TestOrdersInAndCountByDay: windows hold both ends at one-second resolution, days are
// Shanghai days, and another shop's orders are not counted.
func TestOrdersInAndCountByDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Store(t)
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, order.Shanghai)
	rows := []struct {
		id, app          string
		created, updated time.Time
	}{
		{"E1", "appa", day, day.Add(48 * time.Hour)},
		{"E2", "appa", day.Add(24*time.Hour - time.Second), day.Add(24*time.Hour - time.Second)},
		{"E3", "appa", day.Add(24 * time.Hour), day.Add(24 * time.Hour)},
		{"E4", "appa", day.Add(-time.Second), day},
		{"E5", "appb", day.Add(time.Hour), day.Add(time.Hour)},
	}
	for _, r := range rows {
		if _, err := st.Pool().Exec(ctx, `INSERT INTO orders (order_id, app_id, order_create_time, update_time) VALUES ($1, $2, $3, $4)`,
			r.id, r.app, r.created, r.updated); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(os []store.StoredOrder) []string {
		var out []string
		for _, o := range os {
			out = append(out, o.OrderID)
		}
		return out
	}
	end := day.Add(24*time.Hour - time.Second)
	got, err := st.OrdersIn(ctx, "appa", order.CreatedTime, day, end)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"E1", "E2"}, ids(got)); diff != "" {
		t.Errorf("created on the day (-want +got):\n%s", diff)
	}
	if !got[0].UpdateTime.Equal(day.Add(48*time.Hour)) || !got[0].CreateTime.Equal(day) {
		t.Errorf("E1's times: %+v", got[0])
	}
	got, err = st.OrdersIn(ctx, "appa", order.UpdateTime, day, end)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"E4", "E2"}, ids(got)); diff != "" {
		t.Errorf("updated on the day (-want +got):\n%s", diff)
	}
	if _, err := st.OrdersIn(ctx, "appa", "paid_time", day, end); err == nil {
		t.Error("no error for an unknown field")
	}
	counts, err := st.CountByDay(ctx, "appa", day.Add(-24*time.Hour), day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"2026-03-01": 1, "2026-03-02": 2, "2026-03-03": 1}, counts); diff != "" {
		t.Errorf("counts by day (-want +got):\n%s", diff)
	}
}

// TestVerificationRecord: a verify's row is written when it starts and completed when it
// ends, even after its context has ended.
func TestVerificationRecord(t *testing.T) {
	t.Parallel()
	st := storetest.Store(t)
	ctx, cancel := context.WithCancel(context.Background())
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, order.Shanghai)
	to := from.AddDate(0, 0, 30)
	id, err := st.StartVerification(ctx, "appa", from, to, true)
	if err != nil {
		t.Fatal(err)
	}
	var status, rangeFrom, rangeTo string
	if err := st.Pool().QueryRow(ctx, `SELECT status, range_from::text, range_to::text FROM sync_verifications WHERE verification_id = $1`, id).
		Scan(&status, &rangeFrom, &rangeTo); err != nil {
		t.Fatal(err)
	}
	if status != "running" || rangeFrom != "2026-02-01" || rangeTo != "2026-03-03" {
		t.Errorf("started: %s %s..%s", status, rangeFrom, rangeTo)
	}
	cancel()
	horizon := to.Add(10 * time.Hour)
	anomalies := json.RawMessage(`[{"kind":"extra","order_id":"E1","day":"2026-02-03","detail":"stored, not listed"}]`)
	err = st.FinishVerification(ctx, store.Verification{VerificationID: id, Status: store.VerifyDiffers, Horizon: horizon,
		APICalls: 35, Counts: map[string]int{"extra": 1, "money": 2}, Repaired: 3, Anomalies: anomalies})
	if err != nil {
		t.Fatal(err)
	}
	var (
		gotHorizon                             time.Time
		calls, missing, extra, money, repaired int
		gotAnomalies                           []map[string]string
		finished, repair                       bool
	)
	if err := st.Pool().QueryRow(context.Background(), `
		SELECT status, horizon, api_calls, missing, extra, money, repaired, anomalies, finished_at IS NOT NULL, repair
		FROM sync_verifications WHERE verification_id = $1`, id).
		Scan(&status, &gotHorizon, &calls, &missing, &extra, &money, &repaired, &gotAnomalies, &finished, &repair); err != nil {
		t.Fatal(err)
	}
	if status != "differs" || !gotHorizon.Equal(horizon) || calls != 35 || missing != 0 || extra != 1 || money != 2 ||
		repaired != 3 || !finished || !repair || len(gotAnomalies) != 1 || gotAnomalies[0]["order_id"] != "E1" {
		t.Errorf("finished: %s %s %d calls, %d/%d/%d, %d repaired, %v, finished %v, repair %v",
			status, gotHorizon, calls, missing, extra, money, repaired, gotAnomalies, finished, repair)
	}
}
