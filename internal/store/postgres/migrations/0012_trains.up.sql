-- Release plans and trains (issue 15). A plan is global: a name, its
-- member tools and its stages (JSON arrays). A train is one run of a
-- plan, with the members and stages copied at its start; version makes
-- its updates conditional (an advance applies only over what it read).
-- train_members holds one cell per member per deploy/promote stage: the
-- deployment it made, recorded in that deployment's creating transaction
-- (deployment_id is set once, conditionally), so a restarted server
-- adopts it and never creates a second.
CREATE TABLE release_plans (
    name         TEXT NOT NULL PRIMARY KEY,
    members      TEXT NOT NULL,
    stages       TEXT NOT NULL,
    max_parallel INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL
);

CREATE TABLE trains (
    id           TEXT NOT NULL PRIMARY KEY,
    plan         TEXT NOT NULL,
    members      TEXT NOT NULL,
    stages       TEXT NOT NULL,
    mode         TEXT NOT NULL,
    max_parallel INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL,
    stage        INTEGER NOT NULL DEFAULT 0,
    answers      TEXT,
    reason       TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE train_members (
    train_id      TEXT NOT NULL,
    tool          TEXT NOT NULL,
    stage         INTEGER NOT NULL,
    state         TEXT NOT NULL,
    deployment_id TEXT NOT NULL DEFAULT '',
    reason        TEXT NOT NULL DEFAULT '',
    started_at    TEXT,
    finished_at   TEXT,
    PRIMARY KEY (train_id, stage, tool)
);
