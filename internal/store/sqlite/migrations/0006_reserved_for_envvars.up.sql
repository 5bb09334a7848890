-- Placeholder: version 6 belongs to the envvars branch (0006_envvars), which
-- is merged separately. Migration versions must be contiguous, so this
-- branch carries an empty 0006 to apply its own 0007. Delete this pair when
-- 0006_envvars is merged.
SELECT 1;
