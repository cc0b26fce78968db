package fetch_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
)

// TestSharedClientsStayUnderTheLimit: two clients of one shop, each told it has half the
// rate, together stay under the API's 20 calls/s, where at their full pace they would send
// nearly twice that.
func TestSharedClientsStayUnderTheLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 3 seconds of one-second rate windows")
	}
	const calls = 28 // per client: about 3 seconds at 9.7 calls/s
	srv := fetchtest.NewServer(t, fetchtest.Options{Orders: 2 * calls, Rate: 20, Latency: 20 * time.Millisecond, From: day0, To: day1})
	o := srv.Options()
	var ids []string
	for _, o := range srv.Orders() {
		ids = append(ids, o.ID)
	}
	ctx := context.Background()
	clients := make([]*fetch.Client, 2)
	for i := range clients {
		c, err := fetch.New(fetch.Config{BaseURL: srv.URL(), AppID: o.AppID, ClientID: o.ClientID,
			SecretKey: fetch.Secret(o.SecretKey), Rate: 20, Logger: newTestLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		c.SetShare(2)
		if _, _, err := c.OrderDetail(ctx, ids[0]); err != nil { // the token, out of the way
			t.Fatal(err)
		}
		clients[i] = c
	}
	srv.ResetStats()

	var mu sync.Mutex
	var errs []error
	together(2, func(i int) {
		_, e := pool(ctx, clients[i], ids[i*calls:(i+1)*calls], 4)
		mu.Lock()
		errs = append(errs, e...)
		mu.Unlock()
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	t.Logf("%d details, %d refused with 2054, at most %d arrived in one second",
		st.Codes[fetchtest.EndpointDetail][0], st.RateLimited, st.MaxPerSecond[fetchtest.EndpointDetail])
	// One refusal is the jitter of a loaded machine; at full pace the first second alone
	// brings a score of them.
	if st.RateLimited > 1 {
		t.Errorf("%d calls refused with 2054, want at most 1", st.RateLimited)
	}
}

// TestShareKeepsTheSlowDown: a share divides the pace at once; a pace lowered by refusals
// stays as far below its ceiling when the share changes; the pace climbs back to its
// share, never above it.
func TestShareKeepsTheSlowDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 6 seconds of one-second rate windows")
	}
	b := setup(t, setupOpts{
		shop: fetchtest.Options{Orders: 48, Rate: 20},
		config: func(c *fetch.Config) {
			c.Rate = 20
			c.BackoffMin, c.BackoffMax = 50*time.Millisecond, time.Second
		},
	})
	ctx := context.Background()
	ids := orderIDs(b.srv)
	if _, _, err := b.client.OrderDetail(ctx, ids[0]); err != nil { // the token, out of the way
		t.Fatal(err)
	}
	full := b.client.Pace(fetch.EndpointDetail)
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: pace %.4f calls/s, want %.4f", what, got, want)
		}
	}

	b.client.SetShare(2)
	near("detail, shared by 2", b.client.Pace(fetch.EndpointDetail), full/2)
	near("list, shared by 2", b.client.Pace(fetch.EndpointList), full/2)

	// The API refuses everything past 6 calls/s: the pace falls below its share of 9.7.
	b.srv.SetRate(6)
	const stormCalls = 12
	if _, errs := pool(ctx, b.client, ids[1:1+stormCalls], 4); len(errs) > 0 {
		t.Fatalf("calls failed during the storm: %v", errors.Join(errs...))
	}
	slowed := b.client.Pace(fetch.EndpointDetail)
	if slowed >= full/2 {
		t.Fatalf("pace %.2f calls/s after the storm: the API did not slow it down, the test did not test it", slowed)
	}
	b.client.SetShare(1)
	near("slowed, then alone", b.client.Pace(fetch.EndpointDetail), 2*slowed)
	b.client.SetShare(2)
	near("slowed, then shared by 2 again", b.client.Pace(fetch.EndpointDetail), slowed)

	// The storm passes: the pace climbs back to its share and stops there.
	var mu sync.Mutex
	top := 0.0
	b.obs.setOnCall(func(string, int) {
		p := b.client.Pace(fetch.EndpointDetail)
		mu.Lock()
		top = max(top, p)
		mu.Unlock()
	})
	b.srv.SetRate(20)
	if _, errs := pool(ctx, b.client, ids[1+stormCalls:], 4); len(errs) > 0 {
		t.Fatalf("calls failed after the storm: %v", errors.Join(errs...))
	}
	mu.Lock()
	near("after the storm, shared by 2", top, full/2)
	mu.Unlock()

	b.client.SetShare(0)
	near("not counted by the others", b.client.Pace(fetch.EndpointDetail), full/32)
}

// TestShareAppliesToWaitingCalls: calls already waiting for their turn take the new pace.
func TestShareAppliesToWaitingCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 3 seconds")
	}
	b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 8}, config: func(c *fetch.Config) { c.Rate = 4 }})
	ctx := context.Background()
	ids := orderIDs(b.srv)
	if _, _, err := b.client.OrderDetail(ctx, ids[0]); err != nil { // the token, out of the way
		t.Fatal(err)
	}
	// At an eighth of 3.88 calls/s, the first of the calls goes after 2 s, and as it lands
	// the client has the rate to itself again: the four others, already waiting, go a
	// quarter of a second apart, 3 s in all. Were they to keep the old pace, the next
	// would wait 2 s more.
	b.client.SetShare(8)
	var once sync.Once
	b.obs.setOnCall(func(string, int) { once.Do(func() { b.client.SetShare(1) }) })
	const calls = 5
	start := time.Now()
	if _, errs := pool(ctx, b.client, ids[1:1+calls], calls); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	took := time.Since(start)
	t.Logf("%d calls in %v", calls, took.Round(time.Millisecond))
	if took > 4*time.Second {
		t.Errorf("%d calls took %v, want about 3s: the waiting calls kept the old pace", calls, took.Round(time.Millisecond))
	}
}
