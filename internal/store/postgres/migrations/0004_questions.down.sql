DROP TABLE question_log;
DROP TABLE questions;
