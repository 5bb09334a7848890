-- Outbound notifications (issue 15): a tool's subscriptions (a signed
-- webhook or an email address, and the events it wants), the outbox of
-- deliveries recorded in the transaction of the event that causes them,
-- and every attempt to send one. (subscription_id, event, subject) is
-- unique: a transaction run again, or a job run twice, records a
-- notification once.
CREATE TABLE notify_subscriptions (
    id            TEXT PRIMARY KEY,
    tool          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    target        TEXT NOT NULL,
    events        TEXT NOT NULL DEFAULT '',
    secret_sealed TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notify_subscriptions_tool ON notify_subscriptions (tool);

CREATE TABLE notify_deliveries (
    id              TEXT PRIMARY KEY,
    tool            TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    event           TEXT NOT NULL,
    subject         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL,
    UNIQUE (subscription_id, event, subject)
);
CREATE INDEX notify_deliveries_tool ON notify_deliveries (tool, created_at);

CREATE TABLE notify_attempts (
    delivery_id TEXT NOT NULL,
    n           INTEGER NOT NULL,
    tool        TEXT NOT NULL,
    at          TEXT NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    duration_ms BIGINT  NOT NULL DEFAULT 0,
    response    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, n)
);
