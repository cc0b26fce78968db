package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/order"
)

// Run is a row of sync_runs. The JSON keys are the column names.
type Run struct {
	RunID           int64      `json:"run_id"`
	AppID           string     `json:"app_id"`
	Kind            string     `json:"kind"`
	WindowStart     *time.Time `json:"window_start"`
	WindowEnd       *time.Time `json:"window_end"`
	Status          string     `json:"status"`
	OrdersListed    int        `json:"orders_listed"`
	OrdersFetched   int        `json:"orders_fetched"`
	OrdersWritten   int        `json:"orders_written"`
	OrdersUnchanged int        `json:"orders_unchanged"`
	OrdersFailed    int        `json:"orders_failed"`
	APICalls        int        `json:"api_calls"`
	Error           *string    `json:"error"`
	StartedAt       time.Time  `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	Worker          string     `json:"worker"`
	IdleRuns        int        `json:"idle_runs"`
}

// Run statuses of finished runs; a run still going (or that died) is 'running'.
const (
	StatusOK          = "ok"
	StatusPartial     = "partial"     // finished, but some orders went to the failure queue
	StatusFailed      = "failed"      // stopped by an error, after writing what it had fetched
	StatusInterrupted = "interrupted" // stopped by a signal, after writing what it had fetched
)

// StartRun records the start of a run of kind over [start, end] (either may be zero) by
// worker (host:pid) and returns its id.
func (s *Store) StartRun(ctx context.Context, appID, kind, worker string, start, end time.Time) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO sync_runs (app_id, kind, worker, window_start, window_end)
		VALUES ($1, $2, $3, $4, $5) RETURNING run_id`,
		appID, kind, worker, nullTime(start), nullTime(end)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("start %s run: %w", kind, err)
	}
	return id, nil
}

// EndAbandonedRuns records as failed the runs of shop appID of the given kinds that are
// still marked running, and returns how many there were. The caller holds the advisory
// lock under which every run of these kinds runs, so none of them is still going: the
// process of each died (a replica killed, a machine lost) before it could record the end.
// worker is the caller's, named in the error.
func (s *Store) EndAbandonedRuns(ctx context.Context, appID, worker string, kinds ...string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE sync_runs SET status = $4, finished_at = now(),
			error = 'its process (' || coalesce(nullif(worker, ''), 'unknown') || ') stopped before the run ended; found by ' || $3
		WHERE app_id = $1 AND kind = ANY($2) AND status = 'running'`, appID, kinds, worker, StatusFailed)
	if err != nil {
		return 0, fmt.Errorf("end abandoned runs of shop %s: %w", appID, err)
	}
	return tag.RowsAffected(), nil
}

// FinishRun records how run r ended: its status, counts and error. It is written even
// when ctx is already cancelled, so an interrupted run leaves an honest row.
//
// A sync or retry run that found nothing to do (ok, nothing fetched, written or queued)
// right after an ok run of the shop's of its kind is folded into that one: its idle_runs,
// finished_at and api_calls move, and the run's own row goes. A daemon that syncs every
// second so keeps one row per run that did something, not one per tick.
func (s *Store) FinishRun(ctx context.Context, r Run) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	idle := r.Status == StatusOK && r.OrdersFetched == 0 && r.OrdersWritten == 0 && r.OrdersFailed == 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if idle {
			var folded int64
			err := tx.QueryRow(ctx, `
				WITH me AS (SELECT app_id, kind FROM sync_runs WHERE run_id = $1),
				prev AS (
					SELECT p.run_id FROM sync_runs p, me
					WHERE p.app_id = me.app_id AND p.kind = me.kind AND p.kind IN ('sync', 'retry')
						AND p.run_id < $1
					ORDER BY p.run_id DESC LIMIT 1)
				UPDATE sync_runs p SET idle_runs = p.idle_runs + 1, finished_at = now(),
					api_calls = p.api_calls + $2
				FROM prev
				WHERE p.run_id = prev.run_id AND p.status = 'ok'
				RETURNING p.run_id`, r.RunID, r.APICalls).Scan(&folded)
			switch {
			case err == nil:
				_, err = tx.Exec(ctx, `DELETE FROM sync_runs WHERE run_id = $1`, r.RunID)
				return err
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		_, err := tx.Exec(ctx, `
			UPDATE sync_runs SET status = $2, orders_listed = $3, orders_fetched = $4,
				orders_written = $5, orders_unchanged = $6, orders_failed = $7, api_calls = $8,
				error = $9, finished_at = now()
			WHERE run_id = $1`,
			r.RunID, r.Status, r.OrdersListed, r.OrdersFetched, r.OrdersWritten, r.OrdersUnchanged,
			r.OrdersFailed, r.APICalls, r.Error)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish run %d: %w", r.RunID, err)
	}
	return nil
}

// ShopState is what the run history says of a shop's incremental syncs, whichever
// replica ran them: the daemon's health verdict.
type ShopState struct {
	AppID string
	// LastOK is when the last sync that stored everything (or queued the rest) ended.
	LastOK *time.Time
	// Failures counts the syncs failed since; LastError is the last one's error.
	Failures   int
	LastError  *string
	QueueDepth int
	Checkpoint *time.Time
}

// ShopStates reads the state of the shops' syncs.
func (s *Store) ShopStates(ctx context.Context, appIDs []string) ([]ShopState, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT s.app_id, ok.finished_at,
			(SELECT count(*) FROM sync_runs f WHERE f.app_id = s.app_id AND f.kind = 'sync'
				AND f.status = 'failed' AND f.run_id > coalesce(ok.run_id, 0)),
			(SELECT f.error FROM sync_runs f WHERE f.app_id = s.app_id AND f.kind = 'sync'
				AND f.status = 'failed' AND f.run_id > coalesce(ok.run_id, 0) ORDER BY f.run_id DESC LIMIT 1),
			(SELECT count(*) FROM sync_failures q WHERE q.app_id = s.app_id),
			(SELECT max(w.window_end) FROM sync_windows w WHERE w.app_id = s.app_id AND w.kind = 'update_time')
		FROM unnest($1::text[]) AS s(app_id)
		LEFT JOIN LATERAL (
			SELECT r.run_id, r.finished_at FROM sync_runs r
			WHERE r.app_id = s.app_id AND r.kind = 'sync' AND r.status IN ('ok', 'partial')
			ORDER BY r.run_id DESC LIMIT 1) ok ON true`, appIDs)
	if err != nil {
		return nil, fmt.Errorf("read the shops' sync state: %w", err)
	}
	states, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ShopState])
	if err != nil {
		return nil, fmt.Errorf("read the shops' sync state: %w", err)
	}
	return states, nil
}

// Runs returns the last n runs, newest first.
func (s *Store) Runs(ctx context.Context, n int) ([]Run, error) { return s.ShopRuns(ctx, "", n) }

// ShopRuns returns the last n runs of shop appID ("" for every shop), newest first.
func (s *Store) ShopRuns(ctx context.Context, appID string, n int) ([]Run, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT run_id, app_id, kind, window_start, window_end, status, orders_listed,
			orders_fetched, orders_written, orders_unchanged, orders_failed, api_calls, error,
			started_at, finished_at, worker, idle_runs
		FROM sync_runs WHERE $2 = '' OR app_id = $2 ORDER BY run_id DESC LIMIT $1`, n, appID)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Run])
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// Window is a row of sync_windows: a span all of whose orders are stored or queued.
type Window struct {
	AppID        string       `json:"app_id"`
	Kind         order.Cursor `json:"kind"` // the order time the window covers
	WindowStart  time.Time    `json:"window_start"`
	WindowEnd    time.Time    `json:"window_end"`
	OrdersListed int          `json:"orders_listed"`
	RunID        *int64       `json:"run_id"`
	FinishedAt   time.Time    `json:"finished_at"`
}

// recordWindow records w as finished, merged with the finished windows of its kind that it
// overlaps or touches (windows are closed at one-second resolution, so [a, b] touches
// [b+1s, c]). sync_windows thus holds one row per covered span: it grows with the gaps,
// not with the ticks.
func recordWindow(ctx context.Context, tx pgx.Tx, w Window) error {
	_, err := tx.Exec(ctx, `
		WITH merged AS (
			DELETE FROM sync_windows
			WHERE app_id = $1 AND kind = $2
				AND window_start <= $4::timestamptz + interval '1 second'
				AND window_end >= $3::timestamptz - interval '1 second'
			RETURNING window_start, window_end, orders_listed
		)
		INSERT INTO sync_windows (app_id, kind, window_start, window_end, orders_listed, run_id)
		SELECT $1, $2, least($3, min(window_start)), greatest($4, max(window_end)),
			$5 + coalesce(sum(orders_listed), 0), $6
		FROM merged`,
		w.AppID, w.Kind, w.WindowStart, w.WindowEnd, w.OrdersListed, w.RunID)
	if err != nil {
		return fmt.Errorf("record %s window %s..%s: %w", w.Kind, w.WindowStart.Format(time.DateTime), w.WindowEnd.Format(time.DateTime), err)
	}
	return nil
}

// Windows returns the finished windows of kind that overlap [from, to], oldest first.
func (s *Store) Windows(ctx context.Context, appID string, kind order.Cursor, from, to time.Time) ([]Window, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT app_id, kind, window_start, window_end, orders_listed, run_id, finished_at
		FROM sync_windows
		WHERE app_id = $1 AND kind = $2 AND window_end >= $3 AND window_start <= $4
		ORDER BY window_start, window_end`, appID, kind, from, to)
	if err != nil {
		return nil, fmt.Errorf("list %s windows: %w", kind, err)
	}
	ws, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Window])
	if err != nil {
		return nil, fmt.Errorf("list %s windows: %w", kind, err)
	}
	return ws, nil
}

// Checkpoint is the end of the latest finished window of kind: the incremental sync goes
// on from there. The index on (app_id, kind, window_end DESC) serves it.
func (s *Store) Checkpoint(ctx context.Context, appID string, kind order.Cursor) (time.Time, bool, error) {
	var t *time.Time
	err := s.pool.QueryRow(ctx, `SELECT max(window_end) FROM sync_windows WHERE app_id = $1 AND kind = $2`, appID, kind).Scan(&t)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read %s checkpoint: %w", kind, err)
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}

// Coverage returns every finished window of shop appID ("" for every shop), of each kind:
// the spans that the sync and the backfills have covered.
func (s *Store) Coverage(ctx context.Context, appID string) ([]Window, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT app_id, kind, window_start, window_end, orders_listed, run_id, finished_at
		FROM sync_windows WHERE $1 = '' OR app_id = $1 ORDER BY app_id, kind, window_start`, appID)
	if err != nil {
		return nil, fmt.Errorf("list windows: %w", err)
	}
	ws, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Window])
	if err != nil {
		return nil, fmt.Errorf("list windows: %w", err)
	}
	return ws, nil
}

// Failure is a row of sync_failures: an order of a shop that could not be fetched or
// stored. The JSON keys are the column names; the reply's bytes are left out.
type Failure struct {
	OrderID       string          `json:"order_id"`
	AppID         string          `json:"app_id"`
	Error         string          `json:"error"`
	Attempts      int             `json:"attempts"`
	UpdateTime    *time.Time      `json:"update_time"`
	ListItem      json.RawMessage `json:"list_item,omitempty"`
	FirstFailedAt time.Time       `json:"first_failed_at"`
	LastAttemptAt time.Time       `json:"last_attempt_at"`
	RunID         *int64          `json:"run_id"`
	NextAttemptAt time.Time       `json:"next_attempt_at"`
	// Reply is the last reply received for the order, as received; nil when none came.
	Reply []byte `json:"-"`
}

// recordFailures queues orders that failed, or counts another attempt for those queued.
// The first three retries happen on the next run; after that the wait doubles from five
// minutes up to six hours, so a queue of orders that keep failing cannot eat the budget.
func recordFailures(ctx context.Context, tx pgx.Tx, fs []Failure) error {
	if len(fs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, f := range fs {
		var item any
		if len(f.ListItem) > 0 {
			item = []byte(f.ListItem)
		}
		b.Queue(`
			INSERT INTO sync_failures AS q (order_id, app_id, error, update_time, list_item, run_id, reply)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (app_id, order_id) DO UPDATE SET
				error = excluded.error,
				attempts = q.attempts + 1,
				update_time = coalesce(excluded.update_time, q.update_time),
				list_item = coalesce(excluded.list_item, q.list_item),
				last_attempt_at = now(),
				next_attempt_at = CASE WHEN q.attempts + 1 <= 3 THEN now()
					ELSE now() + least(interval '6 hours', interval '5 minutes' * power(2, q.attempts + 1 - 4)) END,
				run_id = excluded.run_id,
				reply = excluded.reply`,
			f.OrderID, f.AppID, f.Error, f.UpdateTime, item, f.RunID, f.Reply)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record %d failures: %w", len(fs), err)
	}
	return nil
}

const failureColumns = `order_id, app_id, error, attempts, update_time, list_item, first_failed_at,
	last_attempt_at, run_id, next_attempt_at, reply`

// Failures returns the failure queue of a shop, oldest first ("" for every shop).
func (s *Store) Failures(ctx context.Context, appID string) ([]Failure, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+failureColumns+` FROM sync_failures
		WHERE $1 = '' OR app_id = $1 ORDER BY app_id, first_failed_at, order_id`, appID)
	if err != nil {
		return nil, fmt.Errorf("list failures: %w", err)
	}
	fs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Failure])
	if err != nil {
		return nil, fmt.Errorf("list failures: %w", err)
	}
	return fs, nil
}

// DueFailures returns at most limit queued orders of a shop whose next attempt is due,
// those due longest first, leaving out the ones that run runID queued itself.
func (s *Store) DueFailures(ctx context.Context, appID string, runID int64, limit int) ([]Failure, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+failureColumns+` FROM sync_failures
		WHERE app_id = $1 AND next_attempt_at <= now() AND run_id IS DISTINCT FROM $2
		ORDER BY next_attempt_at, first_failed_at, order_id LIMIT $3`, appID, runID, limit)
	if err != nil {
		return nil, fmt.Errorf("list due failures: %w", err)
	}
	fs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Failure])
	if err != nil {
		return nil, fmt.Errorf("list due failures: %w", err)
	}
	return fs, nil
}

// QueueDepth is the number of orders in a shop's failure queue.
func (s *Store) QueueDepth(ctx context.Context, appID string) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM sync_failures WHERE app_id = $1`, appID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count failures: %w", err)
	}
	return n, nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
