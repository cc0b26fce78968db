// Package schedule runs the daemon's jobs on cron schedules (robfig/cron/v3): one run of a
// job at a time in a process, one replica per tick when the replicas share a Locker, a
// panicking run logged and survived, and a stop bounded by a timeout.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// Job is work that runs on a schedule.
type Job struct {
	// Name identifies the job in logs and, through Options.Locker, across replicas:
	// replicas that share a database and a Name take turns. Put the shop in it when one
	// database serves several shops.
	Name string
	// Spec says when the job runs; see ValidateSpec.
	Spec string
	// Run does the work. Its ctx is cancelled when the scheduler stops, and Run must then
	// return promptly: after Options.ShutdownTimeout it is abandoned. ScheduledTime(ctx)
	// is the tick the run is for.
	Run func(ctx context.Context) error
}

// Options configure a Scheduler. The zero value is usable.
type Options struct {
	// Location is the time zone of the specs. Default: Asia/Shanghai.
	Location *time.Location
	// Logger receives one line per run, skipped ticks, and cron's own messages at Debug.
	// Default: discard.
	Logger *slog.Logger
	// Locker, when set, is taken for each run under the job's name, so that of several
	// replicas one runs each tick; the others skip it. Default: none, for a single replica.
	Locker Locker
	// ShutdownTimeout is how long Run waits, once its ctx is done, for running jobs to
	// return. Default: 20s, inside the 30s a container platform usually grants.
	ShutdownTimeout time.Duration
	// LockHold keeps the Locker held after a run until this long after the tick's
	// scheduled time, but never more than half the time to the next tick. Replicas reach
	// a tick at slightly different moments (clock skew, timer and scheduling delays); when
	// a run is shorter than that spread, a late replica would find the lock free and run
	// the tick again. So replicas that try a tick within LockHold of it run it once
	// between them; one that is later still runs it again. Meanwhile a one-shot RunOnce
	// finds the lock taken. Default: 5s. Negative: release as soon as the run ends.
	LockHold time.Duration
}

const (
	defaultShutdownTimeout = 20 * time.Second
	defaultLockHold        = 5 * time.Second
)

// ErrShutdownTimeout is returned by Run when jobs were still running ShutdownTimeout after
// its ctx was done.
var ErrShutdownTimeout = errors.New("shutdown timeout exceeded")

// Scheduler runs Jobs on their schedules. Add jobs, then call Run once.
type Scheduler struct {
	cron            *cron.Cron
	loc             *time.Location
	log             *slog.Logger
	locker          Locker
	shutdownTimeout time.Duration
	lockHold        time.Duration

	mu      sync.Mutex
	jobs    []*entry
	started bool

	// ctx is the runs' context. Run sets it before starting cron, which starts the runs.
	ctx context.Context
}

type entry struct {
	job     Job
	sched   cron.Schedule // as parsed; the one given to cron is a tickSchedule around it
	ticks   chan time.Time
	running atomic.Bool
}

// New returns a Scheduler with no jobs.
func New(opts Options) (*Scheduler, error) {
	if opts.ShutdownTimeout < 0 {
		return nil, fmt.Errorf("new scheduler: negative ShutdownTimeout %v", opts.ShutdownTimeout)
	}
	s := &Scheduler{
		loc:             opts.Location,
		log:             opts.Logger,
		locker:          opts.Locker,
		shutdownTimeout: orDefault(opts.ShutdownTimeout, defaultShutdownTimeout),
		lockHold:        orDefault(opts.LockHold, defaultLockHold),
	}
	if s.loc == nil {
		s.loc = shanghai()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.lockHold = max(s.lockHold, 0)
	clog := cronLogger{s.log.With(slog.String("component", "cron"))}
	// Runs recover their own panics (see call); Recover is there for a bug of ours.
	s.cron = cron.New(cron.WithLocation(s.loc), cron.WithLogger(clog), cron.WithChain(cron.Recover(clog)))
	return s, nil
}

// orDefault returns v, or def when v is zero.
func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// shanghai returns Asia/Shanghai, or UTC+8 where the system has no time zone database:
// China has kept UTC+8 without daylight saving time since 1991, so both schedule alike.
func shanghai() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("UTC+8", 8*60*60)
}

// Add schedules job. It fails with a *SpecError when job.Spec is not valid (see
// ValidateSpec), and when the name is empty or taken or Run is nil. Add jobs before Run.
func (s *Scheduler) Add(job Job) error {
	if job.Name == "" {
		return errors.New("add job: empty name")
	}
	if job.Run == nil {
		return fmt.Errorf("add job %q: nil Run", job.Name)
	}
	sched, err := parseSpec(job.Spec, s.loc)
	if err != nil {
		return fmt.Errorf("add job %q: %w", job.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.jobs, func(e *entry) bool { return e.job.Name == job.Name }) {
		return fmt.Errorf("add job %q: a job of that name exists", job.Name)
	}
	e := &entry{job: job, sched: sched, ticks: make(chan time.Time, 1)}
	s.jobs = append(s.jobs, e)
	s.cron.Schedule(&tickSchedule{Schedule: sched, ticks: e.ticks}, cron.FuncJob(func() {
		s.run(e, <-e.ticks)
	}))
	return nil
}

// tickSchedule tells each run which tick it is for, since cron.Job.Run has no arguments.
// cron calls Next in its own goroutine once when it takes up the entry (at Start, or at
// Add while running), and then once right after starting each run, so the time returned
// by the previous call is the tick of the run just started. Hence a Scheduler runs once:
// a second cron.Start would call Next without starting a run.
type tickSchedule struct {
	cron.Schedule
	ticks chan<- time.Time
	prev  time.Time // the last time returned; only cron's goroutine touches it
}

func (s *tickSchedule) Next(t time.Time) time.Time {
	if !s.prev.IsZero() {
		s.ticks <- s.prev
	}
	s.prev = s.Schedule.Next(t)
	return s.prev
}

type tickKey struct{}

// ScheduledTime returns the time that the run owning ctx was scheduled for (its tick, not
// when it started), and false when ctx does not come from a scheduled run.
func ScheduledTime(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(tickKey{}).(time.Time)
	return t, ok
}

// Run starts the jobs' schedules and blocks until ctx is done. Then it stops scheduling,
// cancels the context of the running jobs and waits up to ShutdownTimeout for them to
// return. It returns nil after a clean stop and an error wrapping ErrShutdownTimeout when
// it had to abandon running jobs. Run may be called once.
func (s *Scheduler) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("run scheduler: already run")
	}
	s.started = true
	s.ctx = runCtx
	names := make([]string, len(s.jobs))
	for i, e := range s.jobs {
		names[i] = e.job.Name
	}
	s.mu.Unlock()

	s.cron.Start()
	s.log.Info("scheduler started", slog.Any("jobs", names), slog.String("location", s.loc.String()))
	<-ctx.Done()

	// cron's Stop only waits for running jobs; cancelling them is ours (robfig/cron#546).
	cancel()
	stopped := s.cron.Stop()
	timer := time.NewTimer(s.shutdownTimeout)
	defer timer.Stop()
	select {
	case <-stopped.Done():
		s.log.Info("scheduler stopped")
		return nil
	case <-timer.C:
		return fmt.Errorf("stop scheduler: %s still running after %v, abandoned: %w",
			s.runningJobs(), s.shutdownTimeout, ErrShutdownTimeout)
	}
}

// runningJobs describes the jobs that are running, for the shutdown error.
func (s *Scheduler) runningJobs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, e := range s.jobs {
		if e.running.Load() {
			names = append(names, fmt.Sprintf("%q", e.job.Name))
		}
	}
	switch len(names) {
	case 0:
		// A run between its last step and its goroutine's end.
		return "a job"
	case 1:
		return "job " + names[0]
	}
	return "jobs " + strings.Join(names, ", ")
}

// run is one tick of e: it skips the tick when e still runs here or runs on another
// replica, and otherwise runs it and logs the result.
func (s *Scheduler) run(e *entry, tick time.Time) {
	log := s.log.With(slog.String("job", e.job.Name), slog.Time("tick", tick))
	// cron.SkipIfStillRunning would only log "skip" at Info, without the job's name.
	if !e.running.CompareAndSwap(false, true) {
		log.Warn("skipped tick: the previous run is still running")
		return
	}
	defer e.running.Store(false)

	ctx := context.WithValue(s.ctx, tickKey{}, tick)
	if s.locker != nil {
		unlock, ok, err := s.locker.TryLock(ctx, e.job.Name)
		switch {
		case err != nil && ctx.Err() != nil:
			log.Info("skipped tick: stopping")
			return
		case err != nil:
			log.Error("skipped tick: could not take the lock", slog.Any("error", err))
			return
		case !ok:
			log.Info("skipped tick: another process holds the lock")
			return
		}
		defer unlock()
		defer s.holdLock(ctx, e, tick)
	}

	start := time.Now()
	err := call(ctx, e.job.Run)
	took := slog.Int64("duration_ms", time.Since(start).Milliseconds())
	var p *panicError
	switch {
	case err == nil:
		log.Info("job finished", took)
	case errors.Is(err, context.Canceled):
		log.Info("job stopped: cancelled", took)
	case errors.As(err, &p):
		log.Error("job failed", took, slog.Any("error", err), slog.String("stack", string(p.stack)))
	default:
		log.Error("job failed", took, slog.Any("error", err))
	}
}

// holdLock waits until LockHold after tick, capped at half the time to the tick after, or
// until ctx is done.
func (s *Scheduler) holdLock(ctx context.Context, e *entry, tick time.Time) {
	hold := s.lockHold
	if next := e.sched.Next(tick); !next.IsZero() {
		hold = min(hold, next.Sub(tick)/2)
	}
	wait := time.Until(tick.Add(hold))
	if wait <= 0 {
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// panicError is a panic of a job's run.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// call runs fn, turning a panic into a *panicError.
func call(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}
