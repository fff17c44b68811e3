package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
)

// migrationsUpTo returns the package's own migrations up to version n, as an older version
// of the package had them.
func migrationsUpTo(t *testing.T, n int) fstest.MapFS {
	t.Helper()
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(names), n)
	out := fstest.MapFS{}
	for _, name := range names[:n] {
		b, err := fs.ReadFile(migrationFS, name)
		require.NoError(t, err)
		out[name] = &fstest.MapFile{Data: b}
	}
	return out
}

// TestMigrateFrom0002 makes a database at schema 0002, writes users, tokens and a ticket as
// the store of that schema wrote them, and opens it: migration 0003 keeps every value, gives
// the new fields their zero values, and the store then uses them.
func TestMigrateFrom0002(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "users.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_txlock=immediate")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	require.NoError(t, migrate(ctx, db, migrationsUpTo(t, 2)))

	t1 := time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC)
	want := []*users.User{
		{ID: "u1", Username: "Alice@Example.com", Email: "Alice@Example.com", Name: "Alice Ünï",
			Scope: []string{users.RoleUser, users.RoleAdmin}, Vendor: []string{"acme"},
			AllowedPrivateComponents: []string{"c1"}, Plan: "pro", OrgID: "org1",
			Status: users.StatusActive, EmailVerified: true,
			Metadata: map[string]any{"n": 2.5, "tags": []any{"a"}}, Created: t1, Updated: t1.Add(time.Hour),
			Version: 3, PasswordHash: "hash1"},
		{ID: "u2", Username: "bob@example.org", Name: "Bob", Scope: []string{users.RoleUser},
			Status: users.StatusPending, Created: t1.Add(time.Minute), Updated: t1.Add(time.Minute),
			Version: 1}, // no e-mail, no metadata, no password
		{ID: "u3", Username: "carol@example.org", Email: "carol@mail.example", Name: "Carol",
			Scope: []string{users.RoleUser, "team"}, Status: users.StatusDisabled,
			Created: t1.Add(2 * time.Minute), Updated: t1.Add(2 * time.Minute), Version: 2, PasswordHash: "hash3"},
	}
	for _, u := range want {
		var list [3]any
		for i, l := range [][]string{u.Scope, u.Vendor, u.AllowedPrivateComponents} {
			if l != nil {
				b, _ := json.Marshal(l)
				list[i] = string(b)
			}
		}
		var meta any
		if u.Metadata != nil {
			b, _ := json.Marshal(u.Metadata)
			meta = string(b)
		}
		_, err := db.ExecContext(ctx, `INSERT INTO users (id, username, username_folded, email,
			email_folded, name, name_folded, scope, vendor, allowed_private_components, plan,
			org_id, status, email_verified, metadata, created, updated, password_hash, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Username, users.Fold(u.Username), u.Email, nullIfEmpty(users.Fold(u.Email)),
			u.Name, users.Fold(u.Name), list[0], list[1], list[2], u.Plan, u.OrgID, string(u.Status),
			u.EmailVerified, meta, u.Created.UnixMicro(), u.Updated.UnixMicro(), u.PasswordHash, u.Version)
		require.NoError(t, err, u.ID)
	}
	tokens := []*users.Token{
		{Digest: sha256.Sum256([]byte("s1")), Kind: users.TokenSession, UserID: "u1", Created: t1, Expires: t1.Add(24 * time.Hour)},
		{Digest: sha256.Sum256([]byte("s2")), Kind: users.TokenSession, UserID: "u1", Created: t1.Add(-time.Hour)},
		{Digest: sha256.Sum256([]byte("r1")), Kind: users.TokenReset, UserID: "u3", Created: t1, Expires: t1.Add(time.Hour)},
	}
	for _, tok := range tokens {
		_, err := db.ExecContext(ctx, "INSERT INTO tokens (digest, kind, user_id, created, expires) VALUES (?, ?, ?, ?, ?)",
			tok.Digest[:], string(tok.Kind), tok.UserID, tok.Created.UnixMicro(), optionalTime(tok.Expires))
		require.NoError(t, err)
	}
	ticket := &users.Ticket{ID: "t1", UserID: "gone", Status: users.TicketCompleted, Steps: []string{"a", "b"},
		StepsDone: 2, Created: t1, Updated: t1, PriorStatus: users.StatusActive, Version: 4}
	vals, err := ticketValues(ticket)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO tickets (user_id, status, steps, steps_done,
		failed_step, message, created, updated, attempts, next_attempt, prior_status, owner,
		lease_until, id, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 4)`, append(vals, ticket.ID)...)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	var version int
	require.NoError(t, s.db.read.QueryRowContext(ctx, "SELECT max(version) FROM migrations").Scan(&version))
	require.Equal(t, SchemaVersion, version)
	for _, pragma := range []string{"integrity_check", "foreign_key_check"} {
		rows, err := s.db.read.QueryContext(ctx, "PRAGMA "+pragma)
		require.NoError(t, err)
		var problems []string
		for rows.Next() {
			var cols []any
			names, _ := rows.Columns()
			for range names {
				cols = append(cols, new(any))
			}
			require.NoError(t, rows.Scan(cols...))
			if v := *cols[0].(*any); v != "ok" {
				b, _ := json.Marshal(cols)
				problems = append(problems, string(b))
			}
		}
		require.NoError(t, rows.Close())
		assert.Empty(t, problems, pragma)
	}

	// Every value is kept, and the new fields are zero: no permissions, no flags, no API-key
	// fields, never used.
	for _, u := range want {
		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u, got)
	}
	got, err := s.GetUserByEmail(ctx, "CAROL@mail.example")
	require.NoError(t, err)
	assert.Equal(t, "u3", got.ID)
	page, err := s.ListUsers(ctx, users.Query{Pattern: "ünï", Conditions: []users.Condition{{Field: "scope", Op: users.OpEq, Value: users.RoleAdmin}}})
	require.NoError(t, err)
	assert.Equal(t, []*users.User{want[0]}, page)
	n, err := s.CountUsers(ctx, users.Query{Conditions: []users.Condition{{Field: "scope", Op: users.OpEq, Value: "team"}}})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	for _, tok := range tokens {
		got, err := s.GetToken(ctx, tok.Digest, t1)
		require.NoError(t, err)
		assert.Equal(t, tok, got)
	}
	list, err := s.ListTokens(ctx, "u1", users.TokenSession)
	require.NoError(t, err)
	assert.Equal(t, []*users.Token{tokens[1], tokens[0]}, list, "oldest first")
	gotTicket, err := s.GetTicket(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, ticket, gotTicket)

	// The new columns take new values.
	u := want[1].Clone()
	u.Permissions = map[string]users.Permission{users.ResourceUsers: users.PermissionRead}
	u.MustChangePassword, u.PasswordResetDisallowed = true, true
	require.NoError(t, s.UpdateUser(ctx, u))
	got, err = s.GetUser(ctx, "u2")
	require.NoError(t, err)
	assert.Equal(t, u, got)
	require.NoError(t, s.TouchToken(ctx, tokens[0].Digest, t1.Add(time.Minute)))
	gotTok, err := s.GetToken(ctx, tokens[0].Digest, t1)
	require.NoError(t, err)
	assert.Equal(t, t1.Add(time.Minute), gotTok.LastUsed)
	require.NoError(t, s.PutImage(ctx, &users.Image{UserID: "u1", ContentType: "image/png", Data: []byte("png"), Width: 1, Height: 1, ETag: `"e"`, Updated: t1}))
	require.NoError(t, s.DeleteUser(ctx, "u1"))
	_, err = s.GetImage(ctx, "u1")
	assert.ErrorIs(t, err, users.ErrNotFound)
	list, err = s.ListTokens(ctx, "u1", users.TokenSession)
	require.NoError(t, err)
	assert.Empty(t, list)
}

// TestMigrateFrom0004 makes a database at schema 0004, writes a user, tokens of every kind and
// tickets as the store of that schema wrote them, and opens it: migration 0005 keeps every
// value, the new fields read as "", and the store then sets them.
func TestMigrateFrom0004(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "users.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_txlock=immediate")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	require.NoError(t, migrate(ctx, db, migrationsUpTo(t, 4)))

	t1 := time.Date(2025, 6, 7, 8, 9, 10, 111213000, time.UTC)
	u := &users.User{ID: "u1", Username: "dana@example.com", Email: "dana@example.com", Name: "Dana",
		Scope: []string{users.RoleUser}, OrgID: "org1", Status: users.StatusActive,
		Created: t1, Updated: t1, Version: 1, PasswordHash: "hash1"}
	_, err = db.ExecContext(ctx, `INSERT INTO users (id, username, username_folded, email,
		email_folded, name, name_folded, scope, plan, org_id, status, email_verified, created,
		updated, password_hash, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, 0, ?, ?, ?, 1)`,
		u.ID, u.Username, users.Fold(u.Username), u.Email, users.Fold(u.Email), u.Name, users.Fold(u.Name),
		`["user"]`, u.OrgID, string(u.Status), u.Created.UnixMicro(), u.Updated.UnixMicro(), u.PasswordHash)
	require.NoError(t, err)
	tokens := []*users.Token{
		{Digest: sha256.Sum256([]byte("s1")), Kind: users.TokenSession, UserID: "u1", Created: t1, Expires: t1.Add(24 * time.Hour)},
		{Digest: sha256.Sum256([]byte("r1")), Kind: users.TokenReset, UserID: "u1", Created: t1, Expires: t1.Add(time.Hour)},
		{Digest: sha256.Sum256([]byte("k1")), Kind: users.TokenAPIKey, UserID: "u1", Created: t1.Add(-time.Hour),
			ID: "0b9d6a4e-5f0c-4d7e-9a51-3c2f1e8b7a60", Name: "deploy", Prefix: "uk_k1", LastUsed: t1.Add(time.Minute)},
	}
	for _, tok := range tokens {
		_, err := db.ExecContext(ctx, `INSERT INTO tokens (digest, kind, user_id, created, expires, id, name, prefix, last_used)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tok.Digest[:], string(tok.Kind), tok.UserID, tok.Created.UnixMicro(), optionalTime(tok.Expires),
			tok.ID, tok.Name, tok.Prefix, optionalTime(tok.LastUsed))
		require.NoError(t, err)
	}
	tickets := []*users.Ticket{
		{ID: "t1", UserID: "gone", Status: users.TicketCompleted, Steps: []string{"a", "b"},
			StepsDone: 2, Created: t1, Updated: t1, PriorStatus: users.StatusActive, Version: 4},
		{ID: "t2", UserID: "u1", Status: users.TicketInProgress, Steps: []string{"a"},
			Created: t1, Updated: t1, PriorStatus: users.StatusActive, Owner: "w", LeaseUntil: t1, Version: 2},
	}
	for _, tk := range tickets {
		vals, err := ticketValues(tk)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO tickets (user_id, status, steps, steps_done,
			failed_step, message, created, updated, attempts, next_attempt, prior_status, owner,
			lease_until, id, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			append(vals, tk.ID, tk.Version)...)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	var version int
	require.NoError(t, s.db.read.QueryRowContext(ctx, "SELECT max(version) FROM migrations").Scan(&version))
	require.Equal(t, SchemaVersion, version)
	var check string
	require.NoError(t, s.db.read.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check))
	require.Equal(t, "ok", check)

	// Every value is kept, and CreatedBy and OrgID read as "".
	got, err := s.GetUser(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, u, got)
	for _, tok := range tokens {
		got, err := s.GetToken(ctx, tok.Digest, t1)
		require.NoError(t, err)
		assert.Equal(t, tok, got)
	}
	keys, err := s.ListTokens(ctx, "u1", users.TokenAPIKey)
	require.NoError(t, err)
	assert.Equal(t, []*users.Token{tokens[2]}, keys)
	for _, tk := range tickets {
		got, err := s.GetTicket(ctx, tk.ID)
		require.NoError(t, err)
		assert.Equal(t, tk, got)
	}

	// The new columns take new values.
	minted := &users.Token{Digest: sha256.Sum256([]byte("k2")), Kind: users.TokenAPIKey, UserID: "u1", Created: t1,
		ID: "6f1c2b3a-0000-4000-8000-000000000001", Name: "minted", Prefix: "uk_k2", CreatedBy: "admin"}
	require.NoError(t, s.PutToken(ctx, minted))
	gotTok, err := s.GetToken(ctx, minted.Digest, t1)
	require.NoError(t, err)
	assert.Equal(t, minted, gotTok)
	tk := tickets[1].Clone()
	tk.OrgID = "org1"
	require.NoError(t, s.UpdateTicket(ctx, tk))
	gotTicket, err := s.GetTicket(ctx, "t2")
	require.NoError(t, err)
	assert.Equal(t, tk, gotTicket)
	n, err := s.AddFailure(ctx, sha256.Sum256([]byte("throttle key")), t1)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the throttle's table is there, empty")
	n, err = s.DeleteTickets(ctx, t1.Add(time.Second), 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the ticket completed before the migration is removed")
	_, err = s.GetTicket(ctx, "t1")
	assert.ErrorIs(t, err, users.ErrNotFound)
}
