package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/sqlite"
)

// checkCounts compares the counts the store keeps (all users, users of one status) with the
// users its lists find.
func checkCounts(t *testing.T, s *sqlite.Store, want map[users.Status]int) {
	t.Helper()
	ctx := context.Background()
	total := 0
	for _, status := range []users.Status{users.StatusActive, users.StatusDisabled, users.StatusPending, "archived"} {
		q := users.Query{Conditions: []users.Condition{{Field: "status", Op: users.OpEq, Value: string(status)}}}
		n, err := s.CountUsers(ctx, q)
		require.NoError(t, err)
		q.Limit = users.MaxLimit
		listed, err := s.ListUsers(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, len(listed), n, "status %s", status)
		assert.Equal(t, want[status], n, "status %s", status)
		total += n
	}
	n, err := s.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.Equal(t, total, n, "all users")

	// Every user has the role "user"; the kept counts of roles and vendors agree with lists.
	for _, c := range []users.Condition{
		{Field: "scope", Op: users.OpEq, Value: users.RoleUser},
		{Field: "scope", Op: users.OpEq, Value: "team"},
		{Field: "scope", Op: users.OpEq, Value: "nobody"},
		{Field: "vendor", Op: users.OpEq, Value: "v1"},
		{Field: "vendor", Op: users.OpEq, Value: "team"},
	} {
		q := users.Query{Conditions: []users.Condition{c}}
		n, err := s.CountUsers(ctx, q)
		require.NoError(t, err)
		q.Limit = users.MaxLimit
		listed, err := s.ListUsers(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, len(listed), n, "%s %v", c.Field, c.Value)
		if c.Value == users.RoleUser {
			assert.Equal(t, total, n, "every user has the role user")
		}
	}
}

// TestKeptCounts changes users every way that moves the kept counts, including ways that
// fail or roll back and so must not move them.
func TestKeptCounts(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t, nil)
	user := func(i int, status users.Status) *users.User {
		u := newUser(fmt.Sprint("u", i), fmt.Sprintf("u%d@example.com", i))
		u.Status = status
		if i%2 == 0 {
			u.Scope = append(u.Scope, "team", "team") // a repeated role counts once
			u.Vendor = []string{"v1"}
		}
		return u
	}
	for i := range 6 {
		require.NoError(t, s.CreateUser(ctx, user(i, users.StatusActive)))
	}
	var bulk []*users.User
	for i := 6; i < 10; i++ {
		bulk = append(bulk, user(i, users.StatusPending))
	}
	require.NoError(t, s.CreateUsers(ctx, bulk))
	checkCounts(t, s, map[users.Status]int{users.StatusActive: 6, users.StatusPending: 4})

	// Refused and rolled-back writes move nothing.
	assert.ErrorIs(t, s.CreateUser(ctx, user(0, users.StatusDisabled)), users.ErrConflict)
	assert.ErrorIs(t, s.CreateUsers(ctx, []*users.User{user(20, users.StatusActive), user(1, users.StatusActive)}), users.ErrConflict)
	rollback := errors.New("roll back")
	err := s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		u, err := tx.GetUser(ctx, "u2")
		require.NoError(t, err)
		u.Status = users.StatusDisabled
		require.NoError(t, tx.UpdateUser(ctx, u))
		require.NoError(t, tx.DeleteUser(ctx, "u3"))
		n, err := tx.CountUsers(ctx, users.Query{Conditions: []users.Condition{{Field: "status", Op: users.OpEq, Value: "disabled"}}})
		require.NoError(t, err)
		assert.Equal(t, 1, n, "the transaction sees its own change")
		return rollback
	})
	require.ErrorIs(t, err, rollback)
	checkCounts(t, s, map[users.Status]int{users.StatusActive: 6, users.StatusPending: 4})

	// Status changes, an update that keeps the status, a new status, deletions.
	for id, status := range map[string]users.Status{"u0": users.StatusDisabled, "u6": users.StatusActive, "u7": "archived", "u1": users.StatusActive} {
		u, err := s.GetUser(ctx, id)
		require.NoError(t, err)
		u.Status = status
		require.NoError(t, s.UpdateUser(ctx, u))
	}
	// Roles and vendors change.
	for id, scope := range map[string][]string{"u1": {users.RoleUser, "team"}, "u4": {users.RoleUser}} {
		u, err := s.GetUser(ctx, id)
		require.NoError(t, err)
		u.Scope, u.Vendor = scope, []string{"team"}
		require.NoError(t, s.UpdateUser(ctx, u))
	}
	require.NoError(t, s.DeleteUser(ctx, "u2"))
	require.NoError(t, s.DeleteUser(ctx, "u8"))
	want := map[users.Status]int{users.StatusActive: 5, users.StatusDisabled: 1, users.StatusPending: 1, "archived": 1}
	checkCounts(t, s, want)

	// A database from before the counts were kept: reopening it migrates it, and the counts
	// are computed from the users it holds. Migrations 0003 to 0005 are undone first (0004
	// replaces its triggers itself), so that they apply again after 0002.
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	for _, stmt := range []string{
		"DROP TABLE throttle_failures", "DROP INDEX tickets_done",
		"ALTER TABLE tickets DROP COLUMN org_id", "ALTER TABLE tokens DROP COLUMN created_by",
		"DROP TABLE user_images",
		"DROP INDEX tokens_user_kind", "CREATE INDEX tokens_user ON tokens (user_id, kind)",
		"ALTER TABLE tokens DROP COLUMN id", "ALTER TABLE tokens DROP COLUMN name",
		"ALTER TABLE tokens DROP COLUMN prefix", "ALTER TABLE tokens DROP COLUMN last_used",
		"ALTER TABLE users DROP COLUMN permissions", "ALTER TABLE users DROP COLUMN must_change_password",
		"ALTER TABLE users DROP COLUMN password_reset_disallowed",
		"DROP TRIGGER users_count_insert", "DROP TRIGGER users_count_delete",
		"DROP TRIGGER users_count_update", "DROP TABLE user_counts",
		"DROP TRIGGER user_lists_count_insert", "DROP TRIGGER user_lists_count_delete",
		"DROP TABLE user_list_counts",
		"DROP TABLE users_search_pending", // last: the ALTERs check the triggers that use it
		"DELETE FROM migrations WHERE version >= 2",
	} {
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	require.NoError(t, db.Close())
	s, err = sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	checkCounts(t, s, want)
}
