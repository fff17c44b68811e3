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
	UserIDs []string // the users' IDs, in the order they were stored
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

// refoldRow is a user whose names migration 0006 changes: the new names and keys.
type refoldRow struct {
	seq                            int64
	username, email                string
	usernameKey, emailKey, nameKey string
}

// refold is the Go step of migration 0006: it recomputes the folded keys of every user with
// users.Fold, and rewrites internationalized domains in ASCII form (users.ASCIIDomain). It
// returns a *FoldConflictError, and changes nothing, when two users' keys become one.
//
// Only the users that change are held in memory (for most, folding all but ASCII text, none
// do); conflicts are found by SQL over the keys as they will be.
func refold(ctx context.Context, tx *sql.Tx) error {
	changed, err := refoldChanges(ctx, tx)
	if err != nil || len(changed) == 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE refold (
		seq          INTEGER PRIMARY KEY,
		username_key TEXT NOT NULL,
		email_key    TEXT
	)`); err != nil {
		return err
	}
	insert, err := tx.PrepareContext(ctx, "INSERT INTO temp.refold (seq, username_key, email_key) VALUES (?, ?, ?)")
	if err != nil {
		return err
	}
	defer insert.Close()
	for _, r := range changed {
		if _, err := insert.ExecContext(ctx, r.seq, r.usernameKey, nullIfEmpty(r.emailKey)); err != nil {
			return err
		}
	}
	if err := refoldConflicts(ctx, tx); err != nil {
		return err
	}
	// Changed keys are first set to values no user can have, so that a key taken over from
	// another changed user never meets it in the unique index on the way.
	if _, err := tx.ExecContext(ctx, `UPDATE users SET username_folded = char(0) || 'refold ' || seq,
		email_folded = CASE WHEN email_folded IS NULL THEN NULL ELSE char(0) || 'refold ' || seq END
		WHERE seq IN (SELECT seq FROM temp.refold)`); err != nil {
		return err
	}
	update, err := tx.PrepareContext(ctx, `UPDATE users SET username = ?, email = ?, username_folded = ?,
		email_folded = ?, name_folded = ? WHERE seq = ?`)
	if err != nil {
		return err
	}
	defer update.Close()
	for _, r := range changed {
		if _, err := update.ExecContext(ctx, r.username, r.email, r.usernameKey, nullIfEmpty(r.emailKey), r.nameKey, r.seq); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE temp.refold"); err != nil {
		return err
	}
	return indexPending(ctx, tx)
}

// refoldChanges reads every user and returns those whose names or keys change.
func refoldChanges(ctx context.Context, tx *sql.Tx) ([]refoldRow, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, username, email, name, username_folded,
		ifnull(email_folded, ''), name_folded FROM users ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var changed []refoldRow
	for rows.Next() {
		var r refoldRow
		var username, email, name, usernameKey, emailKey, nameKey string
		if err := rows.Scan(&r.seq, &username, &email, &name, &usernameKey, &emailKey, &nameKey); err != nil {
			return nil, err
		}
		r.username, r.email = users.ASCIIDomain(username), users.ASCIIDomain(email)
		r.usernameKey, r.emailKey, r.nameKey = users.Fold(r.username), users.Fold(r.email), users.Fold(name)
		if r.username != username || r.email != email || r.usernameKey != usernameKey || r.emailKey != emailKey || r.nameKey != nameKey {
			changed = append(changed, r)
		}
	}
	return changed, rows.Err()
}

// refoldConflicts returns a *FoldConflictError naming every group of users whose username
// keys, or e-mail keys, will be one once the keys in temp.refold replace theirs; nil when
// there is none.
func refoldConflicts(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `WITH k AS (
			SELECT u.seq, u.id, coalesce(r.username_key, u.username_folded) AS ukey,
				CASE WHEN r.seq IS NULL THEN u.email_folded ELSE r.email_key END AS ekey
			FROM users u LEFT JOIN temp.refold r ON r.seq = u.seq
		)
		SELECT 0, ukey, seq, id FROM k WHERE ukey IN (SELECT ukey FROM k GROUP BY ukey HAVING count(*) > 1)
		UNION ALL
		SELECT 1, ekey, seq, id FROM k WHERE ekey IN (SELECT ekey FROM k WHERE ekey IS NOT NULL GROUP BY ekey HAVING count(*) > 1)
		ORDER BY 1, 2, 3`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var conflicts []FoldConflict
	var lastField int
	var lastKey string
	for rows.Next() {
		var field int
		var seq int64
		var key, id string
		if err := rows.Scan(&field, &key, &seq, &id); err != nil {
			return err
		}
		if len(conflicts) == 0 || field != lastField || key != lastKey {
			conflicts = append(conflicts, FoldConflict{Field: []string{"username", "email"}[field]})
			lastField, lastKey = field, key
		}
		c := &conflicts[len(conflicts)-1]
		c.UserIDs = append(c.UserIDs, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(conflicts) > 0 {
		return &FoldConflictError{Conflicts: conflicts}
	}
	return nil
}
