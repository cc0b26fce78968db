// Package pipeline is one run of the sync: plan windows, list them, skip the orders that
// did not change, fetch the details of the rest within the rate limit, write them in
// batches, and move the checkpoint only when every order of a window is stored or queued.
// The incremental sync, the backfill and the refresh of given orders share this path.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"ordersync/fetch"
	"ordersync/order"
	"ordersync/store"
)

// API is what a run needs of the Xiaoe API; *fetch.Client is the real one.
type API interface {
	ListWindow(ctx context.Context, w fetch.Window, maxTotal int, page func([]fetch.ListItem) error) error
	ListItem(ctx context.Context, orderID string) (*fetch.ListItem, error)
	OrderDetail(ctx context.Context, orderID string) (data json.RawMessage, reply []byte, err error)
	// Ping makes one cheap call, to tell whether the API answers at all.
	Ping(ctx context.Context) error
}

// Config tunes runs. The zero value of each field means its default.
type Config struct {
	// AppID names the shop in the bookkeeping tables.
	AppID string
	// Worker names this process in sync_runs.worker. Default host:pid.
	Worker string
	// Overlap is how far before the checkpoint an incremental sync starts again, so that
	// changes the API indexed late are not missed. Default 10 minutes.
	Overlap time.Duration
	// SweepEvery is how often a sync starts the whole Overlap before the checkpoint; the
	// others start RecentOverlap before it. Relisting the overlap costs a list call per
	// 100 orders changed in it, on every tick: at a tick a second the overlap is swept
	// once a minute, and late-indexed changes are still caught within that. Defaults 1
	// minute and 5 seconds (never more than Overlap).
	SweepEvery, RecentOverlap time.Duration
	// Lookback is where the first incremental sync starts when there is no checkpoint.
	// Default 31 days.
	Lookback time.Duration
	// MaxWindow is the longest window sent to the API, which silently cuts windows over 31
	// days. Default 31 days less a second.
	MaxWindow time.Duration
	// MaxWindowOrders is the largest total a window may have before it is split in halves
	// rather than paged. Default 5000.
	MaxWindowOrders int
	// Workers is how many detail calls run at once; the client's rate limiter sets the pace.
	// Default 8.
	Workers int
	// BatchSize is how many orders are written per transaction. Default 200.
	BatchSize int
	// FlushEvery is the longest a fetched order waits to be written. Default 2 seconds.
	FlushEvery time.Duration
	// StopTimeout is how long a stopped run (a signal, an error) may take to write what it
	// has fetched. Default 10 seconds.
	StopTimeout time.Duration
	// ListAttempts is how often a window whose listing did not add up is listed again
	// before the run fails. Default 3.
	ListAttempts int
	// MaxRetries bounds the orders of the failure queue that one run tries again, those
	// due longest first. Default 100.
	MaxRetries int
	// RetryApart leaves the failure queue out of Sync, for a scheduler that runs Retry as
	// work of its own.
	RetryApart bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// APICalls, when set, reports the API calls made so far (HTTP attempts), so that each
	// run records how many it made.
	APICalls func() int64
	// Budget, when set, is called at the start of each run to join the shop's API budget,
	// shared with the other processes working for the shop; leave is called when the run
	// ends.
	Budget func(ctx context.Context) (leave func(), err error)
	// Progress, when set, is told how the run is going after each batch it writes.
	Progress func(Progress)
	Logger   *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Worker == "" {
		c.Worker = DefaultWorker()
	}
	if c.Overlap == 0 {
		c.Overlap = 10 * time.Minute
	}
	if c.Lookback == 0 {
		c.Lookback = 31 * 24 * time.Hour
	}
	if c.SweepEvery == 0 {
		c.SweepEvery = time.Minute
	}
	if c.RecentOverlap == 0 {
		c.RecentOverlap = 5 * time.Second
	}
	c.RecentOverlap = min(c.RecentOverlap, c.Overlap)
	if c.MaxWindow == 0 {
		c.MaxWindow = 31*24*time.Hour - time.Second
	}
	if c.MaxWindowOrders == 0 {
		c.MaxWindowOrders = 5000
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.BatchSize == 0 {
		c.BatchSize = 200
	}
	if c.FlushEvery == 0 {
		c.FlushEvery = 2 * time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.ListAttempts == 0 {
		c.ListAttempts = 3
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 100
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// DefaultWorker names this process: host:pid.
func DefaultWorker() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}

// Syncer runs syncs of one shop into one store.
type Syncer struct {
	api   API
	store *store.Store
	cfg   Config
	log   *slog.Logger

	mu        sync.Mutex
	lastSweep time.Time // when a sync last started the whole Overlap back
}

// New returns a Syncer.
func New(api API, st *store.Store, cfg Config) *Syncer {
	cfg = cfg.withDefaults()
	return &Syncer{api: api, store: st, cfg: cfg, log: cfg.Logger}
}

// Run kinds, as recorded in sync_runs.kind.
const (
	KindSync     = "sync"
	KindBackfill = "backfill"
	KindOrders   = "order"
	KindRetry    = "retry"
)

// Result counts what a run did.
type Result struct {
	RunID     int64
	Kind      string
	Windows   int // windows finished and recorded
	Skipped   int // windows a backfill found finished already
	Listed    int // list items seen
	Fetched   int // details fetched
	Written   int // orders whose rows were (re)written
	Touched   int // orders whose update_time alone moved
	Unchanged int // orders listed or fetched whose content was already stored
	Failed    int // orders queued in the failure queue by this run
	Retried   int // orders of the failure queue fetched again and stored
	APICalls  int64
	Duration  time.Duration
}

// ErrPartial is returned (wrapped) by a run that finished but queued some orders as failures.
var ErrPartial = errors.New("some orders could not be stored and wait in the failure queue")

// Progress is the state of a run as it goes.
type Progress struct {
	Kind         string
	WindowsDone  int
	WindowsTotal int // windows planned so far; halving a window adds one
	Listed       int // list items seen
	Fetched      int // details fetched
	Written      int // orders stored: written, touched or queued
	Pending      int // orders sent for their detail and not yet stored or queued
	Elapsed      time.Duration
}

// run is the state of one run.
type run struct {
	Result
	counts
	start    time.Time
	calls    int64
	planned  atomic.Int64 // windows planned
	leave    func()
	progress func(Progress)
}

func (s *Syncer) begin(ctx context.Context, kind string, from, to time.Time) (*run, error) {
	var leave func()
	if s.cfg.Budget != nil {
		var err error
		if leave, err = s.cfg.Budget(ctx); err != nil {
			return nil, err
		}
	}
	id, err := s.store.StartRun(ctx, s.cfg.AppID, kind, s.cfg.Worker, from, to)
	if err != nil {
		if leave != nil {
			leave()
		}
		return nil, err
	}
	r := &run{Result: Result{RunID: id, Kind: kind}, start: s.cfg.Now(), leave: leave}
	if s.cfg.APICalls != nil {
		r.calls = s.cfg.APICalls()
	}
	return r, nil
}

func (r *run) snapshot(now time.Time) Progress {
	return Progress{
		Kind: r.Kind, WindowsDone: int(r.windows.Load()), WindowsTotal: int(r.planned.Load()),
		Listed: int(r.listed.Load()), Fetched: int(r.fetched.Load()),
		Written: int(r.written.Load() + r.touched.Load() + r.failed.Load()),
		Pending: int(r.dispatched.Load() - r.handled.Load()),
		Elapsed: now.Sub(r.start),
	}
}

// finish records the run's outcome and logs its one summary line. A run stopped by a
// signal (ctx cancelled) is interrupted; its error is the context's.
func (s *Syncer) finish(ctx context.Context, r *run, err error) (Result, error) {
	if r.leave != nil {
		r.leave()
	}
	r.Duration = s.cfg.Now().Sub(r.start)
	if s.cfg.APICalls != nil {
		r.APICalls = s.cfg.APICalls() - r.calls
	}
	r.Windows, r.Listed, r.Fetched = int(r.windows.Load()), int(r.listed.Load()), int(r.fetched.Load())
	r.Written, r.Touched, r.Unchanged = int(r.written.Load()), int(r.touched.Load()), int(r.unchanged.Load())
	r.Failed, r.Retried = int(r.failed.Load()), int(r.retried.Load())
	if err == nil && r.Failed > 0 {
		err = fmt.Errorf("%d orders: %w", r.Failed, ErrPartial)
	}
	status := store.StatusOK
	var msg *string
	switch {
	case ctx.Err() != nil:
		status, err = store.StatusInterrupted, ctx.Err()
	case errors.Is(err, ErrPartial):
		status = store.StatusPartial
	case err != nil:
		status = store.StatusFailed
	}
	if err != nil {
		m := err.Error()
		msg = &m
	}
	if ferr := s.store.FinishRun(ctx, store.Run{
		RunID: r.RunID, Status: status, OrdersListed: r.Listed, OrdersFetched: r.Fetched,
		OrdersWritten: r.Written, OrdersUnchanged: r.Unchanged + r.Touched, OrdersFailed: r.Failed,
		APICalls: int(r.APICalls), Error: msg,
	}); ferr != nil {
		err = errors.Join(err, ferr)
	}
	attrs := []any{
		"kind", r.Kind, "run_id", r.RunID, "status", status, "windows", r.Windows,
		"windows_skipped", r.Skipped, "orders_listed", r.Listed, "orders_fetched", r.Fetched,
		"orders_written", r.Written, "orders_touched", r.Touched, "orders_unchanged", r.Unchanged,
		"orders_failed", r.Failed, "failures_retried", r.Retried, "api_calls", r.APICalls,
		"duration_ms", r.Duration.Milliseconds(),
	}
	switch status {
	case store.StatusOK:
		s.log.Info("run finished", attrs...)
	case store.StatusInterrupted:
		s.log.Warn("run interrupted; what it fetched is stored", attrs...)
	case store.StatusPartial:
		s.log.Warn("run finished with failures", append(attrs, "error", err)...)
	default:
		s.log.Error("run failed", append(attrs, "error", err)...)
	}
	return r.Result, err
}

// flow starts the stages of run r; the caller feeds it and closes it.
func (s *Syncer) flow(ctx context.Context, r *run) *flow {
	f := s.newFlow(ctx, r)
	if s.cfg.Progress != nil {
		f.progress = func() { s.cfg.Progress(r.snapshot(s.cfg.Now())) }
	}
	return f
}

// Sync is one incremental run: update_time windows from the checkpoint less the overlap (or
// the look-back when there is none) up to now, then the failure queue.
func (s *Syncer) Sync(ctx context.Context) (Result, error) {
	now := s.cfg.Now().Truncate(time.Second)
	from := now.Add(-s.cfg.Lookback)
	cp, ok, err := s.store.Checkpoint(ctx, s.cfg.AppID, order.UpdateTime)
	if err != nil {
		return Result{Kind: KindSync}, err
	}
	if ok {
		from = cp.Add(-s.overlap(now))
	}
	if !from.Before(now) {
		from = now.Add(-time.Second)
	}
	r, err := s.begin(ctx, KindSync, from, now)
	if err != nil {
		return Result{Kind: KindSync}, err
	}
	return s.finish(ctx, r, s.runWindows(ctx, r, split(order.UpdateTime, from, now, s.cfg.MaxWindow)))
}

// overlap is how far before the checkpoint a sync at now starts: the whole Overlap at
// least every SweepEvery, RecentOverlap otherwise.
func (s *Syncer) overlap(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) < s.cfg.SweepEvery {
		return s.cfg.RecentOverlap
	}
	s.lastSweep = now
	return s.cfg.Overlap
}

// Backfill fetches every order created in [from, to] by created_time windows. Windows
// finished by earlier backfills are skipped, so a killed backfill resumes where it stopped
// and a rerun does only what is missing. It covers nothing after now: the rest of a day
// that is not over waits for a later backfill. It does not move the incremental checkpoint.
func (s *Syncer) Backfill(ctx context.Context, from, to time.Time) (Result, error) {
	from, to = from.Truncate(time.Second), to.Truncate(time.Second)
	if to.Before(from) {
		return Result{Kind: KindBackfill}, fmt.Errorf("backfill: --to %s is before --from %s", to.Format(time.DateTime), from.Format(time.DateTime))
	}
	if now := s.cfg.Now().Truncate(time.Second); to.After(now) {
		to = now
	}
	r, err := s.begin(ctx, KindBackfill, from, to)
	if err != nil {
		return Result{Kind: KindBackfill}, err
	}
	var windows []fetch.Window
	if !from.After(to) {
		done, err := s.store.Windows(ctx, s.cfg.AppID, order.CreatedTime, from, to)
		if err != nil {
			return s.finish(ctx, r, err)
		}
		for _, gap := range gaps(from, to, done) {
			windows = append(windows, split(order.CreatedTime, gap[0], gap[1], s.cfg.MaxWindow)...)
		}
		r.Skipped = len(done)
	}
	return s.finish(ctx, r, s.runWindows(ctx, r, windows))
}

// runWindows lists the windows in order, a window's halves in its place when its total
// is too large, then feeds the failure queue's due orders to the same fetchers.
func (s *Syncer) runWindows(ctx context.Context, r *run, windows []fetch.Window) error {
	f := s.flow(ctx, r)
	r.planned.Store(int64(len(windows)))
	err := func() error {
		for len(windows) > 0 {
			w := windows[0]
			windows = windows[1:]
			err := f.listWindow(w)
			var big *fetch.TooLargeError
			if errors.As(err, &big) && w.End.Sub(w.Start) >= 2*time.Second {
				a, b := halve(w)
				s.log.Info("window too large to page; splitting", "window", w.String(), "total", big.Total)
				windows = append([]fetch.Window{a, b}, windows...)
				r.planned.Add(1)
				continue
			}
			if err != nil {
				return err
			}
		}
		if r.Kind == KindSync && s.cfg.RetryApart {
			return nil
		}
		return s.retries(f, r)
	}()
	if err != nil {
		f.fail(err)
	}
	return f.close()
}

// Retry is a run of the failure queue alone: its due orders, at most MaxRetries.
func (s *Syncer) Retry(ctx context.Context) (Result, error) {
	r, err := s.begin(ctx, KindRetry, time.Time{}, time.Time{})
	if err != nil {
		return Result{Kind: KindRetry}, err
	}
	return s.finish(ctx, r, s.runWindows(ctx, r, nil))
}

// RetryDue reports whether the shop's failure queue has orders due for a retry.
func (s *Syncer) RetryDue(ctx context.Context) (bool, error) {
	due, err := s.store.DueFailures(ctx, s.cfg.AppID, 0, 1)
	return len(due) > 0, err
}

// retries sends the failure queue's due orders to the fetchers, at most MaxRetries of
// them, those due longest first. An order whose update_time is known needs no list call.
func (s *Syncer) retries(f *flow, r *run) error {
	due, err := s.store.DueFailures(f.fetchCtx, s.cfg.AppID, r.RunID, s.cfg.MaxRetries)
	if err != nil {
		return err
	}
	for _, q := range due {
		it := fetch.ListItem{OrderID: q.OrderID, Raw: q.ListItem}
		if q.UpdateTime != nil {
			it.UpdateTime = *q.UpdateTime
		}
		if !f.fresh(q.OrderID, it.UpdateTime) {
			continue // listed by this run already
		}
		if !f.send(job{item: it, retry: true, lookup: q.UpdateTime == nil}) {
			return nil
		}
	}
	return nil
}

// Orders fetches and stores the given orders now, whatever the failure queue's backoff
// says, each with its list item for update_time. An order the API does not know is an
// error, not a failure to queue.
func (s *Syncer) Orders(ctx context.Context, ids []string) (Result, error) {
	r, err := s.begin(ctx, KindOrders, time.Time{}, time.Time{})
	if err != nil {
		return Result{Kind: KindOrders}, err
	}
	f := s.flow(ctx, r)
	for _, id := range ids {
		if !f.fresh(id, time.Time{}) {
			continue
		}
		r.listed.Add(1)
		if !f.send(job{item: fetch.ListItem{OrderID: id}, lookup: true}) {
			break
		}
	}
	return s.finish(ctx, r, f.close())
}
