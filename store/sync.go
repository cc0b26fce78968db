package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
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
}

// Run statuses.
const (
	StatusRunning = "running"
	StatusOK      = "ok"
	StatusPartial = "partial" // finished, but some orders went to the failure queue
	StatusFailed  = "failed"
)

// StartRun records the start of a run of kind over [start, end] (either may be zero) and
// returns its id.
func (s *Store) StartRun(ctx context.Context, appID, kind string, start, end time.Time) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO sync_runs (app_id, kind, window_start, window_end)
		VALUES ($1, $2, $3, $4) RETURNING run_id`,
		appID, kind, nullTime(start), nullTime(end)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("start %s run: %w", kind, err)
	}
	return id, nil
}

// FinishRun records how run r ended: its status, counts and error. It is written even
// when ctx is already cancelled, so an interrupted run leaves an honest row.
func (s *Store) FinishRun(ctx context.Context, r Run) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `
		UPDATE sync_runs SET status = $2, orders_listed = $3, orders_fetched = $4,
			orders_written = $5, orders_unchanged = $6, orders_failed = $7, api_calls = $8,
			error = $9, finished_at = now()
		WHERE run_id = $1`,
		r.RunID, r.Status, r.OrdersListed, r.OrdersFetched, r.OrdersWritten, r.OrdersUnchanged,
		r.OrdersFailed, r.APICalls, r.Error)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", r.RunID, err)
	}
	return nil
}

// Runs returns the last n runs, newest first.
func (s *Store) Runs(ctx context.Context, n int) ([]Run, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT run_id, app_id, kind, window_start, window_end, status, orders_listed,
			orders_fetched, orders_written, orders_unchanged, orders_failed, api_calls, error,
			started_at, finished_at
		FROM sync_runs ORDER BY run_id DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Run])
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// LastSuccess returns when the last run of kind that stored everything finished.
func (s *Store) LastSuccess(ctx context.Context, kind string) (time.Time, bool, error) {
	var t *time.Time
	err := s.pool.QueryRow(ctx, `SELECT max(finished_at) FROM sync_runs WHERE kind = $1 AND status = 'ok'`, kind).Scan(&t)
	if err != nil || t == nil {
		return time.Time{}, false, err
	}
	return *t, true, nil
}

// Window kinds: the field a window filters on.
const (
	WindowUpdateTime  = "update_time"
	WindowCreatedTime = "created_time"
)

// Window is a row of sync_windows: a window all of whose orders are stored or queued.
type Window struct {
	AppID        string    `json:"app_id"`
	Kind         string    `json:"kind"`
	WindowStart  time.Time `json:"window_start"`
	WindowEnd    time.Time `json:"window_end"`
	OrdersListed int       `json:"orders_listed"`
	RunID        *int64    `json:"run_id"`
	FinishedAt   time.Time `json:"finished_at"`
}

// RecordWindow records w as finished. Recording it again is harmless.
func (s *Store) RecordWindow(ctx context.Context, w Window) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO sync_windows (app_id, kind, window_start, window_end, orders_listed, run_id)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (app_id, kind, window_start, window_end)
		DO UPDATE SET orders_listed = excluded.orders_listed, run_id = excluded.run_id, finished_at = now()`,
		w.AppID, w.Kind, w.WindowStart, w.WindowEnd, w.OrdersListed, w.RunID)
	if err != nil {
		return fmt.Errorf("record %s window %s..%s: %w", w.Kind, w.WindowStart.Format(time.DateTime), w.WindowEnd.Format(time.DateTime), err)
	}
	return nil
}

// Windows returns the finished windows of kind that overlap [from, to], oldest first.
func (s *Store) Windows(ctx context.Context, appID, kind string, from, to time.Time) ([]Window, error) {
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
// on from there.
func (s *Store) Checkpoint(ctx context.Context, appID, kind string) (time.Time, bool, error) {
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

// Checkpoints returns the latest finished window of every kind and shop.
func (s *Store) Checkpoints(ctx context.Context) ([]Window, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (app_id, kind) app_id, kind, window_start, window_end, orders_listed, run_id, finished_at
		FROM sync_windows ORDER BY app_id, kind, window_end DESC`)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	ws, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Window])
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	return ws, nil
}

// Failure is a row of sync_failures: an order that could not be fetched or stored.
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
}

// RecordFailures queues orders that failed, or counts another attempt for those queued.
func (s *Store) RecordFailures(ctx context.Context, fs []Failure) error {
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
			INSERT INTO sync_failures (order_id, app_id, error, update_time, list_item, run_id)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (app_id, order_id) DO UPDATE SET
				error = excluded.error,
				attempts = sync_failures.attempts + 1,
				update_time = coalesce(excluded.update_time, sync_failures.update_time),
				list_item = coalesce(excluded.list_item, sync_failures.list_item),
				last_attempt_at = now(),
				run_id = excluded.run_id`,
			f.OrderID, f.AppID, f.Error, f.UpdateTime, item, f.RunID)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record %d failures: %w", len(fs), err)
	}
	return nil
}

// Failures returns the failure queue of a shop, oldest first ("" for every shop).
func (s *Store) Failures(ctx context.Context, appID string) ([]Failure, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT order_id, app_id, error, attempts, update_time, list_item, first_failed_at, last_attempt_at, run_id
		FROM sync_failures WHERE $1 = '' OR app_id = $1 ORDER BY first_failed_at, order_id`, appID)
	if err != nil {
		return nil, fmt.Errorf("list failures: %w", err)
	}
	fs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Failure])
	if err != nil {
		return nil, fmt.Errorf("list failures: %w", err)
	}
	return fs, nil
}

// RemoveFailures takes orders out of the failure queue (UpsertOrders does it for the orders
// it stores).
func (s *Store) RemoveFailures(ctx context.Context, ids []string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sync_failures WHERE order_id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("remove failures: %w", err)
	}
	return nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
