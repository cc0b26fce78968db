package store

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// budgetBeat is how often a member of a shop's budget renews its row and counts the
	// others.
	budgetBeat = 250 * time.Millisecond
	// budgetTTL is how long a row counts after its last renewal. It is generous beside the
	// beat because the errors are not alike: a live member taken for dead lets the others
	// exceed the rate, while a dead one still counted only idles its share for two seconds.
	budgetTTL = 2 * time.Second
	// budgetSettle is how long a member that the others did not count waits before it
	// takes a share: each of them notices it within a beat and its query, and a second
	// beat leaves room for a slow query.
	budgetSettle = 2 * budgetBeat
	// leaveTimeout bounds the delete of a member's row, run after its context may be done.
	leaveTimeout = 2 * time.Second
)

// renewSQL renews the rows of the members given as arrays of shops ($1) and workers
// ($2), making anew those the others deleted as dead; deletes the rows of those shops
// dead for budgetTTL ($3); and counts, for each member in the order given, the other live
// members of its shop. SKIP LOCKED because members revived together (the database is
// back) would otherwise each wait to delete a row that its owner is renewing: a deadlock.
// A statement does not see its own writes, hence the count of the others; the members
// renewed together count each other by the rows of their last renewal.
const renewSQL = `
WITH m AS (
	SELECT app_id, worker, n FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS m(app_id, worker, n)
), mine AS (
	INSERT INTO api_budget (app_id, worker) SELECT app_id, worker FROM m
	ON CONFLICT (app_id, worker) DO UPDATE SET heartbeat_at = now()
), dead AS (
	DELETE FROM api_budget WHERE (app_id, worker) IN (
		SELECT app_id, worker FROM api_budget
		WHERE app_id IN (SELECT app_id FROM m) AND heartbeat_at < now() - $3::interval
			AND (app_id, worker) NOT IN (SELECT app_id, worker FROM m)
		FOR UPDATE SKIP LOCKED)
)
SELECT (SELECT count(*) FROM api_budget b
	WHERE b.app_id = m.app_id AND b.worker <> m.worker AND b.heartbeat_at >= now() - $3::interval)
FROM m ORDER BY n`

// workerSeq numbers the members of this process: the statement that renews them together
// fails if two have the same row, as two random suffixes could.
var workerSeq = func() *atomic.Uint32 {
	var n atomic.Uint32
	n.Store(rand.Uint32()) // a pid is not unique across hosts' containers
	return &n
}()

// JoinBudget makes the caller a member of the shop appID's API budget until leave is
// called: every process that calls the API for the shop, whatever its command, joins, and
// each paces its calls at the shop's rate divided by the members that are alive. Each
// join is a member of its own (its row's worker is host:pid and a suffix), so join
// once per fetch.Client.
//
// onShare is told the number of members, this one included: once before JoinBudget
// returns, then whenever it changes, never after leave returns, and never concurrently;
// it runs on the goroutine that renews the memberships of every shop of the Store, so it
// must be quick (pass fetch.Client.SetShare). It is told 0 when this process could not
// renew its membership for so long that the others count it out and may be spending the
// whole rate; until then a failing renewal keeps the last share. Renewals stop when ctx
// ends.
//
// When others are already members, JoinBudget returns only after each has had the time
// to count this one and lower its pace, a few hundred milliseconds, so that the shop's
// rate is never exceeded while the share changes hands. leave removes the membership
// within a few seconds, even after ctx has ended; it may be called more than once.
//
// A Store renews all its members, of every shop, with one statement per beat; so a
// renewal that fails (a row lock held elsewhere past the beat, the database away) fails
// for all of them.
func (s *Store) JoinBudget(ctx context.Context, appID string, onShare func(members int)) (leave func(), err error) {
	host, _ := os.Hostname()
	m := &member{s: s, ctx: ctx, appID: appID, onShare: onShare,
		worker: fmt.Sprintf("%s:%d:%08x", host, os.Getpid(), workerSeq.Add(1))}
	sent := time.Now()
	others, err := m.join(ctx)
	if err != nil {
		return nil, fmt.Errorf("join the API budget of shop %s: %w", appID, err)
	}
	if others > 0 {
		if err := sleep(ctx, budgetSettle); err != nil {
			m.delete(ctx)
			return nil, err
		}
		sent = time.Now()
		if others, err = m.heartbeat(ctx); err != nil {
			m.delete(ctx)
			return nil, fmt.Errorf("join the API budget of shop %s: %w", appID, err)
		}
	}
	m.lastOK = sent
	m.report(others + 1)
	m.log(ctx, slog.LevelDebug, "joined the shop's API budget", slog.Int("members", others+1))

	s.renewals.add(m)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.renewals.remove(m) // so that no renewal brings the row back after the delete
			m.delete(ctx)
		})
	}, nil
}

// renewals renews the budget memberships of a Store, every beat, while it has any: one
// statement for all. A goroutine and a statement per member cost 0.14 cores at 50 shops
// (BenchmarkBudgetMembers), mostly per statement.
type renewals struct {
	s       *Store
	mu      sync.Mutex
	members map[*member]struct{}
	running bool // its goroutine is running
	// conn belongs to the goroutine. The renewals have a connection of their own because
	// a renewal that waits past the beat for one of the pool's, busy with the writers,
	// fails for every member at once.
	conn *pgx.Conn
}

func (r *renewals) add(m *member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members == nil {
		r.members = map[*member]struct{}{}
	}
	r.members[m] = struct{}{}
	if !r.running {
		r.running = true
		go r.run()
	}
}

// remove ends m's renewals, waiting for the one under way, if it renews m, to be
// reported.
func (r *renewals) remove(m *member) {
	r.mu.Lock()
	delete(r.members, m)
	beat := m.beat
	r.mu.Unlock()
	if beat != nil {
		<-beat
	}
}

// run renews the members every beat until there are none or the Store is closed.
func (r *renewals) run() {
	t := time.NewTicker(budgetBeat)
	defer t.Stop()
	var batch []*member
	for {
		select {
		case <-r.s.bg.Done():
		case <-t.C:
		}
		beat := make(chan struct{})
		batch = batch[:0]
		r.mu.Lock()
		if len(r.members) == 0 || r.s.bg.Err() != nil {
			// The connection is hung up while this goroutine still counts as running, so
			// that the next one, which add may start as soon as it does not, finds none.
			r.mu.Unlock()
			r.hangUp()
			r.mu.Lock()
			if len(r.members) > 0 && r.s.bg.Err() == nil {
				r.mu.Unlock()
				continue // a member joined meanwhile
			}
			r.running = false
			r.mu.Unlock()
			return
		}
		for m := range r.members {
			if m.ctx.Err() != nil {
				delete(r.members, m) // renewals stop with its ctx; leave still deletes it
				continue
			}
			m.beat = beat
			batch = append(batch, m)
		}
		r.mu.Unlock()
		r.renew(batch)
		close(beat)
	}
}

// hangUp closes the renewals' connection.
func (r *renewals) hangUp() {
	if r.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
		defer cancel()
		_ = r.conn.Close(ctx)
		r.conn = nil
	}
}

// renew renews the members of batch and drives each from the result.
func (r *renewals) renew(batch []*member) {
	if len(batch) == 0 {
		return
	}
	apps, workers := make([]string, len(batch)), make([]string, len(batch))
	for i, m := range batch {
		apps[i], workers[i] = m.appID, m.worker
	}
	ctx, cancel := context.WithTimeout(r.s.bg, budgetBeat)
	defer cancel()
	sent := time.Now()
	var err error
	if r.conn == nil || r.conn.IsClosed() {
		r.conn, err = r.s.connect(ctx)
	}
	var others []int
	if err == nil {
		var rows pgx.Rows
		if rows, err = r.conn.Query(ctx, renewSQL, apps, workers, budgetTTL); err == nil {
			others, err = pgx.CollectRows(rows, pgx.RowTo[int])
		}
	}
	if err == nil && len(others) != len(batch) {
		err = fmt.Errorf("renewed %d budget memberships, want %d", len(others), len(batch))
	}
	if r.s.bg.Err() != nil {
		return
	}
	for i, m := range batch {
		if m.ctx.Err() != nil {
			continue
		}
		if err != nil {
			m.failed(err)
			continue
		}
		m.renewed(sent, others[i])
	}
}

// member is one process's membership of a shop's budget. Its fields below beat belong
// to JoinBudget, then to the goroutine that renews it.
type member struct {
	s             *Store
	ctx           context.Context // JoinBudget's: renewals stop when it ends
	appID, worker string
	onShare       func(members int)
	beat          chan struct{} // closed once the latest renewal that includes it is reported; under renewals.mu
	members       int           // as last reported
	lastOK        time.Time     // when the last successful renewal was sent
	failures      int           // renewals failed in a row
	lapsed        bool          // reported 0: the others may have counted it out
	quietUntil    time.Time     // back from a lapse, it takes no share before this
}

// join inserts the member's row and counts the others. Joins of one shop are serialised
// by a transaction-level advisory lock, so that of two processes starting together the
// second sees the first and waits for it to give way: without it, each could miss the
// other and both call at the full rate until their next beat.
func (m *member) join(ctx context.Context) (others int, err error) {
	err = pgx.BeginFunc(ctx, m.s.pool, func(tx pgx.Tx) error {
		// The one-key lock space, apart from the scheduler's two-key locks.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ordersync:api_budget:' || $1, 0))`, m.appID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, renewSQL, []string{m.appID}, []string{m.worker}, budgetTTL).Scan(&others)
	})
	return others, err
}

// heartbeat renews the member's row and counts the others, before its renewals join
// those of the Store.
func (m *member) heartbeat(ctx context.Context) (others int, err error) {
	ctx, cancel := context.WithTimeout(ctx, budgetBeat)
	defer cancel()
	err = m.s.pool.QueryRow(ctx, renewSQL, []string{m.appID}, []string{m.worker}, budgetTTL).Scan(&others)
	return others, err
}

// renewed takes in a renewal sent at sent that counted others.
func (m *member) renewed(sent time.Time, others int) {
	if m.failures > 0 {
		m.log(m.ctx, slog.LevelInfo, "renewed the API budget membership again", slog.Int("failures", m.failures))
		m.failures = 0
	}
	m.lastOK = sent
	if m.lapsed {
		m.lapsed = false
		m.quietUntil = sent.Add(budgetSettle)
	}
	if time.Now().Before(m.quietUntil) {
		return
	}
	m.report(others + 1)
}

// failed keeps the last share after a failed renewal, until the others may have counted
// this member out: from then on they may spend the whole rate, and it reports 0.
func (m *member) failed(err error) {
	ctx := m.ctx
	m.failures++
	level := slog.LevelDebug
	if m.failures == 1 {
		level = slog.LevelWarn
	}
	m.log(ctx, level, "could not renew the API budget membership",
		slog.Int("members", m.members), slog.Int("failures", m.failures), slog.String("error", err.Error()))
	// Before the next beat the row may pass budgetTTL in the others' eyes.
	if !m.lapsed && time.Since(m.lastOK)+budgetBeat >= budgetTTL {
		m.lapsed = true
		m.log(ctx, slog.LevelWarn, "the shop's other processes now count this one out; giving up its share of the API rate",
			slog.Int("failures", m.failures))
		m.report(0)
	}
}

func (m *member) report(members int) {
	if members != m.members {
		m.members = members
		m.onShare(members)
	}
}

func (m *member) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	m.s.log.LogAttrs(ctx, level, msg, append([]slog.Attr{slog.String("app_id", m.appID), slog.String("worker", m.worker)}, attrs...)...)
}

// delete removes the member's row; should it fail, the row dies within budgetTTL anyway.
func (m *member) delete(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	defer cancel()
	if _, err := m.s.pool.Exec(ctx, `DELETE FROM api_budget WHERE app_id = $1 AND worker = $2`, m.appID, m.worker); err != nil {
		m.log(ctx, slog.LevelWarn, "could not leave the API budget; the membership will lapse", slog.String("error", err.Error()))
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
