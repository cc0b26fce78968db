package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/order"
	"ordersync/store"
	"ordersync/store/storetest"
)

func window(kind order.Cursor, start, end time.Time) store.Window {
	return store.Window{AppID: "shop1", Kind: kind, WindowStart: start, WindowEnd: end, OrdersListed: 1}
}

// TestWindowsMerge records windows that touch, overlap and stand apart: sync_windows holds
// one row per covered span, so it grows with the gaps, not with the ticks.
func TestWindowsMerge(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	sec := time.Second
	for _, w := range []store.Window{
		window(order.UpdateTime, at(0), at(1)),
		window(order.UpdateTime, at(1).Add(sec), at(2)),                                         // touches the first
		window(order.UpdateTime, at(2).Add(-10*time.Minute), at(3)),                             // overlaps
		window(order.UpdateTime, at(5), at(6)),                                                  // a gap before it
		window(order.CreatedTime, at(3).Add(sec), at(4)),                                        // another kind
		{AppID: "shop2", Kind: order.UpdateTime, WindowStart: at(3).Add(sec), WindowEnd: at(4)}, // another shop
	} {
		if _, err := s.Write(ctx, store.Batch{AppID: w.AppID, Windows: []store.Window{w}}); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := s.Windows(ctx, "shop1", order.UpdateTime, at(-10), at(10))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.WindowStart.Sub(t0).String()+".."+w.WindowEnd.Sub(t0).String())
	}
	if want := "0s..3h0m0s 5h0m0s..6h0m0s"; strings.Join(got, " ") != want || ws[0].OrdersListed != 3 {
		t.Errorf("update_time spans %v (first with %d orders), want %s with 3", got, ws[0].OrdersListed, want)
	}
	cp, ok, err := s.Checkpoint(ctx, "shop1", order.UpdateTime)
	if err != nil || !ok || !cp.Equal(at(6)) {
		t.Errorf("checkpoint %v %t %v, want %v", cp, ok, err, at(6))
	}
	if cp, _, _ := s.Checkpoint(ctx, "shop2", order.UpdateTime); !cp.Equal(at(4)) {
		t.Errorf("shop2's checkpoint %v, want %v", cp, at(4))
	}
}

// TestCheckpointUsesAnIndex: with years of unmerged windows (100k rows), the checkpoint is
// read from the index, not by scanning the table.
func TestCheckpointUsesAnIndex(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	// Five-minute windows with a one-second gap between them: nothing merges.
	_, err := s.Pool().Exec(ctx, `
		INSERT INTO sync_windows (app_id, kind, window_start, window_end)
		SELECT 'shop' || (i % 2), 'update_time', $1::timestamptz + i * interval '301 seconds',
			$1::timestamptz + i * interval '301 seconds' + interval '299 seconds'
		FROM generate_series(1, 100000) AS i`, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, "ANALYZE sync_windows"); err != nil {
		t.Fatal(err)
	}
	var plan []string
	rows, err := s.Pool().Query(ctx, `EXPLAIN SELECT max(window_end) FROM sync_windows WHERE app_id = 'shop1' AND kind = 'update_time'`)
	if err != nil {
		t.Fatal(err)
	}
	plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "sync_windows_checkpoint_idx") || strings.Contains(text, "Seq Scan") {
		t.Errorf("the checkpoint's plan does not use the index:\n%s", text)
	}
	cp, ok, err := s.Checkpoint(ctx, "shop1", order.UpdateTime)
	want := t0.Add(99999*301*time.Second + 299*time.Second) // shop1 has the odd i
	if err != nil || !ok || !cp.Equal(want) {
		t.Errorf("checkpoint %v %t %v, want %v", cp, ok, err, want)
	}
}

// TestFailureBackoff: the first three retries are due at the next run, then the wait
// doubles from five minutes up to six hours; a run does not retry what it queued itself,
// and retries go oldest due first, at most the limit.
func TestFailureBackoff(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	runID := func() *int64 { // each write of a failure comes from a run of its own
		id, err := s.StartRun(ctx, "shop1", "sync", "test:1", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return &id
	}
	fail := func(id string) *int64 {
		r := runID()
		_, err := s.Write(ctx, store.Batch{AppID: "shop1", RunID: r, Failures: []store.Failure{{
			OrderID: id, AppID: "shop1", Error: "xiaoe: reply cut short", RunID: r, Reply: []byte(`{"code":0,"data":{"buy`),
		}}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var waits []time.Duration
	var last *int64
	for range 12 {
		last = fail("o_poison")
		fs, err := s.Failures(ctx, "shop1")
		if err != nil || len(fs) != 1 {
			t.Fatalf("failures %+v, %v", fs, err)
		}
		waits = append(waits, fs[0].NextAttemptAt.Sub(fs[0].LastAttemptAt).Round(time.Minute))
		if string(fs[0].Reply) != `{"code":0,"data":{"buy` {
			t.Errorf("reply kept: %q", fs[0].Reply)
		}
	}
	want := []time.Duration{0, 0, 0, 5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute,
		80 * time.Minute, 160 * time.Minute, 320 * time.Minute, 360 * time.Minute, 360 * time.Minute}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("wait after failure %d: %s, want %s", i+1, waits[i], want[i])
		}
	}
	if due, err := s.DueFailures(ctx, "shop1", 0, 100); err != nil || len(due) != 0 {
		t.Errorf("due after backing off: %+v, %v", due, err)
	}

	// Three orders failed once: due at the next run, oldest first, bounded by the limit,
	// and not to the run that queued them.
	var queuedBy *int64
	for _, id := range []string{"o_a", "o_b", "o_c"} {
		queuedBy = fail(id)
	}
	if due, _ := s.DueFailures(ctx, "shop1", *queuedBy, 100); len(due) != 2 {
		t.Errorf("due to the run that queued o_c: %d, want o_a and o_b", len(due))
	}
	due, err := s.DueFailures(ctx, "shop1", *last+100, 2)
	if err != nil || len(due) != 2 || due[0].OrderID != "o_a" || due[1].OrderID != "o_b" {
		t.Errorf("due: %+v, %v; want o_a, o_b", due, err)
	}
	if due, _ := s.DueFailures(ctx, "shop2", 0, 100); len(due) != 0 {
		t.Errorf("another shop's queue: %+v", due)
	}
}

// TestOrderFromASecondShopIsAConflict: Xiaoe's order ids are global; an id that arrives
// from another shop is queued for that shop and never overwrites the first shop's order.
func TestOrderFromASecondShopIsAConflict(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	p := shape{id: "o_1", lines: 1, amount: 100}.payload(t)
	p.Detail = []byte(strings.Replace(string(p.Detail), `"order_id":"o_1"`, `"order_id":"o_1","app_id":"appA"`, 1))
	if _, err := s.Write(ctx, store.Batch{AppID: "appA", Orders: prepare(t, p)}); err != nil {
		t.Fatal(err)
	}
	other := shape{id: "o_1", lines: 2, amount: 999, updated: t0.Add(time.Hour)}.payload(t)
	other.Detail = []byte(strings.Replace(string(other.Detail), `"order_id":"o_1"`, `"order_id":"o_1","app_id":"appB"`, 1))
	res, err := s.Write(ctx, store.Batch{AppID: "appB", Orders: prepare(t, other)})
	if err != nil || res.Conflicts != 1 || res.Written() != 0 {
		t.Fatalf("write from the second shop: %+v, %v; want one conflict", res, err)
	}
	if n := count(t, s, "order_goods", "o_1"); n != 1 {
		t.Errorf("%d goods lines, want shop A's one", n)
	}
	fs, err := s.Failures(ctx, "appB")
	if err != nil || len(fs) != 1 || !strings.Contains(fs[0].Error, "appA") {
		t.Errorf("shop B's queue: %+v, %v; want the conflict naming shop A", fs, err)
	}
	if fs, _ := s.Failures(ctx, "appA"); len(fs) != 0 {
		t.Errorf("shop A's queue: %+v", fs)
	}
}

// TestReplayNeverUndoesASync interleaves a replay with a sync: the replay reads the
// payloads, a sync commits a newer version meanwhile, then the replay writes. The newer
// version stays.
func TestReplayNeverUndoesASync(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	at10 := time.Date(2026, 3, 1, 10, 0, 0, 0, order.Shanghai)
	at11 := at10.Add(time.Hour)
	if _, err := s.Write(ctx, store.Batch{Orders: prepare(t, shape{id: "o_1", lines: 1, amount: 100, updated: at10}.payload(t))}); err != nil {
		t.Fatal(err)
	}

	// The "sync" holds the order's row lock, so the replay, which has read the payload by
	// then, waits for it in its write.
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM orders WHERE order_id = 'o_1' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var res store.ReplayResult
	go func() {
		var err error
		res, err = s.Replay(ctx, nil)
		done <- err
	}()
	waitForLockWait(t, s)
	// The sync's newer version: another content, update_time 11:00.
	newer := prepare(t, shape{id: "o_1", lines: 2, amount: 200, updated: at11}.payload(t))[0]
	if _, err := tx.Exec(ctx, `UPDATE orders SET update_time = $1 WHERE order_id = 'o_1'`, at11); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE order_payloads SET content_hash = $1, detail = $2 WHERE order_id = 'o_1'`, newer.Hash[:], []byte(newer.Detail)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res.Orders != 0 || res.Skipped != 1 {
		t.Errorf("replay: %+v, want the order left alone", res)
	}
	stored, err := s.StoredUpdateTimes(ctx, []string{"o_1"})
	if err != nil || !stored["o_1"].Equal(at11) {
		t.Errorf("update_time after the replay: %v, %v; want the sync's 11:00", stored["o_1"], err)
	}
}

// waitForLockWait waits until some session of the test's database waits for a lock.
func waitForLockWait(t *testing.T, s *store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var waiting bool
		err := s.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("no session came to wait for the order's lock")
		case <-time.After(10 * time.Millisecond): // polling the server: it sends no event
		}
	}
}

// TestReplayRepairsQueuedReplies: a detail that the decoder refused waits in the failure
// queue with its reply; after a mapping fix, replay stores it without calling the API.
func TestReplayRepairsQueuedReplies(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	good := shape{id: "o_1", lines: 1, amount: 100}.payload(t)
	reply := append(append([]byte(`{"code":0,"msg":"success","data":`), good.Detail...), '}')
	_, err := s.Write(ctx, store.Batch{AppID: "shop1", Failures: []store.Failure{
		{OrderID: "o_1", AppID: "shop1", Error: "decode: unit_price", Reply: reply, UpdateTime: &t0},
		{OrderID: "o_2", AppID: "shop1", Error: "cut short", Reply: []byte(`{"code":0,"data":{"bu`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Replay(ctx, []string{"o_1", "o_2", "o_none"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Repaired != 1 || len(res.Unknown) != 1 || res.Unknown[0] != "o_none" {
		t.Errorf("replay: %+v, want o_1 repaired and o_none unknown", res)
	}
	if count(t, s, "orders", "o_1") != 1 {
		t.Error("o_1 was not stored")
	}
	fs, err := s.Failures(ctx, "shop1")
	if err != nil || len(fs) != 1 || fs[0].OrderID != "o_2" {
		t.Errorf("queue after the replay: %+v, %v; want o_2 alone", fs, err)
	}
}

// TestIdleRunsFold: ticks that find nothing to do are folded into the run before them; a
// run that did something has a row of its own.
func TestIdleRunsFold(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	run := func(kind string, written int) {
		id, err := s.StartRun(ctx, "shop1", kind, "test:1", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, store.Run{RunID: id, Status: store.StatusOK, OrdersListed: 3,
			OrdersFetched: written, OrdersWritten: written, APICalls: 1 + written}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		kind    string
		written int
	}{{"sync", 0}, {"sync", 0}, {"sync", 0}, {"sync", 2}, {"sync", 0}, {"sync", 0}, {"backfill", 0}, {"backfill", 0}} {
		run(r.kind, r.written)
	}
	runs, err := s.Runs(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, fmt.Sprintf("%s:%d:%d:%d", r.Kind, r.OrdersWritten, r.IdleRuns, r.APICalls))
	}
	// Newest first: the backfills stay apart; the idle syncs fold into the sync before
	// them, whether it found nothing or wrote.
	want := "backfill:0:0:1 backfill:0:0:1 sync:2:2:5 sync:0:2:3"
	if strings.Join(got, " ") != want {
		t.Errorf("runs %s, want %s", strings.Join(got, " "), want)
	}
}

// The runs a dead process left running are ended as failed, those of the given kinds of
// the given shop only; finished runs keep their status.
func TestEndAbandonedRuns(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	start := func(app, kind string) int64 {
		id, err := s.StartRun(ctx, app, kind, "deadhost:7", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	done := start("shop1", "sync")
	if err := s.FinishRun(ctx, store.Run{RunID: done, Status: store.StatusOK, OrdersWritten: 1}); err != nil {
		t.Fatal(err)
	}
	start("shop1", "sync")
	start("shop1", "retry")
	start("shop1", "backfill")
	start("shop2", "sync")

	n, err := s.EndAbandonedRuns(ctx, "shop1", "livehost:9", "sync", "retry")
	if err != nil || n != 2 {
		t.Fatalf("ended %d runs, %v; want 2", n, err)
	}
	runs, err := s.Runs(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, fmt.Sprintf("%s:%s:%s", r.AppID, r.Kind, r.Status))
		if r.Status != store.StatusFailed {
			continue
		}
		if e := r.Error; r.FinishedAt == nil || e == nil || !strings.Contains(*e, "deadhost:7") || !strings.Contains(*e, "livehost:9") {
			t.Errorf("run %d: finished %v, error %v; want it finished, naming both workers", r.RunID, r.FinishedAt, e)
		}
	}
	want := "shop2:sync:running shop1:backfill:running shop1:retry:failed shop1:sync:failed shop1:sync:ok"
	if strings.Join(got, " ") != want {
		t.Errorf("runs %s, want %s", strings.Join(got, " "), want)
	}
}
