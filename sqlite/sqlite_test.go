package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/sqlite"
	"github.com/gousers/users/storetest"
)

// openFile opens a fresh database file in a temporary directory, closed at the end of the test.
func openFile(t testing.TB, opts *sqlite.Options) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.db")
	s, err := sqlite.Open(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestConformanceFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T) users.Store {
		s, _ := openFile(t, nil)
		return s
	})
}

func TestConformanceMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) users.Store {
		s, err := sqlite.Open(context.Background(), sqlite.Memory, nil)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	})
}
