package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConnectionSettings reads the settings back from several connections of each pool at
// once: they come from the DSN, so every pooled connection has them, not only the first.
func TestConnectionSettings(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "users.db"), &Options{BusyTimeout: 7000e6})
	require.NoError(t, err)
	defer s.Close()

	check := func(t *testing.T, db *sql.DB, conns int, queryOnly, tempStore int) {
		held := make([]*sql.Conn, conns)
		for i := range held {
			c, err := db.Conn(ctx) // held open, so each is a distinct connection
			require.NoError(t, err)
			defer c.Close()
			held[i] = c
		}
		for i, c := range held {
			for pragma, want := range map[string]any{
				"journal_mode": "wal",
				"busy_timeout": int64(7000),
				"foreign_keys": int64(1),
				"synchronous":  int64(1), // NORMAL
				"cache_size":   int64(-8192),
				"query_only":   int64(queryOnly),
				"temp_store":   int64(tempStore),
			} {
				var got any
				require.NoError(t, c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got))
				assert.Equal(t, want, got, "connection %d: %s", i, pragma)
			}
		}
	}
	t.Run("Read", func(t *testing.T) { check(t, s.db.read, 3, 1, 0) })
	t.Run("Write", func(t *testing.T) { check(t, s.db.write, 1, 0, 2) }) // temp_store MEMORY

	var sync int64
	full, err := Open(ctx, filepath.Join(t.TempDir(), "full.db"), &Options{Synchronous: "full"})
	require.NoError(t, err)
	defer full.Close()
	require.NoError(t, full.db.read.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync))
	assert.Equal(t, int64(2), sync)
}

func TestOptionsRejected(t *testing.T) {
	for name, o := range map[string]Options{
		"Synchronous": {Synchronous: "OFF"},
		"BusyTimeout": {BusyTimeout: -1},
		"ReadConns":   {ReadConns: -1},
		"CacheKiB":    {CacheKiB: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), &o)
			assert.ErrorContains(t, err, name)
		})
	}
}

// TestMigrate runs migrate with made-up migrations: an older database is brought up to date,
// keeping its data; a failing migration changes nothing; a newer database is refused.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate")
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)

	v1 := fstest.MapFS{"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);")}}
	require.NoError(t, migrate(ctx, db, v1))
	require.NoError(t, migrate(ctx, db, v1), "a second run applies nothing")

	v2 := fstest.MapFS{
		"migrations/0001_a.sql": v1["migrations/0001_a.sql"],
		"migrations/0002_b.sql": {Data: []byte("ALTER TABLE a ADD COLUMN y TEXT NOT NULL DEFAULT 'new'")},
	}
	require.NoError(t, migrate(ctx, db, v2))
	var x int
	var y string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT x, y FROM a").Scan(&x, &y))
	assert.Equal(t, 1, x)
	assert.Equal(t, "new", y)

	broken := fstest.MapFS{
		"migrations/0001_a.sql": v2["migrations/0001_a.sql"],
		"migrations/0002_b.sql": v2["migrations/0002_b.sql"],
		"migrations/0003_c.sql": {Data: []byte("CREATE TABLE c (x); INSERT INTO nowhere VALUES (1);")},
	}
	assert.ErrorContains(t, migrate(ctx, db, broken), "0003_c.sql")
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name = 'c'").Scan(&n))
	assert.Zero(t, n, "the failed migration left a table behind")
	require.NoError(t, db.QueryRowContext(ctx, "SELECT max(version) FROM migrations").Scan(&n))
	assert.Equal(t, 2, n)

	// The database is now at version 2: a package that knows only version 1 refuses it.
	assert.ErrorIs(t, migrate(ctx, db, v1), ErrNewerSchema)

	gap := fstest.MapFS{"migrations/0002_b.sql": v2["migrations/0002_b.sql"]}
	assert.ErrorContains(t, migrate(ctx, db, gap), "out of sequence")
}

// TestListTokensPlan checks that ListTokens reads the user's tokens of a kind from an index, in
// its order, without sorting them.
func TestListTokensPlan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "users.db"), nil)
	require.NoError(t, err)
	defer s.Close()
	rows, err := s.db.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+listTokens, "u1", "apikey")
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	require.Len(t, plan, 1, "%q", plan)
	assert.Contains(t, plan[0], "USING INDEX tokens_user_kind (user_id=? AND kind=?)")
	assert.NotContains(t, plan[0], "TEMP B-TREE")
}

// TestSweepPlans checks that the statements a sweeper calls in a loop find their rows through
// an index, in its order: no table scan and no sort, however many rows there are.
func TestSweepPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "users.db"), nil)
	require.NoError(t, err)
	defer s.Close()
	for _, tc := range []struct {
		name, query, index string
	}{
		{"DeleteExpiredTokens", deleteExpired, "tokens_expires"},
		{"DeleteTickets", deleteTickets, "tickets_done"},
		{"DeleteFailures", deleteFailures, "throttle_failures_last"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := queryPlan(t, s, tc.query, int64(1), int64(100))
			joined := strings.Join(plan, "\n")
			assert.Contains(t, joined, "INDEX "+tc.index+" ", "%q", plan)
			assert.NotContains(t, joined, "SCAN ", "%q", plan)
			assert.NotContains(t, joined, "TEMP B-TREE", "%q", plan)
		})
	}
}

// queryPlan returns the details of the query's plan, a row per step.
func queryPlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.db.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	return plan
}
