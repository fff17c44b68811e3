package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/sqlite"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)

func newUser(id, username string) *users.User {
	return &users.User{
		ID: id, Username: username, Email: username, Name: "Name of " + id,
		Scope: []string{users.RoleUser}, Status: users.StatusActive,
		Metadata: map[string]any{"n": 1.0}, Created: t0, Updated: t0, PasswordHash: "hash of " + id,
	}
}

// TestReopen checks that users, tokens and tickets survive Close and Open, and that the search
// indexes come back with them.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t, nil)
	u := newUser("u1", "Reopen@Example.com")
	u.Vendor = []string{"acme"}
	require.NoError(t, s.CreateUser(ctx, u))
	tok := &users.Token{Digest: sha256.Sum256([]byte("secret")), Kind: users.TokenSession, UserID: "u1", Created: t0}
	require.NoError(t, s.PutToken(ctx, tok))
	ticket := &users.Ticket{ID: "t1", UserID: "u1", Status: users.TicketInProgress, Steps: []string{"a"}, Created: t0, Updated: t0}
	require.NoError(t, s.CreateTicket(ctx, ticket))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "a second Close is a no-op")
	_, err := s.GetUser(ctx, "u1")
	require.ErrorIs(t, err, sqlite.ErrClosed)

	s, err = sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.GetUserByUsername(ctx, "reopen@example.COM")
	require.NoError(t, err)
	assert.Equal(t, u, got)
	gotTok, err := s.GetToken(ctx, tok.Digest, t0)
	require.NoError(t, err)
	assert.Equal(t, tok, gotTok)
	gotTicket, err := s.GetTicket(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, ticket, gotTicket)
	page, err := s.ListUsers(ctx, users.Query{Pattern: "EOPEN@", Conditions: []users.Condition{{Field: "vendor", Op: users.OpEq, Value: "acme"}}})
	require.NoError(t, err)
	assert.Equal(t, []string{"u1"}, ids(page))
}

// TestNewerSchemaRefused opens a file whose migrations table says a newer version made it.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t, nil)
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO migrations (version, name, applied) VALUES (?, 'future.sql', 0)", sqlite.SchemaVersion+1)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	_, err = sqlite.Open(ctx, path, nil)
	require.ErrorIs(t, err, sqlite.ErrNewerSchema)
}

// TestConcurrentMix runs 50 goroutines over two Stores on one file (as two processes would
// share it): look-ups, lists, creates and read-then-write transactions. None may fail, in
// particular not with SQLITE_BUSY or "database is locked", and no increment may be lost.
func TestConcurrentMix(t *testing.T) {
	ctx := context.Background()
	a, path := openFile(t, nil)
	b, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer b.Close()
	stores := []*sqlite.Store{a, b}
	require.NoError(t, a.CreateUser(ctx, newUser("counter", "counter@example.com")))

	const workers, rounds = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			s := stores[w%2]
			for r := range rounds {
				var err error
				switch (w + r) % 4 {
				case 0:
					err = s.CreateUser(ctx, newUser(fmt.Sprintf("w%d-r%d", w, r), fmt.Sprintf("w%d.r%d@example.com", w, r)))
				case 1:
					_, err = s.GetUser(ctx, "counter")
				case 2:
					_, err = s.ListUsers(ctx, users.Query{Pattern: "example", Limit: 5})
				case 3:
					err = s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
						u, err := tx.GetUser(ctx, "counter")
						if err != nil {
							return err
						}
						u.Metadata["n"] = u.Metadata["n"].(float64) + 1
						return tx.UpdateUser(ctx, u)
					})
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	u, err := b.GetUser(ctx, "counter")
	require.NoError(t, err)
	increments := 0
	for w := range workers {
		for r := range rounds {
			if (w+r)%4 == 3 {
				increments++
			}
		}
	}
	assert.Equal(t, float64(1+increments), u.Metadata["n"])
	n, err := a.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 1+workers*rounds/4, n)
}

// TestBackup copies a database in use with VACUUM INTO and opens the copy.
func TestBackup(t *testing.T) {
	ctx := context.Background()
	s, _ := openFile(t, nil)
	require.NoError(t, s.CreateUser(ctx, newUser("u1", "backup@example.com")))
	dst := filepath.Join(t.TempDir(), "copy.db")
	require.NoError(t, s.Backup(ctx, dst))
	require.Error(t, s.Backup(ctx, dst), "a backup never overwrites a file")

	c, err := sqlite.Open(ctx, dst, nil)
	require.NoError(t, err)
	defer c.Close()
	got, err := c.GetUser(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, "backup@example.com", got.Username)
}

// TestCanceledContext checks that a done context stops every kind of call before it starts.
func TestCanceledContext(t *testing.T) {
	s, _ := openFile(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.GetUser(ctx, "x")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, s.CreateUser(ctx, newUser("u1", "c@example.com")), context.Canceled)
	_, err = s.ListUsers(ctx, users.Query{})
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, s.Atomic(ctx, func(context.Context, users.Store) error { return nil }), context.Canceled)
}

// TestCreateUsers stores users in bulk, all or none: a clash with a stored user or within the
// batch stores nothing and names the field.
func TestCreateUsers(t *testing.T) {
	ctx := context.Background()
	s, _ := openFile(t, nil)
	batch := make([]*users.User, 1200) // more than one INSERT statement
	for i := range batch {
		batch[i] = newUser(fmt.Sprintf("u%04d", i), fmt.Sprintf("bulk%d@example.com", i))
		batch[i].Scope = []string{users.RoleUser, fmt.Sprintf("team%d", i%3)}
	}
	require.NoError(t, s.CreateUsers(ctx, batch))
	assert.Equal(t, int64(1), batch[1199].Version)
	n, err := s.CountUsers(ctx, users.Query{Conditions: []users.Condition{{Field: "scope", Op: users.OpEq, Value: "team1"}}})
	require.NoError(t, err)
	assert.Equal(t, 400, n)

	for name, c := range map[string]struct {
		batch []*users.User
		field string
	}{
		"StoredUsername": {[]*users.User{newUser("n1", "new1@example.com"), newUser("n2", "BULK7@example.com")}, "username"},
		"StoredID":       {[]*users.User{newUser("u0001", "new1@example.com")}, "id"},
		"InBatchEmail": {[]*users.User{newUser("n1", "new1@example.com"), func() *users.User {
			u := newUser("n2", "new2@example.com")
			u.Email = "NEW1@example.com"
			return u
		}()}, "email"},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.CreateUsers(ctx, c.batch)
			require.ErrorIs(t, err, users.ErrConflict)
			var e *users.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, c.field, e.Field)
			n, err := s.CountUsers(ctx, users.Query{})
			require.NoError(t, err)
			assert.Equal(t, 1200, n, "a failed batch stored some users")
		})
	}
}

// TestMetadataNumbers checks that the numbers SQLite reads from the JSON of a user's metadata,
// to index them, are exactly the float64 values Go wrote: every stored number is found by eq,
// and ordered alike by lt.
func TestMetadataNumbers(t *testing.T) {
	ctx := context.Background()
	s, _ := openFile(t, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	nums := []float64{0, -0.0, 0.1, 1e21, 1e-7, 123456789.123456789, math.MaxFloat64, math.SmallestNonzeroFloat64,
		1 << 53, 1<<53 + 2, -1e300, 5e-324, 2.2250738585072014e-308}
	for range 500 {
		nums = append(nums, math.Float64frombits(rng.Uint64()&^(0x7ff<<52)|uint64(rng.IntN(0x7fe))<<52))
	}
	batch := make([]*users.User, len(nums))
	for i, f := range nums {
		batch[i] = newUser(fmt.Sprintf("u%04d", i), fmt.Sprintf("n%d@example.com", i))
		batch[i].Metadata = map[string]any{"f": f}
	}
	require.NoError(t, s.CreateUsers(ctx, batch))
	for i, f := range nums {
		n, err := s.CountUsers(ctx, users.Query{Conditions: []users.Condition{{Field: "metadata.f", Op: users.OpEq, Value: f}}})
		require.NoError(t, err)
		want := 0
		for _, g := range nums {
			if g == f {
				want++
			}
		}
		require.Equal(t, want, n, "user %d: metadata.f = %v (%b)", i, f, math.Float64bits(f))
	}
}

// ids returns the IDs of a page of users, in order.
func ids(page []*users.User) []string {
	out := make([]string, len(page))
	for i, u := range page {
		out[i] = u.ID
	}
	return out
}
