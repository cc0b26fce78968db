package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
	"ordersync/schedule"
	"ordersync/store"
	"ordersync/store/storetest"
)

var (
	freshSpan      = flag.Duration("freshness-span", 2*time.Minute, "BenchmarkFreshness: how long the shop keeps changing, per schedule")
	freshSchedules = flag.String("freshness-schedules", "@every 1s,@every 5s", "BenchmarkFreshness: the SYNC_SCHEDULEs to measure, comma-separated")
	freshEvery     = flag.Duration("freshness-change-every", 2*time.Second, "BenchmarkFreshness: one change at the shop this often (each at a random offset within its second)")
	freshPoll      = flag.Duration("freshness-poll", 50*time.Millisecond, "BenchmarkFreshness: how often the database is polled for the changed orders")
	freshHistory   = flag.Bool("freshness-history", true, "BenchmarkFreshness: change orders at the same pace over the overlap before the daemon starts, as a daemon running for long has them to list again")
)

// freshOverlap is SYNC_OVERLAP (its default), set explicitly: the history is made for it.
const freshOverlap = 10 * time.Minute

// BenchmarkFreshness runs `syncer daemon` in-process against the simulated shop over real
// HTTP (20 calls/s per endpoint, as the real API, and 50 ms per call) after a first sync,
// and changes one order every 2 s for 2 minutes, at a random point of the second so that
// the changes meet every phase of the ticks. For each schedule it reports the delay from
// each change at the shop to its new update_time in the database (p50, p95, max; the
// database is polled every poll-ms, and nothing is subtracted for it), and the cost of
// keeping fresh over the daemon's life: rows added to sync_runs and sync_windows per
// change, list calls per idle tick (ticks are the sync runs, folded ones included),
// detail calls per change and the river_job rows retained. The shop's changes of the
// overlap before the daemon starts are made up (-freshness-history): what each tick lists
// again is then what it lists in a daemon that has run for long.
//
//	go test ./cmd/syncer -run '^$' -bench Freshness -benchtime 1x -timeout 30m
//
// -freshness-span 20s makes a short run.
func BenchmarkFreshness(b *testing.B) {
	for spec := range strings.SplitSeq(*freshSchedules, ",") {
		spec = strings.TrimSpace(spec)
		b.Run("schedule="+spec, func(b *testing.B) {
			for range b.N {
				measureFreshness(b, spec).report(b)
			}
		})
	}
}

// freshness is what one run measured.
type freshness struct {
	interval         time.Duration   // between ticks
	delays           []time.Duration // of the changes that landed
	changes          int
	ticks, idleTicks int
	idleTickCalls    int // API calls of the idle ticks, as sync_runs counts them
	listCalls        int // as the shop counts them, every tick's
	detailCalls      int
	runRows          int // rows sync_runs grew by
	runInserts       int // rows inserted into sync_runs, idle ones folded and deleted included
	windowRows       int
	riverJobs        int
	rateLimited      int
	overlapOrders    int // orders each tick lists again at the end: changed within the overlap
}

func measureFreshness(b *testing.B, spec string) freshness {
	ctx := context.Background()
	sched, err := schedule.Schedule(spec, time.Local)
	if err != nil {
		b.Fatal(err)
	}
	next := sched.Next(time.Now())
	interval := sched.Next(next).Sub(next)
	now := time.Now()
	shop := fetchtest.New(fetchtest.Options{Seed: 31, Orders: 1000, From: now.AddDate(0, 0, -30), To: now, Rate: -1})
	srv := httptest.NewServer(shop.Handler())
	b.Cleanup(srv.Close)
	o := shop.Options()
	env := map[string]string{
		"DATABASE_URL": storetest.Migrated(b), "XE_BASE_URL": srv.URL,
		"XE_APP_ID": o.AppID, "XE_CLIENT_ID": o.ClientID, "XE_SECRET_KEY": o.SecretKey,
		"SYNC_OVERLAP": freshOverlap.String(), "SYNC_SCHEDULE": spec, "HTTP_ADDR": "off",
		"LOG_FORMAT": "text", "LOG_LEVEL": "warn",
		// The first sync stores the shop's 31 days at full speed: steady state is what is measured.
		"XE_RATE": "500", "SYNC_WORKERS": "16",
	}
	if *freshHistory {
		for t := now.Add(-freshOverlap); t.Before(now); t = t.Add(*freshEvery) {
			shop.Mutate(1, t)
		}
	}
	if err := run(ctx, []string{"sync"}, getenv(env), io.Discard, os.Stderr); err != nil {
		b.Fatalf("first sync: %v", err)
	}
	delete(env, "XE_RATE")
	delete(env, "SYNC_WORKERS")
	shop.SetRate(20)
	shop.SetLatency(50 * time.Millisecond)
	shop.ResetStats()

	st, err := store.New(ctx, env["DATABASE_URL"], nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	count := func(query string, args ...any) int {
		var n int
		if err := st.Pool().QueryRow(ctx, query, args...).Scan(&n); err != nil {
			b.Fatalf("%s: %v", query, err)
		}
		return n
	}
	const (
		countRuns    = `SELECT count(*) FROM sync_runs`
		countWindows = `SELECT count(*) FROM sync_windows`
		lastRun      = `SELECT coalesce(max(run_id), 0) FROM sync_runs`
	)
	runs0, windows0, lastRun0 := count(countRuns), count(countWindows), count(lastRun)

	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(dctx, []string{"daemon"}, getenv(env), io.Discard, os.Stderr) }()
	stopDaemon := sync.OnceValue(func() error { stop(); return <-done })
	defer stopDaemon() // also when the benchmark fails midway
	// The changes start once the daemon ticks: River's start-up is not freshness.
	for deadline := time.Now().Add(time.Minute); count(`SELECT count(*) FROM river_job WHERE state = 'completed'`) == 0; {
		if time.Now().After(deadline) {
			b.Fatalf("the daemon ran no sync within a minute: %v", stopDaemon())
		}
		time.Sleep(*freshPoll) // polling the daemon's job table: it signals nothing else
	}

	f := freshness{interval: interval}
	// The last changes may have just missed a tick: they land at the next one, or later.
	f.delays, f.changes = changeAndWatch(b, st, shop, 3*interval+10*time.Second)
	if err := stopDaemon(); err != nil && !errors.Is(err, context.Canceled) {
		b.Errorf("daemon: %v", err)
	}

	// An idle run (ok, nothing fetched) is folded into the row of the idle run before it,
	// if any: idle_runs counts it. Its API calls are list calls (and a token call, would
	// one be due).
	err = st.Pool().QueryRow(ctx, `
		SELECT coalesce(sum(1 + idle_runs), 0),
			coalesce(sum(1 + idle_runs) FILTER (WHERE orders_fetched = 0 AND status = 'ok'), 0),
			coalesce(sum(api_calls) FILTER (WHERE orders_fetched = 0 AND status = 'ok'), 0)
		FROM sync_runs WHERE kind = 'sync' AND run_id > $1`, lastRun0).Scan(&f.ticks, &f.idleTicks, &f.idleTickCalls)
	if err != nil {
		b.Fatal(err)
	}
	if jobs := count(`SELECT count(*) FROM river_job WHERE kind = 'ordersync_sync' AND state = 'completed'`); jobs != f.ticks {
		b.Logf("River ran %d sync jobs, sync_runs counts %d ticks", jobs, f.ticks)
	}
	f.runRows, f.windowRows = count(countRuns)-runs0, count(countWindows)-windows0
	f.runInserts = count(lastRun) - lastRun0
	f.riverJobs = count(`SELECT count(*) FROM river_job`)
	stats := shop.Stats()
	f.listCalls, f.detailCalls, f.rateLimited = stats.Calls[fetchtest.EndpointList], stats.Calls[fetchtest.EndpointDetail], stats.RateLimited
	since := time.Now().Add(-freshOverlap)
	for _, o := range shop.Orders() {
		if o.Updated.After(since) {
			f.overlapOrders++
		}
	}
	return f
}

// change is one change at the shop, and when its order was seen changed in the database.
type change struct {
	id     string
	at     time.Time // when the shop changed it
	want   time.Time // its update_time at the shop
	landed time.Duration
}

// changeAndWatch changes one order every -freshness-change-every for -freshness-span,
// polls the database for the changed orders, and returns how long each took to land
// and how many changes were made. It waits for the last ones at most wait.
func changeAndWatch(b *testing.B, st *store.Store, shop *fetchtest.Shop, wait time.Duration) ([]time.Duration, int) {
	ctx := context.Background()
	n := int(*freshSpan / *freshEvery)
	// A fixed seed: the same moments run after run. The offset within the second is
	// random, so that a change may come just after a tick or just before the next.
	rng := rand.New(rand.NewPCG(7, 11))
	start := time.Now()
	plan := func(i int) time.Time {
		return start.Add(time.Duration(i)**freshEvery + time.Duration(rng.Int64N(int64(min(*freshEvery, time.Second)))))
	}
	var all, pending []*change
	next, made := plan(0), 0
	var deadline time.Time
	poll := time.NewTicker(*freshPoll)
	defer poll.Stop()
	for {
		<-poll.C
		if made < n && !time.Now().Before(next) {
			at := time.Now()
			for _, id := range shop.Mutate(1, at) {
				o, _ := shop.Order(id)
				c := &change{id: id, at: at, want: o.Updated}
				all, pending = append(all, c), append(pending, c)
			}
			if made++; made < n {
				next = plan(made)
			} else {
				deadline = time.Now().Add(wait)
			}
		}
		if len(pending) > 0 {
			ids := make([]string, len(pending))
			for i, c := range pending {
				ids[i] = c.id
			}
			rows, err := st.Pool().Query(ctx, `SELECT order_id, update_time FROM orders WHERE order_id = ANY($1)`, ids)
			if err != nil {
				b.Fatal(err)
			}
			stored := map[string]time.Time{}
			for rows.Next() {
				var id string
				var t time.Time
				if err := rows.Scan(&id, &t); err != nil {
					b.Fatal(err)
				}
				stored[id] = t
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			seen := time.Now()
			pending = slices.DeleteFunc(pending, func(c *change) bool {
				if t, ok := stored[c.id]; ok && !t.Before(c.want) {
					c.landed = seen.Sub(c.at)
					return true
				}
				return false
			})
		}
		if made == n && (len(pending) == 0 || time.Now().After(deadline)) {
			break
		}
	}
	var delays []time.Duration
	for _, c := range all {
		if c.landed > 0 {
			delays = append(delays, c.landed)
		}
	}
	if len(pending) > 0 {
		b.Errorf("%d of %d changes not in the database %s after the last change", len(pending), len(all), wait)
	}
	return delays, len(all)
}

func (f freshness) report(b *testing.B) {
	b.ReportMetric(0, "ns/op") // the wall time of a run is its span: meaningless
	slices.Sort(f.delays)
	if len(f.delays) > 0 {
		b.ReportMetric(quantile(f.delays, 0.50).Seconds(), "p50-s")
		b.ReportMetric(quantile(f.delays, 0.95).Seconds(), "p95-s")
		b.ReportMetric(f.delays[len(f.delays)-1].Seconds(), "max-s")
	}
	b.ReportMetric(f.interval.Seconds(), "interval-s")
	b.ReportMetric(float64(freshPoll.Milliseconds()), "poll-ms")
	b.ReportMetric(float64(f.changes), "changes")
	b.ReportMetric(float64(f.ticks), "ticks")
	b.ReportMetric(float64(f.idleTicks), "idle-ticks")
	if f.idleTicks > 0 {
		b.ReportMetric(float64(f.idleTickCalls)/float64(f.idleTicks), "list-calls/idle-tick")
	}
	if f.ticks > 0 {
		b.ReportMetric(float64(f.listCalls)/float64(f.ticks), "list-calls/tick")
	}
	if f.changes > 0 {
		b.ReportMetric(float64(f.detailCalls)/float64(f.changes), "detail-calls/change")
		b.ReportMetric(float64(f.runRows+f.windowRows)/float64(f.changes), "rows/change")
	}
	b.ReportMetric(float64(f.runRows), "sync_runs-rows")
	b.ReportMetric(float64(f.runInserts), "sync_runs-inserts")
	b.ReportMetric(float64(f.windowRows), "sync_windows-rows")
	b.ReportMetric(float64(f.riverJobs), "river_job-rows")
	b.ReportMetric(float64(f.rateLimited), "2054s")
	b.ReportMetric(float64(f.overlapOrders), "overlap-orders")
}

// quantile is the nearest-rank q-quantile of sorted ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	return ds[max(int(math.Ceil(q*float64(len(ds))))-1, 0)]
}
