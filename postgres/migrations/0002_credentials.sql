-- Credentials and sweeping: who created an API key for its owner, the organization of a user
-- whose deletion began, the failure counts of the sign-in throttle, and the index that lets
-- finished tickets be removed without a scan.
--
-- Columns added to tables that hold rows have defaults: the rows there now read as ''.

-- The ID of the user who created an API key when that is not its owner; '' otherwise.
ALTER TABLE tokens ADD COLUMN created_by text COLLATE "C" NOT NULL DEFAULT '';

-- The organization of the user when their deletion began.
ALTER TABLE tickets ADD COLUMN org_id text COLLATE "C" NOT NULL DEFAULT '';

-- Finished tickets by the time of their last change, for DeleteTickets.
CREATE INDEX tickets_done ON tickets (updated) WHERE status <> 'in-progress';

-- The sign-in throttle's failure counts, by the digest the Service derives for each key;
-- last is the time of the latest failure.
CREATE TABLE throttle_failures (
	key  bytea PRIMARY KEY,
	n    integer NOT NULL,
	last timestamptz NOT NULL
);

CREATE INDEX throttle_failures_last ON throttle_failures (last);
