package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gousers/users"
	sqlite3 "modernc.org/sqlite/lib"
)

// userColumns are the columns scanUser reads, in its order.
const userColumns = `id, username, email, name, scope, vendor, allowed_private_components,
	plan, org_id, status, email_verified, metadata, created, updated, version, password_hash,
	permissions, must_change_password, password_reset_disallowed`

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanUser reads the userColumns of one row.
func scanUser(r scanner) (*users.User, error) {
	u := new(users.User)
	// The columns that need converting are read into one struct: Scan takes their
	// addresses, so each local of its own would be a heap allocation of its own.
	var c struct {
		scope, vendor, apc, metadata, perms sql.NullString
		created, updated                    int64
		status                              string
	}
	if err := r.Scan(&u.ID, &u.Username, &u.Email, &u.Name, &c.scope, &c.vendor, &c.apc,
		&u.Plan, &u.OrgID, &c.status, &u.EmailVerified, &c.metadata, &c.created, &c.updated,
		&u.Version, &u.PasswordHash, &c.perms, &u.MustChangePassword, &u.PasswordResetDisallowed); err != nil {
		return nil, err
	}
	u.Status = users.Status(c.status)
	u.Created, u.Updated = fromMicros(c.created), fromMicros(c.updated)
	var err error
	if u.Scope, err = decodeList(c.scope); err != nil {
		return nil, err
	}
	if u.Vendor, err = decodeList(c.vendor); err != nil {
		return nil, err
	}
	if u.AllowedPrivateComponents, err = decodeList(c.apc); err != nil {
		return nil, err
	}
	if c.metadata.Valid {
		if err := json.Unmarshal([]byte(c.metadata.String), &u.Metadata); err != nil {
			return nil, fmt.Errorf("sqlite: metadata of user %s: %w", u.ID, err)
		}
	}
	if c.perms.Valid {
		if err := json.Unmarshal([]byte(c.perms.String), &u.Permissions); err != nil {
			return nil, fmt.Errorf("sqlite: permissions of user %s: %w", u.ID, err)
		}
	}
	return u, nil
}

// micros returns t as the store keeps it: microseconds since the Unix epoch, UTC, truncated
// as users.CanonicalTime truncates.
func micros(t time.Time) int64 { return users.CanonicalTime(t).UnixMicro() }

// fromMicros is the inverse of micros.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// encodeList returns a list as its JSON array, or NULL for nil.
func encodeList(l []string) (any, error) {
	if l == nil {
		return nil, nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

func decodeList(s sql.NullString) ([]string, error) {
	if !s.Valid {
		return nil, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(s.String), &l); err != nil {
		return nil, fmt.Errorf("sqlite: list column: %w", err)
	}
	return l, nil
}

// nullIfEmpty returns nil for "" and s otherwise: the folded e-mail is NULL when there is
// none, so that the unique index lets any number of users have none.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// userValues returns the values of the user's columns in the order of the INSERT and UPDATE
// statements below, from username to password_reset_disallowed.
func userValues(u *users.User) ([]any, error) {
	scope, err := encodeList(u.Scope)
	if err != nil {
		return nil, err
	}
	vendor, err := encodeList(u.Vendor)
	if err != nil {
		return nil, err
	}
	apc, err := encodeList(u.AllowedPrivateComponents)
	if err != nil {
		return nil, err
	}
	var metadata any
	if u.Metadata != nil {
		b, err := json.Marshal(u.Metadata)
		if err != nil {
			return nil, &users.Error{Code: users.CodeInvalid, Field: "metadata", Message: "is not a JSON object", Cause: err}
		}
		metadata = string(b)
	}
	var perms any
	if u.Permissions != nil {
		b, err := json.Marshal(u.Permissions)
		if err != nil {
			return nil, &users.Error{Code: users.CodeInvalid, Field: "permissions", Message: "is not a JSON object", Cause: err}
		}
		perms = string(b)
	}
	return []any{
		u.Username, users.Fold(u.Username), u.Email, nullIfEmpty(users.Fold(u.Email)),
		u.Name, users.Fold(u.Name), scope, vendor, apc, u.Plan, u.OrgID, string(u.Status),
		u.EmailVerified, metadata, micros(u.Created), micros(u.Updated), u.PasswordHash,
		perms, u.MustChangePassword, u.PasswordResetDisallowed,
	}, nil
}

// CreateUser stores u with Version 1 and sets u.Version to 1. It returns ErrInvalid when u
// has no ID, and ErrConflict (Field "id", "username" or "email") when the ID, the folded
// username or the folded non-empty e-mail is taken.
func (s *Store) CreateUser(ctx context.Context, u *users.User) error {
	if u.ID == "" {
		return &users.Error{Code: users.CodeInvalid, Field: "id", Message: "is required"}
	}
	vals, err := userValues(u)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(ctx context.Context, q conn) error {
		return insertUsers(ctx, q, [][]any{append([]any{u.ID}, vals...)}, []*users.User{u})
	})
	if err == nil {
		u.Version = 1
	}
	return err
}

// insertUser is the INSERT statement of users, and insertUserRow one row of its VALUES, for
// the id and then the values of userValues.
const (
	insertUser = `INSERT INTO users (id, username, username_folded, email, email_folded, name,
		name_folded, scope, vendor, allowed_private_components, plan, org_id, status,
		email_verified, metadata, created, updated, password_hash, permissions,
		must_change_password, password_reset_disallowed, version) VALUES `
	insertUserRow = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
)

// insertUsers inserts rows, the values of us, with one statement. When a uniqueness
// constraint fails, nothing was inserted, and it names the clash of the first user at fault:
// with a stored user, or with an earlier user of us.
func insertUsers(ctx context.Context, q conn, rows [][]any, us []*users.User) error {
	args := make([]any, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		args = append(args, r...)
	}
	var exec querier = q
	if len(rows) > 1 {
		exec = q.raw() // a text per batch size: not worth a prepared statement
	}
	_, err := exec.ExecContext(ctx, insertUser+insertUserRow+strings.Repeat(", "+insertUserRow, len(rows)-1), args...)
	if !isUnique(err) {
		return dbError(ctx, err)
	}
	seen := map[string]string{}
	for _, u := range us {
		if err := uniqueConflict(ctx, q, u, true); err != nil {
			return err
		}
		for field, key := range map[string]string{"id": u.ID, "username": users.Fold(u.Username), "email": users.Fold(u.Email)} {
			if key == "" {
				continue
			}
			if seen[field+"\x00"+key] != "" {
				return users.ConflictError(field, "the "+field+" is taken")
			}
			seen[field+"\x00"+key] = u.ID
		}
	}
	return dbError(ctx, err)
}

// insertUsersBatch is how many users one INSERT statement of CreateUsers writes.
const insertUsersBatch = 500

// CreateUsers stores many new users in one transaction, as CreateUser stores one, and sets
// their Version to 1: far faster than one CreateUser each, for imports and bulk loads. Either
// every user is stored or, on any error, none is. It returns ErrInvalid when a user has no ID,
// and ErrConflict (Field "id", "username" or "email") when one clashes with a stored user or
// with another of the batch (the error then does not say which).
func (s *Store) CreateUsers(ctx context.Context, us []*users.User) error {
	rows := make([][]any, len(us))
	for i, u := range us {
		if u.ID == "" {
			return &users.Error{Code: users.CodeInvalid, Field: "id", Message: "is required"}
		}
		vals, err := userValues(u)
		if err != nil {
			return err
		}
		rows[i] = append([]any{u.ID}, vals...)
	}
	err := s.writeAlone(ctx, func(ctx context.Context, q conn) error {
		for start := 0; start < len(us); start += insertUsersBatch {
			end := min(start+insertUsersBatch, len(us))
			if err := insertUsers(ctx, q, rows[start:end], us[start:end]); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, u := range us {
			u.Version = 1
		}
	}
	return err
}

// uniqueConflict names the field of u that clashes with another stored user (the ID only when
// checkID is set), or returns nil when none does. It runs in the write transaction where the
// clash happened, so what it reads is what the clash was with.
func uniqueConflict(ctx context.Context, q querier, u *users.User, checkID bool) error {
	probes := []struct {
		field, query, message string
		args                  []any
	}{
		{"id", "SELECT count(*) FROM users WHERE id = ?", "a user with this ID exists", []any{u.ID}},
		{"username", "SELECT count(*) FROM users WHERE username_folded = ? AND id <> ?", "the username is taken",
			[]any{users.Fold(u.Username), u.ID}},
		{"email", "SELECT count(*) FROM users WHERE email_folded = ? AND id <> ?", "the e-mail address is taken",
			[]any{users.Fold(u.Email), u.ID}},
	}
	if !checkID {
		probes = probes[1:]
	}
	for _, p := range probes {
		var n int
		if err := q.QueryRowContext(ctx, p.query, p.args...).Scan(&n); err != nil {
			return dbError(ctx, err)
		}
		if n > 0 {
			return users.ConflictError(p.field, p.message)
		}
	}
	return nil
}

// GetUser returns the user with this ID, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (*users.User, error) {
	return s.getUser(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id)
}

// GetUserByUsername returns the user whose username folds to users.Fold(username), or
// ErrNotFound.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (*users.User, error) {
	return s.getUser(ctx, "SELECT "+userColumns+" FROM users WHERE username_folded = ?", users.Fold(username))
}

// GetUserByEmail returns the user whose e-mail folds to users.Fold(email), or ErrNotFound
// (always for "").
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*users.User, error) {
	if email == "" {
		if err := s.check(ctx); err != nil {
			return nil, err
		}
		return nil, users.NotFoundError("user")
	}
	return s.getUser(ctx, "SELECT "+userColumns+" FROM users WHERE email_folded = ?", users.Fold(email))
}

func (s *Store) getUser(ctx context.Context, query string, arg any) (*users.User, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	u, err := scanUser(s.reader().QueryRowContext(ctx, query, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, users.NotFoundError("user")
	}
	if err != nil {
		return nil, dbError(ctx, err)
	}
	return u, nil
}

// UpdateUser replaces the stored user with u when u.Version equals the stored version,
// storing Version+1 and setting u.Version to it. It returns ErrNotFound when there is no user
// with u.ID, and ErrConflict when the version is stale (Field "version") or the new username
// or e-mail is another user's (Field "username" or "email").
func (s *Store) UpdateUser(ctx context.Context, u *users.User) error {
	vals, err := userValues(u)
	if err != nil {
		return err
	}
	var version int64
	err = s.write(ctx, func(ctx context.Context, q conn) error {
		var seq int64
		err := q.QueryRowContext(ctx, `UPDATE users SET username = ?, username_folded = ?,
			email = ?, email_folded = ?, name = ?, name_folded = ?, scope = ?, vendor = ?,
			allowed_private_components = ?, plan = ?, org_id = ?, status = ?,
			email_verified = ?, metadata = ?, created = ?, updated = ?, password_hash = ?,
			permissions = ?, must_change_password = ?, password_reset_disallowed = ?,
			version = version + 1
			WHERE id = ? AND version = ? RETURNING seq, version`,
			append(vals, u.ID, u.Version)...).Scan(&seq, &version)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return staleOrMissing(ctx, q, "users", "user", u.ID)
		case isUnique(err):
			if err := uniqueConflict(ctx, q, u, false); err != nil {
				return err
			}
		}
		return dbError(ctx, err)
	})
	if err == nil {
		u.Version = version
	}
	return err
}

// staleOrMissing explains why a versioned UPDATE of table changed no row: there is no row with
// this id (ErrNotFound), or its version has moved on (ErrConflict, Field "version").
func staleOrMissing(ctx context.Context, q querier, table, what, id string) error {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE id = ?", id).Scan(&n); err != nil {
		return dbError(ctx, err)
	}
	if n == 0 {
		return users.NotFoundError(what)
	}
	return users.ConflictError("version", "the "+what+" was changed by someone else")
}

// DeleteUser removes the user, every token of theirs and their image, and returns ErrNotFound
// when there is no such user. The user's tickets stay.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.write(ctx, func(ctx context.Context, q conn) error {
		// Tokens, the image, list entries and metadata rows go with the user (ON DELETE
		// CASCADE).
		res, err := q.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)
		if err != nil {
			return dbError(ctx, err)
		}
		return oneRow(ctx, res, "user")
	})
}

// isUnique reports whether err is a failed UNIQUE or PRIMARY KEY constraint.
func isUnique(err error) bool {
	c := constraint(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// oneRow returns ErrNotFound naming what when the statement changed no row.
func oneRow(ctx context.Context, res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(ctx, err)
	}
	if n == 0 {
		return users.NotFoundError(what)
	}
	return nil
}
