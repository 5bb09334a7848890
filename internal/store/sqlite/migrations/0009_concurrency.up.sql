-- The store's concurrency contract (see internal/store): event numbers are
-- counted per deployment, on the deployment's row, under its lock, so that
-- they follow commit order on PostgreSQL too. Existing events keep their
-- numbers (they grew across all deployments, so they grow within each).
ALTER TABLE deployments ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
UPDATE deployments SET event_seq = COALESCE((SELECT MAX(seq) FROM events WHERE deployment_id = deployments.id), 0);

CREATE TABLE events_by_deployment (
    deployment_id TEXT    NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    at            TEXT,
    kind          TEXT    NOT NULL,
    step          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    message       TEXT    NOT NULL,
    PRIMARY KEY (deployment_id, seq)
) STRICT;
INSERT INTO events_by_deployment (deployment_id, seq, at, kind, step, state, message)
    SELECT deployment_id, seq, at, kind, step, state, message FROM events;
DROP TABLE events;
ALTER TABLE events_by_deployment RENAME TO events;

-- A build record being deleted: hidden from reads while its files are
-- removed outside the transaction that marked it, then deleted.
ALTER TABLE builds ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;
