package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/pgtest"
	"github.com/gousers/users/postgres"
	"github.com/gousers/users/storetest"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		runChild(role) // a child process of a crash test: it never returns
	}
	pgtest.Main(m)
}

// testOptions are the options of the tests' stores: small pools, since many stores are open at
// once on one test server.
func testOptions(schema string) *postgres.Options {
	return &postgres.Options{Schema: schema, MaxConns: 4}
}

// openSchema opens a store on a new schema of the test's own, closed at the end of the test,
// and returns it with the connection string and the schema, for opening more stores on it.
func openSchema(t testing.TB) (s *postgres.Store, dsn, schema string) {
	t.Helper()
	dsn, schema = pgtest.Schema(t)
	s = openStore(t, dsn, schema)
	return s, dsn, schema
}

// openStore opens a store on the schema, closed at the end of the test.
func openStore(t testing.TB, dsn, schema string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, testOptions(schema))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the conformance suite on one store, emptied before each subtest:
// quicker than a new schema and new connections each time, and the store's connections carry
// over from one subtest to the next, as in an app.
func TestConformance(t *testing.T) {
	s, dsn, schema := openSchema(t)
	admin, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	storetest.Run(t, func(t *testing.T) users.Store {
		_, err := admin.Exec(context.Background(), emptySchema(schema))
		require.NoError(t, err)
		return s
	})
}

// emptySchema returns the statement that removes every row of the store's tables in schema.
func emptySchema(schema string) string {
	return `TRUNCATE "` + schema + `".users, "` + schema + `".tokens, "` + schema + `".user_images, "` +
		schema + `".tickets, "` + schema + `".user_counts, "` + schema + `".throttle_failures`
}
