package pipeline_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/pipeline"
	"ordersync/store/storetest"
)

var (
	benchHeadroom = flag.Float64("headroom", 0, "the client's Headroom in BenchmarkBackfillAtRateLimit (0: its default, negative: none)")
	benchOrders   = flag.Int("orders", 20_000, "orders BenchmarkBackfillThroughput backfills (the issue's case is 300000)")
)

// BenchmarkBackfillAtRateLimit backfills 2,000 orders over 90 days from a shop that
// enforces the real 20 calls/s per endpoint, answering each call in 150 ms, with the
// client configured as in production (-headroom overrides its Headroom). It reports
// detail calls per second over the whole run against that ceiling; the shop's 2054
// refusals; where the wall time went besides the detail calls (the wait for the token
// and the first list page before the first detail call, and the writes after the last
// one); how close the detail calls came to a refusal: the shortest time in which 21 of them
// reached the shop (under a second, a calendar second may hold one call too many); and the
// API calls per order of a rerun over the same range with nothing changed (the backfill's
// windows forgotten, so everything is listed again).
func BenchmarkBackfillAtRateLimit(b *testing.B) {
	const ceiling = 20.0
	name := "headroom=default"
	if *benchHeadroom != 0 {
		name = fmt.Sprint("headroom=", *benchHeadroom)
	}
	b.Run(name, func(b *testing.B) {
		for range b.N {
			now := time.Now().In(order.Shanghai).Truncate(time.Second)
			var (
				watch   callWatch
				arrived arrivals
			)
			bd := setupBench(b, fetchtest.Options{Seed: 42, Orders: 2000, From: now.AddDate(0, 0, -90), To: now,
				Rate: ceiling, Latency: 150 * time.Millisecond}, *benchHeadroom, &watch, arrived.wrap)
			ctx := context.Background()
			watch.begin(0)
			res, err := bd.syncer.Backfill(ctx, bd.from, bd.to)
			if err != nil {
				b.Fatal(err)
			}
			elapsed := watch.since()
			st := bd.shop.Stats()
			detail := st.Calls[fetch.EndpointDetail]
			b.ReportMetric(float64(detail)/elapsed.Seconds(), "detail-calls/s")
			b.ReportMetric(float64(detail)/elapsed.Seconds()/ceiling, "ratio-to-ceiling")
			b.ReportMetric(float64(st.RateLimited), "2054s")
			b.ReportMetric(float64(res.Written), "orders")
			b.ReportMetric(ms(watch.firstEnd[fetch.EndpointToken]), "token-ms")
			b.ReportMetric(ms(watch.firstEnd[fetch.EndpointList]), "first-page-ms")
			b.ReportMetric(ms(watch.firstDetail), "first-detail-ms")
			b.ReportMetric(ms(elapsed-watch.lastDetail), "after-last-detail-ms")
			// The pace between the first detail call and the last: what the pacer gives once
			// started, whatever the run spends around it.
			b.ReportMetric(float64(detail)/(watch.lastDetail-watch.firstDetail).Seconds(), "paced-calls/s")
			b.ReportMetric(ms(arrived.minSpan(int(ceiling)+1)), "span-21-calls-ms")

			if _, err := bd.st.Pool().Exec(ctx, "DELETE FROM sync_windows"); err != nil {
				b.Fatal(err)
			}
			bd.shop.ResetStats()
			if _, err := bd.syncer.Backfill(ctx, bd.from, bd.to); err != nil {
				b.Fatal(err)
			}
			calls := 0
			for _, n := range bd.shop.Stats().Calls {
				calls += n
			}
			b.ReportMetric(float64(calls)/float64(res.Written), "rerun-calls/order")
		}
	})
}

// BenchmarkBackfillThroughput backfills -orders orders over 90 days from a shop that
// answers 2,000 calls/s per endpoint in 2 ms each, so that the pipeline and the database,
// not the API, set the pace. It reports orders written per second over the whole run, and
// in its first and last tenths (by detail calls: the writer trails them by at most a
// batch, and the last tenth runs to the end of the run, its last writes included): a rate
// that falls as the tables grow shows in last/first. On Linux it also reports how many
// cores the test process (pipeline and shop), the database's backends and no one (idle)
// used on average: what is left of the machine is other processes'.
func BenchmarkBackfillThroughput(b *testing.B) {
	n := *benchOrders
	b.Run(fmt.Sprint("orders=", n), func(b *testing.B) {
		for range b.N {
			now := time.Now().In(order.Shanghai).Truncate(time.Second)
			var watch callWatch
			bd := setupBench(b, fetchtest.Options{Seed: 42, Orders: n, From: now.AddDate(0, 0, -90), To: now,
				Rate: 2000, Latency: 2 * time.Millisecond}, 0, &watch, nil)
			ctx := context.Background()
			cpu0, cpuOK := sampleCPU(ctx, bd.st.Pool())
			watch.begin(n / 10)
			res, err := bd.syncer.Backfill(ctx, bd.from, bd.to)
			if err != nil {
				b.Fatal(err)
			}
			elapsed := watch.since()
			if cpu1, ok := sampleCPU(ctx, bd.st.Pool()); ok && cpuOK {
				cores := func(d time.Duration) float64 { return d.Seconds() / elapsed.Seconds() }
				b.ReportMetric(cores(cpu1.self-cpu0.self), "test-cores")
				b.ReportMetric(cores(cpu1.pg-cpu0.pg), "pg-cores")
				b.ReportMetric(cores(cpu1.idle-cpu0.idle), "idle-cores")
			}
			if len(watch.tenths) < 10 {
				b.Fatalf("%d detail calls succeeded, want %d", watch.details, n)
			}
			tenth := float64(watch.tenth)
			first := tenth / watch.tenths[0].Seconds()
			last := tenth / (elapsed - watch.tenths[8]).Seconds()
			rates := []string{fmt.Sprintf("%.0f", first)}
			for i := 1; i < 9; i++ {
				rates = append(rates, fmt.Sprintf("%.0f", tenth/(watch.tenths[i]-watch.tenths[i-1]).Seconds()))
			}
			b.Logf("orders/s by tenth: %s %.0f", strings.Join(rates, " "), last)
			b.ReportMetric(float64(res.Written)/elapsed.Seconds(), "orders/s")
			b.ReportMetric(first, "first-tenth-orders/s")
			b.ReportMetric(last, "last-tenth-orders/s")
			b.ReportMetric(last/first, "last/first")
			b.ReportMetric(float64(res.Written), "orders")
		}
	})
}

// setupBench is a shop, a store and a syncer with the client configured as in production:
// only its rate and headroom are set, and obs watches its calls. The shop's API is behind
// wrap, unless nil.
func setupBench(b *testing.B, opts fetchtest.Options, headroom float64, obs fetch.Observer, wrap func(http.Handler) http.Handler) *bundle {
	b.Helper()
	shop := fetchtest.NewServer(b, opts)
	log := slog.New(slog.NewTextHandler(testWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o := shop.Options()
	base := shop.URL()
	if wrap != nil {
		srv := httptest.NewServer(wrap(shop.Handler()))
		b.Cleanup(srv.Close)
		base = srv.URL
	}
	client, err := fetch.New(fetch.Config{
		BaseURL: base, AppID: o.AppID, ClientID: o.ClientID, SecretKey: fetch.Secret(o.SecretKey),
		Rate: o.Rate, Headroom: headroom, Logger: log, Observer: obs,
	})
	if err != nil {
		b.Fatal(err)
	}
	st := storetest.Store(b)
	syncer := pipeline.New(client, st, pipeline.Config{AppID: o.AppID, Logger: log})
	return &bundle{shop: shop, st: st, syncer: syncer, from: o.From, to: o.To}
}

// callWatch is a fetch.Observer that notes, since begin, when the first successful call of
// each endpoint ended, when the first successful detail call started and the last ended,
// and when each tenth of the detail calls had succeeded.
type callWatch struct {
	mu                      sync.Mutex
	start                   time.Time
	firstEnd                map[string]time.Duration
	firstDetail, lastDetail time.Duration
	tenth                   int // detail calls per tenth; 0: not counted
	details                 int
	tenths                  []time.Duration
}

func (w *callWatch) begin(tenth int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.start, w.firstEnd, w.tenth = time.Now(), map[string]time.Duration{}, tenth
}

func (w *callWatch) since() time.Duration { return time.Since(w.start) }

func (w *callWatch) Call(endpoint string, code int, d time.Duration) {
	if code != 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.firstEnd == nil {
		return // a call before begin
	}
	end := time.Since(w.start)
	if _, ok := w.firstEnd[endpoint]; !ok {
		w.firstEnd[endpoint] = end
	}
	if endpoint != fetch.EndpointDetail {
		return
	}
	if w.details == 0 || end-d < w.firstDetail {
		w.firstDetail = end - d
	}
	w.lastDetail = max(w.lastDetail, end)
	w.details++
	if w.tenth > 0 && w.details%w.tenth == 0 {
		w.tenths = append(w.tenths, end)
	}
}

func (w *callWatch) Retry(string, fetch.Kind)       {}
func (w *callWatch) RateWait(string, time.Duration) {}
func (w *callWatch) TokenRefresh()                  {}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// arrivals notes when detail calls reach the shop.
type arrivals struct {
	mu sync.Mutex
	at []time.Time
}

func (a *arrivals) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isDetail(r) {
			a.mu.Lock()
			a.at = append(a.at, time.Now())
			a.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// minSpan is the shortest time in which n detail calls arrived; 0 if fewer did.
func (a *arrivals) minSpan(n int) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	at := slices.SortedFunc(slices.Values(a.at), time.Time.Compare)
	var span time.Duration
	for i := n - 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-n+1]); i == n-1 || d < span {
			span = d
		}
	}
	return span
}

// cpuSample is CPU time used so far, read from Linux's /proc.
type cpuSample struct {
	self time.Duration // by this process
	pg   time.Duration // by the backends of pool's database (those connected now)
	idle time.Duration // by no one, on all cores
}

// procTick is what /proc counts CPU time in: USER_HZ, 100 on Linux.
const procTick = 10 * time.Millisecond

// sampleCPU reads a cpuSample; ok is false where there is no /proc. A backend that
// disconnects between two samples takes its CPU time with it: the pipeline's pool keeps
// its connections.
func sampleCPU(ctx context.Context, pool *pgxpool.Pool) (s cpuSample, ok bool) {
	var err error
	if s.self, err = procCPU("self"); err != nil {
		return s, false
	}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, false
	}
	f := strings.Fields(strings.SplitN(string(stat), "\n", 2)[0]) // cpu user nice system idle iowait …
	for _, v := range f[4:6] {
		n, _ := strconv.ParseInt(v, 10, 64)
		s.idle += time.Duration(n) * procTick
	}
	rows, err := pool.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		return s, false
	}
	var pid int
	_, err = pgx.ForEachRow(rows, []any{&pid}, func() error {
		d, _ := procCPU(strconv.Itoa(pid)) // 0 for a backend gone meanwhile
		s.pg += d
		return nil
	})
	return s, err == nil
}

// procCPU is the user and system CPU time of process pid ("self" for this one).
func procCPU(pid string) (time.Duration, error) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// After "pid (comm) ", the fields from the third: utime and stime are the 14th and 15th.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f))
	}
	var d time.Duration
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		d += time.Duration(n) * procTick
	}
	return d, nil
}
