-- Ad-hoc one-off jobs started through the jobs API (`slipway jobs run`).
-- They are not components: deployments neither run nor prune them, and
-- they are listed until deleted.
CREATE TABLE job_runs (
    tool       TEXT NOT NULL,
    name       TEXT NOT NULL,
    command    TEXT NOT NULL,
    image_name TEXT NOT NULL,
    build_key  TEXT NOT NULL,
    artifact   TEXT NOT NULL,
    timeout    INTEGER NOT NULL,
    run_id     TEXT NOT NULL,
    created_at TEXT,
    PRIMARY KEY (tool, name)
) STRICT;
