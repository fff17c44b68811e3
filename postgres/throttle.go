package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gousers/users"
)

var _ users.ThrottleStore = (*Store)(nil)

// AddFailure counts one more failure of key at now and returns the key's count, this one
// included. It is one upsert (INSERT … ON CONFLICT DO UPDATE … RETURNING) at READ COMMITTED,
// so concurrent calls for one key queue on its row and each returns a different count.
func (s *Store) AddFailure(ctx context.Context, key users.Digest, now time.Time) (n int, err error) {
	add := func(q querier) error {
		return q.QueryRow(ctx, s.sql(`INSERT INTO _S_.throttle_failures AS f (key, n, last) VALUES ($1, 1, $2)
			ON CONFLICT (key) DO UPDATE SET n = f.n + 1, last = greatest(f.last, excluded.last)
			RETURNING n`), key[:], ts(now)).Scan(&n)
	}
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if s.tx != nil {
		err = s.inTx(ctx, add)
	} else {
		err = s.readCommitted(ctx, add)
	}
	return n, err
}

// Failures returns key's count and the time of its latest failure: 0 and the zero time for a
// key without failures.
func (s *Store) Failures(ctx context.Context, key users.Digest) (n int, last time.Time, err error) {
	err = s.read(ctx, func(q querier) error {
		return q.QueryRow(ctx, s.sql("SELECT n, last FROM _S_.throttle_failures WHERE key = $1"), key[:]).Scan(&n, &last)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	return n, last.UTC(), nil
}

// ResetFailures forgets key's failures; forgetting a key without failures is not an error.
func (s *Store) ResetFailures(ctx context.Context, key users.Digest) error {
	return s.write(ctx, false, func(q querier) error {
		_, err := q.Exec(ctx, s.sql("DELETE FROM _S_.throttle_failures WHERE key = $1"), key[:])
		return err
	})
}

// DeleteFailures removes at most limit keys (every one when limit <= 0) whose latest failure
// is before before, and returns how many it removed.
func (s *Store) DeleteFailures(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx, "throttle_failures", "key", "last < $1 ORDER BY last", ts(before), limit)
}
