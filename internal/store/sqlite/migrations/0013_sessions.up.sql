-- Web UI sessions. Only the SHA-256 hash of a session's id is stored, never
-- the id itself: a copy of the database opens no session. credential names
-- the credential the session was opened with (admin, tool-token:<id>,
-- cert:<serial>, proxy:<addr>), so that revoking a token ends its sessions.
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    credential   TEXT    NOT NULL,
    admin        INTEGER NOT NULL,
    tool         TEXT    NOT NULL,
    csrf_secret  TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    last_seen_at TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL
) STRICT;
CREATE INDEX sessions_credential ON sessions (credential);
CREATE INDEX sessions_expires ON sessions (expires_at);
