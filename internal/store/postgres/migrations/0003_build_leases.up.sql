-- Build slots of a tool, counted across every server sharing the store: a
-- build step holds a lease while it builds. A lease whose step is final
-- (a server died before releasing it) no longer counts.
CREATE TABLE build_leases (
    tool          TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    step_key      TEXT NOT NULL,
    taken_at      TEXT,
    PRIMARY KEY (deployment_id, step_key)
);
CREATE INDEX build_leases_tool ON build_leases (tool);
