ALTER TABLE deployments DROP COLUMN pins;
ALTER TABLE deployments DROP COLUMN promoted_from;
ALTER TABLE deployments DROP COLUMN environment;
