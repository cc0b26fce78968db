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
	"sync"
	"time"

	"ordersync/fetch"
	"ordersync/order"
	"ordersync/store"
)

// API is what a run needs of the Xiaoe API; *fetch.Client is the real one.
type API interface {
	ListWindow(ctx context.Context, w fetch.Window, maxTotal int) ([]fetch.ListItem, error)
	ListItem(ctx context.Context, orderID string) (*fetch.ListItem, error)
	OrderDetail(ctx context.Context, orderID string) (*order.Detail, json.RawMessage, error)
}

// Config tunes runs. The zero value of each field means its default.
type Config struct {
	// AppID names the shop in the bookkeeping tables.
	AppID string
	// Overlap is how far before the checkpoint an incremental sync starts again, so that
	// changes the API indexed late are not missed. Default 10 minutes.
	Overlap time.Duration
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
	// ListAttempts is how often a window whose listing did not add up is listed again
	// before the run fails. Default 3.
	ListAttempts int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// APICalls, when set, reports the API calls made so far (HTTP attempts), so that each
	// run records how many it made.
	APICalls func() int64
	// Progress, when set, is told of every finished window.
	Progress func(Progress)
	Logger   *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Overlap == 0 {
		c.Overlap = 10 * time.Minute
	}
	if c.Lookback == 0 {
		c.Lookback = 31 * 24 * time.Hour
	}
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
	if c.ListAttempts == 0 {
		c.ListAttempts = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Syncer runs syncs of one shop into one store.
type Syncer struct {
	api   API
	store *store.Store
	cfg   Config
	log   *slog.Logger
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
	Retried   int // orders of the failure queue that landed
	APICalls  int64
	Duration  time.Duration
}

// ErrPartial is returned (wrapped) by a run that finished but queued some orders as failures.
var ErrPartial = errors.New("some orders could not be stored and wait in the failure queue")

// Progress is the state of a run after each window.
type Progress struct {
	Kind          string
	WindowsDone   int
	WindowsTotal  int // windows planned so far; halving a window adds one
	OrdersDone    int // listed orders handled (fetched, skipped or queued)
	Window        fetch.Window
	Elapsed       time.Duration
	OrdersPerSec  float64
	EstimatedLeft time.Duration // zero when unknown
}

// run is the state of one run.
type run struct {
	Result
	start time.Time
	calls int64
}

func (s *Syncer) begin(ctx context.Context, kind string, from, to time.Time) (*run, error) {
	id, err := s.store.StartRun(ctx, s.cfg.AppID, kind, from, to)
	if err != nil {
		return nil, err
	}
	r := &run{Result: Result{RunID: id, Kind: kind}, start: s.cfg.Now()}
	if s.cfg.APICalls != nil {
		r.calls = s.cfg.APICalls()
	}
	return r, nil
}

// finish records the run's outcome and logs its one summary line.
func (s *Syncer) finish(ctx context.Context, r *run, err error) (Result, error) {
	r.Duration = s.cfg.Now().Sub(r.start)
	if s.cfg.APICalls != nil {
		r.APICalls = s.cfg.APICalls() - r.calls
	}
	if err == nil && r.Failed > 0 {
		err = fmt.Errorf("%d orders: %w", r.Failed, ErrPartial)
	}
	status := store.StatusOK
	var msg *string
	switch {
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
	switch {
	case err == nil:
		s.log.Info("run finished", attrs...)
	case errors.Is(err, context.Canceled):
		s.log.Info("run interrupted", attrs...)
	case errors.Is(err, ErrPartial):
		s.log.Warn("run finished with failures", append(attrs, "error", err)...)
	default:
		s.log.Error("run failed", append(attrs, "error", err)...)
	}
	return r.Result, err
}

// Sync is one incremental run: update_time windows from the checkpoint less the overlap (or
// the look-back when there is none) up to now, then the failure queue.
func (s *Syncer) Sync(ctx context.Context) (Result, error) {
	now := s.cfg.Now().Truncate(time.Second)
	from := now.Add(-s.cfg.Lookback)
	cp, ok, err := s.store.Checkpoint(ctx, s.cfg.AppID, store.WindowUpdateTime)
	if err != nil {
		return Result{Kind: KindSync}, err
	}
	if ok {
		from = cp.Add(-s.cfg.Overlap)
	}
	if !from.Before(now) {
		from = now.Add(-time.Second)
	}
	r, err := s.begin(ctx, KindSync, from, now)
	if err != nil {
		return Result{Kind: KindSync}, err
	}
	windows := split(fetch.UpdateTime, from, now, s.cfg.MaxWindow)
	err = s.windows(ctx, r, windows)
	if err == nil {
		err = s.retryFailures(ctx, r)
	}
	return s.finish(ctx, r, err)
}

// Backfill fetches every order created in [from, to] by created_time windows. Windows
// finished by earlier backfills are skipped, so a killed backfill resumes where it stopped
// and a rerun does only what is missing. It does not move the incremental checkpoint.
func (s *Syncer) Backfill(ctx context.Context, from, to time.Time) (Result, error) {
	from, to = from.Truncate(time.Second), to.Truncate(time.Second)
	if to.Before(from) {
		return Result{Kind: KindBackfill}, fmt.Errorf("backfill: --to %s is before --from %s", to.Format(time.DateTime), from.Format(time.DateTime))
	}
	r, err := s.begin(ctx, KindBackfill, from, to)
	if err != nil {
		return Result{Kind: KindBackfill}, err
	}
	done, err := s.store.Windows(ctx, s.cfg.AppID, store.WindowCreatedTime, from, to)
	if err != nil {
		return s.finish(ctx, r, err)
	}
	var windows []fetch.Window
	for _, gap := range gaps(from, to, done) {
		windows = append(windows, split(fetch.CreatedTime, gap[0], gap[1], s.cfg.MaxWindow)...)
	}
	r.Skipped = len(done)
	err = s.windows(ctx, r, windows)
	if err == nil {
		err = s.retryFailures(ctx, r)
	}
	return s.finish(ctx, r, err)
}

// Orders fetches and stores the given orders now, each with its list item for update_time.
func (s *Syncer) Orders(ctx context.Context, ids []string) (Result, error) {
	r, err := s.begin(ctx, KindOrders, time.Time{}, time.Time{})
	if err != nil {
		return Result{Kind: KindOrders}, err
	}
	var items []fetch.ListItem
	var notFound []error
	for _, id := range ids {
		it, err := s.api.ListItem(ctx, id)
		if err != nil {
			if permanent(err) {
				notFound = append(notFound, fmt.Errorf("order %s: %w", id, err))
				continue
			}
			return s.finish(ctx, r, fmt.Errorf("look up order %s: %w", id, err))
		}
		items = append(items, *it)
	}
	r.Listed = len(items)
	err = s.fetchAndStore(ctx, r, items, true)
	return s.finish(ctx, r, errors.Join(err, errors.Join(notFound...)))
}

// windows processes windows in order; each one's halves are processed in its place when
// its total is too large.
func (s *Syncer) windows(ctx context.Context, r *run, windows []fetch.Window) error {
	total := len(windows)
	for len(windows) > 0 {
		w := windows[0]
		windows = windows[1:]
		err := s.window(ctx, r, w)
		var big *fetch.TooLargeError
		if errors.As(err, &big) && w.End.Sub(w.Start) >= 2*time.Second {
			a, b := halve(w)
			s.log.Info("window too large to page; splitting", "window", w.String(), "total", big.Total)
			windows = append([]fetch.Window{a, b}, windows...)
			total++
			continue
		}
		if err != nil {
			return err
		}
		r.Windows++
		if s.cfg.Progress != nil {
			el := s.cfg.Now().Sub(r.start)
			p := Progress{Kind: r.Kind, WindowsDone: r.Windows, WindowsTotal: total, OrdersDone: r.Listed, Window: w, Elapsed: el}
			if el > 0 {
				p.OrdersPerSec = float64(r.Listed) / el.Seconds()
				p.EstimatedLeft = time.Duration(float64(el) / float64(r.Windows) * float64(total-r.Windows))
			}
			s.cfg.Progress(p)
		}
	}
	return nil
}

// window lists one window, stores what changed, and records the window as finished.
func (s *Syncer) window(ctx context.Context, r *run, w fetch.Window) error {
	var (
		items []fetch.ListItem
		err   error
	)
	for attempt := 1; attempt <= s.cfg.ListAttempts; attempt++ {
		items, err = s.api.ListWindow(ctx, w, s.cfg.MaxWindowOrders)
		var mismatch *fetch.CountMismatchError
		if !errors.As(err, &mismatch) {
			break
		}
		// Orders changed while the window was paged: list it again rather than record a
		// window that may have lost an order.
		s.log.Warn("window listing did not add up; listing it again", "window", w.String(), "attempt", attempt, "error", err)
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", w, err)
	}
	r.Listed += len(items)
	if err := s.fetchAndStore(ctx, r, items, false); err != nil {
		return fmt.Errorf("window %s: %w", w, err)
	}
	kind := store.WindowUpdateTime
	if w.Field == fetch.CreatedTime {
		kind = store.WindowCreatedTime
	}
	runID := r.RunID
	return s.store.RecordWindow(ctx, store.Window{
		AppID: s.cfg.AppID, Kind: kind, WindowStart: w.Start, WindowEnd: w.End,
		OrdersListed: len(items), RunID: &runID,
	})
}

// fetchAndStore skips the items whose update_time is stored already (unless all is set),
// fetches the details of the rest with a bounded pool, and writes them in batches. Orders
// whose detail cannot be had for a reason that retrying now will not fix are queued as
// failures; any other error stops the work and is returned.
func (s *Syncer) fetchAndStore(ctx context.Context, r *run, items []fetch.ListItem, all bool) error {
	todo := items
	if !all && len(items) > 0 {
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.OrderID
		}
		stored, err := s.store.StoredUpdateTimes(ctx, ids)
		if err != nil {
			return err
		}
		todo = make([]fetch.ListItem, 0, len(items))
		for _, it := range items {
			if t, ok := stored[it.OrderID]; ok && t.Equal(it.UpdateTime) {
				r.Unchanged++
				continue
			}
			todo = append(todo, it)
		}
	}
	if len(todo) == 0 {
		return nil
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan fetch.ListItem)
	results := make(chan fetched)
	var wg sync.WaitGroup
	for range min(s.cfg.Workers, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				res := s.fetchOne(ctx, it)
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, it := range todo {
			select {
			case jobs <- it:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	var (
		batch    []store.Order
		failures []store.Failure
		firstErr error
	)
	flush := func() error {
		if len(batch) > 0 {
			res, err := s.store.UpsertOrders(ctx, batch)
			if err != nil {
				return err
			}
			r.Written += res.Written()
			r.Touched += res.Touched
			r.Unchanged += res.Unchanged + res.Stale
			batch = batch[:0]
		}
		if len(failures) > 0 {
			if err := s.store.RecordFailures(ctx, failures); err != nil {
				return err
			}
			r.Failed += len(failures)
			failures = failures[:0]
		}
		return nil
	}
	for res := range results {
		if firstErr != nil {
			continue // drain
		}
		switch {
		case res.err == nil:
			r.Fetched++
			batch = append(batch, res.order)
		case permanent(res.err):
			s.log.Warn("order queued as a failure", "order_id", res.item.OrderID, "error", res.err)
			f := store.Failure{OrderID: res.item.OrderID, AppID: s.cfg.AppID, Error: res.err.Error(), ListItem: res.item.Raw, RunID: &r.RunID}
			if !res.item.UpdateTime.IsZero() {
				u := res.item.UpdateTime
				f.UpdateTime = &u
			}
			failures = append(failures, f)
		default:
			firstErr = res.err
			cancel(res.err)
			continue
		}
		if len(batch) >= s.cfg.BatchSize {
			if err := flush(); err != nil {
				firstErr = err
				cancel(err)
			}
		}
	}
	if firstErr != nil {
		return firstErr
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return flush()
}

type fetched struct {
	item  fetch.ListItem
	order store.Order
	err   error
}

func (s *Syncer) fetchOne(ctx context.Context, it fetch.ListItem) fetched {
	d, raw, err := s.api.OrderDetail(ctx, it.OrderID)
	if err != nil {
		return fetched{item: it, err: fmt.Errorf("fetch order %s: %w", it.OrderID, err)}
	}
	o, err := store.PrepareDecoded(store.Payload{OrderID: it.OrderID, UpdateTime: it.UpdateTime, Detail: raw, ListItem: it.Raw}, d)
	if err != nil {
		return fetched{item: it, err: &queuedError{err}}
	}
	return fetched{item: it, order: o}
}

// queuedError marks an order-level error that belongs in the failure queue.
type queuedError struct{ err error }

func (e *queuedError) Error() string { return e.err.Error() }
func (e *queuedError) Unwrap() error { return e.err }

// permanent reports whether err is about one order and will not go away by retrying now:
// a payload that does not decode, or a request the API refuses for that order. Such
// orders go to the failure queue, to be tried again by later runs; anything else (the API
// down, a configuration error, a cancelled context) stops the run.
func permanent(err error) bool {
	var (
		qe *queuedError
		de *order.DecodeError
	)
	if errors.As(err, &qe) || errors.As(err, &de) {
		return true
	}
	return errors.Is(err, fetch.ErrInvalid) || errors.Is(err, fetch.ErrNotFound)
}

// retryFailures tries the failure queue again: each order is looked up in the list for its
// current update_time (one list call) and its detail fetched.
func (s *Syncer) retryFailures(ctx context.Context, r *run) error {
	queued, err := s.store.Failures(ctx, s.cfg.AppID)
	if err != nil || len(queued) == 0 {
		return err
	}
	var items []fetch.ListItem
	for _, f := range queued {
		if f.RunID != nil && *f.RunID == r.RunID {
			continue // queued by this very run: it was just tried
		}
		it, err := s.api.ListItem(ctx, f.OrderID)
		if err != nil {
			if permanent(err) {
				// Still failing: count the attempt and keep it queued.
				if rerr := s.store.RecordFailures(ctx, []store.Failure{{OrderID: f.OrderID, AppID: f.AppID, Error: err.Error(), RunID: &r.RunID}}); rerr != nil {
					return rerr
				}
				r.Failed++
				continue
			}
			return fmt.Errorf("retry failed order %s: %w", f.OrderID, err)
		}
		items = append(items, *it)
	}
	landed := r.Written + r.Touched + r.Unchanged
	if err := s.fetchAndStore(ctx, r, items, true); err != nil {
		return err
	}
	// An order that fails again is queued again and keeps the run partial.
	r.Retried += r.Written + r.Touched + r.Unchanged - landed
	return nil
}
