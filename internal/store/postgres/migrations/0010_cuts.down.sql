DROP TABLE change_requests;
DROP TABLE cuts;
