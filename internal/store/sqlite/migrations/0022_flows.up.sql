-- Flows (issue 15): a run of a tool's flow is a deployment whose flow
-- names the flow (''; a plain deployment); a deployment made by a flow
-- run's deploy or promote step names that run and step (parent,
-- parent_step), and ends the step when it ends.
ALTER TABLE deployments ADD COLUMN flow TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN parent TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN parent_step TEXT NOT NULL DEFAULT '';
