package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestSchema connects to the server and creates a table in a schema of the test's own.
func TestSchema(t *testing.T) {
	dsn, schema := pgtest.Schema(t)
	require.NoError(t, pgtest.Exec(dsn, `CREATE SCHEMA "`+schema+`"; CREATE TABLE "`+schema+`".t (x int)`))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1", schema).Scan(&n))
	assert.Equal(t, 1, n)
	var ext int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'").Scan(&ext))
	assert.Equal(t, 1, ext, "the harness creates pg_trgm")
}

// TestDatabase connects to a new database by the URL that Database returns.
func TestDatabase(t *testing.T) {
	url := pgtest.Database(t)
	require.Contains(t, url, "postgres://")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var name string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&name))
	assert.Contains(t, url, "/"+name+"?")
}
