-- Tools are the tenants; every other row is scoped by tool name.
CREATE TABLE tools (
    name       TEXT PRIMARY KEY,
    created_at TEXT
) STRICT;

-- Config versions are append-only; a deletion is a marker row, so versions
-- are never reused.
CREATE TABLE configs (
    tool       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    raw        TEXT,
    deleted    INTEGER NOT NULL,
    created_at TEXT,
    PRIMARY KEY (tool, version)
) STRICT;

CREATE TABLE deployments (
    id             TEXT    PRIMARY KEY,
    tool           TEXT    NOT NULL,
    created_at     TEXT,
    description    TEXT    NOT NULL,
    config_version INTEGER NOT NULL,
    tool_config    TEXT,
    status         TEXT    NOT NULL,
    long_status    TEXT    NOT NULL,
    force_build    INTEGER NOT NULL,
    force_run      INTEGER NOT NULL,
    trigger_kind   TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    updated_at     TEXT,
    finished_at    TEXT
) STRICT;

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
) STRICT;

CREATE UNIQUE INDEX steps_order ON steps (deployment_id, seq);

CREATE TABLE builds (
    id         TEXT NOT NULL,
    tool       TEXT NOT NULL,
    component  TEXT NOT NULL,
    build_key  TEXT NOT NULL,
    repository TEXT NOT NULL,
    ref        TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    status     TEXT NOT NULL,
    artifact   TEXT NOT NULL,
    log_path   TEXT NOT NULL,
    error      TEXT NOT NULL,
    created_at TEXT,
    updated_at TEXT,
    -- The ID is the build key: two tools building the same commit share the
    -- artifact (content-addressed) but each keeps its own record.
    PRIMARY KEY (tool, id)
) STRICT;

CREATE INDEX builds_key_status ON builds (build_key, status, created_at);
CREATE INDEX builds_tool_created ON builds (tool, created_at);

-- Live runs are what was last applied per component. deployment_id is not a
-- foreign key: the deployment may be pruned while the component stays live.
CREATE TABLE live_runs (
    tool           TEXT NOT NULL,
    component      TEXT NOT NULL,
    component_type TEXT NOT NULL,
    spec_hash      TEXT NOT NULL,
    build_key      TEXT NOT NULL,
    artifact       TEXT NOT NULL,
    deployment_id  TEXT NOT NULL,
    spec           TEXT NOT NULL,
    applied_at     TEXT,
    PRIMARY KEY (tool, component)
) STRICT;

-- AUTOINCREMENT: sequence numbers are never reused, even after deletes, so
-- watchers resuming "after seq N" never miss or repeat an event.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT    NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    at            TEXT,
    kind          TEXT    NOT NULL,
    step          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    message       TEXT    NOT NULL
) STRICT;

CREATE INDEX events_deployment ON events (deployment_id, seq);
