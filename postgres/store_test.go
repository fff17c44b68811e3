package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/pgtest"
	"github.com/gousers/users/postgres"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)

func newUser(id, username string) *users.User {
	return &users.User{
		ID: id, Username: username, Email: username, Name: "Name of " + id,
		Scope: []string{users.RoleUser}, Status: users.StatusActive,
		Metadata: map[string]any{"n": 1.0}, Created: t0, Updated: t0, PasswordHash: "hash of " + id,
	}
}

// TestOpenConcurrently opens ten stores on one new schema at once, as ten instances of an app
// starting together would: every Open succeeds, and each migration is applied once.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	dsn, schema := pgtest.Schema(t)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn, testOptions(schema))
			if err == nil {
				err = s.CreateUser(context.Background(), newUser(fmt.Sprint("u", i), fmt.Sprintf("u%d@example.com", i)))
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "instance %d", i)
	}
	var applied, distinct int
	require.NoError(t, queryRow(t, dsn, `SELECT count(*), count(DISTINCT version) FROM "`+schema+`".migrations`, &applied, &distinct))
	assert.Equal(t, postgres.SchemaVersion, applied, "each migration is recorded once")
	assert.Equal(t, postgres.SchemaVersion, distinct)

	s := openStore(t, dsn, schema)
	count, err := s.CountUsers(context.Background(), users.Query{})
	require.NoError(t, err)
	assert.Equal(t, n, count)
}

// TestNewerSchemaRefused opens a schema whose migrations table says a newer version made it.
func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	s, dsn, schema := openSchema(t)
	require.NoError(t, s.Close())
	require.NoError(t, pgtest.Exec(dsn, `INSERT INTO "`+schema+`".migrations (version, name) VALUES ($1, 'future.sql')`, postgres.SchemaVersion+1))
	_, err := postgres.Open(context.Background(), dsn, testOptions(schema))
	require.ErrorIs(t, err, postgres.ErrNewerSchema)
}

// TestNew uses a pool the app owns: the store works on it, and closing the store leaves the
// pool open.
func TestNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, schema := pgtest.Schema(t)
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer pool.Close()
	s, err := postgres.New(ctx, pool, &postgres.Options{Schema: schema})
	require.NoError(t, err)
	assert.Equal(t, schema, s.Schema())
	require.NoError(t, s.CreateUser(ctx, newUser("u1", "owned@example.com")))
	err = s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		u, err := tx.GetUser(ctx, "u1")
		if err != nil {
			return err
		}
		u.Name = "renamed"
		return tx.UpdateUser(ctx, u)
	})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.GetUser(ctx, "u1")
	require.ErrorIs(t, err, postgres.ErrClosed)
	var name string
	require.NoError(t, pool.QueryRow(ctx, `SELECT name FROM "`+schema+`".users WHERE id = 'u1'`).Scan(&name), "the app's pool is still open")
	assert.Equal(t, "renamed", name)
}

// TestBadOptions checks that options out of range are refused before connecting.
func TestBadOptions(t *testing.T) {
	for name, opts := range map[string]*postgres.Options{
		"NegativeMaxConns":  {MaxConns: -1},
		"MinAboveMax":       {MaxConns: 2, MinConns: 3},
		"NegativeTimeout":   {StatementTimeout: -time.Second},
		"NegativeRetries":   {MaxRetries: -1},
		"SchemaNameTooLong": {Schema: fmt.Sprintf("%064d", 0)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := postgres.Open(context.Background(), "host=/nonexistent", opts)
			assert.ErrorContains(t, err, "postgres: Options.")
		})
	}
}

// TestAtomicRetries makes a transaction fail to serialize, or lose a deadlock, and checks that
// Atomic runs fn again and succeeds, the failure never reaching the caller, and that no write
// is lost.
func TestAtomicRetries(t *testing.T) {
	for _, c := range []struct {
		name string
		// clash runs while the transaction of runs, after its first read: it must make
		// that transaction's write fail to serialize or deadlock.
		clash func(ctx context.Context, t *testing.T, s *postgres.Store, release func())
		// first runs in every run of the transaction, between its read and its write.
		first func(ctx context.Context, tx users.Store) error
		// last is the user the transaction's write bumps.
		last string
	}{
		{
			name: "SerializationFailure",
			clash: func(ctx context.Context, t *testing.T, s *postgres.Store, release func()) {
				// A committed update of the user the transaction has read.
				u, err := s.GetUser(ctx, "a")
				if assert.NoError(t, err) {
					u.Name = "clash"
					assert.NoError(t, s.UpdateUser(ctx, u))
				}
				release()
			},
			last: "a",
		},
		{
			name: "Deadlock",
			clash: func(ctx context.Context, t *testing.T, s *postgres.Store, release func()) {
				// Another transaction holds b, then waits for a, which the first holds.
				err := s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
					if err := bump(ctx, tx, "b"); err != nil {
						return err
					}
					release()
					return bump(ctx, tx, "a")
				})
				assert.NoError(t, err, "the other transaction, retried or not, succeeds too")
			},
			first: func(ctx context.Context, tx users.Store) error { return bump(ctx, tx, "a") },
			last:  "b",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, _, _ := openSchema(t)
			require.NoError(t, s.CreateUser(ctx, newUser("a", "a@example.com")))
			require.NoError(t, s.CreateUser(ctx, newUser("b", "b@example.com")))

			var runs atomic.Int32
			readDone, released := make(chan struct{}), make(chan struct{})
			clashDone := make(chan struct{})
			go func() {
				defer close(clashDone)
				<-readDone
				c.clash(ctx, t, s, sync.OnceFunc(func() { close(released) }))
			}()
			err := s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
				run := runs.Add(1)
				if _, err := tx.GetUser(ctx, "a"); err != nil {
					return err
				}
				if c.first != nil {
					if err := c.first(ctx, tx); err != nil {
						return err
					}
				}
				if run == 1 {
					close(readDone)
					<-released
				}
				return bump(ctx, tx, c.last)
			})
			<-clashDone
			require.NoError(t, err, "Atomic retries and succeeds")
			assert.GreaterOrEqual(t, runs.Load(), int32(1))
			a, err := s.GetUser(ctx, "a")
			require.NoError(t, err)
			b, err := s.GetUser(ctx, "b")
			require.NoError(t, err)
			switch c.name {
			case "SerializationFailure":
				assert.Equal(t, int32(2), runs.Load(), "fn ran again after the failure")
				assert.Equal(t, "clash", a.Name, "the other write stays")
				assert.Equal(t, 2.0, a.Metadata["n"], "the retried write is made once")
				assert.Equal(t, 1.0, b.Metadata["n"])
			case "Deadlock":
				// Both transactions bumped a and b once each, whichever was retried.
				assert.Equal(t, 3.0, a.Metadata["n"])
				assert.Equal(t, 3.0, b.Metadata["n"])
			}
		})
	}
}

// bump increments the metadata counter n of the user, in tx.
func bump(ctx context.Context, tx users.Store, id string) error {
	u, err := tx.GetUser(ctx, id)
	if err != nil {
		return err
	}
	u.Metadata["n"] = u.Metadata["n"].(float64) + 1
	return tx.UpdateUser(ctx, u)
}

// TestAtomicRetriesSpent checks that a transaction that keeps failing to serialize fails,
// once its retries are spent, with an error that is neither a conflict nor hidden.
func TestAtomicRetriesSpent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dsn, schema := openSchema(t)
	s, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema, MaxConns: 4, MaxRetries: 2})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, newUser("a", "a@example.com")))
	var runs int
	err = s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		runs++
		u, err := tx.GetUser(ctx, "a")
		if err != nil {
			return err
		}
		// A change committed after this transaction's read, every time.
		v := u.Clone()
		v.Name = fmt.Sprint("other ", runs)
		if err := s.UpdateUser(ctx, v); err != nil {
			return err
		}
		return tx.UpdateUser(ctx, u)
	})
	require.Error(t, err)
	assert.NotErrorIs(t, err, users.ErrConflict)
	assert.Contains(t, err.Error(), "40001")
	assert.Equal(t, 3, runs, "the first run and two retries")
}

// TestConflictInsideAtomic checks that a constraint failure inside a transaction fails only
// that call: the transaction goes on and commits, as an import that skips taken usernames
// needs.
func TestConflictInsideAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := openSchema(t)
	require.NoError(t, s.CreateUser(ctx, newUser("a", "a@example.com")))
	err := s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		for _, c := range []struct {
			name string
			call func() error
			want error
		}{
			{"CreateUser", func() error { return tx.CreateUser(ctx, newUser("b", "A@example.com")) }, users.ErrConflict},
			{"UpdateUser", func() error {
				u := newUser("c", "c@example.com")
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
				u.Username, u.Email = "a@EXAMPLE.com", ""
				return tx.UpdateUser(ctx, u)
			}, users.ErrConflict},
			{"PutToken", func() error {
				return tx.PutToken(ctx, &users.Token{Kind: users.TokenSession, UserID: "nobody", Created: t0})
			}, users.ErrNotFound},
			{"CreateTicket", func() error {
				k := &users.Ticket{ID: "k", UserID: "a", Status: users.TicketInProgress, Created: t0, Updated: t0}
				if err := tx.CreateTicket(ctx, k); err != nil {
					return err
				}
				return tx.CreateTicket(ctx, k)
			}, users.ErrConflict},
		} {
			if err := c.call(); !assert.ErrorIs(t, err, c.want, c.name) {
				return err
			}
		}
		return tx.CreateUser(ctx, newUser("d", "d@example.com"))
	})
	require.NoError(t, err)
	for _, id := range []string{"c", "d"} {
		_, err := s.GetUser(ctx, id)
		assert.NoError(t, err, "user %s is committed", id)
	}
	_, err = s.GetTicket(ctx, "k")
	assert.NoError(t, err)
}

// TestClaimTicketShared has two stores on one schema, as two instances, claim tickets from
// twenty goroutines: each ticket is claimed exactly once while its lease holds, and passes on
// once it has run out.
func TestClaimTicketShared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, dsn, schema := openSchema(t)
	b := openStore(t, dsn, schema)
	const tickets = 30
	for i := range tickets {
		require.NoError(t, a.CreateTicket(ctx, &users.Ticket{
			ID: fmt.Sprintf("k%02d", i), UserID: "gone", Status: users.TicketInProgress,
			Steps: []string{"one"}, Created: t0.Add(time.Duration(i) * time.Second), Updated: t0,
		}))
	}
	now, until := t0.Add(time.Hour), t0.Add(2*time.Hour)
	var mu sync.Mutex
	claimed := map[string][]string{}
	var wg sync.WaitGroup
	for w := range 20 {
		wg.Go(func() {
			s := []*postgres.Store{a, b}[w%2]
			owner := fmt.Sprint("worker", w)
			for {
				k, err := s.ClaimTicket(ctx, owner, now, until)
				if err != nil {
					assert.ErrorIs(t, err, users.ErrNotFound)
					return
				}
				assert.Equal(t, owner, k.Owner)
				mu.Lock()
				claimed[k.ID] = append(claimed[k.ID], owner)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, claimed, tickets, "every ticket is claimed")
	for id, owners := range claimed {
		assert.Len(t, owners, 1, "ticket %s is claimed once: by %v", id, owners)
	}

	// While the leases hold nothing is claimable; after, the oldest ticket passes on.
	_, err := b.ClaimTicket(ctx, "late", until.Add(-time.Second), until.Add(time.Hour))
	assert.ErrorIs(t, err, users.ErrNotFound)
	k, err := b.ClaimTicket(ctx, "late", until, until.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, "k00", k.ID)
	assert.Equal(t, "late", k.Owner)
	assert.Equal(t, int64(3), k.Version, "created, claimed, claimed again")
}

// TestCountsUnderConcurrentWrites creates, updates and deletes users from many goroutines on
// two stores, and checks the counts the triggers keep against counts of the users table
// itself, before and after their deltas are folded.
func TestCountsUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, dsn, schema := openSchema(t)
	b := openStore(t, dsn, schema)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			s := []*postgres.Store{a, b}[w%2]
			for i := range 25 {
				u := newUser(fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("w%d.%d@example.com", w, i))
				u.Scope = []string{users.RoleUser, fmt.Sprint("team", i%3), fmt.Sprint("team", i%3)}
				u.Vendor = []string{fmt.Sprint("v", w%2)}
				if !assert.NoError(t, s.CreateUser(ctx, u)) {
					return
				}
				switch i % 5 {
				case 1:
					u.Status = users.StatusDisabled
					u.Scope = []string{"team9"}
					assert.NoError(t, s.UpdateUser(ctx, u))
				case 2:
					assert.NoError(t, s.DeleteUser(ctx, u.ID))
				}
			}
		})
	}
	wg.Wait()

	// The counts the store answers from its table, against the same counts as a scan of the
	// users (a query with two conditions is never answered from the table).
	everyone := users.Condition{Field: "id", Op: users.OpNe, Value: ""}
	for _, c := range []users.Condition{
		{Field: "status", Op: users.OpEq, Value: "active"},
		{Field: "status", Op: users.OpEq, Value: "disabled"},
		{Field: "status", Op: users.OpEq, Value: "pending"},
		{Field: "scope", Op: users.OpEq, Value: "user"},
		{Field: "scope", Op: users.OpEq, Value: "team1"},
		{Field: "scope", Op: users.OpEq, Value: "team9"},
		{Field: "vendor", Op: users.OpEq, Value: "v1"},
	} {
		for round := range 2 { // the second after the first has folded the deltas
			got, err := a.CountUsers(ctx, users.Query{Conditions: []users.Condition{c}})
			require.NoError(t, err)
			want, err := b.CountUsers(ctx, users.Query{Conditions: []users.Condition{c, everyone}})
			require.NoError(t, err)
			assert.Equal(t, want, got, "%s %s, round %d", c.Field, c.Value, round)
		}
	}
	total, err := a.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 8*20, total, "a fifth of the users was deleted")
	var rows int
	require.NoError(t, queryRow(t, dsn, `SELECT count(*) FROM "`+schema+`".user_counts`, &rows))
	assert.Less(t, rows, 20, "the deltas are folded into one row per count")

	// A count inside a transaction sees the transaction's own writes.
	err = a.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		if err := tx.CreateUser(ctx, newUser("x", "x@example.com")); err != nil {
			return err
		}
		n, err := tx.CountUsers(ctx, users.Query{})
		if err == nil && n != total+1 {
			err = fmt.Errorf("the transaction counts %d users, want %d", n, total+1)
		}
		return err
	})
	require.NoError(t, err)
}

// queryRow runs one query on its own connection to dsn and scans its row into dest.
func queryRow(t *testing.T, dsn, sql string, dest ...any) error {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	defer pool.Close()
	return pool.QueryRow(context.Background(), sql).Scan(dest...)
}
