ALTER TABLE configs DROP COLUMN created_by_admin;
ALTER TABLE configs DROP COLUMN created_by;
DROP TABLE repo_credentials;
