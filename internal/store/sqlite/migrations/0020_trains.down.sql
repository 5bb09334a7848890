DROP TABLE train_members;
DROP TABLE trains;
DROP TABLE release_plans;
