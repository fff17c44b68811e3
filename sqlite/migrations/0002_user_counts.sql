-- How many users have each status, kept as users come, change and go: counting all users,
-- or those of one status, reads these few rows instead of a million index entries.
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
