package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/gousers/users"
)

// FoldConflictError is the error of Open when migration 0006_refold finds users whose
// usernames, or whose e-mail addresses, were distinct under the fold of older versions (lower
// case) but are one under users.Fold: names that look alike, such as "ａdmin@example.com"
// and "admin@example.com". The migration merges nothing and keeps no second key: it fails,
// and the database is left as it was, at the schema before 0006.
//
// To fix it, open the database with the previous version of this package, rename (or delete)
// all but one user of each group, and open it again with this one.
type FoldConflictError struct {
	Conflicts []FoldConflict
}

// FoldConflict is one group of users whose usernames or e-mail addresses fold alike.
type FoldConflict struct {
	Field   string   // "username" or "email"
	UserIDs []string // the users' IDs, oldest row first
}

// Error names the users of each conflict by ID, and says how to fix it. It never contains a
// username or an e-mail address.
func (e *FoldConflictError) Error() string {
	var b strings.Builder
	b.WriteString("users whose ")
	for i, c := range e.Conflicts {
		if i > 0 {
			b.WriteString("; ")
		}
		what := "usernames"
		if c.Field == "email" {
			what = "e-mail addresses"
		}
		fmt.Fprintf(&b, "%s now fold alike: %s", what, strings.Join(c.UserIDs, ", "))
	}
	b.WriteString(" (rename all but one user of each group with the previous version of the package, then open again)")
	return b.String()
}

// refoldRow is a user's names, as stored and as migration 0006 stores them.
type refoldRow struct {
	seq                                     int64
	id, username, email, name               string
	oldUsernameKey, oldNameKey              string
	oldEmailKey                             sql.NullString
	newUsername, newEmail                   string
	newUsernameKey, newEmailKey, newNameKey string
}

func (r *refoldRow) changed() bool {
	return r.newUsername != r.username || r.newEmail != r.email || r.newUsernameKey != r.oldUsernameKey ||
		r.newNameKey != r.oldNameKey || nullIfEmpty(r.newEmailKey) != nullString(r.oldEmailKey)
}

func nullString(s sql.NullString) any {
	if !s.Valid {
		return nil
	}
	return s.String
}

// refold is the Go step of migration 0006: it recomputes the folded keys of every user with
// users.Fold, and rewrites internationalized domains in ASCII form (users.ASCIIDomain). It
// returns a *FoldConflictError, and changes nothing, when two users' keys become one.
func refold(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT seq, id, username, email, name, username_folded,
		email_folded, name_folded FROM users ORDER BY seq`)
	if err != nil {
		return err
	}
	var all []*refoldRow
	for rows.Next() {
		r := new(refoldRow)
		if err := rows.Scan(&r.seq, &r.id, &r.username, &r.email, &r.name, &r.oldUsernameKey, &r.oldEmailKey, &r.oldNameKey); err != nil {
			rows.Close()
			return err
		}
		r.newUsername, r.newEmail = users.ASCIIDomain(r.username), users.ASCIIDomain(r.email)
		r.newUsernameKey, r.newEmailKey, r.newNameKey = users.Fold(r.newUsername), users.Fold(r.newEmail), users.Fold(r.name)
		all = append(all, r)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := refoldConflicts(all); err != nil {
		return err
	}
	// Changed keys are first set to values no user can have, so that a key taken over from
	// another changed user never meets it in the unique index on the way.
	for _, r := range all {
		if !r.changed() {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET username_folded = ?1,
			email_folded = CASE WHEN email_folded IS NULL THEN NULL ELSE ?1 END WHERE seq = ?2`,
			fmt.Sprintf("\x00refold %d", r.seq), r.seq); err != nil {
			return err
		}
	}
	for _, r := range all {
		if !r.changed() {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET username = ?, email = ?, username_folded = ?,
			email_folded = ?, name_folded = ? WHERE seq = ?`,
			r.newUsername, r.newEmail, r.newUsernameKey, nullIfEmpty(r.newEmailKey), r.newNameKey, r.seq); err != nil {
			return err
		}
	}
	return indexPending(ctx, tx)
}

// refoldConflicts returns a *FoldConflictError naming every group of users whose new
// username keys, or new e-mail keys, are one; nil when there is none.
func refoldConflicts(all []*refoldRow) error {
	var conflicts []FoldConflict
	for _, field := range []string{"username", "email"} {
		groups := map[string][]string{}
		var order []string
		for _, r := range all {
			key := r.newUsernameKey
			if field == "email" {
				if key = r.newEmailKey; key == "" {
					continue
				}
			}
			if len(groups[key]) == 0 {
				order = append(order, key)
			}
			groups[key] = append(groups[key], r.id)
		}
		for _, key := range order {
			if ids := groups[key]; len(ids) > 1 {
				conflicts = append(conflicts, FoldConflict{Field: field, UserIDs: ids})
			}
		}
	}
	if len(conflicts) > 0 {
		return &FoldConflictError{Conflicts: conflicts}
	}
	return nil
}
