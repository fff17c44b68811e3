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
)

// searchUsernames returns the usernames of the users whose username, e-mail or name contains
// pattern, as s (a Store or a transaction) sees them.
func searchUsernames(t *testing.T, s users.Store, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	page, err := s.ListUsers(ctx, users.Query{Pattern: pattern, Sort: []users.Sort{{Field: "username"}}, Limit: users.MaxLimit})
	require.NoError(t, err)
	n, err := s.CountUsers(ctx, users.Query{Pattern: pattern})
	require.NoError(t, err)
	var out []string
	for _, u := range page {
		out = append(out, u.Username)
	}
	assert.Equal(t, len(out), n, "CountUsers %q", pattern)
	return out
}

// TestSearchInsideTransaction checks that the search index, written once per transaction
// (migration 0004), answers inside a transaction for the users it created, renamed and
// deleted, forgets what a failed savepoint wrote, and is whole after the commit.
func TestSearchInsideTransaction(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t, nil)
	require.NoError(t, s.CreateUser(ctx, newUser("old", "stored@example.com")))

	err := s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		for i := range 20 {
			require.NoError(t, tx.CreateUser(ctx, newUser(fmt.Sprintf("n%02d", i), fmt.Sprintf("fresh%02d@example.com", i))))
		}
		assert.Len(t, searchUsernames(t, tx, "fresh"), 20)
		assert.Equal(t, []string{"fresh07@example.com"}, searchUsernames(t, tx, "fresh07"))

		// Renamed and deleted after the search made the index current, and before.
		for _, id := range []string{"n07", "n08"} {
			u, err := tx.GetUser(ctx, id)
			require.NoError(t, err)
			u.Username, u.Email, u.Name = "renamed-"+id+"@example.com", "renamed-"+id+"@example.com", "Renamed"
			require.NoError(t, tx.UpdateUser(ctx, u))
		}
		require.NoError(t, tx.CreateUser(ctx, newUser("gone", "fleeting@example.com")))
		require.NoError(t, tx.DeleteUser(ctx, "gone"))
		require.NoError(t, tx.DeleteUser(ctx, "n09"))
		u, err := tx.GetUser(ctx, "old")
		require.NoError(t, err)
		u.Username, u.Email = "moved@example.com", "moved@example.com"
		require.NoError(t, tx.UpdateUser(ctx, u))

		// A savepoint that fails takes its queued rows with it.
		failed := errors.New("undo")
		require.ErrorIs(t, tx.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
			require.NoError(t, tx.CreateUser(ctx, newUser("undone", "undone@example.com")))
			assert.Equal(t, []string{"undone@example.com"}, searchUsernames(t, tx, "undone"))
			return failed
		}), failed)
		assert.Empty(t, searchUsernames(t, tx, "undone"))
		assert.Len(t, searchUsernames(t, tx, "fresh"), 17)
		assert.Equal(t, []string{"renamed-n07@example.com", "renamed-n08@example.com"}, searchUsernames(t, tx, "renamed"))
		return nil
	})
	require.NoError(t, err)

	for _, tt := range []struct {
		pattern string
		want    int
	}{{"fresh", 17}, {"renamed", 2}, {"fleeting", 0}, {"undone", 0}, {"stored", 0}, {"moved", 1}, {"fresh09", 0}} {
		assert.Len(t, searchUsernames(t, s, tt.pattern), tt.want, tt.pattern)
	}
	require.NoError(t, s.Close())

	// Nothing is left pending, and SQLite finds the file and the index whole.
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var pending int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM users_search_pending").Scan(&pending))
	assert.Zero(t, pending)
	var check string
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check))
	assert.Equal(t, "ok", check)
	_, err = db.ExecContext(ctx, "INSERT INTO users_search (users_search) VALUES ('integrity-check')")
	assert.NoError(t, err, "FTS5 integrity-check")
}

// TestSearchAfterBatchedWrites checks the index after writes that the group commit ran
// together, with one refused among them.
func TestSearchAfterBatchedWrites(t *testing.T) {
	ctx := context.Background()
	s, _ := openFile(t, nil)
	errs := make(chan error, 41)
	for i := range 40 {
		go func() {
			errs <- s.CreateUser(ctx, newUser(fmt.Sprintf("b%02d", i), fmt.Sprintf("batch%02d@example.com", i)))
		}()
	}
	go func() { errs <- s.CreateUser(ctx, newUser("b00", "clash@example.com")) }()
	var refused int
	for range 41 {
		if err := <-errs; err != nil {
			require.ErrorIs(t, err, users.ErrConflict)
			refused++
		}
	}
	assert.Equal(t, 1, refused)
	got := searchUsernames(t, s, "batch")
	clash := searchUsernames(t, s, "clash")
	assert.Equal(t, 40, len(got)+len(clash), "one of each pair of b00 got in")
}
