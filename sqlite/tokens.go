package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gousers/users"
	sqlite3 "modernc.org/sqlite/lib"
)

// optionalTime returns a time that may be zero as stored: NULL for the zero time (an expiry
// of never, a key never used).
func optionalTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

// PutToken stores t. It returns ErrNotFound when t's user does not exist and ErrConflict
// (Field "token") when a token with the same digest exists, expired or not.
func (s *Store) PutToken(ctx context.Context, t *users.Token) error {
	return s.write(ctx, func(ctx context.Context, q conn) error {
		_, err := q.ExecContext(ctx, `INSERT INTO tokens (digest, kind, user_id, created, expires, id, name, prefix, last_used, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Digest[:], string(t.Kind), t.UserID, micros(t.Created), optionalTime(t.Expires),
			t.ID, t.Name, t.Prefix, optionalTime(t.LastUsed), t.CreatedBy)
		switch {
		case constraint(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return users.NotFoundError("user")
		case isUnique(err):
			return users.ConflictError("token", "a token with this digest exists")
		}
		return dbError(ctx, err)
	})
}

// tokenColumns are the columns scanToken reads, in its order.
const tokenColumns = "digest, kind, user_id, created, expires, id, name, prefix, last_used, created_by"

func scanToken(r scanner) (*users.Token, error) {
	t := new(users.Token)
	// One struct for the columns that need converting, as in scanUser.
	var c struct {
		kind              string
		created           int64
		expires, lastUsed sql.NullInt64
	}
	if err := r.Scan(digestDest{&t.Digest}, &c.kind, &t.UserID, &c.created, &c.expires,
		&t.ID, &t.Name, &t.Prefix, &c.lastUsed, &t.CreatedBy); err != nil {
		return nil, err
	}
	t.Kind = users.TokenKind(c.kind)
	t.Created = fromMicros(c.created)
	if c.expires.Valid {
		t.Expires = fromMicros(c.expires.Int64)
	}
	if c.lastUsed.Valid {
		t.LastUsed = fromMicros(c.lastUsed.Int64)
	}
	return t, nil
}

// digestDest scans a digest column straight into a Digest, without the copy that Scan makes
// for a []byte.
type digestDest struct{ d *users.Digest }

func (d digestDest) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok || len(b) != len(d.d) {
		return fmt.Errorf("sqlite: a stored digest is %T of length %d, not %d bytes", src, len(b), len(d.d))
	}
	copy(d.d[:], b)
	return nil
}

// foundToken returns the token a statement found, or ErrNotFound.
func foundToken(ctx context.Context, r *sql.Row) (*users.Token, error) {
	t, err := scanToken(r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, users.NotFoundError("token")
	}
	if err != nil {
		return nil, dbError(ctx, err)
	}
	return t, nil
}

// GetToken returns the token with this digest unless it has expired at now; ErrNotFound
// otherwise.
func (s *Store) GetToken(ctx context.Context, digest users.Digest, now time.Time) (*users.Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return foundToken(ctx, s.reader().QueryRowContext(ctx,
		"SELECT "+tokenColumns+" FROM tokens WHERE digest = ? AND (expires IS NULL OR expires > ?)",
		digest[:], micros(now)))
}

// ConsumeToken removes and returns the token with this digest and kind unless it has expired
// at now; ErrNotFound otherwise (and then nothing is removed). It is one DELETE … RETURNING
// statement, so of concurrent calls for one token exactly one succeeds.
func (s *Store) ConsumeToken(ctx context.Context, digest users.Digest, kind users.TokenKind, now time.Time) (t *users.Token, err error) {
	err = s.write(ctx, func(ctx context.Context, q conn) error {
		t, err = foundToken(ctx, q.QueryRowContext(ctx,
			"DELETE FROM tokens WHERE digest = ? AND kind = ? AND (expires IS NULL OR expires > ?) RETURNING "+tokenColumns,
			digest[:], string(kind), micros(now)))
		return err
	})
	return t, err
}

// DeleteToken removes the token with this digest, expired or not, and returns ErrNotFound when
// there is none.
func (s *Store) DeleteToken(ctx context.Context, digest users.Digest) error {
	return s.write(ctx, func(ctx context.Context, q conn) error {
		res, err := q.ExecContext(ctx, "DELETE FROM tokens WHERE digest = ?", digest[:])
		if err != nil {
			return dbError(ctx, err)
		}
		return oneRow(ctx, res, "token")
	})
}

// DeleteUserTokens removes the user's tokens of the given kinds (every kind when none is
// given) and returns how many it removed: 0, and no error, for an unknown user.
func (s *Store) DeleteUserTokens(ctx context.Context, userID string, kinds ...users.TokenKind) (int, error) {
	query := "DELETE FROM tokens WHERE user_id = ?"
	args := []any{userID}
	if len(kinds) > 0 {
		query += " AND kind IN (?" + strings.Repeat(", ?", len(kinds)-1) + ")"
		for _, k := range kinds {
			args = append(args, string(k))
		}
	}
	return s.deleteRows(ctx, query, args...)
}

// deleteExpired removes at most ?2 tokens expired at ?1 (every one for -1), those that expired
// first, as the index tokens_expires gives them: no scan, no sort.
const deleteExpired = `DELETE FROM tokens WHERE digest IN (SELECT digest FROM tokens
	WHERE expires IS NOT NULL AND expires <= ?1 ORDER BY expires LIMIT ?2)`

// DeleteExpiredTokens removes at most limit tokens expired at now (every one when limit <= 0),
// those that expired first, and returns how many it removed. It is one statement.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.deleteRows(ctx, deleteExpired, micros(now), sqlLimit(limit))
}

// sqlLimit returns limit as a LIMIT clause takes it: -1, no limit, for limit <= 0.
func sqlLimit(limit int) int64 {
	if limit <= 0 {
		return -1
	}
	return int64(limit)
}

// deleteRows runs one DELETE statement as a write and returns how many rows it removed.
func (s *Store) deleteRows(ctx context.Context, query string, args ...any) (n int, err error) {
	err = s.write(ctx, func(ctx context.Context, q conn) error {
		res, err := q.ExecContext(ctx, query, args...)
		if err != nil {
			return dbError(ctx, err)
		}
		m, err := res.RowsAffected()
		n = int(m)
		return dbError(ctx, err)
	})
	return n, err
}

// listTokens selects a user's tokens of a kind in the order of ListTokens, which is the order
// of the index tokens_user_kind: no sort.
const listTokens = "SELECT " + tokenColumns + " FROM tokens WHERE user_id = ? AND kind = ? ORDER BY created, id, digest"

// ListTokens returns the user's tokens of the kind, expired ones included, oldest first (by
// Created, then ID, then Digest): an empty list, and no error, for an unknown user.
func (s *Store) ListTokens(ctx context.Context, userID string, kind users.TokenKind) ([]*users.Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rows, err := s.reader().QueryContext(ctx, listTokens, userID, string(kind))
	if err != nil {
		return nil, dbError(ctx, err)
	}
	defer rows.Close()
	out := []*users.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbError(ctx, err)
		}
		out = append(out, t)
	}
	return out, dbError(ctx, rows.Err())
}

// TouchToken sets the LastUsed time of the token with this digest, expired or not, to at,
// unless it is already at or after at. It returns ErrNotFound when there is no such token.
// A touch that changes nothing writes nothing.
func (s *Store) TouchToken(ctx context.Context, digest users.Digest, at time.Time) error {
	return s.write(ctx, func(ctx context.Context, q conn) error {
		// A NULL last_used is the zero time, which every at but the zero time is after.
		res, err := q.ExecContext(ctx,
			"UPDATE tokens SET last_used = ? WHERE digest = ? AND ifnull(last_used, ?) < ?",
			micros(at), digest[:], micros(time.Time{}), micros(at))
		if err != nil {
			return dbError(ctx, err)
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return dbError(ctx, err)
		}
		var found int
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM tokens WHERE digest = ?", digest[:]).Scan(&found)
		if err != nil {
			return dbError(ctx, err)
		}
		if found == 0 {
			return users.NotFoundError("token")
		}
		return nil
	})
}
