-- A job that takes a shop's lock records as failed the runs that a dead process left
-- 'running'. This finds them without reading the shop's whole run history.

-- +goose Up
CREATE INDEX sync_runs_running_idx ON sync_runs (app_id, kind) WHERE status = 'running';

-- +goose Down
DROP INDEX sync_runs_running_idx;
