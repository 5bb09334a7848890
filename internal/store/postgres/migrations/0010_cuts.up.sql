-- Cuts (issue 15): a tool's named releases ("2026.12.1"), cut from a
-- branch of one of its repositories at a commit. A frozen cut's head moves
-- only by an approved change request, whose cherry-pick Slipway pushes to
-- the cut's release branch; head is conditional-updated from the value
-- read, so two picks never both land on one head.
CREATE TABLE cuts (
    tool        TEXT NOT NULL,
    name        TEXT NOT NULL,
    repository  TEXT NOT NULL,
    branch      TEXT NOT NULL,
    base_commit TEXT NOT NULL,
    head_commit TEXT NOT NULL,
    state       TEXT NOT NULL,
    picks       INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    frozen_at   TEXT,
    frozen_by   TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tool, name)
);

-- Change requests: one commit to cherry-pick into a frozen cut, decided
-- by the question question_id (first valid answer wins) and recorded with
-- who asked, who decided, the commit it was picked onto and the pick.
-- seq numbers a tool's requests, allocated under the tool's lock.
CREATE TABLE change_requests (
    tool         TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    cut          TEXT NOT NULL,
    commit_sha   TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    question_id  TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL DEFAULT '',
    requested_at TEXT NOT NULL,
    decided_by   TEXT NOT NULL DEFAULT '',
    decided_at   TEXT,
    onto_commit  TEXT NOT NULL DEFAULT '',
    pick_commit  TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tool, seq)
);
CREATE INDEX change_requests_cut ON change_requests (tool, cut, seq);
