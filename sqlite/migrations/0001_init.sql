-- The first schema: users with their search indexes, tokens and deletion tickets.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC (users.CanonicalTime), so that they
-- compare and sort as numbers. Text compares byte-wise (BINARY), as Go's strings.Compare does.

CREATE TABLE users (
	seq                        INTEGER PRIMARY KEY, -- the row's key in the index tables below
	id                         TEXT    NOT NULL UNIQUE,
	username                   TEXT    NOT NULL,
	username_folded            TEXT    NOT NULL UNIQUE, -- users.Fold(username), computed in Go
	email                      TEXT    NOT NULL,
	email_folded               TEXT    UNIQUE,          -- users.Fold(email); NULL when there is none
	name                       TEXT    NOT NULL,
	name_folded                TEXT    NOT NULL,
	scope                      TEXT,                    -- JSON array, NULL for nil
	vendor                     TEXT,                    -- JSON array, NULL for nil
	allowed_private_components TEXT,                    -- JSON array, NULL for nil
	plan                       TEXT    NOT NULL,
	org_id                     TEXT    NOT NULL,
	status                     TEXT    NOT NULL,
	email_verified             INTEGER NOT NULL,
	metadata                   TEXT,                    -- JSON object, NULL for nil
	created                    INTEGER NOT NULL,
	updated                    INTEGER NOT NULL,
	version                    INTEGER NOT NULL,
	password_hash              TEXT    NOT NULL
) STRICT;

CREATE INDEX users_created ON users (created);
CREATE INDEX users_status ON users (status, created);
CREATE INDEX users_org_id ON users (org_id, created);

-- One row per entry of a list field (list 1: scope, 2: vendor), so that "has role" is an
-- index look-up. The triggers below keep it from the JSON of the user.
CREATE TABLE user_lists (
	list  INTEGER NOT NULL,
	value TEXT    NOT NULL,
	seq   INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
	PRIMARY KEY (list, value, seq)
) STRICT, WITHOUT ROWID;

CREATE INDEX user_lists_seq ON user_lists (seq);

-- One row per top-level metadata key, kept by the triggers below. type: 0 null, 1 bool (value
-- 0 or 1), 2 number (REAL), 3 string, 4 object or array (value NULL).
CREATE TABLE user_metadata (
	seq   INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
	key   TEXT    NOT NULL,
	type  INTEGER NOT NULL,
	value ANY,
	PRIMARY KEY (seq, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX user_metadata_value ON user_metadata (key, type, value);

-- The folded username, e-mail and name, for substring search with trigrams. The store folds;
-- the index compares exactly. The e-mail is left out when it equals the username (a substring
-- of one is then a substring of the other), which halves the index for most users.
CREATE VIRTUAL TABLE users_search USING fts5 (
	username, email, name,
	content = '', contentless_delete = 1,
	tokenize = 'trigram case_sensitive 1'
);

-- The rows the two index tables above hold for each user, computed from the user's JSON.
CREATE VIEW user_list_rows (list, value, seq) AS
	SELECT 1, j.value, u.seq FROM users u, json_each(u.scope) j
	UNION ALL
	SELECT 2, j.value, u.seq FROM users u, json_each(u.vendor) j;

CREATE VIEW user_metadata_rows (seq, key, type, value) AS
	SELECT u.seq, j.key,
		CASE j.type WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1
			WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3 ELSE 4 END,
		CASE j.type WHEN 'true' THEN 1 WHEN 'false' THEN 0
			WHEN 'integer' THEN CAST(j.value AS REAL) WHEN 'real' THEN j.value WHEN 'text' THEN j.value END
	FROM users u, json_each(u.metadata) j;

CREATE TRIGGER users_insert AFTER INSERT ON users BEGIN
	INSERT INTO users_search (rowid, username, email, name)
	VALUES (new.seq, new.username_folded, nullif(new.email_folded, new.username_folded), new.name_folded);
	INSERT OR IGNORE INTO user_lists SELECT * FROM user_list_rows WHERE seq = new.seq;
	INSERT INTO user_metadata SELECT * FROM user_metadata_rows WHERE seq = new.seq;
END;

-- user_lists and user_metadata rows go with the user: ON DELETE CASCADE.
CREATE TRIGGER users_delete AFTER DELETE ON users BEGIN
	DELETE FROM users_search WHERE rowid = old.seq;
END;

CREATE TRIGGER users_update_search AFTER UPDATE OF username_folded, email_folded, name_folded ON users BEGIN
	DELETE FROM users_search WHERE rowid = old.seq;
	INSERT INTO users_search (rowid, username, email, name)
	VALUES (new.seq, new.username_folded, nullif(new.email_folded, new.username_folded), new.name_folded);
END;

CREATE TRIGGER users_update_lists AFTER UPDATE OF scope, vendor ON users BEGIN
	DELETE FROM user_lists WHERE seq = old.seq;
	INSERT OR IGNORE INTO user_lists SELECT * FROM user_list_rows WHERE seq = new.seq;
END;

CREATE TRIGGER users_update_metadata AFTER UPDATE OF metadata ON users BEGIN
	DELETE FROM user_metadata WHERE seq = old.seq;
	INSERT INTO user_metadata SELECT * FROM user_metadata_rows WHERE seq = new.seq;
END;

-- Tokens are stored only as the SHA-256 digest of the secret.
CREATE TABLE tokens (
	digest  BLOB    PRIMARY KEY,
	kind    TEXT    NOT NULL,
	user_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created INTEGER NOT NULL,
	expires INTEGER -- NULL: never
) STRICT, WITHOUT ROWID;

CREATE INDEX tokens_user ON tokens (user_id, kind);
CREATE INDEX tokens_expires ON tokens (expires) WHERE expires IS NOT NULL;

-- Deletion tickets outlive their user: no foreign key.
CREATE TABLE tickets (
	id           TEXT    PRIMARY KEY,
	user_id      TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	steps        TEXT,    -- JSON array, NULL for nil
	steps_done   INTEGER NOT NULL,
	failed_step  TEXT    NOT NULL,
	message      TEXT    NOT NULL,
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL,
	attempts     INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	prior_status TEXT    NOT NULL,
	owner        TEXT    NOT NULL,
	lease_until  INTEGER NOT NULL,
	version      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX tickets_user ON tickets (user_id, created, id);
CREATE INDEX tickets_open ON tickets (created, id) WHERE status = 'in-progress';
