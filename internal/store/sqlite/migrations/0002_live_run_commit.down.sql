ALTER TABLE live_runs DROP COLUMN commit_sha;
