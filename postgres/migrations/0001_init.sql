-- The first schema: users with their indexes and counts, tokens, profile images and deletion
-- tickets.
--
-- The migration runs with search_path set to the store's schema alone, so that every name
-- below is created there. Text columns compare byte-wise (COLLATE "C"), as Go's
-- strings.Compare does, whatever the database's default collation. Columns named *_folded
-- hold users.Fold of another column's text, computed in Go when the user is written: like
-- conditions and the substring search compare them, as PostgreSQL cannot fold as users.Fold
-- does. Times are timestamptz: microseconds, as users.CanonicalTime keeps them.

CREATE TABLE users (
	id                         text COLLATE "C" PRIMARY KEY,
	username                   text COLLATE "C" NOT NULL,
	username_folded            text COLLATE "C" NOT NULL, -- users.Fold(username), computed in Go
	email                      text COLLATE "C" NOT NULL,
	email_folded               text COLLATE "C" NOT NULL, -- users.Fold(email); '' when there is none
	name                       text COLLATE "C" NOT NULL,
	name_folded                text COLLATE "C" NOT NULL,
	scope                      text[] COLLATE "C",        -- NULL for nil
	scope_folded               text[] COLLATE "C",        -- users.Fold of each entry; NULL for nil
	vendor                     text[] COLLATE "C",
	vendor_folded              text[] COLLATE "C",
	allowed_private_components text[] COLLATE "C",
	plan                       text COLLATE "C" NOT NULL,
	plan_folded                text COLLATE "C" NOT NULL,
	org_id                     text COLLATE "C" NOT NULL,
	org_id_folded              text COLLATE "C" NOT NULL,
	status                     text COLLATE "C" NOT NULL,
	email_verified             boolean NOT NULL,
	metadata                   jsonb,                     -- NULL for nil
	-- The top-level string values of metadata, folded, under their keys as they are: what a
	-- like condition on metadata.<key> reads. NULL when metadata has none.
	metadata_folded            jsonb,
	permissions                jsonb,
	must_change_password       boolean NOT NULL,
	password_reset_disallowed  boolean NOT NULL,
	created                    timestamptz NOT NULL,
	updated                    timestamptz NOT NULL,
	version                    bigint NOT NULL,
	password_hash              text NOT NULL,
	CONSTRAINT users_username_key UNIQUE (username_folded)
);

-- Any number of users may have no e-mail address.
CREATE UNIQUE INDEX users_email_key ON users (email_folded) WHERE email_folded <> '';

-- The sort orders and the common filters.
CREATE INDEX users_created ON users (created, id);
CREATE INDEX users_updated ON users (updated, id);
CREATE INDEX users_name ON users (name, id);
CREATE INDEX users_email_sort ON users (email_folded, id);
CREATE INDEX users_status ON users (status, created, id);
CREATE INDEX users_org_id ON users (org_id, created, id);
CREATE INDEX users_plan ON users (plan, id);
CREATE INDEX users_lists ON users USING gin (scope, vendor);
CREATE INDEX users_metadata ON users USING gin (metadata jsonb_path_ops);

-- Counts of users by status (kind 0), scope entry (1) and vendor entry (2), so that counting
-- all users, those of one status or those with one role reads a few rows. Each change of a
-- user appends its deltas (a row per changed count, n +1 or -1): appending never waits for,
-- nor fails to serialize with, another writer, as updating one hot row would. The store folds
-- the deltas into one row per count now and then (see the store's compaction).
CREATE TABLE user_counts (
	kind  smallint NOT NULL,
	value text COLLATE "C" NOT NULL,
	n     bigint NOT NULL
);

CREATE INDEX user_counts_value ON user_counts (kind, value);

CREATE FUNCTION user_counts_rows(status text, scope text[], vendor text[], sign int)
RETURNS TABLE (kind smallint, value text, n bigint)
LANGUAGE sql IMMUTABLE AS $$
	SELECT 0::smallint, status, sign::bigint
	UNION ALL SELECT DISTINCT 1::smallint, e, sign::bigint FROM unnest(scope) e
	UNION ALL SELECT DISTINCT 2::smallint, e, sign::bigint FROM unnest(vendor) e
$$;

CREATE FUNCTION users_count() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO user_counts SELECT * FROM user_counts_rows(NEW.status, NEW.scope, NEW.vendor, 1);
	ELSIF TG_OP = 'DELETE' THEN
		INSERT INTO user_counts SELECT * FROM user_counts_rows(OLD.status, OLD.scope, OLD.vendor, -1);
	ELSIF OLD.status IS DISTINCT FROM NEW.status OR OLD.scope IS DISTINCT FROM NEW.scope
		OR OLD.vendor IS DISTINCT FROM NEW.vendor THEN
		INSERT INTO user_counts SELECT * FROM user_counts_rows(OLD.status, OLD.scope, OLD.vendor, -1)
			UNION ALL SELECT * FROM user_counts_rows(NEW.status, NEW.scope, NEW.vendor, 1);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER users_count AFTER INSERT OR DELETE OR UPDATE ON users
	FOR EACH ROW EXECUTE FUNCTION users_count();

-- Substring search of the folded username, e-mail and name, and LIKE conditions on them, use
-- trigram indexes of the extension pg_trgm. (Like conditions on the other text fields read
-- their folded columns, which no index holds: they scan.) The migration creates the extension when the role
-- may (it is trusted: a database owner may); without it, those queries scan the table.
DO $$
DECLARE
	ext_schema text;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('gousers.pg_trgm'));
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
		BEGIN
			CREATE EXTENSION pg_trgm SCHEMA public;
		EXCEPTION WHEN OTHERS THEN
			RAISE NOTICE 'pg_trgm is not available (%): substring search scans the users table', SQLERRM;
		END;
	END IF;
	SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		WHERE e.extname = 'pg_trgm';
	IF ext_schema IS NOT NULL THEN
		EXECUTE format('CREATE INDEX users_username_trgm ON users USING gin (username_folded %I.gin_trgm_ops)', ext_schema);
		EXECUTE format('CREATE INDEX users_email_trgm ON users USING gin (email_folded %I.gin_trgm_ops)', ext_schema);
		EXECUTE format('CREATE INDEX users_name_trgm ON users USING gin (name_folded %I.gin_trgm_ops)', ext_schema);
		-- The substring pattern looks in the e-mail only where it differs from the username (a
		-- substring of one is then a substring of the other): this index holds only those
		-- rows, so that a pattern reads the trigrams of most addresses once, not twice.
		EXECUTE format('CREATE INDEX users_other_email_trgm ON users USING gin (email_folded %I.gin_trgm_ops) WHERE email_folded <> username_folded', ext_schema);
	END IF;
END
$$;

-- Tokens are stored only as the SHA-256 digest of the secret.
CREATE TABLE tokens (
	digest    bytea PRIMARY KEY,
	kind      text COLLATE "C" NOT NULL,
	user_id   text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created   timestamptz NOT NULL,
	expires   timestamptz,      -- NULL: never
	id        text COLLATE "C" NOT NULL,
	name      text COLLATE "C" NOT NULL,
	prefix    text COLLATE "C" NOT NULL,
	last_used timestamptz       -- NULL: never
);

-- A user's tokens of one kind, in the order ListTokens returns them.
CREATE INDEX tokens_user_kind ON tokens (user_id, kind, created, id, digest);
CREATE INDEX tokens_expires ON tokens (expires) WHERE expires IS NOT NULL;

-- One profile image per user, which goes with the user.
CREATE TABLE user_images (
	user_id      text COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	content_type text NOT NULL,
	data         bytea NOT NULL,
	width        integer NOT NULL,
	height       integer NOT NULL,
	etag         text NOT NULL,
	updated      timestamptz NOT NULL
);

-- Deletion tickets outlive their user: no foreign key.
CREATE TABLE tickets (
	id           text COLLATE "C" PRIMARY KEY,
	user_id      text COLLATE "C" NOT NULL,
	status       text COLLATE "C" NOT NULL,
	steps        text[],           -- NULL for nil
	steps_done   integer NOT NULL,
	failed_step  text NOT NULL,
	message      text NOT NULL,
	created      timestamptz NOT NULL,
	updated      timestamptz NOT NULL,
	attempts     integer NOT NULL,
	next_attempt timestamptz NOT NULL,
	prior_status text NOT NULL,
	owner        text NOT NULL,
	lease_until  timestamptz NOT NULL,
	version      bigint NOT NULL
);

CREATE INDEX tickets_user ON tickets (user_id, created, id);
CREATE INDEX tickets_open ON tickets (created, id) WHERE status = 'in-progress';
