-- The account lifecycle: permissions and password flags on users, the fields of API keys on
-- tokens, and profile images.
--
-- A column added to a STRICT table that already holds rows must be nullable or have a
-- default: the rows there now get it.

ALTER TABLE users ADD COLUMN permissions               TEXT;                       -- JSON object, NULL for nil
ALTER TABLE users ADD COLUMN must_change_password      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN password_reset_disallowed INTEGER NOT NULL DEFAULT 0;

-- id, name and prefix are set for API keys and '' for other kinds.
ALTER TABLE tokens ADD COLUMN id        TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN name      TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN prefix    TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN last_used INTEGER; -- NULL: never

-- A user's tokens of one kind, in the order ListTokens returns them: by created, then id,
-- then digest (the primary key, which every index entry of a WITHOUT ROWID table ends with),
-- so that the list needs no sort. It replaces tokens_user, a prefix of it.
DROP INDEX tokens_user;
CREATE INDEX tokens_user_kind ON tokens (user_id, kind, created, id);

-- One profile image per user, which goes with the user (ON DELETE CASCADE). A table of its
-- own, so that reading a user never reads the image's pages.
CREATE TABLE user_images (
	seq          INTEGER PRIMARY KEY REFERENCES users (seq) ON DELETE CASCADE,
	content_type TEXT    NOT NULL,
	data         BLOB    NOT NULL,
	width        INTEGER NOT NULL,
	height       INTEGER NOT NULL,
	etag         TEXT    NOT NULL,
	updated      INTEGER NOT NULL
) STRICT;
