-- The search index is written once per transaction. FTS5 writes its pending index to disk as
-- a new segment at every savepoint, and SQLite opens one for every statement of a
-- transaction that fires triggers: a transaction creating users one statement at a time (an
-- import) left one segment per user, and merging them made each user cost more than the one
-- before. The triggers now queue the index rows of new and renamed users in
-- users_search_pending, and the store moves them into users_search with one statement just
-- before each write transaction commits, and before a search inside a transaction: the table
-- is empty in every committed state.

CREATE TABLE users_search_pending (
	seq      INTEGER PRIMARY KEY,
	username TEXT NOT NULL,
	email    TEXT,
	name     TEXT NOT NULL
) STRICT;

DROP TRIGGER users_insert;
CREATE TRIGGER users_insert AFTER INSERT ON users BEGIN
	INSERT INTO users_search_pending (seq, username, email, name)
	VALUES (new.seq, new.username_folded, nullif(new.email_folded, new.username_folded), new.name_folded);
	INSERT OR IGNORE INTO user_lists SELECT * FROM user_list_rows WHERE seq = new.seq;
	INSERT INTO user_metadata SELECT * FROM user_metadata_rows WHERE seq = new.seq;
END;

DROP TRIGGER users_delete;
CREATE TRIGGER users_delete AFTER DELETE ON users BEGIN
	DELETE FROM users_search WHERE rowid = old.seq;
	DELETE FROM users_search_pending WHERE seq = old.seq;
END;

DROP TRIGGER users_update_search;
CREATE TRIGGER users_update_search AFTER UPDATE OF username_folded, email_folded, name_folded ON users BEGIN
	DELETE FROM users_search WHERE rowid = old.seq;
	INSERT OR REPLACE INTO users_search_pending (seq, username, email, name)
	VALUES (new.seq, new.username_folded, nullif(new.email_folded, new.username_folded), new.name_folded);
END;
