package postgres_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/postgres"
)

// The crash test re-executes the test binary as a child process, which finds its role, the
// server and the schema in these environment variables; TestMain runs the role instead of the
// tests.
const (
	childRoleEnv   = "GOUSERS_POSTGRES_TEST_CHILD"
	childDSNEnv    = "GOUSERS_POSTGRES_TEST_DSN"
	childSchemaEnv = "GOUSERS_POSTGRES_TEST_SCHEMA"
)

const (
	// crashWriters is the number of goroutines writing at once in the child. Each owns its
	// users and writes them one at a time, so at most crashWriters writes are in flight when
	// the child is killed, and at most one per user.
	crashWriters = 4
	// The parent kills the child once it has seen this many acknowledged writes, and this many
	// of each kind at least.
	crashMinWrites = 400
	crashMinEach   = 80
	crashTimeout   = 2 * time.Minute
)

// runChild runs the child's role and exits.
func runChild(role string) {
	if role != "crash-writer" {
		fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
		os.Exit(2)
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, os.Getenv(childDSNEnv), testOptions(os.Getenv(childSchemaEnv)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "child: open: %v\n", err)
		os.Exit(1)
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...) + "\n"
		out.Lock()
		defer out.Unlock()
		if _, err := os.Stdout.WriteString(line); err != nil {
			os.Exit(3) // the parent is gone
		}
	}
	for w := range crashWriters {
		go crashWriter(ctx, st, w, say)
	}
	select {} // until killed
}

// crashWriter creates and updates users of its own, one write at a time — single creates and
// updates, and pairs of updates in one Atomic transaction — reporting each write once the store
// has acknowledged it.
func crashWriter(ctx context.Context, st *postgres.Store, w int, say func(string, ...any)) {
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "child: %s: %v\n", what, err)
		os.Exit(1)
	}
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
		case len(own) < 2 || op < 4:
			u := crashUser(fmt.Sprintf("w%d-%d@example.com", w, n), randomName())
			if err := st.CreateUser(ctx, u); err != nil {
				fail("create", err)
			}
			own = append(own, u)
			say("create %s %s %s", u.ID, u.Username, u.Name)
		case op < 8:
			u := own[rng.IntN(len(own))]
			update(u)
			if err := st.UpdateUser(ctx, u); err != nil {
				fail("update", err)
			}
			say("update %s %d %s", u.ID, u.Version, u.Name)
		default: // two updates in one transaction: acknowledged together, after the commit
			i := rng.IntN(len(own))
			j := (i + 1 + rng.IntN(len(own)-1)) % len(own)
			a, b := own[i], own[j]
			ca, cb := a.Clone(), b.Clone()
			err := st.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
				// Afresh on each run: a retried transaction starts from the same copies.
				*a, *b = *ca.Clone(), *cb.Clone()
				update(a)
				update(b)
				return errors.Join(tx.UpdateUser(ctx, a), tx.UpdateUser(ctx, b))
			})
			if err != nil {
				fail("atomic update", err)
			}
			say("update %s %d %s", a.ID, a.Version, a.Name)
			say("update %s %d %s", b.ID, b.Version, b.Name)
		}
	}
}

// crashUser returns a new, normalised user.
func crashUser(username, name string) *users.User {
	now := time.Now()
	u := &users.User{
		ID: uuid.Must(uuid.NewV7()).String(), Username: username, Name: name,
		Metadata: map[string]any{"name": name}, Created: now, Updated: now,
	}
	if err := u.Normalize(); err != nil {
		panic(err)
	}
	return u
}

// TestCrash proves that a write the PostgreSQL store acknowledged is committed when the
// process that made it is killed (SIGKILL, in the middle of a stream of writes), that no write
// appears that was never made, and that the schema is usable by the next process.
func TestCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dsn, schema := openSchema(t)

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$")
	cmd.Env = append(os.Environ(), childRoleEnv+"=crash-writer", childDSNEnv+"="+dsn, childSchemaEnv+"="+schema)
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 1024)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait() // only after every read from the pipe, as Wait requires
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // fails harmlessly when it has exited
		if t.Failed() {
			t.Logf("child stderr:\n%s", stderr.String())
		}
	})

	type ack struct {
		username string
		version  int64
		name     string
	}
	acked := map[string]*ack{}
	creates, updates := 0, 0
	record := func(line string) {
		f := strings.Fields(line)
		require.Len(t, f, 4, "line %q", line)
		switch f[0] {
		case "create": // create <id> <username> <name>
			require.NotContains(t, acked, f[1], "user %s created twice", f[1])
			acked[f[1]] = &ack{username: f[2], version: 1, name: f[3]}
			creates++
		case "update": // update <id> <version> <name>
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
	deadline := time.After(crashTimeout)
	for creates+updates < crashMinWrites || creates < crashMinEach || updates < crashMinEach {
		select {
		case line, ok := <-lines:
			if !ok {
				require.FailNowf(t, "child exited early", "after %d creates and %d updates; stderr:\n%s", creates, updates, stderr.String())
			}
			record(line)
		case <-deadline:
			require.FailNow(t, "timed out waiting for acknowledged writes")
		}
	}
	require.NoError(t, cmd.Process.Kill())
	for line := range lines { // lines already in the pipe are acknowledged writes too
		record(line)
	}
	var exit *exec.ExitError
	require.ErrorAs(t, <-exited, &exit)
	status, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok && status.Signaled() && status.Signal() == syscall.SIGKILL, "the child died of SIGKILL, not %v", exit)
	t.Logf("killed the child after %d acknowledged writes (%d creates, %d updates)", creates+updates, creates, updates)

	st := openStore(t, dsn, schema)
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
	}
	n, err := st.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, len(acked), "every acknowledged create is stored")
	assert.LessOrEqual(t, n, len(acked)+crashWriters, "no user appeared that was not being created")
	matches, err := st.CountUsers(ctx, users.Query{Pattern: "@example.com"})
	require.NoError(t, err)
	assert.Equal(t, n, matches, "the counts agree with the users table")
	require.NoError(t, st.CreateUser(ctx, crashUser("after-crash@example.com", "after")), "the schema takes writes")
}
