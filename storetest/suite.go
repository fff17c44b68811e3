// Package storetest is the conformance suite of the users.Store contract. Every Store
// implementation calls Run from its own tests, so that all of them keep users, tokens, profile
// images and tickets alike and answer every users.Query identically.
//
// Run checks behaviour only through the public Store interface: the contract written in the
// doc comments of users.Store and users.Query, including every error path, copy semantics,
// transactions (Atomic), done contexts and concurrent use. Optional capabilities are checked
// only on stores that have them, and skipped on the others: users.ThrottleStore, the sign-in
// throttle's failure counts. Each subtest gets a fresh store from newStore; the read-only
// query cases share one store filled with a fixed population, and their expected results are
// written out by hand.
//
// The fixtures keep times in canonical form (see users.CanonicalTime), lists, metadata and
// permissions as users.User.Normalize leaves them (nil when empty, JSON types in metadata), and
// expect a store to give back exactly what it was given.
package storetest

import (
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run runs the conformance suite against the Store that newStore returns. newStore is called
// once per subtest and must return an empty store; it may register clean-up with t.Cleanup.
// Run does not call t.Parallel, so newStore need not be safe for concurrent use, but the
// stores it returns must be (the suite calls them from many goroutines).
func Run(t *testing.T, newStore func(t *testing.T) users.Store) {
	t.Helper()
	t.Run("Users", func(t *testing.T) { runChecks(t, newStore, userChecks) })
	t.Run("Tokens", func(t *testing.T) { runChecks(t, newStore, tokenChecks) })
	t.Run("Images", func(t *testing.T) { runChecks(t, newStore, imageChecks) })
	t.Run("Tickets", func(t *testing.T) { runChecks(t, newStore, ticketChecks) })
	t.Run("Atomic", func(t *testing.T) { runChecks(t, newStore, atomicChecks) })
	t.Run("Context", func(t *testing.T) { runChecks(t, newStore, contextChecks) })
	t.Run("Throttle", func(t *testing.T) { runThrottleChecks(t, newStore) })
	t.Run("Query", func(t *testing.T) { testQuery(t, newStore) })
}

// check is one subtest, run on a fresh store.
type check struct {
	name string
	run  func(t *testing.T, s users.Store)
}

func runChecks(t *testing.T, newStore func(t *testing.T) users.Store, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			c.run(t, s)
		})
	}
}

// epoch is the origin of the fixtures' times: canonical (UTC, whole microseconds), with a
// sub-second part so that a store dropping it is caught.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 123456000, time.UTC)

// day returns epoch plus n days.
func day(n int) time.Time { return epoch.AddDate(0, 0, n) }

// newUser returns a valid user in canonical form, with e-mail equal to the username.
func newUser(id, username string) *users.User {
	return &users.User{
		ID:           id,
		Username:     username,
		Email:        username,
		Name:         "User " + id,
		Scope:        []string{users.RoleUser},
		Status:       users.StatusActive,
		Created:      epoch,
		Updated:      epoch,
		PasswordHash: "hash of " + id,
	}
}

// createUser stores u, requiring success.
func createUser(t *testing.T, s users.Store, u *users.User) {
	t.Helper()
	require.NoError(t, s.CreateUser(t.Context(), u), "CreateUser(%s)", u.ID)
}

// stored returns want as the store should hold it: a copy with the given version.
func stored(want *users.User, version int64) *users.User {
	c := want.Clone()
	c.Version = version
	return c
}

// assertUser checks that the store holds want under its ID, username and e-mail.
func assertUser(t *testing.T, s users.Store, want *users.User) {
	t.Helper()
	ctx := t.Context()
	got, err := s.GetUser(ctx, want.ID)
	if assert.NoError(t, err, "GetUser(%s)", want.ID) {
		assert.Equal(t, want, got, "GetUser(%s)", want.ID)
	}
	got, err = s.GetUserByUsername(ctx, want.Username)
	if assert.NoError(t, err, "GetUserByUsername(%s)", want.Username) {
		assert.Equal(t, want, got, "GetUserByUsername(%s)", want.Username)
	}
	if want.Email != "" {
		got, err = s.GetUserByEmail(ctx, want.Email)
		if assert.NoError(t, err, "GetUserByEmail(%s)", want.Email) {
			assert.Equal(t, want, got, "GetUserByEmail(%s)", want.Email)
		}
	}
}

// assertNoUser checks that the user is found neither by ID nor by username nor by e-mail.
func assertNoUser(t *testing.T, s users.Store, u *users.User) {
	t.Helper()
	ctx := t.Context()
	_, err := s.GetUser(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrNotFound, "GetUser(%s)", u.ID)
	_, err = s.GetUserByUsername(ctx, u.Username)
	assert.ErrorIs(t, err, users.ErrNotFound, "GetUserByUsername(%s)", u.Username)
	if u.Email != "" {
		_, err = s.GetUserByEmail(ctx, u.Email)
		assert.ErrorIs(t, err, users.ErrNotFound, "GetUserByEmail(%s)", u.Email)
	}
}

// assertConflict checks that err is an ErrConflict *users.Error naming field.
func assertConflict(t *testing.T, err error, field string, msgAndArgs ...any) {
	t.Helper()
	if !assert.ErrorIs(t, err, users.ErrConflict, msgAndArgs...) {
		return
	}
	var e *users.Error
	if assert.ErrorAs(t, err, &e, msgAndArgs...) {
		assert.Equal(t, field, e.Field, msgAndArgs...)
	}
}

// digest returns the digest of a token secret.
func digest(secret string) users.Digest { return sha256.Sum256([]byte(secret)) }

// newToken returns a token of the user's, created at epoch and expiring at expires.
func newToken(secret string, kind users.TokenKind, userID string, expires time.Time) *users.Token {
	return &users.Token{Digest: digest(secret), Kind: kind, UserID: userID, Created: epoch, Expires: expires}
}

// newTicket returns an in-progress deletion ticket, claimable from created on.
func newTicket(id, userID string, created time.Time) *users.Ticket {
	return &users.Ticket{
		ID:          id,
		UserID:      userID,
		Status:      users.TicketInProgress,
		Steps:       []string{"revoke", "app", "remove"},
		Created:     created,
		Updated:     created,
		PriorStatus: users.StatusActive,
	}
}

// userIDs returns the IDs of us, in order.
func userIDs(us []*users.User) []string {
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

// concurrently runs f(0) … f(n-1) in n goroutines released together, and waits for all of them
// with a deadline, so that a store that deadlocks fails instead of hanging the test run.
// f must not call t.FailNow (require); it reports through its results.
func concurrently(t *testing.T, n int, f func(i int)) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	within(t, 10*time.Second, wg.Wait)
}

// within runs f and fails the test at once if it does not return within d (f is then left
// running: a store that hangs cannot be stopped).
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("the store did not answer within %v: is it deadlocked?", d)
	}
}
