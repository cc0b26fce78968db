package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/store"
)

// The command-level edges: what a user of the binary sees when one order's reply is cut
// short, when a backfill is stopped by SIGTERM, when two processes work for one shop at
// once, and when a backfill runs up to a day that is not over.

// edgeProc is the real binary running as a process of its own.
type edgeProc struct {
	cmd  *exec.Cmd
	out  bytes.Buffer // stdout and stderr; read only after wait
	done chan struct{}
}

// edgeStart starts the binary with env added to this process's environment.
func edgeStart(t *testing.T, env map[string]string, args ...string) *edgeProc {
	t.Helper()
	bin, err := buildSyncer()
	if err != nil {
		t.Fatal(err)
	}
	p := &edgeProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = os.Environ()
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v) // the last of duplicate keys wins
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits at most limit for the process to exit and returns its exit status; a process
// that does not exit in time is killed and fails the test.
func (p *edgeProc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %s:\n%s", strings.Join(p.cmd.Args, " "), limit, p.out.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// edgeStored is what the store holds of each order: its update_time and content hash.
type edgeStored struct {
	updated time.Time
	hash    []byte
}

func edgeStoredOrders(t *testing.T, s *store.Store) map[string]edgeStored {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(),
		"SELECT o.order_id, o.update_time, p.content_hash FROM orders o JOIN order_payloads p USING (order_id)")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]edgeStored{}
	for rows.Next() {
		var (
			id string
			r  edgeStored
		)
		if err := rows.Scan(&id, &r.updated, &r.hash); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func edgeCount(t *testing.T, s *store.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func edgeStr(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}

func edgeRuns(t *testing.T, s *store.Store) []store.Run {
	t.Helper()
	rs, err := s.Runs(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestTruncatedReplyIsQueuedAndLandsOnceFixed: one order's detail answers HTTP 200 with a
// body cut short on every attempt. The backfill stores every other order and exits 3;
// the order waits in sync_failures with its error and the bytes received, status shows
// it whole; once the reply is fixed, the next sync lands it and empties the queue.
func TestTruncatedReplyIsQueuedAndLandsOnceFixed(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	from := now.AddDate(0, 0, -10)
	shop, env := shopEnv(t, fetchtest.Options{Seed: 41, Orders: 60, From: from, To: now, Rate: -1})
	s := st(t, env)
	ctx := context.Background()
	app := shop.Options().AppID
	truth := shop.Orders()
	bad := truth[len(truth)/2]
	shop.SetFault(fetchtest.FaultTruncated, bad.ID)

	code, stdout, stderr := runSyncer(t, ctx, env, "backfill", "--from", from.Format(time.DateOnly), "--to", now.Format(time.DateOnly))
	if code != 3 {
		t.Fatalf("backfill with one truncated reply: exit %d, want 3\n%s%s", code, stdout, stderr)
	}

	// Every other order landed, as the shop serves it; the bad one did not.
	stored := edgeStoredOrders(t, s)
	if len(stored) != len(truth)-1 {
		t.Errorf("%d orders stored, want %d: all but %s", len(stored), len(truth)-1, bad.ID)
	}
	for _, o := range truth {
		r, ok := stored[o.ID]
		if o.ID == bad.ID {
			if ok {
				t.Errorf("order %s stored although its reply was cut short", o.ID)
			}
			continue
		}
		h := order.Hash(o.Detail)
		if !ok || !r.updated.Equal(o.Updated) || !bytes.Equal(r.hash, h[:]) {
			t.Errorf("order %s: stored %v, want update_time %v and the shop's content", o.ID, ok, o.Updated)
		}
	}
	if rs := edgeRuns(t, s); len(rs) != 1 || rs[0].Status != store.StatusPartial || rs[0].OrdersFailed != 1 || rs[0].OrdersWritten != len(truth)-1 {
		t.Errorf("runs %+v; want one partial backfill with 1 failed and %d written", rs, len(truth)-1)
	}

	// The queue holds it with its error and exactly the bytes the shop sent.
	var (
		qID, qApp, qErr string
		attempts        int
		reply           []byte
		next            time.Time
	)
	if err := s.Pool().QueryRow(ctx, `SELECT order_id, app_id, error, attempts, next_attempt_at, reply FROM sync_failures`).
		Scan(&qID, &qApp, &qErr, &attempts, &next, &reply); err != nil {
		t.Fatalf("sync_failures: %v (want one row for %s)", err, bad.ID)
	}
	if n := edgeCount(t, s, "SELECT count(*) FROM sync_failures"); n != 1 {
		t.Errorf("%d orders queued, want 1", n)
	}
	const cut = `{"code":0,"msg":"success","data":{"buyer_info":{"av`
	want := append([]byte(`{"code":0,"msg":"success","data":`), bad.Detail[:len(bad.Detail)-len(bad.Detail)/2]...)
	switch {
	case qID != bad.ID || qApp != app:
		t.Errorf("queued %s of shop %s, want %s of %s", qID, qApp, bad.ID, app)
	case !bytes.HasPrefix(reply, []byte(cut)) || !bytes.Equal(reply, want):
		t.Errorf("reply column holds %d bytes starting %.60q; want the %d bytes received, starting %q", len(reply), reply, len(want), cut)
	case attempts != 1:
		t.Errorf("attempts %d after one run, want 1", attempts)
	case !strings.Contains(qErr, bad.ID):
		t.Errorf("queued error %q does not name the order", qErr)
	}
	t.Logf("queued: %s", qErr)

	// syncer status shows it with its attempts, its next attempt and its whole error.
	code, stdout, stderr = runSyncer(t, ctx, env, "status")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr)
	}
	_, queue, found := strings.Cut(stdout, "FAILURE QUEUE")
	nextAt := regexp.MustCompile(`(?i)next\D*` + regexp.QuoteMeta(next.In(order.Shanghai).Format(time.DateTime)))
	switch {
	case !found || !strings.Contains(queue, bad.ID):
		t.Errorf("status does not list %s in its failure queue:\n%s", bad.ID, stdout)
	case !regexp.MustCompile(`(?i)attempts\W*1\b`).MatchString(queue):
		t.Errorf("status does not show 1 attempt:\n%s", queue)
	case !nextAt.MatchString(queue):
		t.Errorf("status does not show the next attempt (%s):\n%s", next.In(order.Shanghai).Format(time.DateTime), queue)
	case !strings.Contains(queue, qErr):
		t.Errorf("status does not show the whole error %q:\n%s", qErr, queue)
	}
	code, stdout, stderr = runSyncer(t, ctx, env, "status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d: %s", code, stderr)
	}
	var status struct {
		Failures []struct {
			OrderID       string    `json:"order_id"`
			Error         string    `json:"error"`
			Attempts      int       `json:"attempts"`
			NextAttemptAt time.Time `json:"next_attempt_at"`
		} `json:"failures"`
	}
	if err := json.Unmarshal([]byte(stdout), &status); err != nil {
		t.Fatalf("status --json: %v\n%s", err, stdout)
	}
	if f := status.Failures; len(f) != 1 || f[0].OrderID != bad.ID || f[0].Error != qErr || f[0].Attempts != 1 || !f[0].NextAttemptAt.Equal(next) {
		t.Errorf("status --json failures %+v; want %s, %q, 1 attempt, next %s", f, bad.ID, qErr, next)
	}

	// Once the shop answers properly, the next sync lands it and the queue is empty.
	shop.SetFault(fetchtest.FaultNone, bad.ID)
	code, stdout, stderr = runSyncer(t, ctx, env, "sync")
	if code != 0 {
		t.Fatalf("sync once the reply is fixed: exit %d, want 0\n%s%s", code, stdout, stderr)
	}
	if n := edgeCount(t, s, "SELECT count(*) FROM sync_failures"); n != 0 {
		t.Errorf("%d orders still queued after the fix", n)
	}
	assertStoreMatchesShop(t, s, shop)
}

// TestSIGTERMMidBackfill: the real binary, stopped by SIGTERM in the middle of a slow
// backfill, writes what it fetched, records the run as interrupted with true counts and
// exits 130; the rerun fetches only the rest and the tables match the shop.
func TestSIGTERMMidBackfill(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	from := now.AddDate(0, 0, -60)
	// Two workers against 40 ms per call: about 50 details a second, 8 s for the whole
	// backfill, while the first batch is written within the 2 s flush interval.
	shop, env := shopEnv(t, fetchtest.Options{Seed: 42, Orders: 400, From: from, To: now, Rate: -1, Latency: 40 * time.Millisecond})
	env["SYNC_WORKERS"] = "2"
	s := st(t, env)
	args := []string{"backfill", "--from", from.Format(time.DateOnly), "--to", now.Format(time.DateOnly)}

	p := edgeStart(t, env, args...)
	// The syncer is another process: the only sign of its progress is the database, so
	// poll it briefly until it has written some orders.
	deadline := time.Now().Add(30 * time.Second)
	for edgeCount(t, s, "SELECT count(*) FROM orders") == 0 {
		select {
		case <-p.done:
			t.Fatalf("backfill exited before it was stopped:\n%s", p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no order written within 30 s:\n%s", p.out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling another process's database state
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 130 {
		t.Fatalf("backfill stopped by SIGTERM: exit %d, want 130\n%s", code, p.out.String())
	}

	stored := edgeStoredOrders(t, s)
	rs := edgeRuns(t, s)
	if len(rs) != 1 {
		t.Fatalf("%d runs recorded, want 1: %+v", len(rs), rs)
	}
	r := rs[0]
	t.Logf("stopped with %d of %d orders stored; run %s: %d listed, %d fetched, %d written, error %s",
		len(stored), len(shop.Orders()), r.Status, r.OrdersListed, r.OrdersFetched, r.OrdersWritten, edgeStr(r.Error))
	switch {
	case r.Status != store.StatusInterrupted:
		t.Errorf("run status %q, want %q", r.Status, store.StatusInterrupted)
	case r.OrdersWritten != len(stored) || r.OrdersFetched != len(stored):
		t.Errorf("run says %d fetched and %d written; %d orders are stored: every fetched detail must be written and counted",
			r.OrdersFetched, r.OrdersWritten, len(stored))
	case r.FinishedAt == nil:
		t.Errorf("interrupted run has no finished_at")
	}
	if len(stored) >= 400 {
		t.Fatalf("all %d orders stored before the signal: it did not land mid-run", len(stored))
	}
	if n := edgeCount(t, s, "SELECT count(*) FROM sync_failures"); n != 0 {
		t.Errorf("an interrupted backfill queued %d orders", n)
	}

	// The rerun, at full speed, fetches none of the orders already stored.
	shop.SetLatency(0)
	before := shop.Stats().DetailCalls
	p = edgeStart(t, env, args...)
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("rerun: exit %d, want 0\n%s", code, p.out.String())
	}
	after := shop.Stats().DetailCalls
	refetched := 0
	for id := range stored {
		if after[id] != before[id] {
			refetched++
		}
	}
	if refetched > 0 {
		t.Errorf("the rerun fetched %d orders the interrupted run had stored", refetched)
	}
	if r := edgeRuns(t, s)[0]; r.Status != store.StatusOK {
		t.Errorf("rerun recorded as %+v", r)
	}
	assertStoreMatchesShop(t, s, shop)
}

// TestBackfillAndSyncShareTheShop: a backfill and a sync of one shop run at once, as two
// processes, against a shop that refuses more than 20 calls a second per endpoint. They
// share the budget through the database: both complete, the shop refuses hardly a call,
// and the tables end exact.
func TestBackfillAndSyncShareTheShop(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	from := now.AddDate(0, 0, -20)
	shop, env := shopEnv(t, fetchtest.Options{Seed: 43, Orders: 60, From: from, To: now, Rate: 20, Latency: 20 * time.Millisecond})
	env["XE_RATE"] = "20" // the real limit, as both processes are told in production
	s := st(t, env)

	procs := map[string]*edgeProc{
		"backfill": edgeStart(t, env, "backfill", "--from", from.Format(time.DateOnly), "--to", now.Format(time.DateOnly)),
		"sync":     edgeStart(t, env, "sync"),
	}
	var wg sync.WaitGroup
	codes := map[string]int{}
	var mu sync.Mutex
	for name, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-p.done:
			case <-time.After(90 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
			mu.Lock()
			codes[name] = p.cmd.ProcessState.ExitCode()
			mu.Unlock()
		}()
	}
	wg.Wait()
	for name, p := range procs {
		if codes[name] != 0 {
			t.Errorf("%s: exit %d, want 0\n%s", name, codes[name], p.out.String())
		}
	}

	rs := edgeRuns(t, s)
	if len(rs) != 2 {
		t.Fatalf("%d runs recorded, want 2: %+v", len(rs), rs)
	}
	for _, r := range rs {
		t.Logf("%s run: %d fetched, %d written, %d API calls", r.Kind, r.OrdersFetched, r.OrdersWritten, r.APICalls)
		if r.Status != store.StatusOK {
			t.Errorf("%s run %d: %s %s", r.Kind, r.RunID, r.Status, edgeStr(r.Error))
		}
	}
	// The premise: the two runs were under way at the same time.
	a, b := rs[0], rs[1]
	if a.FinishedAt == nil || b.FinishedAt == nil || !a.StartedAt.Before(*b.FinishedAt) || !b.StartedAt.Before(*a.FinishedAt) {
		t.Errorf("the runs did not overlap, so nothing was shared: %+v", rs)
	}
	stats := shop.Stats()
	t.Logf("calls %v, most in one second %v, refused %d", stats.Calls, stats.MaxPerSecond, stats.RateLimited)
	if stats.RateLimited > 5 {
		t.Errorf("the shop refused %d calls with 2054; two processes sharing its budget should cause at most 5", stats.RateLimited)
	}
	assertStoreMatchesShop(t, s, shop)
}

// TestBackfillUpToToday: a backfill up to today records nothing past now; orders created
// later today are exactly what a second identical backfill fetches.
func TestBackfillUpToToday(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	from := now.AddDate(0, 0, -5)
	shop, env := shopEnv(t, fetchtest.Options{Seed: 44, Orders: 100, From: from, To: now, Rate: -1})
	s := st(t, env)
	ctx := context.Background()
	app := shop.Options().AppID
	today := now.Format(time.DateOnly)
	args := []string{"backfill", "--from", from.Format(time.DateOnly), "--to", today}

	// windowsEnd checks that no backfill window ends after now, and returns the latest end.
	windowsEnd := func() time.Time {
		t.Helper()
		ws, err := s.Windows(ctx, app, order.CreatedTime, from.AddDate(0, 0, -1), now.AddDate(0, 0, 2))
		if err != nil {
			t.Fatal(err)
		}
		checked := time.Now()
		var end time.Time
		for _, w := range ws {
			if w.WindowEnd.After(checked) {
				t.Errorf("window %s..%s recorded past now (%s)", w.WindowStart, w.WindowEnd, checked)
			}
			if w.WindowEnd.After(end) {
				end = w.WindowEnd
			}
		}
		if len(ws) != 1 {
			t.Errorf("windows %+v; want one span from %s", ws, from.Format(time.DateOnly))
		}
		return end
	}

	code, stdout, stderr := runSyncer(t, ctx, env, args...)
	if code != 0 {
		t.Fatalf("backfill up to today: exit %d\n%s%s", code, stdout, stderr)
	}
	end := windowsEnd()
	if end.IsZero() {
		t.Fatal("no window recorded")
	}
	assertStoreMatchesShop(t, s, shop)

	// New orders today, after the end of the first backfill: some in the very next second,
	// some later.
	first, later := end.Add(time.Second), end.Add(2*time.Second)
	if n := time.Now().Truncate(time.Second); n.After(later) {
		later = n
	}
	if later.In(order.Shanghai).Format(time.DateOnly) != today {
		t.Skip("too close to midnight in Asia/Shanghai for orders created later today")
	}
	added := append(shop.AddOrders(3, first), shop.AddOrders(4, later)...)
	// The binary reads the real clock: the second backfill covers these orders only once
	// the clock has reached their created_time. This waits for the clock, not for a process.
	time.Sleep(time.Until(later.Add(10 * time.Millisecond)))

	before := shop.Stats().DetailCalls
	code, stdout, stderr = runSyncer(t, ctx, env, args...)
	if code != 0 {
		t.Fatalf("second backfill: exit %d\n%s%s", code, stdout, stderr)
	}
	after := shop.Stats().DetailCalls
	fetched := map[string]int{}
	for id, n := range after {
		if d := n - before[id]; d != 0 {
			fetched[id] = d
		}
	}
	if len(fetched) != len(added) {
		t.Errorf("the second backfill fetched %d orders %v; want exactly the %d new ones %v", len(fetched), fetched, len(added), added)
	}
	for _, id := range added {
		if fetched[id] != 1 {
			t.Errorf("new order %s fetched %d times, want once", id, fetched[id])
		}
	}
	if r := edgeRuns(t, s)[0]; r.Kind != "backfill" || r.Status != store.StatusOK || r.OrdersFetched != len(added) || r.OrdersWritten != len(added) {
		t.Errorf("second backfill recorded as %+v; want ok with %d fetched and written", r, len(added))
	}
	if e := windowsEnd(); !e.After(end) {
		t.Errorf("the second backfill did not extend the window past %s", end)
	}
	assertStoreMatchesShop(t, s, shop)
}
