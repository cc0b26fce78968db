// Package schedule is when and where runs happen: each shop's syncs on its cron schedule,
// its failure-queue retries and its backfill windows, as River jobs in PostgreSQL. Any
// number of replicas share the work: River hands each job to one of them, a shop's jobs
// of a kind are unique while they wait or run, and the jobs of a replica that died are
// rescued by the others. Each job still takes the shop's advisory lock, so that a rescued
// job never runs beside a replica that only looked dead, nor beside a one-shot command.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"ordersync/fetch"
	"ordersync/order"
	"ordersync/pipeline"
	"ordersync/store"
)

// Shop is one shop the scheduler serves.
type Shop struct {
	AppID string
	// Spec is when its sync runs: a cron spec (see ValidateSpec), in Asia/Shanghai.
	Spec   string
	Syncer *pipeline.Syncer
}

// Options configure a Scheduler.
type Options struct {
	Store *store.Store
	Shops []Shop
	// ID names this replica among River's clients, and in the logs. Default host:pid.
	ID string
	// MaxWorkers is how many jobs this replica runs at once. Default 10.
	MaxWorkers int
	// SyncTimeout bounds a sync or a retry run; BackfillTimeout a backfill window. The
	// jobs of a replica that died are rescued just after the longer of the two. Defaults
	// 10 minutes and 2 hours.
	SyncTimeout, BackfillTimeout time.Duration
	// StopTimeout is how long Stop waits for running jobs to finish before it cancels
	// them; a cancelled run still writes what it fetched. Default 20 seconds, inside the
	// 30 a container platform usually grants.
	StopTimeout time.Duration
	// Finished, when set, is told how every run ended.
	Finished func(appID string, res pipeline.Result, err error)
	// VerifySpec, when set, is when each shop's last 31 days are verified against the
	// API (a cron spec); Verified is told the anomalies found, by kind.
	VerifySpec string
	Verified   func(appID string, counts map[string]int)
	// ConfigError, when set, is told of a shop whose credentials or settings the API
	// refuses, and when it will be tried again.
	ConfigError func(appID string, err error, retryAt time.Time)
	Logger      *slog.Logger
}

// Scheduler runs the shops' jobs on this replica.
type Scheduler struct {
	opts   Options
	client *river.Client[pgx.Tx]
	shops  map[string]*shopState
	log    *slog.Logger
}

// shopState is a shop and the backoff of its configuration errors.
type shopState struct {
	Shop
	mu      sync.Mutex
	wait    time.Duration // the last backoff
	blocked time.Time     // no run before this
}

// Configuration errors back off from a minute, doubling, to an hour: the token call is
// limited to 100 per 10 minutes, and refused credentials take a person to fix.
const (
	configBackoffMin = time.Minute
	configBackoffMax = time.Hour
)

// New builds the scheduler of this replica: River's client with a worker per job kind and
// a periodic sync per shop. It starts nothing.
func New(opts Options) (*Scheduler, error) {
	if opts.ID == "" {
		opts.ID = pipeline.DefaultWorker()
	}
	if opts.MaxWorkers == 0 {
		opts.MaxWorkers = 10
	}
	if opts.SyncTimeout == 0 {
		opts.SyncTimeout = 10 * time.Minute
	}
	if opts.BackfillTimeout == 0 {
		opts.BackfillTimeout = 2 * time.Hour
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 20 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{opts: opts, shops: make(map[string]*shopState, len(opts.Shops)), log: opts.Logger}
	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{s: s})
	river.AddWorker(workers, &retryWorker{s: s})
	river.AddWorker(workers, &backfillWorker{s: s})
	river.AddWorker(workers, &verifyWorker{s: s})
	var periodic []*river.PeriodicJob
	var verifySched river.PeriodicSchedule
	if opts.VerifySpec != "" {
		var err error
		if verifySched, err = Schedule(opts.VerifySpec, order.Shanghai); err != nil {
			return nil, fmt.Errorf("verify schedule: %w", err)
		}
	}
	for _, sh := range opts.Shops {
		if _, dup := s.shops[sh.AppID]; dup {
			return nil, fmt.Errorf("shop %s is listed twice", sh.AppID)
		}
		sched, err := Schedule(sh.Spec, order.Shanghai)
		if err != nil {
			return nil, fmt.Errorf("shop %s: schedule: %w", sh.AppID, err)
		}
		s.shops[sh.AppID] = &shopState{Shop: sh}
		appID := sh.AppID
		periodic = append(periodic, river.NewPeriodicJob(sched,
			func() (river.JobArgs, *river.InsertOpts) { return SyncArgs{AppID: appID}, nil },
			// A new leader inserts a sync at once: the daemon syncs at start.
			&river.PeriodicJobOpts{ID: "sync:" + appID, RunOnStart: true}))
		if verifySched != nil {
			periodic = append(periodic, river.NewPeriodicJob(verifySched,
				func() (river.JobArgs, *river.InsertOpts) { return VerifyArgs{AppID: appID}, nil },
				&river.PeriodicJobOpts{ID: "verify:" + appID}))
		}
	}
	client, err := river.NewClient(riverpgxv5.New(opts.Store.Pool()), &river.Config{
		ID:           opts.ID,
		Logger:       quiet(opts.Logger),
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.MaxWorkers}},
		Workers:      workers,
		PeriodicJobs: periodic,
		JobTimeout:   opts.SyncTimeout,
		// A sync every second would keep 86,400 finished jobs a day per shop at River's
		// default of a day; the run history is sync_runs.
		CompletedJobRetentionPeriod: time.Hour,
		// Just above the longest timeout: a job still running then is a dead replica's.
		// River's rescuer looks every 30 seconds.
		RescueStuckJobsAfter: rescueAfter(max(opts.SyncTimeout, opts.BackfillTimeout)),
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	s.client = client
	return s, nil
}

// rescueAfter is a tenth (at least 5 seconds) beyond the longest timeout.
func rescueAfter(longest time.Duration) time.Duration {
	return longest + max(longest/10, 5*time.Second)
}

// Client is River's client, for River UI.
func (s *Scheduler) Client() *river.Client[pgx.Tx] { return s.client }

// Start starts taking jobs. The jobs do not end with ctx: Stop ends them.
func (s *Scheduler) Start(ctx context.Context) error {
	if err := s.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	return nil
}

// Stop stops taking jobs and waits for the running ones to finish, for StopTimeout at
// most; then it cancels them, and they stop after writing what they fetched. A job cut
// short goes back to the queue for another replica.
func (s *Scheduler) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.StopTimeout)
	defer cancel()
	err := s.client.Stop(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	s.log.Warn("jobs still running at the stop timeout; cancelling them", "stop_timeout", s.opts.StopTimeout.String())
	hard, cancelHard := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancelHard()
	return s.client.StopAndCancel(hard)
}

// run runs fn for the shop under its advisory lock for work, unless the shop is backing
// off a configuration error. A lock held elsewhere skips the run, or for a backfill
// window (snooze) puts it off.
func (s *Scheduler) run(ctx context.Context, appID, work string, snooze bool, fn func(*pipeline.Syncer, context.Context) (pipeline.Result, error)) error {
	shop, ok := s.shops[appID]
	if !ok {
		// Every replica must serve the same shops file.
		return river.JobCancel(fmt.Errorf("shop %s is not in this replica's shops", appID))
	}
	if until := shop.blockedUntil(); time.Now().Before(until) {
		s.log.Debug("shop backing off a configuration error", "app_id", appID, "until", until)
		return nil
	}
	unlock, ok, err := LockShop(ctx, s.opts.Store, appID, work, s.opts.ID, s.log)
	if err != nil {
		return err
	}
	if !ok {
		if snooze {
			return river.JobSnooze(time.Minute)
		}
		s.log.Warn("skipped: "+errLockedElsewhere.Error(), "app_id", appID, "work", work)
		return nil
	}
	defer unlock()
	res, err := fn(shop.Syncer, ctx)
	if s.opts.Finished != nil {
		s.opts.Finished(appID, res, err)
	}
	switch {
	case errors.Is(err, fetch.ErrConfig):
		wait, at := shop.backOff()
		s.log.Error("shop refused by the API; trying again later", "app_id", appID, "retry_in", wait.String(), "error", err)
		if s.opts.ConfigError != nil {
			s.opts.ConfigError(appID, err, at)
		}
		return nil // not River's to retry: the backoff is
	case err == nil, errors.Is(err, pipeline.ErrPartial):
		shop.clear()
		return nil
	}
	return err
}

func (sh *shopState) blockedUntil() time.Time {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.blocked
}

// backOff doubles the shop's wait, from configBackoffMin to configBackoffMax.
func (sh *shopState) backOff() (time.Duration, time.Time) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.wait = min(max(2*sh.wait, configBackoffMin), configBackoffMax)
	sh.blocked = time.Now().Add(sh.wait)
	return sh.wait, sh.blocked
}

func (sh *shopState) clear() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.wait, sh.blocked = 0, time.Time{}
}

// EnqueueBackfill queues the backfill of the orders shop appID created in [from, to] as
// River jobs, one per window of at most 31 days, for the daemons to run.
func EnqueueBackfill(ctx context.Context, st *store.Store, appID string, from, to time.Time) (int, error) {
	client, err := river.NewClient(riverpgxv5.New(st.Pool()), &river.Config{})
	if err != nil {
		return 0, fmt.Errorf("river client: %w", err)
	}
	var params []river.InsertManyParams
	for start := from; !start.After(to); {
		end := start.Add(31*24*time.Hour - time.Second)
		if end.After(to) {
			end = to
		}
		params = append(params, river.InsertManyParams{Args: BackfillArgs{AppID: appID, From: start, To: end}})
		start = end.Add(time.Second)
	}
	if _, err := client.InsertMany(ctx, params); err != nil {
		return 0, fmt.Errorf("queue the backfill of shop %s: %w", appID, err)
	}
	return len(params), nil
}

// quiet passes River's own logs on at warn and above: its info lines are about itself.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(minLevel{l.Handler(), slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
