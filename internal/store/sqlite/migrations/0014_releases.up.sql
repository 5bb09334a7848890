-- Releases: every component version a deployment made live (or removed),
-- appended in the transaction that does it. Facts, kept: never pruned
-- with deployments, so "is commit X live, and since when?" survives them.
CREATE TABLE releases (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tool           TEXT NOT NULL,
    environment    TEXT NOT NULL,
    component      TEXT NOT NULL,
    deployment_id  TEXT NOT NULL,
    build_key      TEXT NOT NULL DEFAULT '',
    commit_sha     TEXT NOT NULL DEFAULT '',
    spec_hash      TEXT NOT NULL DEFAULT '',
    config_version INTEGER NOT NULL DEFAULT 0,
    applied_at     TEXT,
    outcome        TEXT NOT NULL,
    actor          TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX releases_tool ON releases (tool, environment, component, seq);
CREATE INDEX releases_commit ON releases (tool, commit_sha);
