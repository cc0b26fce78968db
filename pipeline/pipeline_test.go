package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/pipeline"
	"ordersync/store"
	"ordersync/store/storetest"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// bundle is a simulated shop, a store and a syncer wired to both.
type bundle struct {
	shop   *fetchtest.Server
	st     *store.Store
	syncer *pipeline.Syncer
	from   time.Time
	to     time.Time
}

func setup(t *testing.T, opts fetchtest.Options, cfg pipeline.Config) *bundle {
	t.Helper()
	return setupTB(t, opts, cfg)
}

func setupTB(t testing.TB, opts fetchtest.Options, cfg pipeline.Config) *bundle {
	t.Helper()
	return setupWrapped(t, opts, cfg, nil)
}

// setupWrapped is setup with the shop's API behind wrap, which may change what reaches
// the syncer; nil for none.
func setupWrapped(t testing.TB, opts fetchtest.Options, cfg pipeline.Config, wrap func(http.Handler) http.Handler) *bundle {
	t.Helper()
	now := time.Now().In(order.Shanghai).Truncate(time.Second)
	if opts.Orders == 0 {
		opts.Orders = 300
	}
	if opts.From.IsZero() {
		opts.From, opts.To = now.AddDate(0, 0, -70), now
	}
	if opts.Rate == 0 {
		opts.Rate = 1000 // the tests exercise the path, not the pace
	}
	shop := fetchtest.NewServer(t, opts)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o := shop.Options()
	appID := o.AppID
	base := shop.URL()
	if wrap != nil {
		srv := httptest.NewServer(wrap(shop.Handler()))
		t.Cleanup(srv.Close)
		base = srv.URL
	}
	client, err := fetch.New(fetch.Config{
		BaseURL: base, AppID: o.AppID, ClientID: o.ClientID, SecretKey: fetch.Secret(o.SecretKey),
		// The tests exercise the path, not the pace: retries back off for milliseconds.
		Rate: opts.Rate, Logger: log, MaxRetryTime: time.Minute, BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Store(t)
	cfg.AppID = appID
	cfg.Logger = log
	if cfg.Workers == 0 {
		cfg.Workers = 8
	}
	return &bundle{shop: shop, st: st, syncer: pipeline.New(client, st, cfg), from: opts.From, to: opts.To}
}

// assertMatchesShop compares every order table, row by row, with a store filled directly
// from the shop's ground truth: what the shop serves now, flattened and upserted.
func assertMatchesShop(t *testing.T, b *bundle) {
	t.Helper()
	ref := storetest.Store(t)
	var ps []order.Payload
	for _, o := range b.shop.Orders() {
		ps = append(ps, order.Payload{OrderID: o.ID, UpdateTime: o.Updated, Detail: o.Detail, ListItem: o.ListItem})
	}
	var orders []*order.Prepared
	for _, p := range ps {
		o, err := order.Prepare(p)
		if err != nil {
			t.Logf("ground truth order %s does not decode (%v); it must be in the failure queue", p.OrderID, err)
			continue
		}
		orders = append(orders, o)
	}
	ctx := context.Background()
	for i := 0; i < len(orders); i += 500 {
		if _, err := ref.Write(ctx, store.Batch{Orders: orders[i:min(i+500, len(orders))]}); err != nil {
			t.Fatal(err)
		}
	}
	want, got := dump(t, ref), dump(t, b.st)
	for table := range want {
		if diff := cmp.Diff(want[table], got[table]); diff != "" {
			t.Errorf("table %s differs from the shop (-shop +stored):\n%s", table, truncate(diff, 3000))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "\n…"
	}
	return s
}

// dump returns every row of every order table as text, and each order's content hash.
func dump(t *testing.T, st *store.Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	queries := map[string]string{"order_payloads": "SELECT coalesce(array_agg(order_id || ' ' || encode(content_hash, 'hex') ORDER BY order_id), '{}') FROM order_payloads"}
	for _, tab := range order.Tables {
		queries[tab.Name] = fmt.Sprintf("SELECT coalesce(array_agg(t::text ORDER BY t::text), '{}') FROM %s t", tab.Name)
	}
	for name, q := range queries {
		var rows []string
		if err := st.Pool().QueryRow(context.Background(), q).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		out[name] = rows
	}
	return out
}

func TestBackfillMatchesShop(t *testing.T) {
	t.Parallel()
	b := setup(t, fetchtest.Options{Seed: 1}, pipeline.Config{})
	ctx := context.Background()
	res, err := b.syncer.Backfill(ctx, b.from, b.to)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fetched != 300 || res.Written != 300 {
		t.Errorf("backfill: %+v, want 300 fetched and written", res)
	}
	assertMatchesShop(t, b)

	// A second backfill over the same range: every window is recorded, so no call at all.
	b.shop.ResetStats()
	res, err = b.syncer.Backfill(ctx, b.from, b.to)
	if err != nil {
		t.Fatal(err)
	}
	if st := b.shop.Stats(); st.Calls[fetch.EndpointDetail] != 0 || st.Calls[fetch.EndpointList] != 0 {
		t.Errorf("second backfill made %d list and %d detail calls, want none", st.Calls[fetch.EndpointList], st.Calls[fetch.EndpointDetail])
	}
	if res.Written != 0 || res.Skipped == 0 {
		t.Errorf("second backfill: %+v", res)
	}
}

func TestRelistedUnchangedOrdersCostNoDetailCall(t *testing.T) {
	t.Parallel()
	b := setup(t, fetchtest.Options{Seed: 2, Orders: 200}, pipeline.Config{})
	ctx := context.Background()
	if _, err := b.syncer.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	before := xmins(t, b.st)
	b.shop.ResetStats()
	// A sync with no checkpoint overlap trick: forget the windows, so everything is listed again.
	if _, err := b.st.Pool().Exec(ctx, "DELETE FROM sync_windows"); err != nil {
		t.Fatal(err)
	}
	res, err := b.syncer.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := b.shop.Stats(); st.Calls[fetch.EndpointDetail] != 0 {
		t.Errorf("a rerun with nothing changed made %d detail calls", st.Calls[fetch.EndpointDetail])
	}
	if res.Listed == 0 || res.Unchanged != res.Listed || res.Written != 0 {
		t.Errorf("rerun: %+v, want every listed order unchanged", res)
	}
	if diff := cmp.Diff(before, xmins(t, b.st)); diff != "" {
		t.Errorf("a rerun with nothing changed rewrote rows:\n%s", truncate(diff, 2000))
	}
}

func xmins(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tab := range order.Tables {
		var rows []string
		err := st.Pool().QueryRow(context.Background(),
			fmt.Sprintf("SELECT coalesce(array_agg(ctid::text || xmin::text), '{}') FROM %s", tab.Name)).Scan(&rows)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out[tab.Name+r] = r
		}
	}
	return out
}

func TestSyncLandsChanges(t *testing.T) {
	t.Parallel()
	// The sync's clock runs ahead of the wall clock, so that its checkpoints are minutes
	// apart within one second of test.
	clock := time.Now().Truncate(time.Second)
	b := setup(t, fetchtest.Options{Seed: 3}, pipeline.Config{Now: func() time.Time { return clock }})
	ctx := context.Background()
	if _, err := b.syncer.Backfill(ctx, b.from, b.to); err != nil {
		t.Fatal(err)
	}
	if _, err := b.syncer.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	appID := b.shop.Options().AppID
	cp1, _, err := b.st.Checkpoint(ctx, appID, order.UpdateTime)
	if err != nil {
		t.Fatal(err)
	}
	// Changes that shrink goods lists and withdraw refunds among them: stale child rows
	// must go.
	changed := b.shop.Mutate(40, clock.Add(time.Minute))
	if len(changed) == 0 {
		t.Fatal("the shop changed nothing")
	}
	clock = clock.Add(2 * time.Minute)
	b.shop.ResetStats()
	res, err := b.syncer.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := b.shop.Stats(); st.Calls[fetch.EndpointDetail] != len(changed) {
		t.Errorf("%d detail calls for %d changed orders", st.Calls[fetch.EndpointDetail], len(changed))
	}
	if res.Written+res.Touched != len(changed) {
		t.Errorf("sync after %d changes: %+v", len(changed), res)
	}
	assertMatchesShop(t, b)
	cp2, _, err := b.st.Checkpoint(ctx, appID, order.UpdateTime)
	if err != nil || !cp2.After(cp1) {
		t.Errorf("checkpoint %v did not move past %v (%v)", cp2, cp1, err)
	}
}

func TestFaultyAPIStillMatches(t *testing.T) {
	t.Parallel()
	// The shop's clock runs 10 times faster than the wall clock, so its 20-second tokens
	// expire every two seconds and the client meets 2008 during the run.
	start := time.Now()
	fast := func() time.Time { return start.Add(10 * time.Since(start)) }
	b := setup(t, fetchtest.Options{Seed: 4, Orders: 200, BusyRate: 0.10, ServerErrorRate: 0.05,
		TokenTTL: 20 * time.Second, Now: fast, Rate: 100}, pipeline.Config{})
	ctx := context.Background()
	if _, err := b.syncer.Backfill(ctx, b.from, b.to); err != nil {
		t.Fatal(err)
	}
	b.shop.Mutate(30, time.Now())
	if _, err := b.syncer.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	assertMatchesShop(t, b)
	st := b.shop.Stats()
	if st.TokensIssued < 2 || st.Codes[fetch.EndpointDetail][2008] == 0 {
		t.Errorf("tokens issued %d, 2008 answers %d: the run never met an expired token", st.TokensIssued, st.Codes[fetch.EndpointDetail][2008])
	}
	busy := st.Codes[fetch.EndpointDetail][1001] + st.Codes[fetch.EndpointDetail][1002]
	html := st.Codes[fetch.EndpointDetail][-502] + st.Codes[fetch.EndpointDetail][-503]
	if busy == 0 || html == 0 {
		t.Errorf("busy %d, HTML errors %d: the faults did not happen", busy, html)
	}
}

func TestLargeWindowsAreHalved(t *testing.T) {
	t.Parallel()
	// 300 orders in 70 days with at most 40 per window: 31-day windows must be split.
	b := setup(t, fetchtest.Options{Seed: 8}, pipeline.Config{MaxWindowOrders: 40})
	res, err := b.syncer.Backfill(context.Background(), b.from, b.to)
	if err != nil {
		t.Fatal(err)
	}
	if res.Windows < 300/40 {
		t.Errorf("%d windows for 300 orders at most 40 per window", res.Windows)
	}
	// The halves, recorded one by one, merge into one span: the whole range.
	ws, err := b.st.Windows(context.Background(), b.shop.Options().AppID, order.CreatedTime, b.from, b.to)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || !ws[0].WindowStart.Equal(b.from) || !ws[0].WindowEnd.Equal(b.to) || ws[0].OrdersListed != 300 {
		t.Errorf("windows recorded: %+v, want one span of the whole range with 300 orders", ws)
	}
	assertMatchesShop(t, b)
}

func TestCorruptPayloadIsQueuedAndRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, fetchtest.Options{Seed: 5, Orders: 100}, pipeline.Config{})
	ctx := context.Background()
	bad := b.shop.Orders()[17].ID
	b.shop.SetBroken(bad)
	res, err := b.syncer.Backfill(ctx, b.from, b.to)
	if !errors.Is(err, pipeline.ErrPartial) {
		t.Fatalf("backfill with a corrupt payload: %v, want ErrPartial", err)
	}
	if res.Failed != 1 || res.Written != 99 {
		t.Errorf("backfill: %+v, want 99 written and 1 failed", res)
	}
	fs, err := b.st.Failures(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].OrderID != bad || !strings.Contains(fs[0].Error, bad) {
		t.Fatalf("failure queue: %+v, want order %s with its error", fs, bad)
	}
	runs, err := b.st.Runs(ctx, 1)
	if err != nil || runs[0].Status != store.StatusPartial || runs[0].OrdersFailed != 1 {
		t.Errorf("run history: %+v, %v", runs, err)
	}

	// Still broken: the next run tries again and keeps it queued.
	if _, err := b.syncer.Sync(ctx); !errors.Is(err, pipeline.ErrPartial) {
		t.Errorf("sync with the order still broken: %v, want ErrPartial", err)
	}
	if fs, _ := b.st.Failures(ctx, ""); len(fs) != 1 || fs[0].Attempts < 2 {
		t.Errorf("failure queue after a second attempt: %+v", fs)
	}

	b.shop.SetBroken()
	if _, err := b.syncer.Sync(ctx); err != nil {
		t.Fatalf("sync after the payload was fixed: %v", err)
	}
	if fs, _ := b.st.Failures(ctx, ""); len(fs) != 0 {
		t.Errorf("failure queue after the order landed: %+v", fs)
	}
	assertMatchesShop(t, b)
}

func TestOrdersRefreshGivenIDs(t *testing.T) {
	t.Parallel()
	b := setup(t, fetchtest.Options{Seed: 6, Orders: 50}, pipeline.Config{})
	ctx := context.Background()
	truth := b.shop.Orders()
	ids := []string{truth[3].ID, truth[9].ID}
	b.shop.ResetStats()
	res, err := b.syncer.Orders(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 2 {
		t.Errorf("orders: %+v", res)
	}
	// One list call (for update_time) and one detail call per order.
	if st := b.shop.Stats(); st.Calls[fetch.EndpointDetail] != 2 || st.Calls[fetch.EndpointList] != 2 {
		t.Errorf("%d list and %d detail calls for 2 orders, want 2 and 2", st.Calls[fetch.EndpointList], st.Calls[fetch.EndpointDetail])
	}
	stored, err := b.st.StoredUpdateTimes(ctx, ids)
	if err != nil || !stored[ids[0]].Equal(truth[3].Updated) {
		t.Errorf("stored update_time %v, want %v (%v)", stored[ids[0]], truth[3].Updated, err)
	}
	if _, err := b.syncer.Orders(ctx, []string{"E20990101000000nosuchV2"}); err == nil || !strings.Contains(err.Error(), "E20990101000000nosuchV2") {
		t.Errorf("an unknown order: %v, want an error naming it", err)
	}
}

// TestSyncSweepsTheOverlapOnceAMinute: a sync starts the whole overlap before the
// checkpoint once a minute, and a few seconds before it otherwise, so that a tick a
// second does not relist ten minutes of changes every time.
func TestSyncSweepsTheOverlapOnceAMinute(t *testing.T) {
	t.Parallel()
	clock := time.Now().Truncate(time.Second)
	b := setup(t, fetchtest.Options{Seed: 21, Orders: 50}, pipeline.Config{Now: func() time.Time { return clock }})
	ctx := context.Background()
	starts := []time.Duration{}
	for _, step := range []time.Duration{0, time.Second, time.Second, time.Minute, time.Second} {
		clock = clock.Add(step)
		// A change each tick, so that no run is idle and folded into the one before.
		b.shop.Mutate(1, clock)
		if _, err := b.syncer.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		runs, err := b.st.Runs(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, runs[0].WindowEnd.Sub(*runs[0].WindowStart))
	}
	// The first sync looks back 31 days; then overlap, recent, recent, overlap (a minute
	// passed), recent. Each span is the overlap plus the time since the last checkpoint.
	want := []time.Duration{31 * 24 * time.Hour, 10*time.Minute + time.Second, 6 * time.Second, 10*time.Minute + time.Minute, 6 * time.Second}
	if fmt.Sprint(starts[1:]) != fmt.Sprint(want[1:]) {
		t.Errorf("spans listed: %v, want %v", starts, want)
	}
}
