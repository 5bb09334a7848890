-- A tool's envvars (Toolforge's envvars API). value_sealed is the value
-- under AES-256-GCM with the server's secret key, bound to (tool, name) by
-- the additional data; the clear value is never stored.
CREATE TABLE envvars (
    tool         TEXT NOT NULL,
    name         TEXT NOT NULL,
    value_sealed TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tool, name)
) STRICT;

-- The fingerprints (HMACs under the server's key, never the values) of the
-- envvars a live component's processes got, as a JSON object by name; NULL
-- for components applied before this migration (not compared until their
-- next restart).
ALTER TABLE live_runs ADD COLUMN env_fingerprints TEXT;

-- Deploy tokens are kept only as hashes from now on; the token itself lives
-- encrypted in the tool's TOOL_DEPLOY_TOKEN envvar. SQL cannot re-encrypt,
-- so the sealed copies wait in deploy_token_legacy_seals until the server,
-- which holds the key, moves each into the envvar at startup and deletes it.
CREATE TABLE deploy_token_legacy_seals (
    tool         TEXT PRIMARY KEY,
    token_sealed TEXT NOT NULL
) STRICT;
INSERT INTO deploy_token_legacy_seals (tool, token_sealed)
    SELECT tool, token_sealed FROM deploy_tokens WHERE token_sealed <> '';
ALTER TABLE deploy_tokens DROP COLUMN token_sealed;
