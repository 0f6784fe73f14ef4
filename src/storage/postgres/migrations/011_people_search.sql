-- search_users reads people by the start of their username or full name as a range of an index, the
-- names lowered and in code-point order ("C"): the order of SQLite's NOCASE indexes (usernames are ASCII),
-- whatever the database's collation, in which a prefix is not a range.
CREATE INDEX users_by_name ON users ((lower(username::text) COLLATE "C"));
CREATE INDEX users_by_fullname ON users ((lower(fullname) COLLATE "C"));
