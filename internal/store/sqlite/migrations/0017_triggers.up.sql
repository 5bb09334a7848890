-- Push webhooks (issue 15): a tool's webhook secret, sealed with the
-- server's key and bound to the tool (never in the clear), and the log of
-- the signed deliveries it received. (tool, id) is the forge's delivery
-- ID: inserting a second one fails, which is how a replay is refused, on
-- one server or several.
CREATE TABLE webhooks (
    tool          TEXT PRIMARY KEY,
    secret_sealed TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
    tool          TEXT NOT NULL,
    id            TEXT NOT NULL,
    provider      TEXT NOT NULL,
    event         TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    ref           TEXT NOT NULL DEFAULT '',
    commit_sha    TEXT NOT NULL DEFAULT '',
    pusher        TEXT NOT NULL DEFAULT '',
    outcome       TEXT NOT NULL,
    message       TEXT NOT NULL DEFAULT '',
    deployment_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tool, id)
) STRICT;
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (tool, received_at);

-- Polling (issue 15): per polled component, the ref and the commit it was
-- last seen at. A poll that finds a new commit moves commit_sha from the
-- old value to the new one in the transaction that creates the
-- deployment, only if it still holds the old one: a commit makes one
-- deployment, across restarts and replicas.
CREATE TABLE poll_state (
    tool       TEXT NOT NULL,
    component  TEXT NOT NULL,
    ref        TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    seen_at    TEXT NOT NULL,
    PRIMARY KEY (tool, component)
) STRICT;
