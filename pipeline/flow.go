package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"ordersync/fetch"
	"ordersync/order"
	"ordersync/store"
)

// A run is three stages joined by channels:
//
//	lister ──jobs──► fetchers (Config.Workers) ──events──► writer
//
// The lister lists windows page by page and sends each changed order as a job the moment
// its page arrives, so the fetchers never wait for a window to be listed whole. Each
// fetcher calls the detail API and prepares the order (decode, check, hash, flatten). The
// writer stores prepared orders and failures in batches, and records a window with the
// first write after its listing added up and every one of its orders is stored or queued;
// windows are recorded in the order they were listed, so the checkpoint never passes an
// order still in flight.
//
// When the run stops (an error of the API as a whole, a database error, a signal), the
// lister and the fetchers stop at once, but every detail already fetched still reaches
// the writer, which writes it within Config.StopTimeout.

// job is one order to fetch.
type job struct {
	item fetch.ListItem
	win  *windowState // nil for an order outside any window
	// retry is an order of the failure queue; lookup says that its list item must be
	// looked up first (its update_time is not known).
	retry, lookup bool
}

// event is what the writer receives: the outcome of a job, or a window whose listing is
// complete.
type event struct {
	job     job
	ok      *order.Prepared // the order, ready to store
	failure *store.Failure  // the order could not be had: queue it
	missing error           // a given order the API does not know (Orders)

	listed *windowState // this window's listing is complete and added up
}

// windowState is one window of the run. The lister owns dispatched and listedN until it
// sends the window's listed event; the writer owns handled and complete, and reads the
// lister's fields only after that event.
type windowState struct {
	w          fetch.Window
	index      int                 // in listing order
	dispatched int                 // jobs sent for the window's orders
	listedN    int                 // orders its listing reported
	ids        map[string]struct{} // the orders listed, to count each once
	handled    int                 // outcomes the writer received
	complete   bool
}

// counts are the run's counts, updated as it goes (progress reads them concurrently).
type counts struct {
	listed, fetched, written, touched, unchanged, failed, retried, windows atomic.Int64
	dispatched, handled                                                    atomic.Int64 // jobs sent, and outcomes written
}

type flow struct {
	s   *Syncer
	r   *run
	cnt *counts

	fetchCtx context.Context // the lister's and fetchers' context: ends when the run stops
	stop     context.CancelCauseFunc
	writeCtx context.Context // the writer's: outlives fetchCtx by StopTimeout
	endWrite context.CancelFunc

	jobs    chan job
	events  chan event
	workers sync.WaitGroup
	wrote   chan struct{} // closed when the writer is done

	mu       sync.Mutex
	err      error              // the first error that stopped the run
	seen     map[string]seenJob // orders sent as jobs in this run, by id
	nextWin  int
	missing  []error
	progress func()
}

type seenJob struct{ updateTime time.Time }

func (s *Syncer) newFlow(ctx context.Context, r *run) *flow {
	fetchCtx, stop := context.WithCancelCause(ctx)
	writeCtx, endWrite := context.WithCancel(context.WithoutCancel(ctx))
	f := &flow{
		s: s, r: r, cnt: &r.counts,
		fetchCtx: fetchCtx, stop: stop, writeCtx: writeCtx, endWrite: endWrite,
		jobs:   make(chan job),
		events: make(chan event, 2*s.cfg.BatchSize),
		wrote:  make(chan struct{}),
		seen:   make(map[string]seenJob),
	}
	go func() {
		// A stopped run has StopTimeout to write what it fetched, then its writes end too.
		<-fetchCtx.Done()
		t := time.NewTimer(s.cfg.StopTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			endWrite()
		case <-writeCtx.Done():
		}
	}()
	for range s.cfg.Workers {
		f.workers.Add(1)
		go f.fetcher()
	}
	go f.writer()
	return f
}

// fail stops the run with err, unless it was stopped already.
func (f *flow) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
	f.stop(err)
}

// close ends the run's input and waits until everything fetched is written. It returns
// the error that stopped the run, if any: the first failure, or the context's.
func (f *flow) close() error {
	close(f.jobs)
	f.workers.Wait()
	close(f.events)
	<-f.wrote
	f.endWrite()
	cause := context.Cause(f.fetchCtx) // nil unless the run was stopped
	f.stop(nil)
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.err
	if err == nil {
		err = cause
	}
	return errors.Join(append([]error{err}, f.missing...)...)
}

// send hands a job to the fetchers; false when the run has stopped.
func (f *flow) send(j job) bool {
	select {
	case f.jobs <- j:
		f.cnt.dispatched.Add(1)
		return true
	case <-f.fetchCtx.Done():
		return false
	}
}

// fresh reports whether an order listed with updateTime still needs a job in this run:
// a window listed again, or a retry of an order this run met already, needs none.
func (f *flow) fresh(id string, updateTime time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.seen[id]; ok && !updateTime.After(s.updateTime) {
		return false
	}
	f.seen[id] = seenJob{updateTime}
	return true
}

// listWindow lists one window, sends the jobs of its changed orders as pages arrive, and
// tells the writer when its listing has added up. A listing that does not add up is
// listed again (its orders already sent stay sent).
func (f *flow) listWindow(w fetch.Window) error {
	f.mu.Lock()
	ws := &windowState{w: w, index: f.nextWin, ids: make(map[string]struct{})}
	f.mu.Unlock()
	var err error
	for attempt := 1; attempt <= f.s.cfg.ListAttempts; attempt++ {
		err = f.s.api.ListWindow(f.fetchCtx, w, f.s.cfg.MaxWindowOrders, func(page []fetch.ListItem) error {
			// Counted as pages arrive, so that a run stopped mid-window says what it listed,
			// and by order: a listing that starts over hands orders over again.
			for _, it := range page {
				ws.ids[it.OrderID] = struct{}{}
			}
			f.cnt.listed.Add(int64(len(ws.ids) - ws.listedN))
			ws.listedN = len(ws.ids)
			return f.dispatch(ws, page)
		})
		var mismatch *fetch.CountMismatchError
		if !errors.As(err, &mismatch) {
			break
		}
		// Orders changed while the window was paged: list it again rather than record a
		// window that may have lost an order.
		f.s.log.Warn("window listing did not add up; listing it again", "window", w.String(), "attempt", attempt, "error", err)
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.nextWin++
	f.mu.Unlock()
	// Sent after every job of the window: the writer reads the final count.
	f.events <- event{listed: ws}
	return nil
}

// dispatch sends the jobs of a page's orders that are not stored as listed.
func (f *flow) dispatch(ws *windowState, page []fetch.ListItem) error {
	ids := make([]string, len(page))
	for i, it := range page {
		ids[i] = it.OrderID
	}
	stored, err := f.s.store.StoredUpdateTimes(f.fetchCtx, ids)
	if err != nil {
		return err
	}
	for _, it := range page {
		if t, ok := stored[it.OrderID]; ok && t.Equal(it.UpdateTime) {
			f.cnt.unchanged.Add(1)
			continue
		}
		if !f.fresh(it.OrderID, it.UpdateTime) {
			continue
		}
		ws.dispatched++
		if !f.send(job{item: it, win: ws}) {
			return context.Cause(f.fetchCtx)
		}
	}
	return nil
}

// fetcher runs jobs until there are none, or the run stops.
func (f *flow) fetcher() {
	defer f.workers.Done()
	for j := range f.jobs {
		if f.fetchCtx.Err() != nil {
			continue // stopped: the job stays undone, and its window unrecorded
		}
		if ev, ok := f.fetch(j); ok {
			// Always delivered, even when the run has stopped meanwhile: a fetched detail
			// is written, never dropped. The writer drains events until they end.
			f.events <- ev
		}
	}
}

// fetch runs one job. ok is false when the job did not finish: the run stopped, or the
// failure was the API's as a whole (and the run is stopped).
func (f *flow) fetch(j job) (event, bool) {
	ctx := f.fetchCtx
	id := j.item.OrderID
	if j.lookup {
		it, err := f.s.api.ListItem(ctx, id)
		if err != nil {
			return f.failed(j, nil, err)
		}
		j.item = *it
	}
	data, reply, err := f.s.api.OrderDetail(ctx, id)
	if err != nil {
		return f.failed(j, reply, err)
	}
	f.cnt.fetched.Add(1)
	p, err := order.Prepare(order.Payload{OrderID: id, UpdateTime: j.item.UpdateTime, Detail: data, ListItem: j.item.Raw, FetchedAt: f.s.cfg.Now()})
	if err != nil {
		return f.failed(j, reply, fmt.Errorf("order %s: %w", id, err))
	}
	return event{job: j, ok: p}, true
}

// failed turns a failed job into its event: a failure to queue when the failure is the
// order's own, nothing (and the run stopped) when it is the API's.
func (f *flow) failed(j job, reply []byte, err error) (event, bool) {
	if f.fetchCtx.Err() != nil {
		return event{}, false
	}
	if j.lookup && !j.retry && errors.Is(err, fetch.ErrNotFound) {
		return event{job: j, missing: err}, true
	}
	switch f.judge(err) {
	case apiDown:
		f.fail(err)
		return event{}, false
	case stopped:
		return event{}, false
	}
	f.s.log.Warn("order queued as a failure", "order_id", j.item.OrderID, "error", err)
	return event{job: j, failure: &store.Failure{
		OrderID: j.item.OrderID, AppID: f.s.cfg.AppID, Error: err.Error(), ListItem: j.item.Raw,
		RunID: &f.r.RunID, UpdateTime: nonZero(j.item.UpdateTime), Reply: reply,
	}}, true
}

type verdict int

const (
	orderFailed verdict = iota // queue the order, go on
	apiDown                    // stop the run
	stopped                    // the run stopped meanwhile
)

// judge decides whether a failed call is one order's failure, to be queued while the run
// goes on, or the API's as a whole, which stops the run. The rule, from what the API said
// and from what the other calls are doing:
//
//   - The API answered for this order, unusably: a detail that does not decode, data cut
//     short or not JSON (fetch.ErrMalformed), no data (fetch.ErrNotFound), a refusal of
//     the request (fetch.ErrInvalid). The order's.
//   - A failure that lasted through the call's retries (busy codes, HTTP 5xx, timeouts, a
//     200 that is no envelope): the order's if another call succeeded after its last
//     attempt (fetch.ErrIsolated). With no such call to compare with, one more call
//     (Ping) asks whether the API answers at all: if it does, the order's.
//   - Anything else is the API's: a configuration error, no access token, a Ping that
//     fails too.
func (f *flow) judge(err error) verdict {
	var (
		de *order.DecodeError
		re *fetch.RetryError
	)
	switch {
	case errors.Is(err, fetch.ErrConfig), errors.Is(err, fetch.ErrNoToken):
		return apiDown
	case errors.As(err, &de), errors.Is(err, fetch.ErrMalformed), errors.Is(err, fetch.ErrNotFound),
		errors.Is(err, fetch.ErrInvalid), errors.Is(err, fetch.ErrIsolated):
		return orderFailed
	case !errors.As(err, &re):
		return apiDown
	}
	perr := f.s.api.Ping(f.fetchCtx)
	switch {
	case f.fetchCtx.Err() != nil:
		return stopped
	case perr != nil:
		f.s.log.Warn("the API does not answer; the run stops", "error", perr)
		return apiDown
	}
	return orderFailed
}

// writer stores the events in batches until they end.
func (f *flow) writer() {
	defer close(f.wrote)
	var (
		batch   store.Batch
		retries int            // retried orders in batch
		windows []*windowState // listed or not, not yet recorded, in listing order
		byIndex = map[int]*windowState{}
		broken  bool // a write failed: the run is stopped, the rest is dropped
	)
	batch.AppID, batch.RunID = f.s.cfg.AppID, &f.r.RunID
	// The first tick comes at a random point of the period: the runs of many shops,
	// started together, would otherwise all write at once every period, a burst that
	// delays the calls of every shop behind it.
	every := f.s.cfg.FlushEvery
	tick := time.NewTicker(1 + rand.N(every))
	defer tick.Stop()
	phased := false

	// ready moves the windows that are complete, oldest first, into the batch.
	ready := func() bool {
		n := 0
		for len(windows) > 0 {
			ws := windows[0]
			if !ws.complete || ws.handled < ws.dispatched {
				break
			}
			batch.Windows = append(batch.Windows, store.Window{
				AppID: f.s.cfg.AppID, Kind: ws.w.Field, WindowStart: ws.w.Start,
				WindowEnd: ws.w.End, OrdersListed: ws.listedN, RunID: &f.r.RunID,
			})
			windows = windows[1:]
			delete(byIndex, ws.index)
			n++
		}
		return n > 0
	}
	flush := func() {
		if broken || len(batch.Orders)+len(batch.Failures)+len(batch.Windows) == 0 {
			return
		}
		res, err := f.s.store.Write(f.writeCtx, batch)
		if err != nil {
			broken = true
			f.s.log.Error("write failed; the run stops", "orders", len(batch.Orders), "error", err)
			f.fail(err)
			return
		}
		f.cnt.written.Add(int64(res.Written()))
		f.cnt.touched.Add(int64(res.Touched))
		f.cnt.unchanged.Add(int64(res.Unchanged + res.Stale))
		f.cnt.failed.Add(int64(len(batch.Failures) + res.Conflicts))
		f.cnt.retried.Add(int64(retries))
		f.cnt.windows.Add(int64(len(batch.Windows)))
		batch.Orders, batch.Failures, batch.Windows, retries = nil, nil, nil, 0
		if f.progress != nil {
			f.progress()
		}
	}
	track := func(ws *windowState) *windowState {
		if w, ok := byIndex[ws.index]; ok {
			return w
		}
		byIndex[ws.index] = ws
		windows = append(windows, ws)
		return ws
	}
	for {
		select {
		case ev, ok := <-f.events:
			if !ok {
				ready()
				flush()
				return
			}
			if broken {
				continue // drain
			}
			switch {
			case ev.listed != nil:
				track(ev.listed).complete = true
			case ev.ok != nil:
				batch.Orders = append(batch.Orders, ev.ok)
				if ev.job.retry {
					retries++
				}
			case ev.failure != nil:
				batch.Failures = append(batch.Failures, *ev.failure)
			case ev.missing != nil:
				f.mu.Lock()
				f.missing = append(f.missing, ev.missing)
				f.mu.Unlock()
			}
			if ev.listed == nil {
				f.cnt.handled.Add(1)
			}
			if ev.job.win != nil {
				track(ev.job.win).handled++
			}
			// A finished window waits for the batch to fill or for the tick, like its
			// orders: flushing at each one made a write per window, a few orders each
			// when a backfill's days are small, and the database's cost is per statement.
			if len(batch.Orders)+len(batch.Failures) >= f.s.cfg.BatchSize {
				ready()
				flush()
			}
		case <-tick.C:
			if !phased {
				tick.Reset(every)
				phased = true
			}
			ready()
			flush()
		}
	}
}

func nonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
