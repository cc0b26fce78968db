package schedule

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"ordersync/store/storetest"
)

// replicas opens n pools on one fresh database, as n replicas of the daemon would.
func replicas(t *testing.T, n int) []*pgxpool.Pool {
	t.Helper()
	url := storetest.NewDatabase(t)
	pools := make([]*pgxpool.Pool, n)
	for i := range pools {
		pools[i] = storetest.Pool(t, url)
	}
	return pools
}

func mustLock(t *testing.T, l Locker, name string) (unlock func()) {
	t.Helper()
	unlock, ok, err := l.TryLock(context.Background(), name)
	if err != nil || !ok {
		t.Fatalf("TryLock(%q) = %v, %v; want it taken", name, ok, err)
	}
	return unlock
}

func mustNotLock(t *testing.T, l Locker, name string) {
	t.Helper()
	unlock, ok, err := l.TryLock(context.Background(), name)
	if err != nil || ok {
		if ok {
			unlock()
		}
		t.Fatalf("TryLock(%q) = %v, %v; want it held elsewhere", name, ok, err)
	}
}

// holderPID returns the backend holding the lock name in pool's database, or 0.
func holderPID(t *testing.T, pool *pgxpool.Pool, name string) int32 {
	t.Helper()
	// The query of AdvisoryLockClass's doc comment.
	var pid int32
	err := pool.QueryRow(context.Background(), `
		SELECT coalesce(max(pid), 0) FROM pg_locks
		WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = $1::int::oid AND objid = hashtext($2)::oid AND objsubid = 2 AND granted`,
		AdvisoryLockClass, name).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestPGLocker(t *testing.T) {
	t.Parallel()
	pools := replicas(t, 2)
	a, b := NewPGLocker(pools[0]), NewPGLocker(pools[1])

	unlock := mustLock(t, a, "sync")
	mustNotLock(t, b, "sync")
	if holderPID(t, pools[1], "sync") == 0 {
		t.Error("the held lock is not in pg_locks under AdvisoryLockClass and hashtext(name)")
	}
	mustLock(t, b, "backfill")() // another name, another lock

	unlock()
	unlock() // a second call does nothing
	mustLock(t, b, "sync")()

	// unlock needs no live ctx: a stopping daemon unlocks after its ctx is cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	unlock, ok, err := a.TryLock(ctx, "sync")
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	cancel()
	unlock()
	mustLock(t, b, "sync")()

	if n := pools[0].Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired after unlock, want 0", n)
	}

	pools[0].Close()
	if _, _, err := a.TryLock(context.Background(), "sync"); err == nil {
		t.Error("TryLock on a closed pool: no error")
	}
}

func TestPGLockerConnectionDied(t *testing.T) {
	t.Parallel()
	pools := replicas(t, 2)
	a, b := NewPGLocker(pools[0]), NewPGLocker(pools[1])
	unlock := mustLock(t, a, "sync")

	// The holder's session ends (a restart, a network cut, an idle timeout): its lock goes.
	var terminated bool
	err := pools[1].QueryRow(context.Background(), "SELECT pg_terminate_backend($1, 60000)",
		holderPID(t, pools[1], "sync")).Scan(&terminated)
	if err != nil || !terminated {
		t.Fatalf("terminate the holder: %v, %v", terminated, err)
	}
	unlockB := mustLock(t, b, "sync")

	unlock() // on a dead connection: returns, and gives the connection up
	if st := pools[0].Stat(); st.AcquiredConns() != 0 || st.TotalConns() != 0 {
		t.Errorf("after unlock on a dead connection: %d acquired, %d in the pool; want 0, 0", st.AcquiredConns(), st.TotalConns())
	}
	mustNotLock(t, a, "sync") // still b's: a's unlock did not touch it
	mustLock(t, a, "backfill")()
	unlockB()
}

func TestRunOnce(t *testing.T) {
	t.Parallel()
	pools := replicas(t, 2)
	a, b := NewPGLocker(pools[0]), NewPGLocker(pools[1])
	ctx := context.Background()

	unlock := mustLock(t, a, "sync")
	ran, err := RunOnce(ctx, b, "sync", func(context.Context) error {
		t.Error("fn called while another process holds the lock")
		return nil
	})
	if ran || err != nil {
		t.Errorf("RunOnce with the lock held elsewhere = %v, %v; want false, nil", ran, err)
	}
	unlock()

	failure := errors.New("upstream down")
	ran, err = RunOnce(ctx, b, "sync", func(context.Context) error {
		mustNotLock(t, a, "sync") // held while fn runs
		return failure
	})
	if !ran || !errors.Is(err, failure) {
		t.Errorf("RunOnce = %v, %v; want true, %v", ran, err, failure)
	}
	mustLock(t, a, "sync")() // released after fn

	func() {
		defer func() { _ = recover() }()
		_, _ = RunOnce(ctx, b, "sync", func(context.Context) error { panic("boom") })
	}()
	mustLock(t, a, "sync")() // released after a panic

	ran, err = RunOnce(ctx, nil, "sync", func(context.Context) error { return nil })
	if !ran || err != nil {
		t.Errorf("RunOnce without a locker = %v, %v; want true, nil", ran, err)
	}
}

func TestTickSkippedWhileLockedElsewhere(t *testing.T) {
	t.Parallel()
	pools := replicas(t, 2)
	unlock := mustLock(t, NewPGLocker(pools[0]), "sync") // a one-shot `syncer sync`, say
	s, logs := newScheduler(t, Options{Locker: NewPGLocker(pools[1])})
	var calls atomic.Int32
	mustAdd(t, s, Job{Name: "sync", Spec: "@every 1s", Run: func(context.Context) error {
		calls.Add(1)
		return nil
	}})
	stop := start(t, s)

	r := logs.waitFor(t, "of a tick skipped for the lock", is("skipped tick: another process holds the lock", "job", "sync"))
	if r.level != slog.LevelInfo {
		t.Errorf("skip logged at %v, want Info", r.level)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("job ran %d times while the lock was held elsewhere", n)
	}
	unlock()
	logs.waitFor(t, "of a run once the lock is free", is("job finished", "job", "sync"))
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if n := pools[1].Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired after Run, want 0", n)
	}
}

// Two replicas with the same job on the same database: every tick runs on one of them. The
// job takes no time, so this holds only because the winner keeps the lock past its run
// (Options.LockHold) while the other replica reaches the same tick.
func TestReplicasRunEachTickOnce(t *testing.T) {
	t.Parallel()
	const ticks = 4
	var (
		mu     sync.Mutex
		ran    = map[time.Time][]string{} // tick (in UTC) → the replicas that ran it
		enough = make(chan struct{})
	)
	job := func(replica string) func(context.Context) error {
		return func(ctx context.Context) error {
			tick, ok := ScheduledTime(ctx)
			if !ok {
				t.Error("ScheduledTime: not ok")
			}
			// A time.Time is a map key only in one Location: each replica has its own
			// *time.Location for Asia/Shanghai.
			tick = tick.UTC()
			mu.Lock()
			defer mu.Unlock()
			ran[tick] = append(ran[tick], replica)
			if len(ran) == ticks {
				close(enough)
			}
			return nil
		}
	}

	var stops []func() error
	var allLogs []*logs
	for i, pool := range replicas(t, 2) {
		name := string(rune('a' + i))
		log, logs := newLogger(t, slog.LevelInfo)
		s, _ := newScheduler(t, Options{Logger: log.With("replica", name), Locker: NewPGLocker(pool)})
		mustAdd(t, s, Job{Name: "sync", Spec: "@every 1s", Run: job(name)})
		stops = append(stops, start(t, s))
		allLogs = append(allLogs, logs)
	}
	wait(t, enough, "enough ticks")
	for _, stop := range stops {
		if err := stop(); err != nil {
			t.Fatalf("Run = %v", err)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	for tick, replicas := range ran {
		if len(replicas) != 1 {
			t.Errorf("tick %v ran on %v", tick.Format(time.TimeOnly), replicas)
		}
	}
	skipped := 0
	for _, logs := range allLogs {
		skipped += len(logs.find(is("skipped tick: another process holds the lock", "job", "sync")))
	}
	if skipped == 0 {
		t.Error("no replica skipped a tick: the test did not make them compete")
	}
	t.Logf("%d ticks ran, %d skipped for the lock", len(ran), skipped)
}
