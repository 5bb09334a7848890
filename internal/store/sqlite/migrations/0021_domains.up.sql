-- Custom domains (issue 16): each name is served for one tool only, and
-- the "domains" lock serializes the claims, which check that no name is
-- under or above another tool's. Certificates the proxy obtained over
-- ACME are kept sealed (internal/auth) by name, shared by every server of
-- the database.
CREATE TABLE domains (
    name       TEXT PRIMARY KEY,
    tool       TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX domains_tool ON domains (tool);
INSERT INTO slipway_locks (name) VALUES ('domains');

CREATE TABLE certificates (
    name       TEXT PRIMARY KEY,
    sealed     TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
