-- Each syncer verify: what it compared with the API, what it found, and what it cost.

-- +goose Up
CREATE TABLE sync_verifications (
    verification_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id          text NOT NULL,
    range_from      date NOT NULL,
    range_to        date NOT NULL,
    horizon         timestamptz,
    repair          boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'ok', 'differs', 'failed', 'interrupted')),
    api_calls       integer NOT NULL DEFAULT 0,
    missing         integer NOT NULL DEFAULT 0,
    extra           integer NOT NULL DEFAULT 0,
    stale           integer NOT NULL DEFAULT 0,
    money           integer NOT NULL DEFAULT 0,
    consistency     integer NOT NULL DEFAULT 0,
    repaired        integer NOT NULL DEFAULT 0,
    anomalies       jsonb NOT NULL DEFAULT '[]',
    error           text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CHECK (range_from <= range_to)
);
-- The last verifications of a shop.
CREATE INDEX sync_verifications_app_id_started_at_idx ON sync_verifications (app_id, started_at DESC);

COMMENT ON TABLE sync_verifications IS 'One row per syncer verify of a shop: the stored orders compared with the API''s, day by day, and checked against the API''s own sums. Written when it starts, completed when it ends; a verify whose process died stays running, with no finished_at.';
COMMENT ON COLUMN sync_verifications.verification_id IS 'The verify''s number, in the order the verifies started.';
COMMENT ON COLUMN sync_verifications.app_id IS 'The shop (its app_id).';
COMMENT ON COLUMN sync_verifications.range_from IS 'The first day verified (Asia/Shanghai), included: orders created from its midnight.';
COMMENT ON COLUMN sync_verifications.range_to IS 'The last day verified (Asia/Shanghai), included.';
COMMENT ON COLUMN sync_verifications.horizon IS 'The changes the verify held the store to: orders created and changes made up to this time (the sync''s checkpoint less its overlap, or the start of the verify when the shop has no checkpoint). NULL until the verify has read it.';
COMMENT ON COLUMN sync_verifications.repair IS 'Whether the verify repaired what it found (syncer verify --repair): missing and stale orders fetched again, money and consistency anomalies rebuilt from their stored payloads. The counts and anomalies are those left after the repair.';
COMMENT ON COLUMN sync_verifications.status IS 'running (or its process died), ok (no order missing, extra or stale), differs (some are), failed, or interrupted (stopped by a signal).';
COMMENT ON COLUMN sync_verifications.api_calls IS 'Calls the verify made to the Xiaoe API, its repair''s included.';
COMMENT ON COLUMN sync_verifications.missing IS 'Orders at the API and not stored.';
COMMENT ON COLUMN sync_verifications.extra IS 'Orders stored and not at the API on the day they were created.';
COMMENT ON COLUMN sync_verifications.stale IS 'Orders stored with an update_time older than the API''s.';
COMMENT ON COLUMN sync_verifications.money IS 'Stored orders whose amounts do not add up as the API docs say they do: warnings.';
COMMENT ON COLUMN sync_verifications.consistency IS 'Stored orders whose counts or goods references do not agree across the order tables: warnings.';
COMMENT ON COLUMN sync_verifications.repaired IS 'Anomalies the repair cleared; 0 without --repair.';
COMMENT ON COLUMN sync_verifications.anomalies IS 'Every anomaly left, as syncer verify --json prints them: an array of {kind, order_id, day, detail}.';
COMMENT ON COLUMN sync_verifications.error IS 'Why the verify failed; NULL otherwise.';
COMMENT ON COLUMN sync_verifications.started_at IS 'When the verify started.';
COMMENT ON COLUMN sync_verifications.finished_at IS 'When the verify ended; NULL while it runs, or when its process died.';

-- +goose Down
DROP TABLE sync_verifications;
