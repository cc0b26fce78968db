-- The sync's own records. app_id names the shop, so several shops can share a database.

-- +goose Up

-- One row per run of any kind (sync, backfill, order, replay), written when it starts and
-- completed when it ends; a run that died keeps status 'running' and no finished_at.
CREATE TABLE sync_runs (
    run_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id           text NOT NULL DEFAULT '',
    kind             text NOT NULL,
    window_start     timestamptz,
    window_end       timestamptz,
    status           text NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'ok', 'partial', 'failed')),
    orders_listed    integer NOT NULL DEFAULT 0,
    orders_fetched   integer NOT NULL DEFAULT 0,
    orders_written   integer NOT NULL DEFAULT 0,
    orders_unchanged integer NOT NULL DEFAULT 0,
    orders_failed    integer NOT NULL DEFAULT 0,
    api_calls        integer NOT NULL DEFAULT 0,
    error            text,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX sync_runs_started_at_idx ON sync_runs (started_at DESC);

-- Each finished window. kind 'update_time' windows are the incremental sync's: the latest
-- window_end is its checkpoint. kind 'created_time' windows are a backfill's: a rerun skips
-- the windows found here.
CREATE TABLE sync_windows (
    app_id        text NOT NULL DEFAULT '',
    kind          text NOT NULL CHECK (kind IN ('update_time', 'created_time')),
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    orders_listed integer NOT NULL DEFAULT 0,
    run_id        bigint REFERENCES sync_runs (run_id) ON DELETE SET NULL,
    finished_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, kind, window_start, window_end),
    CHECK (window_start <= window_end)
);

-- Orders that could not be fetched or decoded. Every run retries them until they land,
-- then removes them.
CREATE TABLE sync_failures (
    order_id        text NOT NULL PRIMARY KEY,
    app_id          text NOT NULL DEFAULT '',
    error           text NOT NULL,
    attempts        integer NOT NULL DEFAULT 1,
    update_time     timestamptz,
    list_item       jsonb,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz NOT NULL DEFAULT now(),
    run_id          bigint REFERENCES sync_runs (run_id) ON DELETE SET NULL
);

-- +goose Down
DROP TABLE sync_failures;
DROP TABLE sync_windows;
DROP TABLE sync_runs;
