//go:build unix

package main

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
)

// setUmask sets the process's umask until the test ends. Tests calling it must not run in
// parallel.
func setUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// perm returns the permission bits of the file at path.
func perm(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

// TestFilesArePrivate runs the server under a umask that takes nothing off, and under one
// that takes off even the owner's write permission, and checks that what it writes (the
// database and its WAL and shared memory, the mail directory and the mails in it, an export)
// is its owner's alone, and theirs to write.
func TestFilesArePrivate(t *testing.T) {
	for _, mask := range []int{0, 0o277} {
		t.Run(fmt.Sprintf("umask %03o", mask), func(t *testing.T) {
			cheapHashing(t)
			dir := t.TempDir()
			setUmask(t, mask)
			testFilesArePrivate(t, dir)
		})
	}
}

func testFilesArePrivate(t *testing.T, dir string) {
	db := filepath.Join(dir, "users.db")
	mailDir := filepath.Join(dir, "var", "mail")
	const admin, password = "root@example.com", "a long admin pass phrase"
	p := start(t, []string{"-addr", "127.0.0.1:0", "-db", db, "-mail-dir", mailDir, "-rate-limit", "0"},
		map[string]string{envAdminEmail: admin, envAdminPassword: password})
	c := newClient(t, p.addr)
	c.expect(http.StatusOK, "POST", "/user/forgot-password", "", map[string]string{"email": admin}, nil)
	waitResetCode(t, mailDir, admin)
	// While the server runs: SQLite removes the WAL and the shared memory when it closes.
	files := map[string]fs.FileMode{db: 0o600, db + "-wal": 0o600, db + "-shm": 0o600, mailDir: 0o700, filepath.Dir(mailDir): 0o700}
	for _, f := range emlFiles(t, mailDir) {
		files[f] = 0o600
	}
	require.Len(t, files, 6, "a mail was written")
	for path, want := range files {
		assert.Equal(t, want, perm(t, path), path)
	}
	require.NoError(t, p.stop(t))

	export := filepath.Join(dir, "users.jsonl")
	_, _, err := runTransfer(t, "", "-db", db, "export", export)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), perm(t, export), "the export")
}

// TestDeepMetadataIsBadRequest checks that metadata nested deeper than the SQLite store's JSON
// functions go is a 400 naming metadata, through the whole server, and the user stays as
// they were.
func TestDeepMetadataIsBadRequest(t *testing.T) {
	cheapHashing(t)
	const admin, password = "root@example.com", "a long admin pass phrase"
	p := start(t, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "users.db"), "-rate-limit", "0"},
		map[string]string{envAdminEmail: admin, envAdminPassword: password})
	c := newClient(t, p.addr)
	var s session
	c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": admin, "password": password}, &s)
	for _, depth := range []int{users.MaxMetadataDepth + 1, 1001} {
		var deep any = 1
		for range depth - 1 {
			deep = []any{deep}
		}
		var pr problem
		c.expect(http.StatusBadRequest, "POST", "/users", s.Token, map[string]any{"username": "deep@example.com", "metadata": map[string]any{"a": deep}}, &pr)
		assert.Equal(t, "metadata", pr.Field, "depth %d", depth)
		c.expect(http.StatusBadRequest, "PUT", "/users/"+s.User.ID, s.Token, map[string]any{"metadata": map[string]any{"a": deep}}, &pr)
		assert.Equal(t, "metadata", pr.Field, "depth %d", depth)
	}
	var u user
	c.expect(http.StatusOK, "GET", "/users/"+s.User.ID, s.Token, nil, &u)
	assert.Empty(t, u.Metadata)
	assert.NotContains(t, strings.ToLower(p.stderr.String()), "internal error")
}
