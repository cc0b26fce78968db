package fetch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
)

// windowWith returns a created_time window of the shop that holds exactly n orders.
func windowWith(t *testing.T, srv *fetchtest.Server, n int) fetch.Window {
	t.Helper()
	truth := srv.Orders()
	created := make([]time.Time, len(truth))
	for i, o := range truth {
		created[i] = o.Created
	}
	sortTimes(created)
	if n > len(created) || n > 0 && n < len(created) && created[n-1].Equal(created[n]) {
		t.Fatalf("cannot cut a window of %d orders", n)
	}
	if n == 0 {
		return fetch.Window{Field: order.CreatedTime, Start: created[0].Add(-time.Hour), End: created[0].Add(-time.Second)}
	}
	return fetch.Window{Field: order.CreatedTime, Start: created[0], End: created[n-1]}
}

func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// TestListWindowStopsAtTotal: paging stops exactly at total.
func TestListWindowStopsAtTotal(t *testing.T) {
	b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 300}})
	ctx := context.Background()
	for _, tc := range []struct{ orders, calls int }{{250, 3}, {200, 2}, {99, 1}, {0, 1}} {
		w := windowWith(t, b.srv, tc.orders)
		b.srv.ResetStats()
		items, err := b.client.ListAll(ctx, w, 0)
		if err != nil {
			t.Fatalf("%d orders: %v", tc.orders, err)
		}
		if len(items) != tc.orders {
			t.Errorf("%s: %d items, want %d", w, len(items), tc.orders)
		}
		for i := 1; i < len(items); i++ {
			if items[i].CreatedTime.Before(items[i-1].CreatedTime) {
				t.Errorf("%s: items not ascending at %d", w, i)
			}
		}
		if n := b.srv.Stats().Calls[fetchtest.EndpointList]; n != tc.calls {
			t.Errorf("%d orders: %d list calls, want %d", tc.orders, n, tc.calls)
		}
	}
}

// TestListWindowReportsShortPages: a page that holds fewer items than the total promises
// is reported, with what was received.
func TestListWindowReportsShortPages(t *testing.T) {
	b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 300}})
	w := windowWith(t, b.srv, 250)
	b.srv.SetShortPages(true)
	items, err := b.client.ListAll(context.Background(), w, 0)
	var cm *fetch.CountMismatchError
	if !errors.As(err, &cm) {
		t.Fatalf("err = %v, want a *CountMismatchError", err)
	}
	// Pages 1 and 2 are full pages that lose their last item: 99 + 99 + 50.
	if cm.Total != 250 || cm.Got != 248 || len(items) != 248 || cm.Window != w {
		t.Errorf("mismatch %+v with %d items, want 248 of 250", cm, len(items))
	}
	if n := b.srv.Stats().Calls[fetchtest.EndpointList]; n != 3 {
		t.Errorf("%d list calls, want 3", n)
	}
}

// TestListWindowRestartsWhenTotalChanges: orders that enter the window while it is paged
// make it start over, and nothing is missed.
func TestListWindowRestartsWhenTotalChanges(t *testing.T) {
	b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 300}})
	w := windowWith(t, b.srv, 250)
	added := false
	b.obs.setOnCall(func(endpoint string, code int) {
		if endpoint == fetch.EndpointList && !added {
			added = true // after the first page, before the second
			b.srv.AddOrders(3, w.Start.Add(time.Minute))
		}
	})
	items, err := b.client.ListAll(context.Background(), w, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 253 {
		t.Errorf("%d items, want 253", len(items))
	}
	// Page 1 (250), page 2 (253: start over), then pages 1–3.
	if n := b.srv.Stats().Calls[fetchtest.EndpointList]; n != 5 {
		t.Errorf("%d list calls, want 5", n)
	}
}

// TestListWindowRestartsWhenOrdersMove: orders that change while their window is paged
// move to its end, push others back onto pages already read and come twice; the window
// starts over instead of missing the orders pushed back.
func TestListWindowRestartsWhenOrdersMove(t *testing.T) {
	b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 300}})
	w := fetch.Window{Field: order.UpdateTime, Start: day0, End: day1.AddDate(0, 0, 1)}
	moved := 0
	b.obs.setOnCall(func(endpoint string, code int) {
		if endpoint == fetch.EndpointList && moved == 0 {
			moved = len(b.srv.Mutate(100, day1.Add(time.Hour))) // still inside w
		}
	})
	items, err := b.client.ListAll(context.Background(), w, 0)
	if err != nil {
		t.Fatal(err)
	}
	if moved == 0 {
		t.Fatal("no order changed: the test did not test it")
	}
	if len(items) != 300 {
		t.Errorf("%d items, want 300", len(items))
	}
	if n := b.srv.Stats().Calls[fetchtest.EndpointList]; n != 6 {
		t.Errorf("%d list calls, want 6 (three pages, twice)", n)
	}
}

func TestListWindowRefusals(t *testing.T) {
	b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 300}})
	ctx := context.Background()

	// A window over 31 days is refused before any call: the API would cut it silently.
	long := fetch.Window{Field: order.UpdateTime, Start: day0, End: day0.AddDate(0, 0, 32)}
	if _, err := b.client.ListAll(ctx, long, 0); !errors.Is(err, fetch.ErrWindowTooLong) {
		t.Errorf("a 32-day window: %v, want ErrWindowTooLong", err)
	}
	if _, err := b.client.ListOrders(ctx, fetch.ListRequest{Window: long}); !errors.Is(err, fetch.ErrWindowTooLong) {
		t.Errorf("ListOrders, a 32-day window: %v, want ErrWindowTooLong", err)
	}
	if _, err := b.client.ListOrders(ctx, fetch.ListRequest{Window: fetch.Window{Field: order.UpdateTime, Start: day0, End: day1}, PageSize: 101}); err == nil {
		t.Errorf("page size 101 accepted")
	}
	if n := b.srv.Stats().Calls[fetchtest.EndpointList]; n != 0 {
		t.Errorf("%d list calls for refused windows", n)
	}

	// Too many orders to page: one call, then a TooLargeError for the caller to split.
	w := windowWith(t, b.srv, 250)
	_, err := b.client.ListAll(ctx, w, 200)
	var tl *fetch.TooLargeError
	if !errors.As(err, &tl) || tl.Total != 250 || tl.Max != 200 {
		t.Errorf("err = %v, want a *TooLargeError of 250", err)
	}
	if n := b.srv.Stats().Calls[fetchtest.EndpointList]; n != 1 {
		t.Errorf("%d list calls, want 1", n)
	}
}
