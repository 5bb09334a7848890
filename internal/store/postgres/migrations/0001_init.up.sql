-- Slipway's schema on PostgreSQL: the same tables and columns as SQLite's
-- after its migration 0009, in PostgreSQL's types. Times are UTC text in a
-- fixed-width nanosecond layout, as on SQLite (see internal/store/sqlstore):
-- they sort as they compare and round-trip exactly.

-- Tools are the tenants; every other row is scoped by tool name. A tool's
-- row is also its lock (store.Tx.ToolLock).
CREATE TABLE tools (
    name       TEXT PRIMARY KEY,
    created_at TEXT
);

-- Config versions are append-only; a deletion is a marker row, so versions
-- are never reused.
CREATE TABLE configs (
    tool             TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    raw              TEXT,
    deleted          BOOLEAN NOT NULL,
    created_at       TEXT,
    created_by       TEXT    NOT NULL DEFAULT '',
    created_by_admin BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (tool, version)
);

-- event_seq counts the deployment's events (store.Queries.EventAppend).
CREATE TABLE deployments (
    id             TEXT    PRIMARY KEY,
    tool           TEXT    NOT NULL,
    created_at     TEXT,
    description    TEXT    NOT NULL,
    config_version INTEGER NOT NULL,
    tool_config    TEXT,
    status         TEXT    NOT NULL,
    long_status    TEXT    NOT NULL,
    force_build    BOOLEAN NOT NULL,
    force_run      BOOLEAN NOT NULL,
    trigger_kind   TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    updated_at     TEXT,
    finished_at    TEXT,
    rollback_of    TEXT    NOT NULL DEFAULT '',
    event_seq      BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX deployments_tool_created ON deployments (tool, created_at, id);
CREATE INDEX deployments_status ON deployments (status);

-- Steps are a deployment's plan; seq keeps the plan order.
CREATE TABLE steps (
    deployment_id TEXT    NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    step_key      TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    component     TEXT    NOT NULL,
    step_action   TEXT    NOT NULL,
    needs         TEXT,
    reason        TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    detail        TEXT    NOT NULL,
    attempt       INTEGER NOT NULL,
    build_key     TEXT    NOT NULL,
    commit_sha    TEXT    NOT NULL,
    spec_hash     TEXT    NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    PRIMARY KEY (deployment_id, step_key)
);

CREATE UNIQUE INDEX steps_order ON steps (deployment_id, seq);

-- Each attempt at building a key is a record; deleting marks a record
-- whose files are being removed (hidden from reads).
CREATE TABLE builds (
    id         TEXT    NOT NULL,
    tool       TEXT    NOT NULL,
    component  TEXT    NOT NULL,
    build_key  TEXT    NOT NULL,
    repository TEXT    NOT NULL,
    ref        TEXT    NOT NULL,
    commit_sha TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    artifact   TEXT    NOT NULL,
    log_path   TEXT    NOT NULL,
    error      TEXT    NOT NULL,
    created_at TEXT,
    updated_at TEXT,
    deleting   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (tool, id)
);

CREATE INDEX builds_key_status ON builds (build_key, status, created_at);
CREATE INDEX builds_tool_created ON builds (tool, created_at);

-- Live runs are what was last applied per component. deployment_id is not a
-- foreign key: the deployment may be pruned while the component stays live.
CREATE TABLE live_runs (
    tool             TEXT NOT NULL,
    component        TEXT NOT NULL,
    component_type   TEXT NOT NULL,
    spec_hash        TEXT NOT NULL,
    build_key        TEXT NOT NULL,
    artifact         TEXT NOT NULL,
    deployment_id    TEXT NOT NULL,
    spec             TEXT NOT NULL,
    applied_at       TEXT,
    commit_sha       TEXT NOT NULL DEFAULT '',
    env_fingerprints TEXT,
    PRIMARY KEY (tool, component)
);

-- Events are numbered per deployment, in commit order.
CREATE TABLE events (
    deployment_id TEXT   NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    seq           BIGINT NOT NULL,
    at            TEXT,
    kind          TEXT   NOT NULL,
    step          TEXT   NOT NULL,
    state         TEXT   NOT NULL,
    message       TEXT   NOT NULL,
    PRIMARY KEY (deployment_id, seq)
);

-- One deploy token per tool, as a SHA-256 hex hash.
CREATE TABLE deploy_tokens (
    tool       TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Kept for the contract's sake (SQLite's migration 0006 fills it from
-- older databases); a PostgreSQL database starts empty.
CREATE TABLE deploy_token_legacy_seals (
    tool         TEXT PRIMARY KEY,
    token_sealed TEXT NOT NULL
);

-- Tool-scoped API tokens (bearer), as SHA-256 hex hashes.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    tool         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX api_tokens_tool ON api_tokens (tool, created_at);

-- Ad-hoc one-off jobs started through the jobs API.
CREATE TABLE job_runs (
    tool       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    command    TEXT    NOT NULL,
    image_name TEXT    NOT NULL,
    build_key  TEXT    NOT NULL,
    artifact   TEXT    NOT NULL,
    timeout    INTEGER NOT NULL,
    run_id     TEXT    NOT NULL,
    created_at TEXT,
    PRIMARY KEY (tool, name)
);

-- A tool's envvars, sealed (AES-256-GCM under the server's key).
CREATE TABLE envvars (
    tool         TEXT NOT NULL,
    name         TEXT NOT NULL,
    value_sealed TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tool, name)
);

-- Credentials of repository URLs and source_urls, sealed.
CREATE TABLE repo_credentials (
    tool       TEXT NOT NULL,
    url        TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    updated_at TEXT,
    PRIMARY KEY (tool, url)
);
