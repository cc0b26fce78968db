package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/store"
	"ordersync/store/storetest"
)

const (
	budgetSpan          = 12 * time.Second // each scenario's calls
	budgetDetailWorkers = 8                // per client, as the pipeline's pool
	budgetListWorkers   = 4
)

// BenchmarkSharedBudget: two clients of one shop call list and detail as fast as their
// pacers let them, against a shop that refuses (2054) what passes 20 calls/s per endpoint
// and answers in 150 ms. "ratio" is the successful detail calls/s of both as a ratio of
// the 20/s ceiling, "list_ratio" the same of the list, "2054s" the refusals of both
// endpoints.
//
//   - unshared: the baseline, each client at its full pace.
//   - shared: each joined to the shop's budget before calling.
//   - join_midway: the first client calls for the whole span; the second joins after a
//     third of it and leaves after two thirds. "alone_after_ratio" is the first client's
//     detail calls/s, as a ratio, from half a second after the second left to the end.
func BenchmarkSharedBudget(b *testing.B) {
	b.Run("unshared", func(b *testing.B) {
		var r budgetRun
		for b.Loop() {
			r = runBudget(b, nil)
		}
		r.report(b)
	})
	b.Run("shared", func(b *testing.B) {
		var r budgetRun
		for b.Loop() {
			r = runBudget(b, storetest.Store(b))
		}
		r.report(b)
	})
	b.Run("join_midway", func(b *testing.B) {
		var r budgetRun
		for b.Loop() {
			r = runBudgetJoinMidway(b, storetest.Store(b))
		}
		r.report(b)
		b.ReportMetric(r.aloneAfter, "alone_after_ratio")
	})
}

// budgetRun is what one scenario measured.
type budgetRun struct {
	detailRatio, listRatio float64
	refused                int
	aloneAfter             float64
}

func (r budgetRun) report(b *testing.B) {
	b.ReportMetric(r.detailRatio, "ratio")
	b.ReportMetric(r.listRatio, "list_ratio")
	b.ReportMetric(float64(r.refused), "2054s")
}

// budgetShop starts the shop and two clients of it, their tokens fetched.
func budgetShop(b *testing.B) (*fetchtest.Server, [2]*fetch.Client, []string) {
	b.Helper()
	shop := fetchtest.NewServer(b, fetchtest.Options{Orders: 200, Rate: 20, Latency: 150 * time.Millisecond})
	o := shop.Options()
	var ids []string
	for _, o := range shop.Orders() {
		ids = append(ids, o.ID)
	}
	var clients [2]*fetch.Client
	for i := range clients {
		c, err := fetch.New(fetch.Config{BaseURL: shop.URL(), AppID: o.AppID, ClientID: o.ClientID, SecretKey: fetch.Secret(o.SecretKey)})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.OrderDetail(context.Background(), ids[0]); err != nil {
			b.Fatal(err)
		}
		clients[i] = c
	}
	return shop, clients, ids
}

// joinBudget joins c to the budget of the shop, or does nothing without a store.
func joinBudget(b *testing.B, s *store.Store, appID string, c *fetch.Client) (leave func()) {
	b.Helper()
	if s == nil {
		return func() {}
	}
	leave, err := s.JoinBudget(context.Background(), appID, c.SetShare)
	if err != nil {
		b.Fatal(err)
	}
	return leave
}

// runBudget has both clients call for budgetSpan, each joined to the budget in s (none
// when s is nil).
func runBudget(b *testing.B, s *store.Store) budgetRun {
	shop, clients, ids := budgetShop(b)
	for _, c := range clients {
		leave := joinBudget(b, s, shop.Options().AppID, c)
		defer leave()
	}
	shop.ResetStats()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), budgetSpan)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { hammer(ctx, b, c, ids) })
	}
	wg.Wait()
	return measured(shop.Stats(), time.Since(start))
}

// runBudgetJoinMidway has the first client call for budgetSpan and the second for its
// middle third, each joined to the budget in s.
func runBudgetJoinMidway(b *testing.B, s *store.Store) budgetRun {
	shop, clients, ids := budgetShop(b)
	appID := shop.Options().AppID
	leaveFirst := joinBudget(b, s, appID, clients[0])
	defer leaveFirst()
	shop.ResetStats()
	start := time.Now()
	// The scenario's timeline, in thirds of the span.
	at := func(thirds int) time.Time { return start.Add(time.Duration(thirds) * budgetSpan / 3) }
	ctx, cancel := context.WithTimeout(context.Background(), budgetSpan)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { hammer(ctx, b, clients[0], ids) })

	time.Sleep(time.Until(at(1)))
	leave := joinBudget(b, s, appID, clients[1])
	joined := time.Now()
	second, stop := context.WithDeadline(ctx, at(2))
	hammer(second, b, clients[1], ids)
	stop()
	leave()
	left := time.Now()

	// The first client notices within a beat of the budget; measure it alone from then.
	time.Sleep(500 * time.Millisecond)
	before := shop.Stats().Codes[fetchtest.EndpointDetail][0]
	from := time.Now()
	wg.Wait()
	end := time.Now()
	st := shop.Stats()
	r := measured(st, end.Sub(start))
	r.aloneAfter = float64(st.Codes[fetchtest.EndpointDetail][0]-before) / end.Sub(from).Seconds() / 20
	b.Logf("the second client joined at %v and left at %v", joined.Sub(start).Round(10*time.Millisecond),
		left.Sub(start).Round(10*time.Millisecond))
	return r
}

// hammer calls the list and detail with c as fast as its pacers let it, until ctx ends.
func hammer(ctx context.Context, b *testing.B, c *fetch.Client, ids []string) {
	var wg sync.WaitGroup
	work := func(first int, call func(id string) error) {
		for i := first; ctx.Err() == nil; i++ {
			// A call whose turn would come after the deadline fails at once.
			if err := call(ids[i%len(ids)]); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				b.Error(err)
				return
			}
		}
	}
	for i := range budgetDetailWorkers {
		wg.Go(func() {
			work(i*len(ids)/budgetDetailWorkers, func(id string) error {
				_, _, err := c.OrderDetail(ctx, id)
				return err
			})
		})
	}
	for i := range budgetListWorkers {
		wg.Go(func() {
			work(i*len(ids)/budgetListWorkers, func(id string) error {
				_, err := c.ListItem(ctx, id)
				return err
			})
		})
	}
	wg.Wait()
}

// measured turns the shop's counts over d into a budgetRun.
func measured(st fetchtest.Stats, d time.Duration) budgetRun {
	perSec := func(ep string) float64 { return float64(st.Codes[ep][0]) / d.Seconds() / 20 }
	return budgetRun{detailRatio: perSec(fetchtest.EndpointDetail), listRatio: perSec(fetchtest.EndpointList),
		refused: st.RateLimited}
}
