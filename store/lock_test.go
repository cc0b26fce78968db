package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"ordersync/store"
	"ordersync/store/storetest"
)

// lockBundle is two stores on one database, as two processes would have.
type lockBundle struct {
	s, other *store.Store
	logs     *syncBuffer // the logs of s
}

func setupLocks(t *testing.T) *lockBundle {
	t.Helper()
	url := storetest.Migrated(t)
	logs := &syncBuffer{t: t}
	s, err := store.New(context.Background(), url, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	other, err := store.New(context.Background(), url, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	return &lockBundle{s: s, other: other, logs: logs}
}

// lock takes name on s and fails the test unless it gets it.
func lock(t *testing.T, s *store.Store, name string) func() {
	t.Helper()
	unlock, ok, err := s.TryLock(context.Background(), name)
	if err != nil || !ok {
		t.Fatalf("lock %s: ok %v, error %v", name, ok, err)
	}
	t.Cleanup(unlock)
	return unlock
}

// refused says that s cannot take name now.
func refused(t *testing.T, s *store.Store, name string) {
	t.Helper()
	unlock, ok, err := s.TryLock(context.Background(), name)
	if err != nil {
		t.Fatalf("lock %s: %v", name, err)
	}
	if ok {
		unlock()
		t.Fatalf("took lock %s, want it refused", name)
	}
}

// waitForLock starts waiting for name's lock on a connection of s's pool, as another
// process would. got waits until it has the lock and returns its unlock.
func waitForLock(t *testing.T, s *store.Store, name string) (got func() func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Release)
	var waiting int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	locked := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, store.LockClass, name)
		locked <- err
	}()
	// The lock manager queues it: the session shows as waiting for an advisory lock.
	for {
		var queued bool
		err := s.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND NOT granted)`, waiting).Scan(&queued)
		if err != nil {
			t.Fatal(err)
		}
		if queued {
			break
		}
	}
	return func() func() {
		if err := <-locked; err != nil {
			t.Fatalf("wait for lock %s: %v", name, err)
		}
		return func() {
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, store.LockClass, name); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// holder is the pid of the session holding name, 0 if none, as docs tell an operator.
func holder(t *testing.T, s *store.Store, name string) int {
	t.Helper()
	var pid int
	err := s.Pool().QueryRow(context.Background(), `
		SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND granted
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = $1::int::oid AND objid = hashtext($2)::oid AND objsubid = 2`, store.LockClass, name).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// kill ends the session pid and waits until it is gone.
func kill(t *testing.T, s *store.Store, pid int) {
	t.Helper()
	var gone bool
	if err := s.Pool().QueryRow(context.Background(), `SELECT pg_terminate_backend($1, 10000)`, pid).Scan(&gone); err != nil || !gone {
		t.Fatalf("terminate %d: %v, %v", pid, gone, err)
	}
}

// A lock excludes every other holder, this Store's own included, until it is unlocked;
// unlock may come after ctx is done, and twice.
func TestLockExcludes(t *testing.T) {
	t.Parallel()
	b := setupLocks(t)
	ctx, cancel := context.WithCancel(context.Background())
	unlock, ok, err := b.s.TryLock(ctx, "a")
	if err != nil || !ok {
		t.Fatalf("lock a: ok %v, error %v", ok, err)
	}
	refused(t, b.s, "a")
	refused(t, b.other, "a")
	pid := holder(t, b.s, "a")

	// A caller whose ctx is done gets an error and leaves the session, and the locks of
	// the others, as they were.
	dead, stop := context.WithCancel(context.Background())
	stop()
	if _, _, err := b.s.TryLock(dead, "b"); err == nil {
		t.Error("locked with a cancelled context, want an error")
	}
	if got := holder(t, b.s, "a"); got != pid {
		t.Errorf("lock a held by %d after a cancelled TryLock, want %d", got, pid)
	}

	cancel()
	unlock()
	unlock()
	if got := holder(t, b.s, "a"); got != 0 {
		t.Fatalf("lock a held by %d after unlock", got)
	}
	lock(t, b.other, "a")
	refused(t, b.s, "a")
}

// The locks of many jobs take one connection, none of the pool's.
func TestLocksShareOneSession(t *testing.T) {
	t.Parallel()
	b := setupLocks(t)
	pids := map[int]bool{}
	for i := range 30 {
		name := fmt.Sprintf("ordersync:shop%02d:backfill", i)
		lock(t, b.s, name)
		pids[holder(t, b.s, name)] = true
	}
	if len(pids) != 1 {
		t.Errorf("30 locks held by %d sessions, want 1", len(pids))
	}
	if n := b.s.Pool().Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d pool connections kept while holding 30 locks, want 0", n)
	}
}

// When the session holding the locks dies, the next use connects again and takes them
// again.
func TestLocksTakenAgainAfterTheSessionDies(t *testing.T) {
	t.Parallel()
	b := setupLocks(t)
	unlockA := lock(t, b.s, "a")
	lock(t, b.s, "b")
	kill(t, b.other, holder(t, b.s, "a"))

	// An unlock is a use: a goes, b is taken again.
	unlockA()
	pid := holder(t, b.s, "b")
	if pid == 0 {
		t.Fatal("lock b not taken again after the session died")
	}
	if got := holder(t, b.s, "a"); got != 0 {
		t.Errorf("lock a held by %d after its unlock", got)
	}
	refused(t, b.other, "b")

	// So is a lock.
	kill(t, b.other, pid)
	lock(t, b.s, "c")
	if got, want := holder(t, b.s, "b"), holder(t, b.s, "c"); got == 0 || got != want {
		t.Errorf("lock b held by %d, want %d: the new session", got, want)
	}
	if n := b.logs.count("level=ERROR"); n != 0 {
		t.Errorf("%d errors logged, want none: no lock was taken by another session", n)
	}
}

// A job that holds its lock for hours with no other lock or unlock in the process still
// gets it back soon after the session dies: the store checks the session while it holds
// locks.
func TestLocksTakenAgainWithoutAnotherUse(t *testing.T) {
	t.Parallel()
	b := setupLocks(t)
	lock(t, b.s, "ordersync:shop:backfill")
	old := holder(t, b.s, "ordersync:shop:backfill")
	kill(t, b.other, old)
	b.logs.await("took them again")
	if got := holder(t, b.s, "ordersync:shop:backfill"); got == 0 || got == old {
		t.Fatalf("lock held by %d after the session %d died, want a new session of this store", got, old)
	}
	refused(t, b.other, "ordersync:shop:backfill")
}

// A lock that another process took while the session was gone is reported, and the job
// that held it keeps it in this process until it unlocks.
func TestLockLostToAnotherProcess(t *testing.T) {
	t.Parallel()
	b := setupLocks(t)
	unlockA := lock(t, b.s, "ordersync:shop:sync")
	// The other process waits for the lock, so that it has it the moment the session dies,
	// before this store can take it again.
	got := waitForLock(t, b.other, "ordersync:shop:sync")
	kill(t, b.other, holder(t, b.s, "ordersync:shop:sync"))
	unlockOther := got()

	lock(t, b.s, "ordersync:shop:backfill")
	if n := b.logs.count(`level=ERROR msg="another session took an advisory lock`); n != 1 {
		t.Errorf("%d errors logged for the lost lock, want 1", n)
	}
	if b.logs.count("lock=ordersync:shop:sync") == 0 {
		t.Error("the error does not name the lost lock")
	}
	// Its job is still running here, so no second one may start beside it.
	unlockOther()
	refused(t, b.s, "ordersync:shop:sync")
	unlockA()
	lock(t, b.s, "ordersync:shop:sync")
	if got, want := holder(t, b.s, "ordersync:shop:sync"), holder(t, b.s, "ordersync:shop:backfill"); got != want {
		t.Errorf("lock held by %d, want %d: this store's session", got, want)
	}
}
