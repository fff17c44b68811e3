package main

import (
	"context"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users/internal/pgtest"
	"github.com/gousers/users/internal/testutil"
)

// TestMain gives the PostgreSQL tests a throwaway server; the other tests need none.
func TestMain(m *testing.M) { pgtest.Main(m) }

// TestIsPostgresURL checks which values of -db select the PostgreSQL store.
func TestIsPostgresURL(t *testing.T) {
	for db, want := range map[string]bool{
		"postgres://app@db.example.com/app":   true,
		"postgresql://app@db.example.com/app": true,
		"POSTGRES://app@localhost/app":        true,
		"users.db":                            false,
		"/var/lib/users/users.db":             false,
		"file:users.db":                       false,
		"postgres.db":                         false,
		"mysql://app@localhost/app":           false,
	} {
		assert.Equal(t, want, isPostgresURL(db), db)
	}
}

// TestShownDB checks that the database is logged without a password.
func TestShownDB(t *testing.T) {
	for db, want := range map[string]string{
		"postgres://app:secret@db.example.com/app?sslmode=require": "postgres://app:xxxxx@db.example.com/app?sslmode=require",
		"postgresql://app@db.example.com/app":                      "postgresql://app@db.example.com/app",
		"users.db":                                                 "users.db",
	} {
		assert.Equal(t, want, shownDB(db), db)
	}
}

// TestTwoServersOnPostgres builds the program and runs two processes of it on one PostgreSQL
// database, as two instances behind a load balancer: a session signed out on one is refused by
// the other at once, and a deletion whose process is killed in the middle of a step is
// finished by the other.
func TestTwoServersOnPostgres(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("kills a process with SIGKILL, which Windows does not have")
	}
	db := pgtest.Database(t)
	dir := t.TempDir()
	bin := buildServer(t, dir)
	const adminEmail, adminPassword = "root@example.com", "the administrator's pass phrase"
	args := []string{"-addr", "127.0.0.1:0", "-db", db, "-rate-limit", "0", "-signup", "open", "-mail-dir", filepath.Join(dir, "mail")}
	a := startProcess(t, bin, args, map[string]string{envAdminEmail: adminEmail, envAdminPassword: adminPassword})
	b := startProcess(t, bin, args, nil) // the administrator exists: B creates none
	ca, cb := newClient(t, a.addr), newClient(t, b.addr)

	var admin session
	cb.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": adminEmail, "password": adminPassword}, &admin)

	// A session from A works on B until it is signed out on A.
	var ada session
	ca.expect(http.StatusCreated, "POST", "/user", "", map[string]string{"username": "ada@example.com", "password": "correct horse battery staple"}, &ada)
	cb.expect(http.StatusOK, "GET", "/user", ada.Token, nil, nil)
	ca.expect(http.StatusNoContent, "POST", "/user/sign-out", ada.Token, nil, nil)
	cb.expect(http.StatusUnauthorized, "GET", "/user", ada.Token, nil, nil)

	// Ada gets a profile image, whose row the test then locks, so that A's deletion worker
	// stops in the step that removes it: A is killed there, in the middle of the step.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO users.user_images (user_id, content_type, data, width, height, etag, updated)
		VALUES ($1, 'image/png', '\x89504e47', 1, 1, '"etag"', now())`, ada.User.ID)
	require.NoError(t, err)
	lock, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = lock.Exec(ctx, "SELECT 1 FROM users.user_images WHERE user_id = $1 FOR UPDATE", ada.User.ID)
	require.NoError(t, err)

	var tk ticket
	ca.expect(http.StatusOK, "DELETE", "/users/"+ada.User.ID, admin.Token, nil, &tk)
	statusPath := "/users/" + ada.User.ID + "/delete-status/" + tk.Ticket
	testutil.Eventually(t, func() bool {
		cb.expect(http.StatusOK, "GET", statusPath, admin.Token, nil, &tk)
		return tk.StepsDone == 1 // revoke-credentials; A is now in remove-image
	}, "A's worker to reach the step that removes the image")
	var owner string
	require.NoError(t, conn.QueryRow(ctx, "SELECT owner FROM users.tickets WHERE id = $1", tk.Ticket).Scan(&owner))
	require.NotEmpty(t, owner, "A's worker holds the lease")
	require.NoError(t, a.cmd.Process.Kill())
	<-a.exited
	require.NoError(t, lock.Rollback(ctx))

	// B leaves the ticket to its dead owner until the lease runs out. Rather than wait the
	// minute of the default lease, the test ends it now, as the clock would.
	cb.expect(http.StatusOK, "GET", statusPath, admin.Token, nil, &tk)
	assert.Equal(t, "in-progress", tk.Status)
	_, err = conn.Exec(ctx, "UPDATE users.tickets SET lease_until = now() WHERE id = $1", tk.Ticket)
	require.NoError(t, err)
	testutil.Eventually(t, func() bool {
		cb.expect(http.StatusOK, "GET", statusPath, admin.Token, nil, &tk)
		require.NotContains(t, []string{"failed", "cancelled"}, tk.Status)
		return tk.Status == "completed"
	}, "B to finish the deletion")
	assert.Equal(t, tk.StepsTotal, tk.StepsDone)
	cb.expect(http.StatusNotFound, "GET", "/users/"+ada.User.ID, admin.Token, nil, nil)
	var images int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM users.user_images").Scan(&images))
	assert.Zero(t, images)
	b.terminate(t)
}
