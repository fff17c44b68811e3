package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gousers/users"
)

// optionalTime returns a time that may be zero as stored: NULL for the zero time (an expiry of
// never, a key never used).
func optionalTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// PutToken stores t. It returns ErrNotFound when t's user does not exist and ErrConflict
// (Field "token") when a token with the same digest exists, expired or not.
func (s *Store) PutToken(ctx context.Context, t *users.Token) error {
	return s.write(ctx, true, func(q querier) error {
		_, err := q.Exec(ctx, s.sql(`INSERT INTO _S_.tokens (digest, kind, user_id, created,
			expires, id, name, prefix, last_used, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7,
			$8, $9, $10)`),
			t.Digest[:], string(t.Kind), t.UserID, ts(t.Created), optionalTime(t.Expires),
			t.ID, t.Name, t.Prefix, optionalTime(t.LastUsed), t.CreatedBy)
		switch code, _ := pgCode(err); code {
		case codeForeignKey:
			return users.NotFoundError("user")
		case codeUnique:
			return users.ConflictError("token", "a token with this digest exists")
		}
		return err
	})
}

// tokenColumns are the columns scanToken reads, in its order.
const tokenColumns = "digest, kind, user_id, created, expires, id, name, prefix, last_used, created_by"

func scanToken(r pgx.Row) (*users.Token, error) {
	t := new(users.Token)
	var c struct {
		digest            []byte
		kind              string
		created           time.Time
		expires, lastUsed *time.Time
	}
	if err := r.Scan(&c.digest, &c.kind, &t.UserID, &c.created, &c.expires, &t.ID, &t.Name,
		&t.Prefix, &c.lastUsed, &t.CreatedBy); err != nil {
		return nil, err
	}
	if len(c.digest) != len(t.Digest) {
		return nil, fmt.Errorf("a stored digest is %d bytes, not %d", len(c.digest), len(t.Digest))
	}
	copy(t.Digest[:], c.digest)
	t.Kind = users.TokenKind(c.kind)
	t.Created = c.created.UTC()
	if c.expires != nil {
		t.Expires = c.expires.UTC()
	}
	if c.lastUsed != nil {
		t.LastUsed = c.lastUsed.UTC()
	}
	return t, nil
}

// foundToken returns the token a statement found, or ErrNotFound.
func foundToken(r pgx.Row) (*users.Token, error) {
	t, err := scanToken(r)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, users.NotFoundError("token")
	}
	return t, err
}

// GetToken returns the token with this digest unless it has expired at now; ErrNotFound
// otherwise.
func (s *Store) GetToken(ctx context.Context, digest users.Digest, now time.Time) (t *users.Token, err error) {
	err = s.read(ctx, func(q querier) error {
		t, err = foundToken(q.QueryRow(ctx, s.sql("SELECT "+tokenColumns+
			" FROM _S_.tokens WHERE digest = $1 AND (expires IS NULL OR expires > $2)"), digest[:], ts(now)))
		return err
	})
	return t, err
}

// ConsumeToken removes and returns the token with this digest and kind unless it has expired
// at now; ErrNotFound otherwise (and then nothing is removed). It is one DELETE … RETURNING
// statement, so of concurrent calls for one token exactly one succeeds.
func (s *Store) ConsumeToken(ctx context.Context, digest users.Digest, kind users.TokenKind, now time.Time) (t *users.Token, err error) {
	err = s.write(ctx, false, func(q querier) error {
		t, err = foundToken(q.QueryRow(ctx, s.sql("DELETE FROM _S_.tokens WHERE digest = $1 AND kind = $2 AND (expires IS NULL OR expires > $3) RETURNING "+tokenColumns),
			digest[:], string(kind), ts(now)))
		return err
	})
	return t, err
}

// DeleteToken removes the token with this digest, expired or not, and returns ErrNotFound when
// there is none.
func (s *Store) DeleteToken(ctx context.Context, digest users.Digest) error {
	return s.write(ctx, false, func(q querier) error {
		tag, err := q.Exec(ctx, s.sql("DELETE FROM _S_.tokens WHERE digest = $1"), digest[:])
		if err == nil && tag.RowsAffected() == 0 {
			return users.NotFoundError("token")
		}
		return err
	})
}

// DeleteUserTokens removes the user's tokens of the given kinds (every kind when none is
// given) and returns how many it removed: 0, and no error, for an unknown user.
func (s *Store) DeleteUserTokens(ctx context.Context, userID string, kinds ...users.TokenKind) (int, error) {
	if len(kinds) == 0 {
		return s.deleteTokens(ctx, "DELETE FROM _S_.tokens WHERE user_id = $1", userID)
	}
	ks := make([]string, len(kinds))
	for i, k := range kinds {
		ks[i] = string(k)
	}
	return s.deleteTokens(ctx, "DELETE FROM _S_.tokens WHERE user_id = $1 AND kind = ANY($2)", userID, ks)
}

// DeleteExpiredTokens removes at most limit tokens expired at now (every one when limit <= 0),
// those that expired first, and returns how many it removed. Each call is one statement, so
// that a sweeper may call it in a loop until it returns less than limit.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx, "tokens", "digest", "expires IS NOT NULL AND expires <= $1 ORDER BY expires", ts(now), limit)
}

// deleteBatch removes at most limit rows (every one when limit <= 0) of table that cond
// selects, the first in cond's ORDER BY clause, cond's $1 being arg, in one statement, and
// returns how many it removed. key is a column that identifies a row.
func (s *Store) deleteBatch(ctx context.Context, table, key, cond string, arg any, limit int) (n int, err error) {
	var lim any // NULL: LIMIT ALL
	if limit > 0 {
		lim = limit
	}
	err = s.write(ctx, false, func(q querier) error {
		tag, err := q.Exec(ctx, s.sql("DELETE FROM _S_."+table+" WHERE "+key+" IN (SELECT "+key+
			" FROM _S_."+table+" WHERE "+cond+" LIMIT $2::bigint)"), arg, lim)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

func (s *Store) deleteTokens(ctx context.Context, query string, args ...any) (n int, err error) {
	err = s.write(ctx, false, func(q querier) error {
		tag, err := q.Exec(ctx, s.sql(query), args...)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

// ListTokens returns the user's tokens of the kind, expired ones included, oldest first (by
// Created, then ID, then Digest): an empty list, and no error, for an unknown user.
func (s *Store) ListTokens(ctx context.Context, userID string, kind users.TokenKind) (out []*users.Token, err error) {
	err = s.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, s.sql("SELECT "+tokenColumns+
			" FROM _S_.tokens WHERE user_id = $1 AND kind = $2 ORDER BY created, id, digest"), userID, string(kind))
		if err != nil {
			return err
		}
		defer rows.Close()
		out = []*users.Token{}
		for rows.Next() {
			t, err := scanToken(rows)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}

// TouchToken sets the LastUsed time of the token with this digest, expired or not, to at,
// unless it is already at or after at. It returns ErrNotFound when there is no such token.
// A touch that changes nothing writes nothing.
func (s *Store) TouchToken(ctx context.Context, digest users.Digest, at time.Time) error {
	return s.write(ctx, false, func(q querier) error {
		// A NULL last_used is the zero time, which every at but the zero time is after.
		var found, touched bool
		err := q.QueryRow(ctx, s.sql(`WITH t AS (
				UPDATE _S_.tokens SET last_used = $2 WHERE digest = $1
				AND coalesce(last_used, '0001-01-01 00:00:00+00') < $2 RETURNING 1)
			SELECT EXISTS (SELECT 1 FROM _S_.tokens WHERE digest = $1), EXISTS (SELECT 1 FROM t)`),
			digest[:], ts(at)).Scan(&found, &touched)
		if err == nil && !found && !touched {
			return users.NotFoundError("token")
		}
		return err
	})
}
