-- Environments: a deployment goes to one environment of its tool
-- ('production' for a tool that declares none, and for every row created
-- before this migration). A promotion records the upstream environment it
-- came from and the builds it deploys (pins: JSON component → {build_key,
-- commit}), fixed when it is created.
ALTER TABLE deployments ADD COLUMN environment TEXT NOT NULL DEFAULT 'production';
ALTER TABLE deployments ADD COLUMN promoted_from TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN pins TEXT NOT NULL DEFAULT '';
