ALTER TABLE deployments DROP COLUMN rolled_back_by;
ALTER TABLE deployments DROP COLUMN rollback_release;
