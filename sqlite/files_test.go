//go:build unix

package sqlite_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gousers/users/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// permissiveUmask sets the process's umask to 0, so that files get whatever mode they are
// created with, until the test ends. Tests calling it must not run in parallel.
func permissiveUmask(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
}

// mode returns the permission bits of the file at path.
func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

func TestFilesArePrivate(t *testing.T) {
	permissiveUmask(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "users.db")
	s, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, newUser("u1", "private@example.com"))) // the WAL has a frame

	for _, name := range []string{"users.db", "users.db-wal", "users.db-shm"} {
		assert.Equal(t, fs.FileMode(0o600), mode(t, filepath.Join(dir, name)), name)
	}
	backup := filepath.Join(dir, "backup.db")
	require.NoError(t, s.Backup(ctx, backup))
	assert.Equal(t, fs.FileMode(0o600), mode(t, backup), "the backup")

	// Control: the umask is permissive, so a file created with the common default mode is
	// readable by all.
	control := filepath.Join(dir, "control")
	require.NoError(t, os.WriteFile(control, nil, 0o644))
	assert.Equal(t, fs.FileMode(0o644), mode(t, control))
}

func TestOpenLeavesTheModeOfAnExistingFile(t *testing.T) {
	permissiveUmask(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "users.db")
	s, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, os.Chmod(path, 0o640)) // the operator's choice, for a backup group say

	s, err = sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, newUser("u1", "group@example.com")))
	assert.Equal(t, fs.FileMode(0o640), mode(t, path))
	assert.Equal(t, fs.FileMode(0o640), mode(t, path+"-wal"), "the WAL takes the database's mode")
}

func TestBackupLeavesAnExistingFile(t *testing.T) {
	ctx := context.Background()
	s, _ := openFile(t, nil)
	dst := filepath.Join(t.TempDir(), "taken")
	require.NoError(t, os.WriteFile(dst, []byte("not mine"), 0o600))
	require.ErrorIs(t, s.Backup(ctx, dst), fs.ErrExist)
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, "not mine", string(got))
}
