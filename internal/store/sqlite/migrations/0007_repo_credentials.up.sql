-- Credentials of repository URLs and source_urls (https://user:pass@host/…).
-- Configs, deployments, builds and live records keep the URL with its user
-- info replaced by *** (https://***@host/…); the credential itself is kept
-- here, sealed with AES-256-GCM under the server's secret key (the tool and
-- the URL are the additional data), keyed by the tool and that URL.
CREATE TABLE repo_credentials (
    tool       TEXT NOT NULL,
    url        TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    updated_at TEXT,
    PRIMARY KEY (tool, url)
) STRICT;

-- Who created each config version: local repositories are for the admin
-- (or the directories of --local-repo-dirs), and a deployment reads its
-- config's creator to know which. Versions stored before this migration have
-- no recorded creator and count as a tool's.
ALTER TABLE configs ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE configs ADD COLUMN created_by_admin INTEGER NOT NULL DEFAULT 0;
