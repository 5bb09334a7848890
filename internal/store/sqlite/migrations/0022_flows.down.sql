ALTER TABLE deployments DROP COLUMN parent_step;
ALTER TABLE deployments DROP COLUMN parent;
ALTER TABLE deployments DROP COLUMN flow;
