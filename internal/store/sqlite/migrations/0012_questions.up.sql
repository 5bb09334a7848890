-- Questions a deployment asks a human: gates declared in the tool config
-- and questions running processes ask with `slipway ask`. A pending
-- question is a row, so it survives a restart. Kept with their log as the
-- audit trail when their deployment is pruned.
CREATE TABLE questions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    tool          TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    step_key      TEXT NOT NULL,
    ask_key       TEXT NOT NULL,
    origin        TEXT NOT NULL,
    prompt        TEXT NOT NULL,
    options       TEXT,
    fields        TEXT,
    policy        TEXT,
    initiator     TEXT NOT NULL DEFAULT '',
    created_at    TEXT,
    deadline_at   TEXT,
    on_deadline   TEXT NOT NULL DEFAULT 'fail',
    default_value TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL,
    value         TEXT NOT NULL DEFAULT '',
    settled_by    TEXT NOT NULL DEFAULT '',
    settled_at    TEXT,
    comment       TEXT NOT NULL DEFAULT '',
    approvals     TEXT,
    UNIQUE (tool, deployment_id, step_key, ask_key)
) STRICT;
CREATE INDEX questions_tool_state ON questions (tool, state);
CREATE INDEX questions_state ON questions (state);

-- The append-only log of every question: opened, answers, refused
-- attempts, expiry, cancellation.
CREATE TABLE question_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id TEXT NOT NULL,
    tool        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL DEFAULT '',
    value       TEXT NOT NULL DEFAULT '',
    comment     TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    at          TEXT
) STRICT;
CREATE INDEX question_log_question ON question_log (question_id, seq);
CREATE INDEX question_log_tool ON question_log (tool, seq);
