-- The source commit of the build a live component runs, so that the next
-- plan can say "commit 3f2a1c7→9b0d44e". '' for prebuilt images and for
-- rows applied before this migration.
ALTER TABLE live_runs ADD COLUMN commit_sha TEXT NOT NULL DEFAULT '';
