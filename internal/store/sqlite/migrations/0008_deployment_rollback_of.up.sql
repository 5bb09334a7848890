-- The deployment whose builds and config a rollback deploys again; '' for
-- every other deployment (and for rows created before this migration).
ALTER TABLE deployments ADD COLUMN rollback_of TEXT NOT NULL DEFAULT '';
