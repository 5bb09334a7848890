DROP TABLE settings;
DROP TABLE slipway_locks;
DROP TABLE nodes;
