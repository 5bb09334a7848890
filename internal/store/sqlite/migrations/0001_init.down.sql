DROP TABLE events;
DROP TABLE live_runs;
DROP TABLE builds;
DROP TABLE steps;
DROP TABLE deployments;
DROP TABLE configs;
DROP TABLE tools;
