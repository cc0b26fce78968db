package pipeline_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/pipeline"
	"ordersync/store"
	"ordersync/store/storetest"
)

var (
	scaleShops  = flag.String("shops", "10", "BenchmarkShops: how many shops backfill at once, a comma-separated list for several runs (or SCALE_SHOPS)")
	scaleOrders = flag.Int("shop-orders", 800, "BenchmarkShops: orders per shop (or SCALE_SHOP_ORDERS)")
	scalePool   = flag.Int("pool-conns", 0, "BenchmarkShops: pool_max_conns of the one store (0: the store's default; or SCALE_POOL_CONNS)")
	scaleLocks  = flag.Bool("shop-locks", true, "BenchmarkShops: each run holds its shop's advisory lock, as the daemon's jobs do")
	scaleBudget = flag.Int("budget-conns", 0, "BenchmarkShops: renew the API budget memberships through a store of their own with this many connections (0: the one store)")
)

// BenchmarkShops is one process serving many shops, as the daemon does: -shops simulated
// shops on one fetchtest server in this process, each enforcing the real 20 calls/s per
// endpoint and answering in 150 ms, all backfilling -shop-orders orders of the last 90
// days at once. Each shop has its own fetch.Client and pipeline.Syncer, wired as cmd/syncer
// wires them (shared token store, the shop's API budget joined per run), over one
// store.Store with -pool-conns connections; each run holds the shop's advisory lock as the
// daemon's backfill job does (on the store's one lock connection, none of the pool's). Run
// it with -benchtime=1x: one iteration is a whole backfill. The default, 10 shops, takes
// about a minute.
//
// Per shop, the rate is its successful detail calls over its whole run (from the common
// start until its Backfill returns: token, first list page and last writes included)
// against the 20/s ceiling; "paced" is the same between its first detail call and its
// last. It reports the worst and the mean shop and the refusals (2054) of all shops. From
// Linux's /proc (utime+stime, read before, after and every 500 ms), the CPU per order
// written of this process (the pipelines and the simulated server together), of the
// PostgreSQL backends connected to the benchmark's database, and of the server's processes
// connected to no database (checkpointer, WAL writer, …: they serve every database on the
// server); the cores each used, those the machine left idle and those its other processes
// used. Also: this process's peak RSS and heap; the pool's waits and use; where its
// connections were (running a statement, or idle in a transaction while this process
// prepares the next); how often a backend was seen waiting for a lock; how long this
// process's goroutines waited to run; the budget memberships that lapsed.
func BenchmarkShops(b *testing.B) {
	shops := scaleList(b, *scaleShops, "shops", "SCALE_SHOPS")
	orders := scaleInt(b, *scaleOrders, "shop-orders", "SCALE_SHOP_ORDERS")
	pool := scaleInt(b, *scalePool, "pool-conns", "SCALE_POOL_CONNS")
	for _, n := range shops {
		name := fmt.Sprintf("shops=%d/orders=%d", n, orders)
		if pool > 0 {
			name += fmt.Sprintf("/pool=%d", pool)
		}
		if !*scaleLocks {
			name += "/locks=none"
		}
		if *scaleBudget > 0 {
			name += fmt.Sprintf("/budget-conns=%d", *scaleBudget)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				runShops(b, n, orders, pool)
			}
		})
	}
}

func runShops(b *testing.B, n, orders, poolConns int) {
	const (
		ceiling = 20.0
		latency = 150 * time.Millisecond
	)
	ctx := context.Background()
	now := time.Now().In(order.Shanghai).Truncate(time.Second)
	opts := make([]fetchtest.Options, n)
	for i := range opts {
		opts[i] = fetchtest.Options{Orders: orders, From: now.AddDate(0, 0, -90), To: now, Rate: ceiling, Latency: latency}
	}
	srv := fetchtest.NewMultiServer(b, opts)
	warns := &warnCounter{tb: b}
	log := slog.New(warns)

	dbURL := storetest.Migrated(b)
	storeURL := dbURL
	if poolConns > 0 {
		storeURL = withParam(dbURL, "pool_max_conns", strconv.Itoa(poolConns))
	}
	st, err := store.New(ctx, storeURL, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	budget := st
	if *scaleBudget > 0 {
		// What a pool of the budget's own would change: renewals never wait behind the
		// writers for a connection.
		if budget, err = store.New(ctx, withParam(dbURL, "pool_max_conns", strconv.Itoa(*scaleBudget)), log); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(budget.Close)
	}

	type shopRun struct {
		shop    *fetchtest.Shop
		syncer  *pipeline.Syncer
		watch   *detailWatch
		elapsed time.Duration
		res     pipeline.Result
		err     error
	}
	runs := make([]*shopRun, n)
	for i, shop := range srv.Shops() {
		o := shop.Options()
		w := &detailWatch{}
		// As cmd/syncer's env.syncer wires a shop.
		client, err := fetch.New(fetch.Config{
			BaseURL: srv.URL(), AppID: o.AppID, ClientID: o.ClientID, SecretKey: fetch.Secret(o.SecretKey),
			Rate: o.Rate, Logger: log.With("app_id", o.AppID), Observer: w, Tokens: st.Tokens(o.AppID),
		})
		if err != nil {
			b.Fatal(err)
		}
		syncer := pipeline.New(client, st, pipeline.Config{
			AppID: o.AppID, Logger: log.With("app_id", o.AppID),
			Budget: func(ctx context.Context) (func(), error) {
				return budget.JoinBudget(ctx, o.AppID, client.SetShare)
			},
		})
		runs[i] = &shopRun{shop: shop, syncer: syncer, watch: w}
	}

	smp, err := newScaleSampler(ctx, dbURL, func() int32 { return st.Pool().Stat().AcquiredConns() })
	if err != nil {
		b.Fatal(err)
	}
	defer smp.close()
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	poolStat0 := st.Pool().Stat()
	sched0 := schedLatencies()
	smp.sample(ctx)
	cpu0 := smp.totals()
	sampling, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampling.Done():
				return
			case <-t.C:
				smp.sample(sampling)
			}
		}
	}()

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, r := range runs {
		o := r.shop.Options()
		wg.Go(func() {
			r.watch.start = start
			if *scaleLocks {
				// The lock the daemon's backfill job takes, for the whole run.
				unlock, ok, err := st.TryLock(ctx, "ordersync:"+o.AppID+":backfill")
				if err != nil || !ok {
					r.err = fmt.Errorf("lock: %v, %w", ok, err)
					return
				}
				defer unlock()
			}
			r.res, r.err = r.syncer.Backfill(ctx, o.From, o.To)
			r.elapsed = time.Since(start)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	stopSampling()
	<-sampled
	smp.sample(ctx)
	cpu1 := smp.totals()
	if smp.err != nil {
		b.Fatalf("sample CPU: %v", smp.err)
	}
	poolStat1 := st.Pool().Stat()
	sched := schedLatencies()

	var (
		written, refusals    int
		worst, mean, pacedLo = 2.0, 0.0, 2.0
	)
	for _, r := range runs {
		if r.err != nil {
			b.Fatalf("shop %s: %v", r.shop.Options().AppID, r.err)
		}
		stats := r.shop.Stats()
		ok := stats.Codes[fetchtest.EndpointDetail][0]
		if ok < orders {
			b.Fatalf("shop %s: %d details served, want %d", r.shop.Options().AppID, ok, orders)
		}
		written += r.res.Written
		refusals += stats.RateLimited
		ratio := float64(ok) / r.elapsed.Seconds() / ceiling
		worst, mean = min(worst, ratio), mean+ratio/float64(n)
		pacedLo = min(pacedLo, r.watch.pace()/ceiling)
	}
	if written != n*orders {
		b.Fatalf("%d orders written, want %d", written, n*orders)
	}
	perOrder := func(d time.Duration) float64 { return ms(d) / float64(written) }
	cores := func(d time.Duration) float64 { return d.Seconds() / elapsed.Seconds() }
	b.ReportMetric(worst, "worst-ratio")
	b.ReportMetric(mean, "mean-ratio")
	b.ReportMetric(pacedLo, "worst-paced-ratio")
	b.ReportMetric(float64(refusals), "2054s")
	b.ReportMetric(float64(written)/elapsed.Seconds(), "orders/s")
	b.ReportMetric(perOrder(cpu1.self-cpu0.self), "test-cpu-ms/order")
	b.ReportMetric(perOrder(cpu1.db-cpu0.db), "pg-cpu-ms/order")
	b.ReportMetric(perOrder(cpu1.aux-cpu0.aux), "pg-aux-cpu-ms/order")
	b.ReportMetric(cores(cpu1.self-cpu0.self), "test-cores")
	b.ReportMetric(cores(cpu1.db-cpu0.db), "pg-cores")
	b.ReportMetric(cores(cpu1.idle-cpu0.idle), "idle-cores")
	// What the machine's other processes used: the cores, less the above and the idle.
	used := cpu1.self - cpu0.self + cpu1.db - cpu0.db + cpu1.aux - cpu0.aux + cpu1.idle - cpu0.idle
	b.ReportMetric(float64(runtime.NumCPU())-cores(used), "other-cores")
	b.ReportMetric(float64(smp.peakRSS)/(1<<20), "peak-rss-MB")
	b.ReportMetric(float64(ms0.HeapInuse)/(1<<20), "heap-before-MB")
	b.ReportMetric(float64(smp.peakHeap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(smp.peakBackendAnon)/(1<<20), "pg-anon-MB")
	acquires := poolStat1.AcquireCount() - poolStat0.AcquireCount()
	if acquires > 0 {
		b.ReportMetric(ms(poolStat1.AcquireDuration()-poolStat0.AcquireDuration())/float64(acquires), "pool-wait-ms/acquire")
		b.ReportMetric(float64(poolStat1.EmptyAcquireCount()-poolStat0.EmptyAcquireCount())/float64(acquires), "pool-empty-frac")
	}
	b.ReportMetric(float64(smp.maxAcquired), "pool-max-used")
	b.ReportMetric(float64(smp.sumAcquired)/float64(max(1, smp.samples)), "pool-mean-used")
	b.ReportMetric(float64(poolStat1.MaxConns()), "pool-size")
	// Where the pool's connections are: running a statement in the server, or idle in a
	// transaction while this process prepares its next statement.
	b.ReportMetric(float64(smp.activeSeen)/float64(max(1, smp.samples)), "pg-mean-active")
	b.ReportMetric(float64(smp.inTxSeen)/float64(max(1, smp.samples)), "pg-mean-idle-in-tx")
	if smp.activeSeen > 0 {
		b.ReportMetric(float64(smp.lockSeen)/float64(smp.activeSeen), "lock-wait-frac")
	}
	// How long this process's goroutines waited to run once runnable: a writer waits so
	// at each of its statements, holding its connection and transaction.
	b.ReportMetric(ms(sched.sub(sched0).quantile(0.5)), "sched-p50-ms")
	b.ReportMetric(ms(sched.sub(sched0).quantile(0.99)), "sched-p99-ms")
	b.ReportMetric(float64(warns.n.Load()), "warnings")
	// A member that could not renew its row for budgetTTL gives up its share: the shop then
	// calls at a thirty-second of its pace.
	b.ReportMetric(float64(warns.count("the shop's other processes now count this one out; giving up its share of the API rate")), "budget-lapses")
	if warns.n.Load() > 0 {
		b.Logf("warnings:%s", warns.summary())
	}
	b.ReportMetric(elapsed.Seconds(), "wall-s")
}

// latencies is a histogram of runtime/metrics.
type latencies struct {
	counts  []uint64
	buckets []float64 // seconds
}

// schedLatencies reads how long goroutines have waited to run once runnable, so far.
func schedLatencies() latencies {
	m := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(m)
	h := m[0].Value.Float64Histogram()
	return latencies{counts: slices.Clone(h.Counts), buckets: h.Buckets}
}

func (l latencies) sub(o latencies) latencies {
	d := latencies{counts: slices.Clone(l.counts), buckets: l.buckets}
	for i := range d.counts {
		d.counts[i] -= o.counts[i]
	}
	return d
}

// quantile is the upper bound of the bucket holding quantile q.
func (l latencies) quantile(q float64) time.Duration {
	var total uint64
	for _, c := range l.counts {
		total += c
	}
	var seen uint64
	for i, c := range l.counts {
		seen += c
		if float64(seen) >= q*float64(total) {
			upper := l.buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = l.buckets[i]
			}
			return time.Duration(upper * float64(time.Second))
		}
	}
	return 0
}

// detailWatch notes when a shop's first successful detail call started and its last ended.
type detailWatch struct {
	start       time.Time // set before the run's first call
	mu          sync.Mutex
	n           int
	first, last time.Duration
}

func (w *detailWatch) Call(endpoint string, code int, d time.Duration) {
	if endpoint != fetch.EndpointDetail || code != 0 {
		return
	}
	end := time.Since(w.start)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 || end-d < w.first {
		w.first = end - d
	}
	w.last = max(w.last, end)
	w.n++
}

// pace is the shop's successful detail calls per second between its first and its last.
func (w *detailWatch) pace() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return float64(w.n) / (w.last - w.first).Seconds()
}

func (w *detailWatch) Retry(string, fetch.Kind)       {}
func (w *detailWatch) RateWait(string, time.Duration) {}
func (w *detailWatch) TokenRefresh()                  {}

// warnCounter counts the records at Warn and above by message, and logs the first few
// to the test.
type warnCounter struct {
	tb    testing.TB
	n     atomic.Int64
	mu    sync.Mutex
	byMsg map[string]int
	attrs []slog.Attr
}

const warnsLogged = 5

func (h *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *warnCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	if h.byMsg == nil {
		h.byMsg = map[string]int{}
	}
	h.byMsg[r.Message]++
	h.mu.Unlock()
	if h.n.Add(1) > warnsLogged {
		return nil
	}
	var sb strings.Builder
	sb.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		sb.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		sb.WriteString(" " + a.String())
		return true
	})
	h.tb.Log(sb.String())
	return nil
}

func (h *warnCounter) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byMsg[msg]
}

// summary lists the messages logged, most frequent first.
func (h *warnCounter) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	msgs := slices.Collect(maps.Keys(h.byMsg))
	slices.SortFunc(msgs, func(a, b string) int { return h.byMsg[b] - h.byMsg[a] })
	var sb strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&sb, "\n%6d× %s", h.byMsg[m], m)
	}
	return sb.String()
}

func (h *warnCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnProxy{h: h, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h *warnCounter) WithGroup(string) slog.Handler { return h }

// warnProxy is a warnCounter with attributes of its own, counting into the same total.
type warnProxy struct {
	h     *warnCounter
	attrs []slog.Attr
}

func (p *warnProxy) Enabled(ctx context.Context, l slog.Level) bool { return p.h.Enabled(ctx, l) }
func (p *warnProxy) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(p.attrs...)
	return p.h.Handle(ctx, r)
}
func (p *warnProxy) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnProxy{h: p.h, attrs: append(slices.Clip(p.attrs), as...)}
}
func (p *warnProxy) WithGroup(string) slog.Handler { return p }

// scaleSampler reads, from Linux's /proc, the CPU time of this process, of the PostgreSQL
// processes serving the benchmark's database and of those serving none, and how much the
// machine left idle; and notes peaks of memory, pool use and lock waits. It queries
// pg_stat_activity on a connection of its own, which it leaves out of the counts.
type scaleSampler struct {
	conn     *pgx.Conn
	acquired func() int32 // the pool's connections in use now

	mu              sync.Mutex
	self, idle      time.Duration
	first, last     map[int]pgProc // by pid: the first and the last reading of each process
	peakRSS         int64
	peakHeap        uint64
	peakBackendAnon int64
	maxAcquired     int32
	sumAcquired     int // connections in use, summed over samples
	samples         int
	activeSeen      int   // active backends of the database, summed over samples
	lockSeen        int   // of which waiting for a heavyweight lock
	inTxSeen        int   // backends idle in a transaction (waiting for this process), summed
	err             error // the first failed reading
}

func (s *scaleSampler) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && !errors.Is(err, context.Canceled) {
		s.err = err
	}
}

type pgProc struct {
	cpu time.Duration
	aux bool // connected to no database
}

type scaleCPU struct{ self, db, aux, idle time.Duration }

func newScaleSampler(ctx context.Context, dbURL string, acquired func() int32) (*scaleSampler, error) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return nil, fmt.Errorf("BenchmarkShops reads /proc (Linux): %w", err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	return &scaleSampler{conn: conn, acquired: acquired, first: map[int]pgProc{}, last: map[int]pgProc{}}, nil
}

func (s *scaleSampler) close() { _ = s.conn.Close(context.Background()) }

// sample takes one reading. A process seen for the first time after the first sample
// started during the run: all its CPU time counts. One that ended between two samples
// counts up to the last sample that saw it.
func (s *scaleSampler) sample(ctx context.Context) {
	self, _ := procCPU("self")
	idle := machineIdle()
	rss := procStatusKB("self", "VmRSS:") << 10
	var m runtime.MemStats
	runtime.ReadMemStats(&m)

	rows, err := s.conn.Query(ctx, `
		SELECT pid, datname IS NULL, coalesce(state = 'active', false), coalesce(wait_event_type = 'Lock', false),
			coalesce(state LIKE 'idle in transaction%', false)
		FROM pg_stat_activity
		WHERE (datname = current_database() OR datname IS NULL) AND pid <> pg_backend_pid()`)
	if err != nil {
		s.fail(err)
		return
	}
	type proc struct {
		pid                      int
		aux, active, locks, inTx bool
	}
	var procs []proc
	var p proc
	_, err = pgx.ForEachRow(rows, []any{&p.pid, &p.aux, &p.active, &p.locks, &p.inTx}, func() error {
		procs = append(procs, p)
		return nil
	})
	if err != nil {
		s.fail(err)
		return
	}
	first := len(s.first) == 0
	s.mu.Lock()
	defer s.mu.Unlock()
	s.self, s.idle = self, idle
	s.peakRSS = max(s.peakRSS, rss)
	s.peakHeap = max(s.peakHeap, m.HeapInuse)
	acquired := s.acquired()
	s.maxAcquired = max(s.maxAcquired, acquired)
	s.sumAcquired += int(acquired)
	s.samples++
	var anon int64
	for _, p := range procs {
		cpu, err := procCPU(strconv.Itoa(p.pid))
		if err != nil {
			continue // gone meanwhile
		}
		if _, ok := s.first[p.pid]; !ok {
			base := pgProc{aux: p.aux}
			if first {
				base.cpu = cpu
			}
			s.first[p.pid] = base
		}
		s.last[p.pid] = pgProc{cpu: cpu, aux: p.aux}
		if !p.aux {
			anon += procStatusKB(strconv.Itoa(p.pid), "RssAnon:") << 10
			if p.inTx {
				s.inTxSeen++
			}
			if p.active {
				s.activeSeen++
				if p.locks {
					s.lockSeen++
				}
			}
		}
	}
	s.peakBackendAnon = max(s.peakBackendAnon, anon)
}

func (s *scaleSampler) totals() scaleCPU {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := scaleCPU{self: s.self, idle: s.idle}
	for pid, l := range s.last {
		d := l.cpu - s.first[pid].cpu
		if l.aux {
			t.aux += d
		} else {
			t.db += d
		}
	}
	return t
}

// procStatusKB is a "kB" field of /proc/pid/status; 0 if unreadable.
func procStatusKB(pid, field string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// machineIdle is the idle and iowait time of all cores, from /proc/stat.
func machineIdle() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait …
	var d time.Duration
	for _, v := range f[4:6] {
		n, _ := strconv.ParseInt(v, 10, 64)
		d += time.Duration(n) * procTick
	}
	return d
}

// withParam sets a parameter of a postgres:// URL or a keyword/value string.
func withParam(u, k, v string) string {
	if p, err := url.Parse(u); err == nil && (p.Scheme == "postgres" || p.Scheme == "postgresql") {
		q := p.Query()
		q.Set(k, v)
		p.RawQuery = q.Encode()
		return p.String()
	}
	return u + " " + k + "=" + v
}

func scaleInt(b *testing.B, v int, name, env string) int {
	if e := os.Getenv(env); e != "" && !flagSet(name) {
		n, err := strconv.Atoi(e)
		if err != nil {
			b.Fatalf("%s: %v", env, err)
		}
		return n
	}
	return v
}

func scaleList(b *testing.B, v, name, env string) []int {
	if e := os.Getenv(env); e != "" && !flagSet(name) {
		v = e
	}
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-%s %q: want positive counts separated by commas", name, v)
		}
		out = append(out, n)
	}
	return out
}

// flagSet reports whether the flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

var footprintOrders = flag.Int("footprint-orders", 20_000, "BenchmarkFootprint: orders backfilled before the tables are measured")

// BenchmarkFootprint backfills -footprint-orders orders of the simulated shop's realistic
// mix (90 days, 2,000 calls/s) into a fresh database and measures every order table right
// after, with no VACUUM: its rows, and its bytes from pg_total_relation_size (heap,
// indexes, TOAST, free space and visibility maps) split into the main fork, the indexes and
// the rest (TOAST and maps). It logs the table per 1,000 orders and reports the totals.
func BenchmarkFootprint(b *testing.B) {
	n := *footprintOrders
	b.Run(fmt.Sprint("orders=", n), func(b *testing.B) {
		for range b.N {
			now := time.Now().In(order.Shanghai).Truncate(time.Second)
			bd := setupTB(b, fetchtest.Options{Seed: 42, Orders: n, From: now.AddDate(0, 0, -90), To: now, Rate: 2000},
				pipeline.Config{Workers: 16})
			ctx := context.Background()
			res, err := bd.syncer.Backfill(ctx, bd.from, bd.to)
			if err != nil {
				b.Fatal(err)
			}
			if res.Written != n {
				b.Fatalf("%d orders written, want %d", res.Written, n)
			}
			var raw int
			for _, o := range bd.shop.Orders() {
				raw += len(o.Detail) + len(o.ListItem)
			}
			names := []string{"orders"}
			for _, t := range order.Tables {
				if t.Name != "orders" {
					names = append(names, t.Name)
				}
			}
			names = append(names, "order_payloads")
			per := 1000 / float64(n)
			var rows, total, heap, index, rest float64
			var sb strings.Builder
			fmt.Fprintf(&sb, "per 1,000 orders (%d orders backfilled):\n%-32s %10s %10s %10s %10s %10s\n", n, "table", "rows", "total kB", "heap kB", "index kB", "toast+ kB")
			for _, name := range names {
				var r, tot, h, ix int64
				err := bd.st.Pool().QueryRow(ctx, fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s), pg_total_relation_size('%[1]s'),
					pg_relation_size('%[1]s'), pg_indexes_size('%[1]s')`, pgx.Identifier{name}.Sanitize())).Scan(&r, &tot, &h, &ix)
				if err != nil {
					b.Fatal(err)
				}
				rows, total, heap, index, rest = rows+float64(r), total+float64(tot), heap+float64(h), index+float64(ix), rest+float64(tot-h-ix)
				fmt.Fprintf(&sb, "%-32s %10.0f %10.1f %10.1f %10.1f %10.1f\n", name, float64(r)*per,
					float64(tot)*per/1024, float64(h)*per/1024, float64(ix)*per/1024, float64(tot-h-ix)*per/1024)
			}
			fmt.Fprintf(&sb, "%-32s %10.0f %10.1f %10.1f %10.1f %10.1f\n", "all", rows*per, total*per/1024, heap*per/1024, index*per/1024, rest*per/1024)
			var detail, item float64
			if err := bd.st.Pool().QueryRow(ctx, `SELECT avg(pg_column_size(detail)), avg(coalesce(pg_column_size(list_item), 0)) FROM order_payloads`).Scan(&detail, &item); err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(&sb, "payload as received: %.0f bytes/order (detail and list item); stored: detail %.0f, list item %.0f bytes/order (pg_column_size)",
				float64(raw)/float64(n), detail, item)
			b.Log(sb.String())
			b.ReportMetric(rows*per, "rows/1000-orders")
			b.ReportMetric(total*per/1024, "kB/1000-orders")
			b.ReportMetric(float64(raw)/float64(n), "raw-payload-B/order")
		}
	})
}

// BenchmarkBudgetMembers measures what the shops' API budget costs by itself: -shops
// members (one per shop, as each run joins) renewing their rows for 20 seconds with no
// other work. It reports CPU per member and second of this process, of the backends of the
// benchmark's database and of the server's other processes, read from /proc as
// BenchmarkShops does.
func BenchmarkBudgetMembers(b *testing.B) {
	const hold = 20 * time.Second
	for _, n := range scaleList(b, *scaleShops, "shops", "SCALE_SHOPS") {
		b.Run(fmt.Sprint("members=", n), func(b *testing.B) {
			for range b.N {
				ctx := context.Background()
				dbURL := storetest.Migrated(b)
				st, err := store.New(ctx, withParam(dbURL, "pool_max_conns", strconv.Itoa(n+10)), nil)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(st.Close)
				smp, err := newScaleSampler(ctx, dbURL, func() int32 { return st.Pool().Stat().AcquiredConns() })
				if err != nil {
					b.Fatal(err)
				}
				defer smp.close()
				var leaves []func()
				for i := range n {
					leave, err := st.JoinBudget(ctx, fmt.Sprintf("appdemoshop%04d", i+1), func(int) {})
					if err != nil {
						b.Fatal(err)
					}
					leaves = append(leaves, leave)
				}
				smp.sample(ctx)
				cpu0 := smp.totals()
				start := time.Now()
				tick := time.NewTicker(500 * time.Millisecond)
				for time.Since(start) < hold {
					<-tick.C
					smp.sample(ctx)
				}
				tick.Stop()
				cpu1 := smp.totals()
				elapsed := time.Since(start)
				for _, leave := range leaves {
					leave()
				}
				if smp.err != nil {
					b.Fatalf("sample CPU: %v", smp.err)
				}
				per := func(d time.Duration) float64 { return ms(d) / float64(n) / elapsed.Seconds() }
				b.ReportMetric(per(cpu1.self-cpu0.self), "test-cpu-ms/member/s")
				b.ReportMetric(per(cpu1.db-cpu0.db), "pg-cpu-ms/member/s")
				b.ReportMetric(per(cpu1.aux-cpu0.aux), "pg-aux-cpu-ms/member/s")
			}
		})
	}
}
