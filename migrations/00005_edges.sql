-- The sync at its edges: interrupted runs, a failure queue with backoff keyed by shop and
-- order that keeps the bytes received, a checkpoint served by an index, and a shared API
-- budget for every process working for one shop.

-- +goose Up

-- A run stopped by a signal or a run-stopping error after writing what it had fetched.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
    CHECK (status IN ('running', 'ok', 'partial', 'failed', 'interrupted'));
-- The replica that ran it: host:pid.
ALTER TABLE sync_runs ADD COLUMN worker text NOT NULL DEFAULT '';
COMMENT ON COLUMN sync_runs.worker IS 'The process that ran the run, as host:pid.';

-- The incremental checkpoint is max(window_end) of a shop's update_time windows.
CREATE INDEX sync_windows_checkpoint_idx ON sync_windows (app_id, kind, window_end DESC);

-- Xiaoe's order ids are global, but the queue is per shop: one shop's failure never hides
-- another's.
ALTER TABLE sync_failures DROP CONSTRAINT sync_failures_pkey;
ALTER TABLE sync_failures ADD PRIMARY KEY (app_id, order_id);
-- When the order may be tried again: the first three retries happen on the next run, then
-- the wait doubles up to six hours.
ALTER TABLE sync_failures ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
-- The reply as received, whatever it was (a truncated body, an HTML page, a payload that
-- did not decode), so that a mapping fix can repair the order without calling the API.
ALTER TABLE sync_failures ADD COLUMN reply bytea;
CREATE INDEX sync_failures_due_idx ON sync_failures (app_id, next_attempt_at, first_failed_at);
COMMENT ON COLUMN sync_failures.next_attempt_at IS 'When a run may try the order again: the next run for the first three retries, then after a wait that doubles up to six hours.';
COMMENT ON COLUMN sync_failures.reply IS 'The bytes of the last reply received for the order, as received, or NULL when no reply came.';

-- Every process calling the API for a shop holds a row while it works and refreshes it;
-- each paces itself at the shop's rate divided by the rows that are alive.
CREATE TABLE api_budget (
    app_id       text NOT NULL,
    worker       text NOT NULL,
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    joined_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, worker)
);
COMMENT ON TABLE api_budget IS 'The processes now calling the API for each shop, which split its rate between them.';
COMMENT ON COLUMN api_budget.app_id IS 'The shop.';
COMMENT ON COLUMN api_budget.worker IS 'The process: host:pid and a random suffix.';
COMMENT ON COLUMN api_budget.heartbeat_at IS 'The last time the process said it is alive; rows older than a few seconds are dead.';
COMMENT ON COLUMN api_budget.joined_at IS 'When the process began its work for the shop.';

-- +goose Down
DROP TABLE api_budget;
DROP INDEX sync_failures_due_idx;
ALTER TABLE sync_failures DROP COLUMN reply;
ALTER TABLE sync_failures DROP COLUMN next_attempt_at;
ALTER TABLE sync_failures DROP CONSTRAINT sync_failures_pkey;
DELETE FROM sync_failures a USING sync_failures b
    WHERE a.order_id = b.order_id AND a.ctid < b.ctid;
ALTER TABLE sync_failures ADD PRIMARY KEY (order_id);
DROP INDEX sync_windows_checkpoint_idx;
ALTER TABLE sync_runs DROP COLUMN worker;
UPDATE sync_runs SET status = 'failed' WHERE status = 'interrupted';
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
    CHECK (status IN ('running', 'ok', 'partial', 'failed'));
