-- Sealed copies not moved yet go back into deploy_tokens; tokens already
-- moved into envvars come back with an empty seal (they still verify; the
-- older binary cannot show them, and refresh makes new ones).
ALTER TABLE deploy_tokens ADD COLUMN token_sealed TEXT NOT NULL DEFAULT '';
UPDATE deploy_tokens SET token_sealed = (
    SELECT l.token_sealed FROM deploy_token_legacy_seals l WHERE l.tool = deploy_tokens.tool)
    WHERE tool IN (SELECT tool FROM deploy_token_legacy_seals);
DROP TABLE deploy_token_legacy_seals;
ALTER TABLE live_runs DROP COLUMN env_fingerprints;
DROP TABLE envvars;
