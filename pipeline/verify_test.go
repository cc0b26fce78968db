package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/pipeline"
	"ordersync/store"
	"ordersync/store/storetest"
)

// calls counts the client's HTTP attempts, as syncer's wiring does for the run history.
type calls struct{ n atomic.Int64 }

func (c *calls) Call(string, int, time.Duration) { c.n.Add(1) }
func (c *calls) Retry(string, fetch.Kind)        {}
func (c *calls) RateWait(string, time.Duration)  {}
func (c *calls) TokenRefresh()                   {}

// verifyBundle is a simulated shop of the last 31 days, backfilled into a store.
type verifyBundle struct {
	shop   *fetchtest.Server
	st     *store.Store
	syncer *pipeline.Syncer
	today  time.Time // midnight
}

// setupVerify starts a shop of n orders created in the 31 days up to now, with extra
// orders added by more before the backfill, and backfills them.
func setupVerify(t *testing.T, n int, more func(shop *fetchtest.Server, today time.Time)) *verifyBundle {
	t.Helper()
	now := time.Now().In(order.Shanghai).Truncate(time.Second)
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, order.Shanghai)
	from := today.AddDate(0, 0, 1-pipeline.VerifyDays)
	shop := fetchtest.NewServer(t, fetchtest.Options{Seed: 21, Orders: n, From: from, To: now, Rate: -1})
	if more != nil {
		more(shop, today)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o := shop.Options()
	cnt := &calls{}
	client, err := fetch.New(fetch.Config{
		BaseURL: shop.URL(), AppID: o.AppID, ClientID: o.ClientID, SecretKey: fetch.Secret(o.SecretKey),
		Rate: 1000, Logger: log, Observer: cnt, BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Store(t)
	s := pipeline.New(client, st, pipeline.Config{AppID: o.AppID, Logger: log, APICalls: cnt.n.Load})
	if _, err := s.Backfill(context.Background(), from, now); err != nil {
		t.Fatal(err)
	}
	shop.ResetStats()
	return &verifyBundle{shop: shop, st: st, syncer: s, today: today}
}

func (b *verifyBundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	tag, err := b.st.Pool().Exec(context.Background(), sql, args...)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("%s: %v, %d rows", sql, err, tag.RowsAffected())
	}
}

// verify runs a verify and checks that it made the calls it reports: list calls only.
func (b *verifyBundle) verify(t *testing.T, opts pipeline.VerifyOptions) pipeline.Report {
	t.Helper()
	b.shop.ResetStats()
	rep, err := b.syncer.Verify(context.Background(), opts)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	st := b.shop.Stats()
	served := st.Calls[fetchtest.EndpointList] + st.Calls[fetchtest.EndpointDetail] + st.Calls[fetchtest.EndpointToken]
	if int64(served) != rep.APICalls {
		t.Errorf("the report says %d API calls, the shop answered %d", rep.APICalls, served)
	}
	if !opts.Repair && st.Calls[fetchtest.EndpointDetail] > 0 {
		t.Errorf("%d detail calls: a verify lists, it never fetches details", st.Calls[fetchtest.EndpointDetail])
	}
	return rep
}

type kindID struct{ Kind, OrderID string }

func kinds(rep pipeline.Report) []kindID {
	var out []kindID
	for _, a := range rep.Anomalies {
		out = append(out, kindID{a.Kind, a.OrderID})
	}
	return out
}

// TestVerifyUpToDate: a shop stored whole costs one list call per day and shows nothing.
func TestVerifyUpToDate(t *testing.T) {
	t.Parallel()
	b := setupVerify(t, 400, nil)
	rep := b.verify(t, pipeline.VerifyOptions{})
	t.Logf("31 days of an up-to-date shop of %d orders: %d API calls", len(b.shop.Orders()), rep.APICalls)
	if len(rep.Anomalies) > 0 {
		t.Errorf("anomalies in a shop stored whole: %v", rep.Anomalies)
	}
	if rep.APICalls != pipeline.VerifyDays {
		t.Errorf("%d API calls, want one per day, %d", rep.APICalls, pipeline.VerifyDays)
	}
	if len(rep.Days) != pipeline.VerifyDays || rep.Days[0].Day != b.today.AddDate(0, 0, 1-pipeline.VerifyDays).Format(time.DateOnly) ||
		rep.Days[len(rep.Days)-1].Day != b.today.Format(time.DateOnly) {
		t.Fatalf("days %v, want the %d up to today", rep.Days, pipeline.VerifyDays)
	}
	total := 0
	for _, d := range rep.Days {
		total += d.APITotal
		if d.APITotal != d.Stored {
			t.Errorf("day %s: the API has %d, %d stored", d.Day, d.APITotal, d.Stored)
		}
	}
	if total != 400 {
		t.Errorf("the days add up to %d orders, the shop has 400", total)
	}
	if rep.Differs() {
		t.Error("Differs")
	}
}

// TestVerifyNamesWhatWasPlanted: one of each anomaly, named with the right kind, and a
// repair that leaves only the extra order, which is never deleted.
func TestVerifyNamesWhatWasPlanted(t *testing.T) {
	t.Parallel()
	b := setupVerify(t, 400, nil)
	ctx := context.Background()
	byDay := map[string][]fetchtest.Order{}
	for _, o := range b.shop.Orders() {
		d := o.Created.In(order.Shanghai).Format(time.DateOnly)
		byDay[d] = append(byDay[d], o)
	}
	pick := func(daysAgo int) fetchtest.Order {
		os := byDay[b.today.AddDate(0, 0, -daysAgo).Format(time.DateOnly)]
		if len(os) == 0 {
			t.Fatalf("no order %d days ago", daysAgo)
		}
		return os[0]
	}
	missing, stale, money := pick(20), pick(10), pick(5)
	extraDay := b.today.AddDate(0, 0, -15).Add(9 * time.Hour)
	extra := "E" + extraDay.Format("20060102150405") + "zzzzzzV2"

	b.exec(t, `DELETE FROM orders WHERE order_id = $1`, missing.ID)
	b.exec(t, `UPDATE orders SET update_time = update_time - interval '1 hour' WHERE order_id = $1`, stale.ID)
	b.exec(t, `INSERT INTO orders (order_id, app_id, order_create_time, update_time) VALUES ($1, $2, $3, $3)`,
		extra, b.shop.Options().AppID, extraDay)
	// actual_fee of a goods line no longer matches its sub_total ("实付金额 - 改价金额"): an
	// amount that does not add up, so money.
	b.exec(t, `UPDATE order_goods SET actual_fee = actual_fee + 100 WHERE order_id = $1 AND line_no = 0`, money.ID)

	rep := b.verify(t, pipeline.VerifyOptions{})
	// By day, then kind.
	want := []kindID{{"missing", missing.ID}, {"extra", extra}, {"stale", stale.ID}, {"money", money.ID}}
	if diff := cmp.Diff(want, kinds(rep)); diff != "" {
		t.Fatalf("anomalies (-want +got):\n%s\n%v", diff, rep.Anomalies)
	}
	t.Logf("31 days with 4 planted differences: %d API calls", rep.APICalls)
	if rep.APICalls != pipeline.VerifyDays {
		t.Errorf("%d API calls, want %d: every day of this shop fits in its first page", rep.APICalls, pipeline.VerifyDays)
	}
	for _, a := range rep.Anomalies {
		if a.Day == "" || a.Detail == "" {
			t.Errorf("anomaly without its day or detail: %+v", a)
		}
	}
	if !rep.Differs() {
		t.Error("not Differs")
	}
	assertRecorded(t, b.st, rep, "differs")

	rep = b.verify(t, pipeline.VerifyOptions{Repair: true})
	t.Logf("verify --repair: %d API calls, %d repaired", rep.APICalls, rep.Repaired)
	if diff := cmp.Diff([]kindID{{"extra", extra}}, kinds(rep)); diff != "" {
		t.Errorf("after the repair (-want +got):\n%s", diff)
	}
	if rep.Repaired != 3 {
		t.Errorf("%d repaired, want 3", rep.Repaired)
	}
	// Two orders fetched: each its list item and its detail.
	if rep.APICalls != pipeline.VerifyDays+4 {
		t.Errorf("%d API calls, want %d", rep.APICalls, pipeline.VerifyDays+4)
	}
	for _, d := range rep.Days {
		wantStored := d.APITotal
		if d.Day == extraDay.Format(time.DateOnly) {
			wantStored++
		}
		if d.Stored != wantStored {
			t.Errorf("day %s after the repair: %d stored, the API has %d", d.Day, d.Stored, d.APITotal)
		}
	}
	assertRecorded(t, b.st, rep, "differs")

	again := b.verify(t, pipeline.VerifyOptions{})
	if diff := cmp.Diff([]kindID{{"extra", extra}}, kinds(again)); diff != "" {
		t.Errorf("a verify after the repair (-want +got):\n%s", diff)
	}
	var n int
	if err := b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM orders WHERE order_id = $1`, extra).Scan(&n); err != nil || n != 1 {
		t.Errorf("the extra order: %d rows, %v; the repair must never delete it", n, err)
	}
}

// assertRecorded checks the verify's row in sync_verifications.
func assertRecorded(t *testing.T, st *store.Store, rep pipeline.Report, status string) {
	t.Helper()
	var (
		gotStatus, from, to           string
		apiCalls, missing, extra, old int
		money, consistency, repaired  int
		anomalies                     []byte
		finished                      bool
	)
	err := st.Pool().QueryRow(context.Background(), `
		SELECT status, range_from::text, range_to::text, api_calls, missing, extra, stale, money,
			consistency, repaired, anomalies, finished_at IS NOT NULL
		FROM sync_verifications WHERE verification_id = $1 AND app_id = $2`, rep.VerificationID, rep.AppID).
		Scan(&gotStatus, &from, &to, &apiCalls, &missing, &extra, &old, &money, &consistency, &repaired, &anomalies, &finished)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Counts()
	got := fmt.Sprint(gotStatus, from, to, apiCalls, missing, extra, old, money, consistency, repaired, finished)
	want := fmt.Sprint(status, rep.Range.From, rep.Range.To, rep.APICalls, c["missing"], c["extra"], c["stale"], c["money"], c["consistency"], rep.Repaired, true)
	if got != want {
		t.Errorf("recorded %s, want %s", got, want)
	}
	var as []pipeline.Anomaly
	if err := json.Unmarshal(anomalies, &as); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep.Anomalies, as, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("recorded anomalies (-report +row):\n%s", diff)
	}
}

// TestVerifyLargeDay: a day of more than a page whose total agrees is checked for
// currency by update_time, day by day. It finds a stale order whose change is on a later
// day than its stored update_time, and a missing order that an extra one on the same day
// hid from the day's total.
func TestVerifyLargeDay(t *testing.T) {
	t.Parallel()
	var big []string
	var bigDay time.Time
	b := setupVerify(t, 400, func(shop *fetchtest.Server, today time.Time) {
		bigDay = today.AddDate(0, 0, -12)
		big = shop.AddOrders(150, bigDay.Add(10*time.Hour))
	})
	rep := b.verify(t, pipeline.VerifyOptions{})
	t.Logf("31 days of an up-to-date shop with a day of more than 100 orders: %d API calls", rep.APICalls)
	if len(rep.Anomalies) > 0 {
		t.Errorf("anomalies in a shop stored whole: %v", rep.Anomalies)
	}
	if rep.APICalls != 2*pipeline.VerifyDays {
		t.Errorf("%d API calls, want two per day, %d", rep.APICalls, 2*pipeline.VerifyDays)
	}

	missing, stale := big[0], big[1]
	extraAt := bigDay.Add(11 * time.Hour)
	extra := "E" + extraAt.Format("20060102150405") + "zzzzzzV2"
	b.exec(t, `DELETE FROM orders WHERE order_id = $1`, missing)
	b.exec(t, `UPDATE orders SET update_time = update_time - interval '2 days' WHERE order_id = $1`, stale)
	b.exec(t, `INSERT INTO orders (order_id, app_id, order_create_time, update_time) VALUES ($1, $2, $3, $3)`,
		extra, b.shop.Options().AppID, extraAt)
	rep = b.verify(t, pipeline.VerifyOptions{})
	got := kinds(rep)
	slices.SortFunc(got, func(a, b kindID) int { return strings.Compare(a.Kind, b.Kind) })
	if diff := cmp.Diff([]kindID{{"extra", extra}, {"missing", missing}, {"stale", stale}}, got); diff != "" {
		t.Errorf("anomalies (-want +got):\n%s\n%v", diff, rep.Anomalies)
	}
	// The day of the changes is listed in full; the day the stale order was put back to
	// holds less than a page, which its count brought whole; the extra order is looked up
	// by its id.
	updated := 0
	for _, o := range b.shop.Orders() {
		if o.Updated.In(order.Shanghai).Format(time.DateOnly) == bigDay.Format(time.DateOnly) {
			updated++
		}
	}
	want := 2*pipeline.VerifyDays + (updated+99)/100 + 1
	t.Logf("with a missing order hidden by an extra one and a stale order on that day: %d API calls", rep.APICalls)
	if rep.APICalls != int64(want) {
		t.Errorf("%d API calls, want %d", rep.APICalls, want)
	}
}

// TestVerifyHorizon: orders created and changes made after the sync's checkpoint less its
// overlap are the next sync's, not anomalies.
func TestVerifyHorizon(t *testing.T) {
	t.Parallel()
	b := setupVerify(t, 200, nil)
	ctx := context.Background()
	if _, err := b.syncer.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	cp, _, err := b.st.Checkpoint(ctx, b.shop.Options().AppID, order.UpdateTime)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b.shop.AddOrders(3, now)
	if changed := b.shop.Mutate(5, now); len(changed) != 5 {
		t.Fatalf("%d orders changed", len(changed))
	}
	rep := b.verify(t, pipeline.VerifyOptions{})
	if len(rep.Anomalies) > 0 {
		t.Errorf("anomalies after the horizon: %v", rep.Anomalies)
	}
	if want := cp.Add(-10 * time.Minute); !rep.Horizon.Equal(want) {
		t.Errorf("horizon %s, want the checkpoint %s less the overlap", rep.Horizon, cp)
	}
}

// TestVerifyFailed: a verify the API refuses fails, and says so in its record.
func TestVerifyFailed(t *testing.T) {
	t.Parallel()
	b := setupVerify(t, 50, nil)
	b.shop.FailWith(fetchtest.EndpointList, 2017)
	rep, err := b.syncer.Verify(context.Background(), pipeline.VerifyOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	var status, msg string
	if err := b.st.Pool().QueryRow(context.Background(), `SELECT status, error FROM sync_verifications WHERE verification_id = $1`,
		rep.VerificationID).Scan(&status, &msg); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || msg != err.Error() {
		t.Errorf("recorded %s %q; want failed and %q", status, msg, err)
	}
}

func TestVerifyDates(t *testing.T) {
	now := time.Date(2026, 3, 10, 1, 30, 0, 0, order.Shanghai) // 2026-03-09 in UTC
	day := func(s string) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, s, order.Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		from, to         string
		wantFrom, wantTo string
		err              string
	}{
		{"", "", "2026-02-08", "2026-03-10", ""},
		{"", "2026-02-28", "2026-01-29", "2026-02-28", ""},
		{"2026-03-01", "", "2026-03-01", "2026-03-10", ""},
		{"2026-03-10", "2026-03-10", "2026-03-10", "2026-03-10", ""},
		{"2026-03-05", "2026-03-04", "", "", "before the first"},
		{"", "2026-03-11", "", "", "after today, 2026-03-10"},
	} {
		var from, to time.Time
		if tc.from != "" {
			from = day(tc.from)
		}
		if tc.to != "" {
			to = day(tc.to)
		}
		f, l, err := pipeline.VerifyDates(from, to, now)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q..%q: %v, want an error with %q", tc.from, tc.to, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q..%q: %v", tc.from, tc.to, err)
		case !f.Equal(day(tc.wantFrom)) || !l.Equal(day(tc.wantTo)):
			t.Errorf("%q..%q: %s..%s, want %s..%s", tc.from, tc.to, f, l, tc.wantFrom, tc.wantTo)
		}
	}
}
