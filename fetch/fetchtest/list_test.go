package fetchtest_test

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
)

// TestListFollowsChanges pages windows of both times, in both orders, before and after the
// shop changes, and compares them with what its orders say: a changed or added order must
// leave its old place and appear in its new one, at once.
func TestListFollowsChanges(t *testing.T) {
	t.Parallel()
	a := newAPI(t, fetchtest.Options{Seed: 5, Orders: 500, Rate: -1, Now: func() time.Time { return tEnd }})
	tok := a.goodToken()
	changedAt := tEnd.Add(time.Minute)

	type query struct {
		name, field, orderBy, asc string
		start, end                time.Time
	}
	queries := []query{
		{"update_time ascending", "update_time", "updated_at", "asc", tEnd.AddDate(0, 0, -20), changedAt},
		{"update_time descending", "update_time", "", "", tEnd.AddDate(0, 0, -20), changedAt},
		{"created_time ascending", "created_time", "created_at", "asc", t0.AddDate(0, 0, 10), t0.AddDate(0, 0, 40)},
		{"created_time descending", "created_time", "", "desc", t0.AddDate(0, 0, 10), t0.AddDate(0, 0, 40)},
		{"update_time window by created_time", "update_time", "created_at", "asc", tEnd.AddDate(0, 0, -20), changedAt},
		{"created_time window by update_time", "created_time", "updated_at", "", t0.AddDate(0, 0, 30), tEnd},
		{"the second of the changes", "update_time", "", "asc", changedAt, changedAt},
	}
	// want is the ids the query must page through, from the shop's own orders.
	want := func(q query) []string {
		key := func(o fetchtest.Order, field string) time.Time {
			if field == "update_time" {
				return o.Updated
			}
			return o.Created
		}
		sortBy := map[string]string{"": q.field, "created_at": "created_time", "updated_at": "update_time"}[q.orderBy]
		var in []fetchtest.Order
		for _, o := range a.srv.Orders() {
			if k := key(o, q.field); !k.Before(q.start) && !k.After(q.end) {
				in = append(in, o)
			}
		}
		slices.SortFunc(in, func(x, y fetchtest.Order) int {
			return cmp.Or(key(x, sortBy).Compare(key(y, sortBy)), strings.Compare(x.ID, y.ID))
		})
		ids := make([]string, len(in))
		for i, o := range in {
			ids[i] = o.ID
		}
		if q.asc != "asc" {
			slices.Reverse(ids)
		}
		return ids
	}
	check := func(t *testing.T, stage string) {
		for _, q := range queries {
			wantIDs := want(q)
			var got []string
			for p := 1; len(got) < len(wantIDs) || p == 1; p++ {
				body := map[string]any{"page": p, "page_size": 37, q.field + "_start": bj(q.start), q.field + "_end": bj(q.end)}
				if q.orderBy != "" {
					body["order_by"] = q.orderBy
				}
				if q.asc != "" {
					body["order_asc"] = q.asc
				}
				pg := a.list(tok, body)
				if pg.Total != len(wantIDs) {
					t.Fatalf("%s, %s page %d: total %d, want %d", stage, q.name, p, pg.Total, len(wantIDs))
				}
				if len(pg.List) == 0 {
					break
				}
				for _, it := range pg.List {
					got = append(got, it.OrderInfo.OrderID)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(wantIDs) {
				t.Errorf("%s, %s: paged %d orders, want %d in the order of the shop's times", stage, q.name, len(got), len(wantIDs))
			}
		}
	}

	check(t, "as generated")
	changed := a.srv.Mutate(80, changedAt)
	check(t, "after Mutate")
	if got := want(queries[len(queries)-1]); len(got) != len(changed) {
		t.Fatalf("the window of the changes' second holds %d orders, %d changed", len(got), len(changed))
	}
	a.srv.AddOrders(15, t0.AddDate(0, 0, 20)) // created in the middle of the windows
	a.srv.AddOrders(5, changedAt)
	check(t, "after AddOrders")
}
