DELETE FROM builds WHERE deleting <> 0;
ALTER TABLE builds DROP COLUMN deleting;

CREATE TABLE events_global (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT    NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    at            TEXT,
    kind          TEXT    NOT NULL,
    step          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    message       TEXT    NOT NULL
) STRICT;
INSERT INTO events_global (deployment_id, at, kind, step, state, message)
    SELECT deployment_id, at, kind, step, state, message FROM events ORDER BY at, deployment_id, seq;
DROP TABLE events;
ALTER TABLE events_global RENAME TO events;
CREATE INDEX events_deployment ON events (deployment_id, seq);

ALTER TABLE deployments DROP COLUMN event_seq;
