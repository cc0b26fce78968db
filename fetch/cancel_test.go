package fetch_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
)

// TestCancelStopsEverything: cancelling the context stops all in-flight work promptly:
// goroutines waiting for a token, for the pacer, for a reply and in a backoff.
func TestCancelStopsEverything(t *testing.T) {
	shop := fetchtest.New(fetchtest.Options{Orders: 30, Rate: -1, From: day0, To: day1})
	entered := make(chan string, 1000) // the path of every request that reaches the shop
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- strings.TrimPrefix(r.URL.Path, "/")
		shop.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	o := shop.Options()
	ids := orderIDs(&fetchtest.Server{Shop: shop})
	logger := newTestLogger(t)
	// A client per phase: a pacer's cancelled reservations are not all given back.
	newClient := func(withToken bool) *fetch.Client {
		t.Helper()
		c, err := fetch.New(fetch.Config{BaseURL: srv.URL, AppID: o.AppID, ClientID: o.ClientID, SecretKey: fetch.Secret(o.SecretKey),
			Rate: 2, BackoffMin: time.Hour, BackoffMax: time.Hour, MaxRetryTime: 10 * time.Hour, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		if withToken {
			shop.SetLatency(0)
			if _, _, err := c.OrderDetail(context.Background(), ids[0]); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}

	// run starts 20 detail calls, cancels them once a request to path has reached the
	// shop, and checks that every call returns the context's error.
	run := func(c *fetch.Client, phase, path string) {
		t.Helper()
		for len(entered) > 0 { // what earlier calls left
			<-entered
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = c.OrderDetail(ctx, ids[i])
			}()
		}
		for p := range entered {
			if p == path {
				break
			}
		}
		cancel()
		cancelled := time.Now()
		defer func() {
			t.Logf("%s: all calls returned %v after the cancel", phase, time.Since(cancelled).Round(time.Millisecond))
		}()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a hang guard, not a measure
			t.Fatalf("%s: calls still running 10s after the cancel", phase)
		}
		for i, err := range errs {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: call %d: %v, want context.Canceled", phase, i, err)
			}
		}
	}

	// Each phase leaves the shop's latency as the next one needs it: a handler may read it
	// after its call was cancelled.
	c := newClient(true)
	shop.SetFaults(1, 0) // every call busy: the calls back off for an hour
	run(c, "backing off", fetchtest.EndpointDetail)

	shop.SetFaults(0, 0)
	c = newClient(true)
	shop.SetLatency(time.Hour)
	run(c, "waiting for replies and for the pacer", fetchtest.EndpointDetail)

	c = newClient(false)
	run(c, "waiting for the token", fetchtest.EndpointToken)

	srv.CloseClientConnections()
	srv.Close() // waits for the shop's handlers
	if n := shop.Stats().Abandoned; n != 2 {
		t.Errorf("the shop saw %d calls abandoned, want 2 (the token call, the detail call): %+v", n, shop.Stats())
	}
}
