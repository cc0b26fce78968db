package schedule

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// @every 1s is the fastest schedule that 5-field specs allow, so these tests take a second
// or three each; they run in parallel.

func TestAdd(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, Options{})
	noop := func(context.Context) error { return nil }
	mustAdd(t, s, Job{Name: "sync", Spec: "*/5 * * * *", Run: noop})

	err := s.Add(Job{Name: "backfill", Spec: "* * * *", Run: noop})
	var specErr *SpecError
	if !errors.As(err, &specErr) || !strings.Contains(err.Error(), `"backfill"`) {
		t.Errorf("Add with a 4-field spec = %v, want a *SpecError naming the job", err)
	}
	for _, job := range []Job{
		{Name: "sync", Spec: "@hourly", Run: noop}, // name taken
		{Name: "", Spec: "@hourly", Run: noop},
		{Name: "report", Spec: "@hourly"},
	} {
		if err := s.Add(job); err == nil {
			t.Errorf("Add(%+v) = nil, want an error", job)
		}
	}
}

func TestRunOnlyOnce(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run with a done ctx = %v, want nil", err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("second Run = nil, want an error")
	}
}

func TestRunLogsAndScheduledTime(t *testing.T) {
	t.Parallel()
	s, logs := newScheduler(t, Options{})
	type run struct{ tick, started time.Time }
	runs := make(chan run, 2)
	mustAdd(t, s, Job{Name: "sync", Spec: "@every 1s", Run: func(ctx context.Context) error {
		started := time.Now()
		tick, ok := ScheduledTime(ctx)
		if !ok {
			t.Error("ScheduledTime(ctx) of a run: not ok")
		}
		select {
		case runs <- run{tick, started}:
		default:
		}
		return nil
	}})
	stop := start(t, s)
	first, second := <-runs, <-runs
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}

	for _, r := range []run{first, second} {
		if r.tick.Location().String() != "Asia/Shanghai" || r.tick.Nanosecond() != 0 || r.started.Before(r.tick) {
			t.Errorf("run started at %v for tick %v; want a whole second in Asia/Shanghai, not after the start", r.started, r.tick)
		}
	}
	if !second.tick.After(first.tick) {
		t.Errorf("second tick %v is not after the first %v", second.tick, first.tick)
	}
	if _, ok := ScheduledTime(context.Background()); ok {
		t.Error("ScheduledTime(context.Background()): ok")
	}
	r := logs.waitFor(t, "of the first run", is("job finished", "job", "sync"))
	if r.level != slog.LevelInfo || r.attrs["duration_ms"] == "" || r.attrs["tick"] == "" || r.attrs["error"] != "" {
		t.Errorf("run logged as %+v, want Info with duration_ms and tick and no error", r)
	}
}

func TestOverlappingTickIsSkipped(t *testing.T) {
	t.Parallel()
	s, logs := newScheduler(t, Options{})
	var calls atomic.Int32
	release := make(chan struct{})
	mustAdd(t, s, Job{Name: "slow", Spec: "@every 1s", Run: func(ctx context.Context) error {
		if calls.Add(1) == 1 {
			<-release // longer than a tick
		}
		return nil
	}})
	stop := start(t, s)

	r := logs.waitFor(t, "of a skipped tick", is("skipped tick: the previous run is still running", "job", "slow"))
	if r.level != slog.LevelWarn {
		t.Errorf("skip logged at %v, want Warn", r.level)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("job called %d times while its first run was blocked, want 1", n)
	}
	close(release)
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	t.Parallel()
	s, logs := newScheduler(t, Options{})
	var calls atomic.Int32
	mustAdd(t, s, Job{Name: "shaky", Spec: "@every 1s", Run: func(ctx context.Context) error {
		switch calls.Add(1) {
		case 1:
			panic("boom")
		case 2:
			return errors.New("upstream down")
		}
		return nil
	}})
	stop := start(t, s)

	// The tick after the panic runs, and fails in the ordinary way.
	failed := logs.waitFor(t, "of the run after the panic", is("job failed", "job", "shaky", "error", "upstream down"))
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	panicked := logs.find(is("job failed", "job", "shaky", "error", "panic: boom"))
	if len(panicked) != 1 {
		t.Fatalf("the panic was logged %d times, want once", len(panicked))
	}
	for _, r := range []record{panicked[0], failed} {
		if r.level != slog.LevelError || r.attrs["duration_ms"] == "" {
			t.Errorf("failed run logged as %+v, want Error with duration_ms", r)
		}
	}
	if stack := panicked[0].attrs["stack"]; !strings.Contains(stack, "TestPanicIsRecovered") {
		t.Errorf("the panic's stack does not show the job:\n%s", stack)
	}
}

func TestStopCancelsRunningJob(t *testing.T) {
	t.Parallel()
	// A job that honours ctx returns long before this.
	s, logs := newScheduler(t, Options{ShutdownTimeout: time.Minute})
	started, returned := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	mustAdd(t, s, Job{Name: "sync", Spec: "@every 1s", Run: func(ctx context.Context) error {
		if calls.Add(1) > 1 {
			return nil
		}
		close(started)
		defer close(returned)
		<-ctx.Done()
		return ctx.Err()
	}})
	stop := start(t, s)
	wait(t, started, "the job to start")

	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil after the job returned", err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Run returned before the job")
	}
	r := logs.waitFor(t, "of the cancelled run", is("job stopped: cancelled", "job", "sync"))
	if r.level != slog.LevelInfo || r.attrs["error"] != "" || r.attrs["duration_ms"] == "" {
		t.Errorf("cancelled run logged as %+v, want Info with duration_ms and no error", r)
	}
	if errs := logs.find(func(r record) bool { return r.level >= slog.LevelError }); len(errs) > 0 {
		t.Errorf("errors logged: %+v", errs)
	}
}

func TestStopAbandonsJobIgnoringContext(t *testing.T) {
	t.Parallel()
	s, logs := newScheduler(t, Options{ShutdownTimeout: 100 * time.Millisecond})
	started, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	mustAdd(t, s, Job{Name: "stubborn", Spec: "@every 1s", Run: func(ctx context.Context) error {
		if calls.Add(1) > 1 {
			return nil
		}
		close(started)
		<-release // ignores ctx
		return nil
	}})
	stop := start(t, s)
	wait(t, started, "the job to start")

	err := stop()
	if !errors.Is(err, ErrShutdownTimeout) || !strings.Contains(err.Error(), `job "stubborn" still running`) {
		t.Errorf("Run = %v, want ErrShutdownTimeout naming the job", err)
	}
	// Let the abandoned run end before the test does: it logs.
	close(release)
	logs.waitFor(t, "of the abandoned run", is("job finished", "job", "stubborn"))
}

func TestCronLoggerLevels(t *testing.T) {
	t.Parallel()
	log, logs := newLogger(t, slog.LevelDebug)
	l := cronLogger{log}
	l.Info("wake", "now", time.Unix(0, 0))
	l.Error(errors.New("bad"), "panic", "stack", "...")

	got := logs.find(func(record) bool { return true })
	if len(got) != 2 {
		t.Fatalf("got %d records, want 2", len(got))
	}
	if got[0].level != slog.LevelDebug || got[0].msg != "wake" || got[0].attrs["now"] == "" {
		t.Errorf("cron Info logged as %+v, want Debug with its attributes", got[0])
	}
	if got[1].level != slog.LevelError || got[1].attrs["error"] != "bad" || got[1].attrs["stack"] != "..." {
		t.Errorf("cron Error logged as %+v, want Error with error and its attributes", got[1])
	}
}
