package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gousers/users"
)

var _ users.ThrottleStore = (*Store)(nil)

// The sign-in throttle's failure counts live in the table throttle_failures, one row per key,
// so that every process on the database counts the same failures. Keys are digests the
// Service derives, stored as token digests are.

// addFailure counts a failure of key ?1 at ?2 and returns the new count. The latest failure
// is the latest of the times given, whatever order concurrent calls arrive in.
const addFailure = `INSERT INTO throttle_failures (key, n, last) VALUES (?1, 1, ?2)
	ON CONFLICT (key) DO UPDATE SET n = n + 1, last = max(last, excluded.last)
	RETURNING n`

// AddFailure counts one more failure of key at now and returns the key's count, this one
// included. It is one upsert, run as a write: of n concurrent calls for a key with no
// failures, in this process or another on the same file, each returns a different count from
// 1 to n. The time of the latest failure never moves back: a call with an earlier now than
// the stored one counts, and leaves the time as it is.
func (s *Store) AddFailure(ctx context.Context, key users.Digest, now time.Time) (n int, err error) {
	err = s.write(ctx, func(ctx context.Context, q conn) error {
		return dbError(ctx, q.QueryRowContext(ctx, addFailure, key[:], micros(now)).Scan(&n))
	})
	return n, err
}

// Failures returns key's count and the time of its latest failure, canonical: 0 and the zero
// time for a key without failures.
func (s *Store) Failures(ctx context.Context, key users.Digest) (n int, last time.Time, err error) {
	if err := s.check(ctx); err != nil {
		return 0, time.Time{}, err
	}
	var us int64
	err = s.reader().QueryRowContext(ctx, "SELECT n, last FROM throttle_failures WHERE key = ?", key[:]).Scan(&n, &us)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, time.Time{}, nil
	case err != nil:
		return 0, time.Time{}, dbError(ctx, err)
	}
	return n, fromMicros(us), nil
}

// ResetFailures forgets key's failures; forgetting a key without failures is not an error.
func (s *Store) ResetFailures(ctx context.Context, key users.Digest) error {
	_, err := s.deleteRows(ctx, "DELETE FROM throttle_failures WHERE key = ?", key[:])
	return err
}

// deleteFailures removes at most ?2 keys (every one for -1) whose latest failure is before ?1,
// the oldest first, as the index throttle_failures_last gives them: no scan, no sort.
const deleteFailures = `DELETE FROM throttle_failures WHERE key IN (SELECT key FROM throttle_failures
	WHERE last < ?1 ORDER BY last LIMIT ?2)`

// DeleteFailures removes at most limit keys (every one when limit <= 0) whose latest failure
// is before before, those of the oldest failures first, and returns how many it removed. It
// is one statement.
func (s *Store) DeleteFailures(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteRows(ctx, deleteFailures, micros(before), sqlLimit(limit))
}
