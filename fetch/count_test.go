package fetch_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
)

// TestCountWindow: one list call gives the window's total and its first orders, all of
// them when they fit in the page.
func TestCountWindow(t *testing.T) {
	b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 300}})
	ctx := context.Background()
	for _, tc := range []struct {
		orders, keep, first int
		complete            bool
	}{
		{250, 1, 1, false},
		{250, fetch.MaxPageSize, 100, false},
		{100, fetch.MaxPageSize, 100, true},
		{7, fetch.MaxPageSize, 7, true},
		{7, 1, 1, false},
		{1, 1, 1, true},
		{0, 1, 0, true},
	} {
		w := windowWith(t, b.srv, tc.orders)
		b.srv.ResetStats()
		got, err := b.client.CountWindow(ctx, w, tc.keep)
		if err != nil {
			t.Fatalf("%d orders, keep %d: %v", tc.orders, tc.keep, err)
		}
		if got.Total != tc.orders || len(got.First) != tc.first || got.Complete() != tc.complete {
			t.Errorf("%d orders, keep %d: total %d, %d first, complete %v; want %d, %d, %v",
				tc.orders, tc.keep, got.Total, len(got.First), got.Complete(), tc.orders, tc.first, tc.complete)
		}
		if n := b.srv.Stats().Calls[fetchtest.EndpointList]; n != 1 {
			t.Errorf("%d orders, keep %d: %d list calls, want 1", tc.orders, tc.keep, n)
		}
		if tc.complete {
			all, err := b.client.ListAll(ctx, w, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range all {
				if got.First[i].OrderID != all[i].OrderID || !got.First[i].UpdateTime.Equal(all[i].UpdateTime) {
					t.Errorf("%d orders: first[%d] is %s, the listing's is %s", tc.orders, i, got.First[i].OrderID, all[i].OrderID)
				}
			}
		}
	}
}

// TestCountWindowRefuses: what the API would answer wrongly is refused before any call.
func TestCountWindowRefuses(t *testing.T) {
	b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 10}})
	ctx := context.Background()
	day := fetch.Window{Field: order.CreatedTime, Start: day0, End: day0.Add(24*time.Hour - time.Second)}
	for _, tc := range []struct {
		name string
		w    fetch.Window
		keep int
		want string
	}{
		{"keep 0", day, 0, "keep 0 orders: want 1 to 100"},
		{"keep 101", day, 101, "keep 101 orders"},
		{"no window", fetch.Window{}, 1, "field must be"},
		{"too long", fetch.Window{Field: order.CreatedTime, Start: day0, End: day0.AddDate(0, 0, 32)}, 1, "longer than 31 days"},
	} {
		_, err := b.client.CountWindow(ctx, tc.w, tc.keep)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		if tc.name == "too long" && !errors.Is(err, fetch.ErrWindowTooLong) {
			t.Errorf("%s: the error does not wrap ErrWindowTooLong", tc.name)
		}
	}
	if n := b.srv.Stats().Calls[fetchtest.EndpointList]; n != 0 {
		t.Errorf("%d list calls, want none", n)
	}
}
