package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/pipeline"
	"ordersync/store"
)

// isDetail reports whether r is a detail call.
func isDetail(r *http.Request) bool { return r.URL.Path == "/"+fetch.EndpointDetail }

// storedOrders counts the orders stored.
func storedOrders(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), "SELECT count(*) FROM orders").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func lastRun(t *testing.T, st *store.Store) store.Run {
	t.Helper()
	runs, err := st.Runs(context.Background(), 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v, %v", runs, err)
	}
	return runs[0]
}

// TestAPIDownStopsTheRunAndWritesWhatItFetched: the API goes down in the middle of a
// backfill. The run stops (not partial: the API failed, not an order), queues nothing, and
// has written every detail it fetched. The next backfill fetches only the rest.
func TestAPIDownStopsTheRunAndWritesWhatItFetched(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	var down atomic.Bool
	b := setupWrapped(t, fetchtest.Options{Seed: 11}, pipeline.Config{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() && r.URL.Path != "/token" {
				w.WriteHeader(http.StatusBadGateway)
				io.WriteString(w, "<html><title>502 Bad Gateway</title></html>")
				return
			}
			if isDetail(r) && served.Add(1) == 120 {
				down.Store(true)
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	res, err := b.syncer.Backfill(ctx, b.from, b.to)
	if err == nil || errors.Is(err, pipeline.ErrPartial) {
		t.Fatalf("backfill with the API down: %v, want a failed run", err)
	}
	if n := storedOrders(t, b.st); n != res.Fetched || n < 100 {
		t.Errorf("%d orders stored, %d fetched: every fetched detail must be written", n, res.Fetched)
	}
	if fs, _ := b.st.Failures(ctx, ""); len(fs) != 0 || res.Failed != 0 {
		t.Errorf("%d orders queued when the API as a whole failed: %+v", len(fs), fs)
	}
	if r := lastRun(t, b.st); r.Status != store.StatusFailed || r.OrdersFetched != res.Fetched || r.OrdersWritten != res.Written {
		t.Errorf("run recorded as %+v", r)
	}

	down.Store(false)
	b.shop.ResetStats()
	stored := storedOrders(t, b.st)
	if _, err := b.syncer.Backfill(ctx, b.from, b.to); err != nil {
		t.Fatal(err)
	}
	if n := b.shop.Stats().Calls[fetch.EndpointDetail]; n != 300-stored {
		t.Errorf("the second backfill made %d detail calls for the %d orders left", n, 300-stored)
	}
	assertMatchesShop(t, b)
}

// TestInterruptedRunWritesWhatItFetched: a backfill stopped by a signal (its context
// cancelled) writes every detail already fetched, is recorded as interrupted with its
// true counts, and the rerun completes exactly.
func TestInterruptedRunWritesWhatItFetched(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var served atomic.Int64
	b := setupWrapped(t, fetchtest.Options{Seed: 12}, pipeline.Config{BatchSize: 500}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			if isDetail(r) && served.Add(1) == 150 {
				cancel() // the signal, after the 150th detail is on its way
			}
		})
	})
	res, err := b.syncer.Backfill(ctx, b.from, b.to)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted backfill: %v, want context.Canceled", err)
	}
	// A batch of 500 would hold every detail until the end: all of them must be written.
	if n := storedOrders(t, b.st); n != res.Fetched || n < 100 {
		t.Errorf("%d orders stored, %d fetched: every fetched detail must be written", n, res.Fetched)
	}
	if r := lastRun(t, b.st); r.Status != store.StatusInterrupted || r.OrdersFetched != res.Fetched || r.OrdersWritten != res.Written {
		t.Errorf("run recorded as %+v, want interrupted with %d fetched", r, res.Fetched)
	}
	if fs, _ := b.st.Failures(context.Background(), ""); len(fs) != 0 {
		t.Errorf("an interrupted run queued %+v", fs)
	}
	if _, err := b.syncer.Backfill(context.Background(), b.from, b.to); err != nil {
		t.Fatal(err)
	}
	assertMatchesShop(t, b)
}

// TestPoisonedQueueCannotEatTheBudget: a thousand orders that never decode. Each run
// retries at most MaxRetries of them, oldest due first, through the same fetchers, with
// no list call for those whose update_time is known; after three retries each waits
// longer.
func TestPoisonedQueueCannotEatTheBudget(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	// No order changes within the sync's overlap: its windows list nothing new, and what
	// a run spends is the queue's.
	b := setup(t, fetchtest.Options{Seed: 13, Orders: 1000, Rate: 5000, From: now.AddDate(0, 0, -20), To: now.Add(-time.Hour)},
		pipeline.Config{Workers: 16})
	ctx := context.Background()
	var ids []string
	for _, o := range b.shop.Orders() {
		ids = append(ids, o.ID)
	}
	b.shop.SetBroken(ids...)
	res, err := b.syncer.Backfill(ctx, b.from, b.to)
	if !errors.Is(err, pipeline.ErrPartial) || res.Failed != 1000 {
		t.Fatalf("backfill of a poisoned shop: %+v, %v; want 1000 queued", res, err)
	}
	// The first sync lists the last 31 days: every order again, as changed orders.
	if _, err := b.syncer.Sync(ctx); !errors.Is(err, pipeline.ErrPartial) {
		t.Fatalf("first sync: %v", err)
	}
	var runs []int64
	for run := 1; run <= 3; run++ {
		b.shop.ResetStats()
		res, err := b.syncer.Sync(ctx)
		if !errors.Is(err, pipeline.ErrPartial) {
			t.Fatalf("sync %d: %v", run, err)
		}
		runs = append(runs, res.RunID)
		st := b.shop.Stats()
		// A malformed reply is tried three times, a payload that does not decode once.
		if d, l := st.Calls[fetch.EndpointDetail], st.Calls[fetch.EndpointList]; d > 3*100 || l > 1 || res.Failed != 100 {
			t.Errorf("sync %d: %d detail and %d list calls, %d failures retried; want at most 300, 1 and 100", run, d, l, res.Failed)
		}
		t.Logf("sync %d with 1000 orders queued: %d detail calls, %d list calls", run, st.Calls[fetch.EndpointDetail], st.Calls[fetch.EndpointList])
	}
	fs, err := b.st.Failures(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, f := range fs {
		if f.RunID != nil && slices.Contains(runs, *f.RunID) {
			tried++
		}
		if len(f.Reply) == 0 {
			t.Errorf("%s queued without the reply's bytes", f.OrderID)
			break
		}
	}
	if len(fs) != 1000 || tried != 300 {
		t.Errorf("%d queued, %d tried by the three syncs; want 1000 and 300: oldest due first, 100 a run", len(fs), tried)
	}
}

// TestBackfillStopsAtNow: a backfill up to a day not yet over records nothing past now;
// orders created later that day are fetched by a second backfill later.
func TestBackfillStopsAtNow(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	clock := now
	b := setup(t, fetchtest.Options{Seed: 14, Orders: 100, From: now.AddDate(0, 0, -5), To: now},
		pipeline.Config{Now: func() time.Time { return clock }})
	ctx := context.Background()
	endOfDay := now.AddDate(0, 0, 2)
	if _, err := b.syncer.Backfill(ctx, b.from, endOfDay); err != nil {
		t.Fatal(err)
	}
	ws, err := b.st.Windows(ctx, b.shop.Options().AppID, order.CreatedTime, b.from, endOfDay)
	if err != nil || len(ws) != 1 || ws[0].WindowEnd.After(now) {
		t.Fatalf("windows %+v, %v; want one that ends by now (%s)", ws, err, now)
	}
	// A backfill wholly in the future does nothing and records nothing.
	if res, err := b.syncer.Backfill(ctx, now.AddDate(0, 0, 1), endOfDay); err != nil || res.Windows != 0 {
		t.Errorf("future backfill: %+v, %v", res, err)
	}

	// New orders today, after the first backfill.
	added := b.shop.AddOrders(7, now.Add(time.Second))
	clock = now.Add(time.Minute)
	res, err := b.syncer.Backfill(ctx, b.from, endOfDay)
	if err != nil || res.Written != len(added) {
		t.Fatalf("second backfill: %+v, %v; want the %d new orders", res, err, len(added))
	}
	assertMatchesShop(t, b)
}

// TestBrokenReplyOfOneOrder: one order's detail comes back unusable on every attempt, in
// each of the ways replies break. The others land, the run ends partial, the order waits
// in the queue with the bytes received, and lands once its reply is fixed.
func TestBrokenReplyOfOneOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		reply func(w http.ResponseWriter)
	}{
		{"cut short", func(w http.ResponseWriter) {
			io.WriteString(w, `{"code":0,"msg":"success","data":{"buyer_info":{"av`)
		}},
		{"not JSON", func(w http.ResponseWriter) { io.WriteString(w, "<html><body>维护中</body></html>") }},
		{"no envelope", func(w http.ResponseWriter) { io.WriteString(w, `{"error":"oops"}`) }},
		{"refused", func(w http.ResponseWriter) { io.WriteString(w, `{"code":40001,"msg":"参数错误","data":null}`) }},
		{"HTTP 503", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "<html>503</html>")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var bad atomic.Value // the order id whose reply breaks
			bad.Store("")
			b := setupWrapped(t, fetchtest.Options{Seed: 15, Orders: 119}, pipeline.Config{}, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if isDetail(r) {
						body, _ := io.ReadAll(r.Body)
						r.Body = io.NopCloser(bytes.NewReader(body))
						if id := bad.Load().(string); id != "" && bytes.Contains(body, []byte(`"`+id+`"`)) {
							tc.reply(w)
							return
						}
					}
					h.ServeHTTP(w, r)
				})
			})
			id := b.shop.Orders()[60].ID
			bad.Store(id)
			ctx := context.Background()
			res, err := b.syncer.Backfill(ctx, b.from, b.to)
			if !errors.Is(err, pipeline.ErrPartial) || res.Written != 118 || res.Failed != 1 {
				t.Fatalf("backfill: %+v, %v; want 118 written, 1 queued, partial", res, err)
			}
			fs, err := b.st.Failures(ctx, "")
			if err != nil || len(fs) != 1 || fs[0].OrderID != id || len(fs[0].Reply) == 0 {
				t.Fatalf("queue: %+v, %v; want %s with the reply's bytes", fs, err, id)
			}
			bad.Store("")
			if _, err := b.syncer.Sync(ctx); err != nil {
				t.Fatalf("sync once the reply is fixed: %v", err)
			}
			if fs, _ := b.st.Failures(ctx, ""); len(fs) != 0 {
				t.Errorf("queue after the fix: %+v", fs)
			}
			assertMatchesShop(t, b)
		})
	}
}
