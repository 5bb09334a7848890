-- The Slipway servers working on this database (one, with SQLite), each
-- seen at its last heartbeat: a server whose heartbeat stopped is dead,
-- and the jobs it was running are rescued by the others.
CREATE TABLE nodes (
    id         TEXT    PRIMARY KEY,
    host       TEXT    NOT NULL,
    pid        INTEGER NOT NULL,
    target     TEXT    NOT NULL,
    started_at TEXT,
    seen_at    TEXT
) STRICT;

-- Named locks (store.Tx.NamedLock): rows that transactions lock to
-- serialize a decision that has no row of its own, such as a server
-- joining.
CREATE TABLE slipway_locks (
    name TEXT PRIMARY KEY
) STRICT;
INSERT INTO slipway_locks (name) VALUES ('nodes');

-- Settings of the installation, by name: the fingerprint of the secret
-- key the database's secrets are sealed with, so that a server with
-- another key refuses to start.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
