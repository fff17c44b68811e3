package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gousers/users"
)

// userColumns are the columns scanUser reads, in its order.
const userColumns = `id, username, email, name, scope, vendor, allowed_private_components,
	plan, org_id, status, email_verified, metadata, created, updated, version, password_hash,
	permissions, must_change_password, password_reset_disallowed`

// scanUser reads the userColumns of one row.
func scanUser(r pgx.Row) (*users.User, error) {
	u := new(users.User)
	var c struct {
		metadata, perms  []byte
		created, updated time.Time
		status           string
	}
	if err := r.Scan(&u.ID, &u.Username, &u.Email, &u.Name, &u.Scope, &u.Vendor,
		&u.AllowedPrivateComponents, &u.Plan, &u.OrgID, &c.status, &u.EmailVerified, &c.metadata,
		&c.created, &c.updated, &u.Version, &u.PasswordHash, &c.perms, &u.MustChangePassword,
		&u.PasswordResetDisallowed); err != nil {
		return nil, err
	}
	u.Status = users.Status(c.status)
	u.Created, u.Updated = c.created.UTC(), c.updated.UTC()
	if c.metadata != nil {
		if err := json.Unmarshal(c.metadata, &u.Metadata); err != nil {
			return nil, fmt.Errorf("metadata of user %s: %w", u.ID, err)
		}
	}
	if c.perms != nil {
		if err := json.Unmarshal(c.perms, &u.Permissions); err != nil {
			return nil, fmt.Errorf("permissions of user %s: %w", u.ID, err)
		}
	}
	return u, nil
}

// jsonValue returns v as the text of a jsonb parameter, or nil (NULL) for a nil v.
func jsonValue(v any, isNil bool, field string) (any, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &users.Error{Code: users.CodeInvalid, Field: field, Message: "is not a JSON object", Cause: err}
	}
	return json.RawMessage(b), nil
}

// ts returns t as the store keeps it (see users.CanonicalTime).
func ts(t time.Time) time.Time { return users.CanonicalTime(t) }

// userValues returns the values of the user's columns in the order of the INSERT and UPDATE
// statements below, from username to metadata_folded.
func userValues(u *users.User) ([]any, error) {
	metadata, err := jsonValue(u.Metadata, u.Metadata == nil, "metadata")
	if err != nil {
		return nil, err
	}
	perms, err := jsonValue(u.Permissions, u.Permissions == nil, "permissions")
	if err != nil {
		return nil, err
	}
	return []any{
		u.Username, users.Fold(u.Username), u.Email, users.Fold(u.Email), u.Name,
		users.Fold(u.Name), u.Scope, u.Vendor, u.AllowedPrivateComponents, u.Plan, u.OrgID,
		string(u.Status), u.EmailVerified, metadata, ts(u.Created), ts(u.Updated),
		u.PasswordHash, perms, u.MustChangePassword, u.PasswordResetDisallowed,
		users.Fold(u.Plan), users.Fold(u.OrgID), foldList(u.Scope), foldList(u.Vendor),
		foldedMetadata(u.Metadata),
	}, nil
}

// foldList returns users.Fold of each entry of list, nil (NULL) for nil.
func foldList(list []string) []string {
	if list == nil {
		return nil
	}
	folded := make([]string, len(list))
	for i, e := range list {
		folded[i] = users.Fold(e)
	}
	return folded
}

// foldedMetadata returns the value of metadata_folded: a JSON object of the top-level string
// values of m, folded, under their keys as they are, which is all a like condition on a
// metadata key reads (see queryBuilder.metadata); nil (NULL) when m has no string value.
func foldedMetadata(m map[string]any) any {
	var folded map[string]string
	for k, v := range m {
		if s, ok := v.(string); ok {
			if folded == nil {
				folded = make(map[string]string)
			}
			folded[k] = users.Fold(s)
		}
	}
	if folded == nil {
		return nil
	}
	b, _ := json.Marshal(folded) // a map of strings always marshals
	return json.RawMessage(b)
}

// insertUser inserts a user: the id, then the values of userValues.
const insertUser = `INSERT INTO _S_.users (id, username, username_folded, email, email_folded,
	name, name_folded, scope, vendor, allowed_private_components, plan, org_id, status,
	email_verified, metadata, created, updated, password_hash, permissions,
	must_change_password, password_reset_disallowed, plan_folded, org_id_folded, scope_folded,
	vendor_folded, metadata_folded, version)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
	$19, $20, $21, $22, $23, $24, $25, $26, 1)`

// CreateUser stores u with Version 1 and sets u.Version to 1. It returns ErrInvalid when u
// has no ID (or metadata that jsonb cannot hold), and ErrConflict (Field "id", "username" or
// "email") when the ID, the folded username or the folded non-empty e-mail is taken.
func (s *Store) CreateUser(ctx context.Context, u *users.User) error {
	if u.ID == "" {
		return &users.Error{Code: users.CodeInvalid, Field: "id", Message: "is required"}
	}
	vals, err := userValues(u)
	if err != nil {
		return err
	}
	args := append([]any{u.ID}, vals...)
	err = s.write(ctx, true, func(q querier) error {
		_, err := q.Exec(ctx, s.sql(insertUser), args...)
		return userWriteError(err)
	})
	if err == nil {
		u.Version = 1
	}
	return err
}

// userWriteError turns the failure of a write of users into the error the contract names:
// ErrConflict naming the field of the unique index that failed, or ErrInvalid for metadata
// jsonb cannot hold. Other errors pass as they are.
func userWriteError(err error) error {
	code, constraint := pgCode(err)
	switch {
	case code == codeUnique && constraint == "users_pkey":
		return users.ConflictError("id", "a user with this ID exists")
	case code == codeUnique && constraint == "users_username_key":
		return users.ConflictError("username", "the username is taken")
	case code == codeUnique && constraint == "users_email_key":
		return users.ConflictError("email", "the e-mail address is taken")
	case code == codeUntranslatable:
		return &users.Error{Code: users.CodeInvalid, Field: "metadata", Message: "holds a character PostgreSQL cannot store", Cause: err}
	}
	return err
}

// GetUser returns the user with this ID, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (*users.User, error) {
	return s.getUser(ctx, "SELECT "+userColumns+" FROM _S_.users WHERE id = $1", id)
}

// GetUserByUsername returns the user whose username folds to users.Fold(username), or
// ErrNotFound.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (*users.User, error) {
	return s.getUser(ctx, "SELECT "+userColumns+" FROM _S_.users WHERE username_folded = $1", users.Fold(username))
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
	return s.getUser(ctx, "SELECT "+userColumns+" FROM _S_.users WHERE email_folded = $1", users.Fold(email))
}

func (s *Store) getUser(ctx context.Context, query string, arg string) (u *users.User, err error) {
	err = s.read(ctx, func(q querier) error {
		u, err = scanUser(q.QueryRow(ctx, s.sql(query), arg))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, users.NotFoundError("user")
	}
	return u, err
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
	args := append(vals, u.ID, u.Version)
	var version int64
	err = s.write(ctx, true, func(q querier) error {
		err := q.QueryRow(ctx, s.sql(`UPDATE _S_.users SET username = $1, username_folded = $2,
			email = $3, email_folded = $4, name = $5, name_folded = $6, scope = $7, vendor = $8,
			allowed_private_components = $9, plan = $10, org_id = $11, status = $12,
			email_verified = $13, metadata = $14, created = $15, updated = $16,
			password_hash = $17, permissions = $18, must_change_password = $19,
			password_reset_disallowed = $20, plan_folded = $21, org_id_folded = $22,
			scope_folded = $23, vendor_folded = $24, metadata_folded = $25, version = version + 1
			WHERE id = $26 AND version = $27 RETURNING version`), args...).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.staleOrMissing(ctx, q, "users", "user", u.ID)
		}
		return userWriteError(err)
	})
	if err == nil {
		u.Version = version
	}
	return err
}

// staleOrMissing explains why a versioned UPDATE of table changed no row: there is no row with
// this id (ErrNotFound), or its version has moved on (ErrConflict, Field "version").
func (s *Store) staleOrMissing(ctx context.Context, q querier, table, what, id string) error {
	var found bool
	if err := q.QueryRow(ctx, s.sql("SELECT EXISTS (SELECT 1 FROM _S_."+table+" WHERE id = $1)"), id).Scan(&found); err != nil {
		return err
	}
	if !found {
		return users.NotFoundError(what)
	}
	return users.ConflictError("version", "the "+what+" was changed by someone else")
}

// DeleteUser removes the user, every token of theirs and their image, and returns ErrNotFound
// when there is no such user. The user's tickets stay.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.write(ctx, false, func(q querier) error {
		// Tokens and the image go with the user (ON DELETE CASCADE).
		tag, err := q.Exec(ctx, s.sql("DELETE FROM _S_.users WHERE id = $1"), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return users.NotFoundError("user")
		}
		return nil
	})
}
