package fetch_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
)

// TestRateLimitStormSlowsDown: a 2054 storm slows the client down and it recovers without
// failing calls.
func TestRateLimitStormSlowsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 6 seconds of one-second rate windows")
	}
	b := setup(t, setupOpts{
		shop: fetchtest.Options{Orders: 64, Rate: 20},
		config: func(c *fetch.Config) {
			c.Rate = 20 // the API's own limit: the client paces just below it
			c.BackoffMin, c.BackoffMax = 50*time.Millisecond, time.Second
		},
	})
	ctx := context.Background()
	ids := orderIDs(b.srv)
	if _, _, err := b.client.OrderDetail(ctx, ids[0]); err != nil { // the token, out of the way
		t.Fatal(err)
	}
	ceiling := b.client.Pace(fetch.EndpointDetail)

	var mu sync.Mutex
	low, top := ceiling, 0.0
	b.obs.setOnCall(func(endpoint string, code int) {
		p := b.client.Pace(fetch.EndpointDetail)
		mu.Lock()
		low, top = min(low, p), max(top, p)
		mu.Unlock()
	})

	// The API starts refusing everything past 8 calls/s.
	const stormCalls = 24
	b.srv.SetRate(8)
	b.srv.ResetStats()
	_, errs := pool(ctx, b.client, ids[:stormCalls], 4)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("calls failed during the storm: %v", err)
	}
	storm := b.srv.Stats()
	t.Logf("storm: %d calls, %d refused with 2054; pace %.1f → as low as %.1f calls/s", stormCalls, storm.RateLimited, ceiling, low)
	if storm.RateLimited == 0 {
		t.Fatalf("no 2054 during the storm: the test did not test it")
	}
	if low >= 8 {
		t.Errorf("the pace went no lower than %.1f calls/s, above the API's 8", low)
	}
	if storm.RateLimited >= stormCalls/2 {
		t.Errorf("%d refusals for %d calls: the client did not slow down", storm.RateLimited, stormCalls)
	}

	// The storm passes: the pace climbs back to its ceiling.
	b.srv.SetRate(20)
	mu.Lock()
	top = 0
	mu.Unlock()
	_, errs = pool(ctx, b.client, ids[stormCalls:], 4)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("calls failed after the storm: %v", err)
	}
	t.Logf("after the storm: pace back up to %.1f calls/s", top)
	if top < ceiling {
		t.Errorf("pace reached %.1f calls/s after the storm, want %.1f", top, ceiling)
	}
}

// TestDetailThroughputReport measures a pool of detail fetches against a shop that enforces
// 20 calls/s. It only reports: the figures depend on the machine.
func TestDetailThroughputReport(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for about 4 seconds")
	}
	r := measureDetailPool(t, 80, 8)
	t.Logf("detail pool: %d calls in %v = %.2f calls/s, %.1f%% of the 20/s ceiling; %d refused with 2054; at most %d calls arrived in one second",
		r.calls, r.elapsed.Round(time.Millisecond), r.perSecond, 100*r.perSecond/20, r.refused, r.maxPerSecond)
}

func BenchmarkDetailPool(b *testing.B) {
	var r throughput
	for b.Loop() {
		r = measureDetailPool(b, 60, 8)
	}
	b.ReportMetric(r.perSecond, "calls/s")
	b.ReportMetric(r.perSecond/20, "ratio")
	b.ReportMetric(float64(r.refused), "2054s")
}

type throughput struct {
	calls        int
	elapsed      time.Duration
	perSecond    float64
	refused      int
	maxPerSecond int
}

// measureDetailPool fetches n details with workers goroutines, the shop enforcing 20/s
// with 20 ms of latency, the client at its defaults.
func measureDetailPool(tb testing.TB, n, workers int) throughput {
	srv := fetchtest.NewServer(tb, fetchtest.Options{Orders: n + 1, Rate: 20, Latency: 20 * time.Millisecond, From: day0, To: day1})
	o := srv.Options()
	c, err := fetch.New(fetch.Config{BaseURL: srv.URL(), AppID: o.AppID, ClientID: o.ClientID, SecretKey: fetch.Secret(o.SecretKey)})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	ids := make([]string, 0, n+1)
	for _, o := range srv.Orders() {
		ids = append(ids, o.ID)
	}
	if _, _, err := c.OrderDetail(ctx, ids[0]); err != nil { // the token, out of the way
		tb.Fatal(err)
	}
	srv.ResetStats()
	start := time.Now()
	_, errs := pool(ctx, c, ids[1:], workers)
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		tb.Fatal(err)
	}
	st := srv.Stats()
	return throughput{calls: n, elapsed: elapsed, perSecond: float64(n) / elapsed.Seconds(),
		refused: st.RateLimited, maxPerSecond: st.MaxPerSecond[fetchtest.EndpointDetail]}
}
