package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/sqlite"
)

func init() { childRoles["crash-writer"] = crashWriterChild }

const (
	// crashWriters is the number of goroutines writing at once in the child. Each owns its
	// users and writes them one at a time, so at most crashWriters writes are in flight (not
	// yet acknowledged) when the child is killed, and at most one per user.
	crashWriters = 3
	// The parent kills the child once it has seen this many acknowledged writes, and this many
	// of each kind at least.
	crashMinWrites = 600
	crashMinEach   = 100
)

// TestCrash proves that a write the SQLite store acknowledged survives the process being
// killed (SIGKILL, in the middle of a stream of writes, with the default synchronous=NORMAL in
// WAL mode), that no write appears that was never made, and that the file reopens intact.
//
// A child process writes users as fast as it can from several goroutines — single creates and
// updates, and pairs of updates in one Atomic transaction — and reports each write on stdout
// once the Store call has returned nil. The parent kills it mid-stream, reopens the file and
// checks every acknowledged write against it, then runs SQLite's integrity checks.
func TestCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "users.db")
	c := startChild(t, "crash child", "crash-writer", path)

	// What the child acknowledged, by user ID: the latest acknowledged version and the name
	// written with it (a create acknowledges version 1).
	type ack struct {
		username string
		version  int64
		name     string
	}
	acked := map[string]*ack{}
	creates, updates := 0, 0
	record := func(line string) {
		f := strings.Fields(line)
		require.NotEmpty(t, f, "empty line from the child")
		switch f[0] {
		case "create": // create <id> <username> <name>
			require.Len(t, f, 4, "line %q", line)
			require.NotContains(t, acked, f[1], "user %s created twice", f[1])
			acked[f[1]] = &ack{username: f[2], version: 1, name: f[3]}
			creates++
		case "update": // update <id> <version> <name>
			require.Len(t, f, 4, "line %q", line)
			a := acked[f[1]]
			require.NotNil(t, a, "update of user %s before its create", f[1])
			v, err := strconv.ParseInt(f[2], 10, 64)
			require.NoError(t, err, "line %q", line)
			require.Equal(t, a.version+1, v, "UpdateUser stores Version+1 (line %q)", line)
			a.version, a.name = v, f[3]
			updates++
		default:
			require.FailNowf(t, "unexpected line", "%q", line)
		}
	}

	deadline := time.After(procTimeout)
	for creates+updates < crashMinWrites || creates < crashMinEach || updates < crashMinEach {
		line, ok := c.next(t, deadline, "acknowledged writes")
		if !ok {
			require.FailNowf(t, "child exited early", "after %d creates and %d updates: %v; stderr:\n%s",
				creates, updates, c.wait(), c.stderr.String())
		}
		record(line)
	}
	c.kill(t)
	// Lines already in the pipe are acknowledged writes too.
	for _, line := range c.rest(t) {
		record(line)
	}
	requireKilled(t, c)
	t.Logf("killed the child after %d acknowledged writes (%d creates, %d updates)", creates+updates, creates, updates)

	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err, "reopen after the crash")
	defer st.Close()
	for id, a := range acked {
		u, err := st.GetUser(ctx, id)
		require.NoError(t, err, "acknowledged user %s is lost", id)
		assert.Equal(t, a.username, u.Username, "user %s", id)
		// The write in flight when the child died may or may not have committed; nothing else
		// may be missing or extra.
		assert.GreaterOrEqual(t, u.Version, a.version, "user %s lost an acknowledged update", id)
		assert.LessOrEqual(t, u.Version, a.version+1, "user %s has more writes than were made", id)
		if u.Version == a.version {
			assert.Equal(t, a.name, u.Name, "user %s at version %d", id, u.Version)
			assert.Equal(t, map[string]any{"name": a.name}, u.Metadata, "user %s at version %d", id, u.Version)
		}
		byName, err := st.GetUserByUsername(ctx, a.username)
		if assert.NoError(t, err, "user %s by username", id) {
			assert.Equal(t, id, byName.ID)
		}
	}
	n, err := st.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, len(acked), "every acknowledged create is stored")
	assert.LessOrEqual(t, n, len(acked)+crashWriters, "no user appeared that was not being created")
	matches, err := st.CountUsers(ctx, users.Query{Pattern: "@example.com"})
	require.NoError(t, err)
	assert.Equal(t, n, matches, "the search index agrees with the users table")

	// The recovered file takes writes.
	u := crashUser(0, "after-crash@example.com", "after")
	require.NoError(t, st.CreateUser(ctx, u))
	require.NoError(t, st.Close())

	// SQLite's own checks, on a plain connection: the b-trees and indexes, the foreign keys,
	// and the FTS5 index against its content table.
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	require.NoError(t, err)
	var report []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		report = append(report, line)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"ok"}, report, "PRAGMA integrity_check")
	rows, err = db.QueryContext(ctx, "PRAGMA foreign_key_check")
	require.NoError(t, err)
	assert.False(t, rows.Next(), "PRAGMA foreign_key_check finds no orphan row")
	require.NoError(t, rows.Close())
	_, err = db.ExecContext(ctx, "INSERT INTO users_search (users_search) VALUES ('integrity-check')")
	assert.NoError(t, err, "FTS5 integrity-check")
}

// crashUser returns a new, normalised user for the crash child.
func crashUser(rank int, username, name string) *users.User {
	id, err := uuid.NewV7()
	if err != nil {
		panic(err)
	}
	now := time.Now()
	u := &users.User{
		ID: id.String(), Username: username, Name: name, Metadata: map[string]any{"name": name},
		Created: now, Updated: now,
	}
	if err := u.Normalize(); err != nil {
		panic(fmt.Sprintf("user %d: %v", rank, err))
	}
	return u
}

// crashWriterChild is the child of TestCrash: it writes until it is killed.
func crashWriterChild(dbPath string) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dbPath, nil) // default options: WAL, synchronous=NORMAL
	if err != nil {
		childFail("open: %v", err)
	}
	for w := range crashWriters {
		go crashWriter(ctx, st, w)
	}
	select {} // until killed
}

// crashWriter creates and updates users of its own, one write at a time, reporting each
// write once the store has acknowledged it.
func crashWriter(ctx context.Context, st *sqlite.Store, w int) {
	rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	randomName := func() string { return fmt.Sprintf("%016x", rng.Uint64()) }
	update := func(u *users.User) {
		u.Name = randomName()
		u.Metadata = map[string]any{"name": u.Name}
		u.Updated = time.Now()
	}
	var own []*users.User
	for n := 0; ; n++ {
		switch op := rng.IntN(10); {
		case len(own) < 2 || op < 3:
			u := crashUser(n, fmt.Sprintf("w%d-%d@example.com", w, n), randomName())
			if err := st.CreateUser(ctx, u); err != nil {
				childFail("create: %v", err)
			}
			own = append(own, u)
			say("create %s %s %s", u.ID, u.Username, u.Name)
		case op < 8:
			u := own[rng.IntN(len(own))]
			update(u)
			if err := st.UpdateUser(ctx, u); err != nil {
				childFail("update: %v", err)
			}
			say("update %s %d %s", u.ID, u.Version, u.Name)
		default: // two updates in one transaction: acknowledged together, after the commit
			i := rng.IntN(len(own))
			j := (i + 1 + rng.IntN(len(own)-1)) % len(own)
			a, b := own[i], own[j]
			err := st.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
				update(a)
				update(b)
				return errors.Join(tx.UpdateUser(ctx, a), tx.UpdateUser(ctx, b))
			})
			if err != nil {
				childFail("atomic update: %v", err)
			}
			say("update %s %d %s", a.ID, a.Version, a.Name)
			say("update %s %d %s", b.ID, b.Version, b.Name)
		}
	}
}
