-- One deploy token per tool. token_hash (SHA-256 hex) is what requests are
-- compared against; token_sealed is the token under AES-256-GCM with the
-- server's secret key, so that `deploy-token show` can display it.
CREATE TABLE deploy_tokens (
    tool         TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL,
    token_sealed TEXT NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;
