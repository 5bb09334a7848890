-- Tool-scoped API tokens (bearer). Only the SHA-256 hex hash of a token is
-- kept; the token itself is shown once, when it is created.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    tool         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
) STRICT;
CREATE INDEX api_tokens_tool ON api_tokens (tool, created_at);
