package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

// oldFoldDB makes a database at the schema before 0006 holding us, with their keys folded as
// older versions folded them (strings.ToLower), and returns its path.
func oldFoldDB(t *testing.T, us []*users.User) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "users.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_txlock=immediate")
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	require.NoError(t, migrate(ctx, db, migrationsUpTo(t, 5)))
	for _, u := range us {
		var email any
		if u.Email != "" {
			email = strings.ToLower(u.Email)
		}
		_, err := db.ExecContext(ctx, `INSERT INTO users (id, username, username_folded, email,
			email_folded, name, name_folded, scope, plan, org_id, status, email_verified, created,
			updated, password_hash, version) VALUES (?, ?, ?, ?, ?, ?, ?, '["user"]', '', '', 'active', 0, ?, ?, ?, 1)`,
			u.ID, u.Username, strings.ToLower(u.Username), u.Email, email, u.Name, strings.ToLower(u.Name),
			u.Created.UnixMicro(), u.Updated.UnixMicro(), u.PasswordHash)
		require.NoError(t, err, u.ID)
	}
	return path
}

// oldUser returns a user as an older version stored it.
func oldUser(id, username, email, name string) *users.User {
	t := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return &users.User{ID: id, Username: username, Email: email, Name: name, Scope: []string{users.RoleUser},
		Status: users.StatusActive, Created: t, Updated: t, Version: 1, PasswordHash: "hash of " + id}
}

func schemaVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer db.Close()
	var v int
	require.NoError(t, db.QueryRow("SELECT max(version) FROM migrations").Scan(&v))
	return v
}

func TestGoStepsHaveTheirFiles(t *testing.T) {
	for name := range goSteps {
		_, err := fs.Stat(migrationFS, "migrations/"+name)
		assert.NoError(t, err, "the Go step %s has no file", name)
	}
}

// TestRefold opens a database whose keys were folded by lower-casing: migration 0006 folds
// them again, so that look-ups, uniqueness and searches follow users.Fold, and the store
// answers queries as the memory store does with the same users.
func TestRefold(t *testing.T) {
	ctx := context.Background()
	old := []*users.User{
		oldUser("u1", "Stra\u00dfe@Example.com", "", "ＦＵＬＬ Wïdth"),
		oldUser("u2", "bob@B\u00fccher.de", "Bob@B\u00dcCHER.de", "Bob"),
		oldUser("u3", "carol@example.org", "carol@example.org", "Carol\u00adine"),
		oldUser("u4", "p\u0430ypal@example.com", "p\u0430ypal@example.com", "Mixed"), // refused today, kept
		oldUser("u5", "ren\u00e9@example.com", "other@example.com", "Ren\u00e9"),
	}
	path := oldFoldDB(t, old)

	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, SchemaVersion, schemaVersion(t, path))

	want := map[string]*users.User{}
	for _, u := range old {
		w := u.Clone()
		w.Username, w.Email = users.ASCIIDomain(u.Username), users.ASCIIDomain(u.Email)
		want[u.ID] = w
	}
	assert.Equal(t, "bob@xn--bcher-kva.de", want["u2"].Username, "internationalized domains in ASCII form")
	assert.Equal(t, "Bob@xn--bcher-kva.de", want["u2"].Email)
	assert.Equal(t, "Stra\u00dfe@Example.com", want["u1"].Username, "ASCII domains as they were")

	for _, u := range old {
		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, want[u.ID], got)
	}

	lookups := []struct {
		name     string
		username string
		email    string
		id       string
	}{
		{"sharp s folds as ss", "STRASSE@example.com", "", "u1"},
		{"internationalized domain", "BOB@xn--bcher-kva.de", "bob@xn--bcher-kva.de", "u2"},
		{"ASCII unchanged", "Carol@Example.org", "CAROL@example.org", "u3"},
		{"older name still found", "P\u0410YPAL@example.com", "p\u0430ypal@EXAMPLE.com", "u4"},
		{"decomposed accent", "rene\u0301@example.com", "", "u5"},
		{"fullwidth", "ｒｅｎé@example.com", "", "u5"},
	}
	for _, tt := range lookups {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.GetUserByUsername(ctx, tt.username)
			require.NoError(t, err)
			assert.Equal(t, tt.id, got.ID)
			if tt.email != "" {
				got, err := s.GetUserByEmail(ctx, tt.email)
				require.NoError(t, err)
				assert.Equal(t, tt.id, got.ID)
			}
		})
	}

	t.Run("uniqueness follows the new fold", func(t *testing.T) {
		u := oldUser("u6", "strasse@example.com", "", "")
		err := s.CreateUser(ctx, u)
		assert.ErrorIs(t, err, users.ErrConflict)
	})

	t.Run("searches as the memory store", func(t *testing.T) {
		mem := memory.New()
		for _, u := range old {
			require.NoError(t, mem.CreateUser(ctx, want[u.ID].Clone()))
		}
		for _, q := range []users.Query{
			{Pattern: "full"},
			{Pattern: "strasse"},
			{Pattern: "caroline"},
			{Pattern: "xn--bcher"},
			{Pattern: "ren\u00e9"},
			{Conditions: []users.Condition{{Field: "username", Op: users.OpLike, Value: "%SS%"}}},
			{Conditions: []users.Condition{{Field: "name", Op: users.OpLike, Value: "full%"}}},
			{Sort: []users.Sort{{Field: "username"}}},
		} {
			nq, err := q.Normalize()
			require.NoError(t, err)
			wantPage, err := mem.ListUsers(ctx, nq)
			require.NoError(t, err)
			got, err := s.ListUsers(ctx, nq)
			require.NoError(t, err)
			assert.Equal(t, userIDs(wantPage), userIDs(got), "%+v", q)
			assert.NotEmpty(t, got, "%+v", q)
		}
	})
}

// TestRefoldConflict opens a database holding users whose usernames, and others whose e-mail
// addresses, were distinct when folded by lower-casing and are one under users.Fold: Open
// fails naming them, and the database is left as it was.
func TestRefoldConflict(t *testing.T) {
	ctx := context.Background()
	old := []*users.User{
		oldUser("u1", "admin@example.com", "admin@example.com", "Admin"),
		oldUser("u2", "ａdmin@example.com", "second@example.com", "Fullwidth"),
		oldUser("u3", "carol@example.com", "Stra\u00dfe@example.com", "Carol"),
		oldUser("u4", "dave@example.com", "dave@example.com", "Dave"),
		oldUser("u5", "erin@example.com", "STRASSE@example.com", "Erin"),
		oldUser("a6", "ad\u200bmin@example.com", "", "Invisible"), // stored last
	}
	path := oldFoldDB(t, old)

	_, err := Open(ctx, path, nil)
	require.Error(t, err)
	var conflict *FoldConflictError
	require.True(t, errors.As(err, &conflict), "%v", err)
	assert.Equal(t, []FoldConflict{
		{Field: "username", UserIDs: []string{"u1", "u2", "a6"}},
		{Field: "email", UserIDs: []string{"u3", "u5"}},
	}, conflict.Conflicts)
	assert.Contains(t, err.Error(), "0006_refold")
	assert.Contains(t, err.Error(), "u1, u2, a6")
	assert.Contains(t, err.Error(), "rename")
	for _, u := range old {
		assert.NotContains(t, err.Error(), u.Username, "the error names users by ID only")
	}
	assert.Equal(t, 5, schemaVersion(t, path), "the migration is not recorded")

	// The database is as it was: fixed with the schema it has, it opens.
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	var key string
	require.NoError(t, db.QueryRow("SELECT username_folded FROM users WHERE id = 'u2'").Scan(&key))
	assert.Equal(t, "ａdmin@example.com", key, "keys unchanged")
	for _, fix := range []string{
		"UPDATE users SET username = 'admin2@example.com', username_folded = 'admin2@example.com' WHERE id = 'u2'",
		"DELETE FROM users WHERE id = 'a6'",
		"UPDATE users SET email = 'erin@example.com', email_folded = 'erin@example.com' WHERE id = 'u5'",
	} {
		_, err := db.Exec(fix)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())
	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.GetUserByUsername(ctx, "ADMIN@example.com")
	require.NoError(t, err)
	assert.Equal(t, "u1", got.ID)
}

func userIDs(us []*users.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// BenchmarkRefold opens a database of 100,000 users at the schema before 0006, one in ten of
// them with names that fold differently now, and reports the users migrated per second.
func BenchmarkRefold(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	dir := b.TempDir()
	src := filepath.Join(dir, "old.db")
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	fsys, err := oldMigrations(5)
	if err != nil {
		b.Fatal(err)
	}
	if err := migrate(ctx, db, fsys); err != nil {
		b.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		username, name := fmt.Sprintf("user%06d@example.com", i), fmt.Sprintf("User %d", i)
		if i%10 == 0 {
			username, name = fmt.Sprintf("Stra\u00dfe%06d@example.com", i), fmt.Sprintf("ＦＵＬＬ %d", i)
		}
		if _, err := tx.Exec(`INSERT INTO users (id, username, username_folded, email, email_folded, name,
			name_folded, scope, plan, org_id, status, email_verified, created, updated, password_hash, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, '["user"]', '', '', 'active', 0, 0, 0, '', 1)`,
			fmt.Sprintf("id-%06d", i), username, strings.ToLower(username), username, strings.ToLower(username),
			name, strings.ToLower(name)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		path := filepath.Join(dir, fmt.Sprintf("copy%d.db", i))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s, err := Open(ctx, path, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "users/s")
}

// oldMigrations returns the package's own migrations up to version v.
func oldMigrations(v int) (fstest.MapFS, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	out := fstest.MapFS{}
	for _, name := range names[:v] {
		data, err := fs.ReadFile(migrationFS, name)
		if err != nil {
			return nil, err
		}
		out[name] = &fstest.MapFile{Data: data}
	}
	return out, nil
}
