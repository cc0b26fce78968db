package dashboard

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// health is the state of one shop's sync, read from the bookkeeping tables.
type health struct {
	AppID      string
	Runs       []run      // the last runs, newest first
	Checkpoint *time.Time // end of the latest update_time window; nil before the first sync
	Lag        time.Duration

	Queue         int        // orders in the failure queue
	OldestFailure *time.Time // when the oldest of them first failed
	Failures      []failure  // the oldest few, with their errors

	// Over the day before the page was made: the API calls of the runs that started or
	// ended in it (sync_runs.api_calls: the HTTP attempts of each finished run, refused
	// and retried ones included), those runs, the ones that failed, and the orders whose
	// fetch failed in it (sync_failures.last_attempt_at). Which calls the API refused and
	// a retry then passed is not stored; the daemon's /metrics counts calls by API code.
	DayCalls        int64
	DayRuns         int
	DayFailedRuns   int
	DayFailedOrders int

	Verify *verification // nil before the shop's first verify
}

type run struct {
	ID       int64
	Kind     string
	Status   string
	Started  time.Time
	Finished *time.Time
	Listed   int
	Fetched  int
	Written  int
	Failed   int
	APICalls int
	Error    string
	Worker   string
	// Idle counts the later ticks that found nothing to do, folded into this row: its
	// finished_at and api_calls include them.
	Idle int
}

// Took is how long the run took, its idle ticks included; zero while it runs (or when it
// died without a word).
func (r run) Took() time.Duration {
	if r.Finished == nil {
		return 0
	}
	return r.Finished.Sub(r.Started).Round(time.Second)
}

type failure struct {
	OrderID     string
	Attempts    int
	Error       string
	FirstFailed time.Time
	NextAttempt time.Time
}

// verification is the last `syncer verify` of a shop: a row of sync_verifications.
type verification struct {
	ID          int64
	From, To    string // the days verified, YYYY-MM-DD
	Status      string // running, ok, differs, failed or interrupted
	Repair      bool
	APICalls    int
	Missing     int
	Extra       int
	Stale       int
	Money       int
	Consistency int
	Repaired    int
	Error       string
	Started     time.Time
	Finished    *time.Time
}

// Anomalies are the orders found missing, extra or stale, and the warnings.
func (v verification) Anomalies() int {
	return v.Missing + v.Extra + v.Stale + v.Money + v.Consistency
}

const (
	lastRuns      = 10
	failuresShown = 5
)

// shops lists the shops the bookkeeping tables know of. Each shop that has orders has
// had a run; sync_runs rows of replays without a shop have app_id ”.
func shops(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT app_id FROM sync_windows
		UNION SELECT app_id FROM sync_failures
		UNION SELECT app_id FROM sync_runs
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list shops: %w", err)
	}
	return slices.DeleteFunc(ids, func(id string) bool { return id == "" }), nil
}

// readHealth reads the sync health of shop appID as of now.
func readHealth(ctx context.Context, tx pgx.Tx, appID string, now time.Time) (health, error) {
	h := health{AppID: appID}
	rows, err := tx.Query(ctx, `
		SELECT run_id, kind, status, started_at, finished_at, orders_listed, orders_fetched,
			orders_written, orders_failed, api_calls, coalesce(error, ''), worker, idle_runs
		FROM sync_runs WHERE app_id = $1 ORDER BY run_id DESC LIMIT $2`, appID, lastRuns)
	if err != nil {
		return h, fmt.Errorf("runs of %s: %w", appID, err)
	}
	if h.Runs, err = pgx.CollectRows(rows, pgx.RowToStructByPos[run]); err != nil {
		return h, fmt.Errorf("runs of %s: %w", appID, err)
	}

	dayAgo := now.Add(-24 * time.Hour)
	err = tx.QueryRow(ctx, `
		SELECT (SELECT max(window_end) FROM sync_windows WHERE app_id = $1 AND kind = 'update_time'),
			(SELECT count(*) FROM sync_failures WHERE app_id = $1),
			(SELECT min(first_failed_at) FROM sync_failures WHERE app_id = $1),
			(SELECT count(*) FROM sync_failures WHERE app_id = $1 AND last_attempt_at > $2),
			coalesce(sum(api_calls), 0), count(*), count(*) FILTER (WHERE status = 'failed')
		FROM sync_runs WHERE app_id = $1 AND (started_at > $2 OR finished_at > $2)`, appID, dayAgo).
		Scan(&h.Checkpoint, &h.Queue, &h.OldestFailure, &h.DayFailedOrders, &h.DayCalls, &h.DayRuns, &h.DayFailedRuns)
	if err != nil {
		return h, fmt.Errorf("sync state of %s: %w", appID, err)
	}
	if h.Checkpoint != nil {
		h.Lag = now.Sub(*h.Checkpoint)
	}

	// The reply bytes stay in the database: they can be large, and an operator reads the
	// error.
	rows, err = tx.Query(ctx, `
		SELECT order_id, attempts, error, first_failed_at, next_attempt_at
		FROM sync_failures WHERE app_id = $1 ORDER BY first_failed_at, order_id LIMIT $2`, appID, failuresShown)
	if err != nil {
		return h, fmt.Errorf("failures of %s: %w", appID, err)
	}
	if h.Failures, err = pgx.CollectRows(rows, pgx.RowToStructByPos[failure]); err != nil {
		return h, fmt.Errorf("failures of %s: %w", appID, err)
	}

	h.Verify, err = lastVerify(ctx, tx, appID)
	return h, err
}

// lastVerify reads the newest sync_verifications row of a shop, or nil when it has none.
func lastVerify(ctx context.Context, tx pgx.Tx, appID string) (*verification, error) {
	rows, err := tx.Query(ctx, `
		SELECT verification_id, to_char(range_from, 'YYYY-MM-DD'), to_char(range_to, 'YYYY-MM-DD'),
			status, repair, api_calls, missing, extra, stale, money, consistency, repaired,
			coalesce(error, ''), started_at, finished_at
		FROM sync_verifications WHERE app_id = $1 ORDER BY started_at DESC LIMIT 1`, appID)
	if err != nil {
		return nil, fmt.Errorf("last verify of %s: %w", appID, err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[verification])
	if err != nil || len(v) == 0 {
		return nil, err
	}
	return v[0], nil
}
