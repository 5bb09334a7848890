DROP TABLE certificates;
DELETE FROM slipway_locks WHERE name = 'domains';
DROP TABLE domains;
