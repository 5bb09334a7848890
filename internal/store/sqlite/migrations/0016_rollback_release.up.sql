-- Rollback to a release and auto-rollback (issue 13): the release whose
-- live state a rollback brings back (0: none), and the deployment that
-- rolled this one back automatically ('': none).
ALTER TABLE deployments ADD COLUMN rollback_release INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN rolled_back_by TEXT NOT NULL DEFAULT '';
