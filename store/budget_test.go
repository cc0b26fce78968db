package store_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"ordersync/store"
	"ordersync/store/storetest"
)

// shares is what a member of a budget is told, in order.
type shares chan int

// next waits for the member's next share.
func (c shares) next(t *testing.T) int {
	t.Helper()
	select {
	case n := <-c:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no new share within 10s")
		return 0
	}
}

// told is the share the member has been told already, without waiting.
func (c shares) told(t *testing.T) int {
	t.Helper()
	select {
	case n := <-c:
		return n
	default:
		t.Fatal("the member was not told its share yet")
		return 0
	}
}

// none says the member was told nothing more.
func (c shares) none(t *testing.T) {
	t.Helper()
	select {
	case n := <-c:
		t.Errorf("told a share of %d, want no change", n)
	default:
	}
}

// join makes a member of the budget of shop, which leaves when t ends.
func join(ctx context.Context, t *testing.T, s *store.Store, shop string) (shares, func()) {
	t.Helper()
	c := make(shares, 64)
	leave, err := s.JoinBudget(ctx, shop, func(n int) { c <- n })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(leave)
	return c, leave
}

// budgetRows counts the rows of shop in api_budget.
func budgetRows(t *testing.T, s *store.Store, shop string) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM api_budget WHERE app_id = $1`, shop).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The members of a shop split its rate; a member that joins takes its share only once the
// others have lowered theirs; one that leaves gives its share back, even after its
// context has ended.
func TestBudgetSplitsTheRate(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	a, _ := join(ctx, t, s, "shop")
	if n := a.told(t); n != 1 {
		t.Fatalf("alone: told %d members, want 1", n)
	}

	b, leaveB := join(ctx, t, s, "shop")
	if n := b.told(t); n != 2 {
		t.Fatalf("the second member was told %d members, want 2", n)
	}
	// By the time the joiner calls, the first has halved its pace.
	if n := a.told(t); n != 2 {
		t.Fatalf("the first member was told %d members, want 2", n)
	}
	leaveB()
	leaveB()
	if n := a.next(t); n != 1 {
		t.Fatalf("after the second left: told %d members, want 1", n)
	}

	cctx, cancel := context.WithCancel(ctx)
	c, leaveC := join(cctx, t, s, "shop")
	if n := c.told(t); n != 2 {
		t.Fatalf("the third member was told %d members, want 2", n)
	}
	if n := a.told(t); n != 2 {
		t.Fatalf("with the third member: told %d members, want 2", n)
	}
	cancel()
	leaveC()
	if n := budgetRows(t, s, "shop"); n != 1 {
		t.Errorf("%d rows after leaving with a cancelled context, want 1", n)
	}
	if n := a.next(t); n != 1 {
		t.Fatalf("after the third left: told %d members, want 1", n)
	}
	b.none(t)
	c.none(t)
}

// A process that died without leaving stops counting once its heartbeat is stale, and its
// row goes.
func TestBudgetCountsOutDeadMembers(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		if _, err := s.Pool().Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO api_budget (app_id, worker, heartbeat_at) VALUES ('shop', 'killed-long-ago:1', now() - interval '1 minute')`)
	a, _ := join(ctx, t, s, "shop")
	if n := a.told(t); n != 1 {
		t.Fatalf("beside a dead member: told %d members, want 1", n)
	}
	if n := budgetRows(t, s, "shop"); n != 1 {
		t.Errorf("%d rows after joining beside a dead member, want 1: the dead one is not deleted", n)
	}

	// A process that joins and is killed at once.
	exec(`INSERT INTO api_budget (app_id, worker) VALUES ('shop', 'killed-now:2')`)
	if n := a.next(t); n != 2 {
		t.Fatalf("told %d members, want 2", n)
	}
	if n := a.next(t); n != 1 {
		t.Fatalf("once the killed member's heartbeat is stale: told %d members, want 1", n)
	}
}

// Each shop has a budget of its own.
func TestBudgetShopsAreIndependent(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	a1, _ := join(ctx, t, s, "shop-a")
	b1, _ := join(ctx, t, s, "shop-b")
	if n, m := a1.told(t), b1.told(t); n != 1 || m != 1 {
		t.Fatalf("the first members of two shops were told %d and %d members, want 1 and 1", n, m)
	}
	a2, _ := join(ctx, t, s, "shop-a")
	b2, _ := join(ctx, t, s, "shop-b")
	for _, c := range []shares{a1, a2, b1, b2} {
		if n := c.told(t); n != 2 {
			t.Errorf("told %d members, want 2 (two per shop)", n)
		}
	}
	for _, c := range []shares{a1, a2, b1, b2} {
		c.none(t)
	}
}

// A member whose heartbeat fails keeps its share until the others count it out, then gives
// it up; it takes its share again once its heartbeat works and the others count it again.
func TestBudgetSurvivesDatabaseErrors(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{t: t}
	s, err := store.New(context.Background(), storetest.Migrated(t), slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	a, _ := join(ctx, t, s, "shop")
	a.told(t)
	b, _ := join(ctx, t, s, "shop")
	if n, m := a.told(t), b.told(t); n != 2 || m != 2 {
		t.Fatalf("told %d and %d members, want 2 and 2", n, m)
	}

	// Every heartbeat fails while the table is away.
	if _, err := s.Pool().Exec(ctx, `ALTER TABLE api_budget RENAME TO api_budget_away`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []shares{a, b} {
		if n := c.next(t); n != 0 {
			t.Fatalf("heartbeats failing: told %d members, want 0", n)
		}
	}
	// Both members failed several times before they gave up their share.
	if n := logs.count("could not renew the API budget membership"); n < 4 {
		t.Errorf("%d failed heartbeats logged before giving up the share, want several", n)
	}
	// Long enough away for the others to delete the rows: each must insert its row again
	// and wait for the other to count it before it takes its share.
	if _, err := s.Pool().Exec(ctx, `UPDATE api_budget_away SET heartbeat_at = now() - interval '1 minute'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `ALTER TABLE api_budget_away RENAME TO api_budget`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []shares{a, b} {
		if n := c.next(t); n != 2 {
			t.Fatalf("heartbeats back: told %d members, want 2", n)
		}
	}
	if n := logs.count("renewed the API budget membership again"); n != 2 {
		t.Errorf("%d recoveries logged, want 2", n)
	}
}

// syncBuffer keeps what is logged and shows it in the test's output.
type syncBuffer struct {
	t    *testing.T
	mu   sync.Mutex
	buf  bytes.Buffer
	grew chan struct{} // closed by the next Write
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.t.Log(string(bytes.TrimRight(p, "\n")))
	if b.grew != nil {
		close(b.grew)
		b.grew = nil
	}
	return b.buf.Write(p)
}

// await waits until the logs hold s, failing the test after a minute.
func (b *syncBuffer) await(s string) {
	b.t.Helper()
	timeout := time.After(time.Minute)
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), s) {
			b.mu.Unlock()
			return
		}
		if b.grew == nil {
			b.grew = make(chan struct{})
		}
		grew := b.grew
		b.mu.Unlock()
		select {
		case <-grew:
		case <-timeout:
			b.t.Fatalf("the logs never said %q", s)
		}
	}
}

func (b *syncBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// The members of many shops in one process are renewed together, by one statement a
// beat: the rows it renews share its transaction's now().
func TestBudgetRenewsEveryShopInOneStatement(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	const shops = 30
	for i := range shops {
		c, _ := join(ctx, t, s, fmt.Sprintf("shop-%02d", i))
		if n := c.told(t); n != 1 {
			t.Fatalf("shop %d: told %d members, want 1", i, n)
		}
	}
	// The latest join, by the server's clock.
	var last time.Time
	if err := s.Pool().QueryRow(ctx, `SELECT max(heartbeat_at) FROM api_budget`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	for beat := range 5 {
		at, distinct := nextRenewal(t, s, last)
		if distinct != 1 {
			t.Fatalf("beat %d: the %d rows were renewed at %d different times, want 1", beat, shops, distinct)
		}
		last = at
	}
}

// nextRenewal waits until the rows of api_budget were renewed after after, then returns
// when and in how many transactions.
func nextRenewal(t *testing.T, s *store.Store, after time.Time) (at time.Time, distinct int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		var oldest time.Time
		err := s.Pool().QueryRow(ctx, `SELECT min(heartbeat_at), max(heartbeat_at), count(DISTINCT heartbeat_at) FROM api_budget`).
			Scan(&oldest, &at, &distinct)
		if err != nil {
			t.Fatal(err)
		}
		// A statement renews its rows atomically: once the oldest is past after, every row
		// has been renewed since, and a snapshot never sees half a renewal.
		if oldest.After(after) {
			return at, distinct
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no renewal of every row after %v: oldest %v, newest %v, %d distinct", after, oldest, at, distinct)
		case <-time.After(10 * time.Millisecond): // polling the server: it sends no event
		}
	}
}
