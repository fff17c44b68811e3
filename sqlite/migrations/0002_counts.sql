-- How many users have each status, and each scope or vendor entry, kept as users come,
-- change and go: counting all users, those of one status or those with one role reads a row
-- instead of a million index entries.
CREATE TABLE user_counts (
	status TEXT    PRIMARY KEY,
	n      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO user_counts (status, n) SELECT status, count(*) FROM users GROUP BY status;

CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
	INSERT INTO user_counts (status, n) VALUES (new.status, 1)
		ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
	UPDATE user_counts SET n = n - 1 WHERE status = old.status;
END;

CREATE TRIGGER users_count_update AFTER UPDATE OF status ON users
WHEN old.status IS NOT new.status BEGIN
	UPDATE user_counts SET n = n - 1 WHERE status = old.status;
	INSERT INTO user_counts (status, n) VALUES (new.status, 1)
		ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;

-- list and value as in user_lists; rows whose n falls to 0 stay.
CREATE TABLE user_list_counts (
	list  INTEGER NOT NULL,
	value TEXT    NOT NULL,
	n     INTEGER NOT NULL,
	PRIMARY KEY (list, value)
) STRICT, WITHOUT ROWID;

INSERT INTO user_list_counts (list, value, n) SELECT list, value, count(*) FROM user_lists GROUP BY list, value;

-- user_lists rows come only from the users triggers (a repeated entry is ignored, and fires
-- nothing) and go with them or with the user (ON DELETE CASCADE, which fires triggers too).
CREATE TRIGGER user_lists_count_insert AFTER INSERT ON user_lists BEGIN
	INSERT INTO user_list_counts (list, value, n) VALUES (new.list, new.value, 1)
		ON CONFLICT (list, value) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER user_lists_count_delete AFTER DELETE ON user_lists BEGIN
	UPDATE user_list_counts SET n = n - 1 WHERE list = old.list AND value = old.value;
END;
