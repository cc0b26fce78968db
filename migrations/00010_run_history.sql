-- Seconds-fresh syncs at no cost: a tick that found nothing to do is folded into the run
-- before it when that one found nothing either, so sync_runs grows with the work done,
-- not with the ticks. And the health of each shop is read from its runs, by every
-- replica, through an index.

-- +goose Up
ALTER TABLE sync_runs ADD COLUMN idle_runs integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN sync_runs.idle_runs IS 'Later runs of the same shop and kind that found nothing to do (nothing fetched, written or queued), folded into this row instead of a row each; finished_at and api_calls include them.';
CREATE INDEX sync_runs_shop_kind_idx ON sync_runs (app_id, kind, run_id DESC);

-- +goose Down
DROP INDEX sync_runs_shop_kind_idx;
ALTER TABLE sync_runs DROP COLUMN idle_runs;
