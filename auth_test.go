package users_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignInAndAuthenticate(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)

	s1, err := h.svc.SignIn(ctx, "  ALICE@example.com ", alicePassword)
	require.NoError(t, err)
	assert.Len(t, s1.Token, 43, "256 bits in unpadded base64url")
	assert.Equal(t, u.ID, s1.User.ID)
	assert.Equal(t, h.clock.Now().Add(users.DefaultSessionTTL), s1.Expires)
	s2 := h.signIn(t, alice, alicePassword)
	assert.NotEqual(t, s1.Token, s2.Token)

	got, err := h.svc.Authenticate(ctx, s1.Token)
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.User.ID)
	assert.Equal(t, alice, got.User.Username)
	assert.Equal(t, users.TokenSession, got.Kind)

	_, err = h.store.GetToken(ctx, users.DigestOf(s1.Token), h.clock.Now())
	require.NoError(t, err, "the store keeps the token's digest")

	require.NoError(t, h.svc.SignOut(ctx, s1.Token))
	assert.False(t, authenticates(t, h.svc, s1.Token), "signed out")
	assert.True(t, authenticates(t, h.svc, s2.Token), "the other session lives on")
	assert.ErrorIs(t, h.svc.SignOut(ctx, s1.Token), users.ErrUnauthorized, "not a live token any more")

	s3 := h.signIn(t, alice, alicePassword)
	require.NoError(t, h.svc.RevokeSessions(ctx, u.ID))
	assert.False(t, authenticates(t, h.svc, s2.Token))
	assert.False(t, authenticates(t, h.svc, s3.Token))
	assert.ErrorIs(t, h.svc.RevokeSessions(ctx, uuid.NewString()), users.ErrNotFound)

	assert.Equal(t, 3, h.events.count(users.EventSignedIn))
	assert.Equal(t, 1, h.events.count(users.EventSignedOut))
	assert.Equal(t, 1, h.events.count(users.EventSessionsRevoked))
}

func TestSessionExpires(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.SessionTTL = time.Hour })
	ctx := context.Background()
	h.create(t, alice, alicePassword)
	s := h.signIn(t, alice, alicePassword)
	assert.Equal(t, h.clock.Now().Add(time.Hour), s.Expires)

	h.clock.Advance(time.Hour - time.Second)
	assert.True(t, authenticates(t, h.svc, s.Token), "still valid a second before expiry")
	h.clock.Advance(2 * time.Second)
	_, err := h.svc.Authenticate(ctx, s.Token)
	assert.ErrorIs(t, err, users.ErrUnauthorized)
	assert.ErrorIs(t, h.svc.SignOut(ctx, s.Token), users.ErrUnauthorized)
}

func TestAuthenticateMalformed(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.create(t, alice, alicePassword)
	s := h.signIn(t, alice, alicePassword)
	code := h.resetCode(t, alice)

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"short", "abc"},
		{"one character short", s.Token[1:]},
		{"one character long", s.Token + "A"},
		{"bad alphabet", "!" + s.Token[1:]},
		{"padded", s.Token[:42] + "="},
		{"with spaces", " " + s.Token[1:]},
		{"unknown", strings.Repeat("A", 43)},
		{"non-ASCII", "é" + s.Token[2:]},
		{"bearer prefix", "Bearer " + s.Token},
		{"reset code is not a session", code},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.svc.Authenticate(ctx, tt.token)
			assert.Nil(t, got)
			assert.ErrorIs(t, err, users.ErrUnauthorized)
			assert.ErrorIs(t, h.svc.SignOut(ctx, tt.token), users.ErrUnauthorized)
		})
	}
	assert.True(t, authenticates(t, h.svc, s.Token))
	require.NoError(t, h.svc.ResetPassword(ctx, code, otherPassword), "signing out with a code did not spend it")
}

func TestSignInFailures(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.create(t, alice, alicePassword)
	mustCreate := func(in users.NewUser) *users.User {
		u, err := h.svc.Create(ctx, in)
		require.NoError(t, err)
		return u
	}
	mustCreate(users.NewUser{Username: "pending@example.com", Password: alicePassword, Status: users.StatusPending})
	mustCreate(users.NewUser{Username: "disabled@example.com", Password: alicePassword, Status: users.StatusDisabled})
	mustCreate(users.NewUser{Username: "nopassword@example.com"})

	_, unknownErr := h.svc.SignIn(ctx, "nobody@example.com", alicePassword)
	require.Error(t, unknownErr)
	var want *users.Error
	require.ErrorAs(t, unknownErr, &want)

	tests := []struct {
		name     string
		username string
		password string
		want     error
	}{
		{"wrong password", alice, wrongPassword, users.ErrUnauthorized},
		{"password in other case", alice, strings.ToUpper(alicePassword), users.ErrUnauthorized},
		{"empty password", alice, "", users.ErrUnauthorized},
		{"empty username", "", alicePassword, users.ErrUnauthorized},
		{"no password set", "nopassword@example.com", "", users.ErrUnauthorized},
		{"no password set, guess", "nopassword@example.com", alicePassword, users.ErrUnauthorized},
		{"pending, wrong password", "pending@example.com", wrongPassword, users.ErrUnauthorized},
		{"disabled, wrong password", "disabled@example.com", wrongPassword, users.ErrUnauthorized},
		{"pending, right password", "pending@example.com", alicePassword, users.ErrForbidden},
		{"disabled, right password", "disabled@example.com", alicePassword, users.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.svc.SignIn(ctx, tt.username, tt.password)
			assert.Nil(t, got)
			require.ErrorIs(t, err, tt.want)
			var e *users.Error
			require.ErrorAs(t, err, &e)
			if tt.want == users.ErrUnauthorized {
				assert.Equal(t, want.Code, e.Code)
				assert.Equal(t, want.Message, e.Message, "the same answer as for an unknown user")
				assert.Equal(t, want.Field, e.Field)
				assert.Equal(t, unknownErr.Error(), err.Error())
			} else {
				assert.NotEqual(t, want.Message, e.Message)
			}
			if tt.password != "" {
				assert.NotContains(t, err.Error(), tt.password)
			}
		})
	}
	for _, e := range h.events.all() {
		assert.NotEqual(t, alicePassword, e.Username, "event %+v", e)
		assert.NotEqual(t, wrongPassword, e.Username, "event %+v", e)
	}
	assert.Equal(t, len(tests)+1, h.events.count(users.EventSignInFailed))
	assert.Zero(t, h.events.count(users.EventSignedIn))
}

func TestSignInEvents(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	h.signIn(t, "ALICE@example.com", alicePassword)
	_, err := h.svc.SignIn(ctx, alice, wrongPassword)
	require.Error(t, err)
	_, err = h.svc.SignIn(ctx, alicePassword, alicePassword) // a password typed into the username box
	require.Error(t, err)

	var got []users.Event
	for _, e := range h.events.all() {
		if e.Type == users.EventSignedIn || e.Type == users.EventSignInFailed {
			assert.Equal(t, h.clock.Now().UTC().Truncate(time.Microsecond), e.Time)
			e.Time = time.Time{}
			got = append(got, e)
		}
	}
	want := []users.Event{
		{Type: users.EventSignedIn, UserID: u.ID, Username: alice},
		{Type: users.EventSignInFailed, UserID: u.ID, Username: alice},
		{Type: users.EventSignInFailed},
	}
	assert.Equal(t, want, got)
}

func TestNewSession(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u, err := h.svc.Create(ctx, users.NewUser{Username: alice}) // no password
	require.NoError(t, err)
	s, err := h.svc.NewSession(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, u.ID, s.User.ID)
	got, err := h.svc.Authenticate(ctx, s.Token)
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.User.ID)

	_, err = h.svc.NewSession(ctx, uuid.NewString())
	assert.ErrorIs(t, err, users.ErrNotFound)
	for _, status := range []users.Status{users.StatusPending, users.StatusDisabled} {
		t.Run(string(status), func(t *testing.T) {
			u, err := h.svc.Create(ctx, users.NewUser{Username: string(status) + "@example.com", Status: status})
			require.NoError(t, err)
			_, err = h.svc.NewSession(ctx, u.ID)
			assert.ErrorIs(t, err, users.ErrForbidden)
		})
	}
}

// TestSignInHashesOnce checks that an unknown username and a wrong password cost exactly one
// hash each, as a right password does.
func TestSignInHashesOnce(t *testing.T) {
	hasher := newCountingHasher(t, users.TestArgon2())
	h := newHarness(t, func(c *users.Config) { c.Hasher = hasher })
	ctx := context.Background()
	h.create(t, alice, alicePassword)
	_, err := h.svc.Create(ctx, users.NewUser{Username: bob})
	require.NoError(t, err)

	tests := []struct {
		name     string
		username string
		password string
		wantErr  bool
	}{
		{"unknown user", "nobody@example.com", alicePassword, true},
		{"wrong password", alice, wrongPassword, true},
		{"no password set", bob, alicePassword, true},
		{"right password", alice, alicePassword, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hasher.total()
			_, err := h.svc.SignIn(ctx, tt.username, tt.password)
			assert.Equal(t, tt.wantErr, err != nil, "error: %v", err)
			assert.Equal(t, int64(1), hasher.total()-before, "hashes computed")
		})
	}
}

// TestRehash: a hash made with other argon2id parameters is replaced after a successful
// sign-in by one with the current parameters.
func TestRehash(t *testing.T) {
	ctx := context.Background()
	old := users.Argon2Params{Memory: 32, Iterations: 1, Parallelism: 1, SaltLength: 8, KeyLength: 16}
	h := newHarness(t, func(c *users.Config) { c.Argon2 = old; c.NoWorker = true })
	u := h.create(t, alice, alicePassword)
	before := h.storedHash(t, u.ID)
	p, _, _, err := argon2id.DecodeHash(before)
	require.NoError(t, err)
	require.Equal(t, old, users.Argon2Params(*p))

	current := users.TestArgon2()
	svc := h.another(t, func(c *users.Config) { c.Argon2 = current })

	_, err = svc.SignIn(ctx, alice, wrongPassword)
	require.ErrorIs(t, err, users.ErrUnauthorized)
	assert.Equal(t, before, h.storedHash(t, u.ID), "no rehash on a wrong password")

	s, err := svc.SignIn(ctx, alice, alicePassword)
	require.NoError(t, err)
	after := h.storedHash(t, u.ID)
	assert.NotEqual(t, before, after)
	p, _, _, err = argon2id.DecodeHash(after)
	require.NoError(t, err)
	assert.Equal(t, current, users.Argon2Params(*p))
	assert.Equal(t, after, s.User.PasswordHash)
	ok, err := argon2id.ComparePasswordAndHash(alicePassword, after)
	require.NoError(t, err)
	assert.True(t, ok)

	_, err = svc.SignIn(ctx, alice, alicePassword)
	require.NoError(t, err)
	assert.Equal(t, after, h.storedHash(t, u.ID), "a current hash is kept")
	_, err = h.svc.SignIn(ctx, alice, alicePassword)
	require.NoError(t, err, "the old Service still verifies the new hash")
}

// blockingHasher verifies only when released, and records how many verifications run at once.
type blockingHasher struct {
	users.Hasher
	entered  chan struct{} // receives once per Verify call, on entry
	release  chan struct{} // each Verify waits for one value
	inFlight atomic.Int64
	maxSeen  atomic.Int64
}

func newBlockingHasher(t testing.TB) *blockingHasher {
	t.Helper()
	inner, err := users.NewArgon2idHasher(users.TestArgon2())
	require.NoError(t, err)
	return &blockingHasher{
		Hasher:  inner,
		entered: make(chan struct{}, 16),
		release: make(chan struct{}),
	}
}

func (b *blockingHasher) Verify(password, encoded string) (bool, bool, error) {
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for {
		m := b.maxSeen.Load()
		if n <= m || b.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	b.entered <- struct{}{}
	<-b.release
	return b.Hasher.Verify(password, encoded)
}

func TestMaxConcurrentHashes(t *testing.T) {
	hasher := newBlockingHasher(t)
	h := newHarness(t, func(c *users.Config) { c.Hasher = hasher; c.MaxConcurrentHashes = 1 })
	ctx := context.Background()
	h.create(t, alice, alicePassword)

	first := make(chan error, 1)
	go func() {
		_, err := h.svc.SignIn(ctx, alice, alicePassword)
		first <- err
	}()
	<-hasher.entered // the first sign-in holds the only hashing slot

	// A sign-in whose context ends while it waits gives up with the context's error, without
	// ever reaching the hasher.
	cancelCtx, cancel := context.WithCancel(ctx)
	waitCtx := &watchedContext{Context: cancelCtx, waiting: make(chan struct{})}
	second := make(chan error, 1)
	go func() {
		_, err := h.svc.SignIn(waitCtx, alice, alicePassword)
		second <- err
	}()
	<-waitCtx.waiting // the second sign-in waits for the slot (or the end of its context)
	cancel()
	err := <-second
	assert.ErrorIs(t, err, context.Canceled)

	deadlineCtx, cancel2 := context.WithTimeout(ctx, time.Millisecond)
	defer cancel2()
	_, err = h.svc.SignIn(deadlineCtx, "nobody@example.com", alicePassword)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// A sign-in with a live context waits for the slot and then goes ahead.
	third := make(chan error, 1)
	go func() {
		_, err := h.svc.SignIn(ctx, alice, alicePassword)
		third <- err
	}()
	hasher.release <- struct{}{}
	require.NoError(t, <-first)
	<-hasher.entered
	hasher.release <- struct{}{}
	require.NoError(t, <-third)
	assert.Equal(t, int64(1), hasher.maxSeen.Load(), "never more than one hash at once")
	assert.Empty(t, hasher.entered, "the cancelled sign-ins never hashed")
}

// signInErr signs in and returns the *Error, failing the test for any other outcome.
func signInErr(t *testing.T, svc users.Service, username, password string) *users.Error {
	t.Helper()
	_, err := svc.SignIn(context.Background(), username, password)
	var e *users.Error
	require.ErrorAs(t, err, &e, "sign-in as %s", username)
	return e
}

func TestThrottle(t *testing.T) {
	for _, tt := range []struct {
		name     string
		username string
	}{
		{"existing account", alice},
		{"unknown account", "nobody@example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			h.create(t, alice, alicePassword)
			for i := range 10 {
				e := signInErr(t, h.svc, tt.username, wrongPassword)
				require.Equal(t, users.CodeUnauthorized, e.Code, "failure %d", i+1)
			}
			// The 11th attempt is refused even with the right password.
			e := signInErr(t, h.svc, tt.username, alicePassword)
			assert.ErrorIs(t, e, users.ErrThrottled)
			assert.Positive(t, e.RetryAfter)
			assert.LessOrEqual(t, e.RetryAfter, time.Second)
			e = signInErr(t, h.svc, strings.ToUpper(tt.username), alicePassword)
			assert.ErrorIs(t, e, users.ErrThrottled, "the throttle ignores case")

			_, err := h.svc.SignIn(ctx, bob, wrongPassword)
			assert.ErrorIs(t, err, users.ErrUnauthorized, "other usernames are not throttled")
		})
	}
}

// TestThrottleSameForUnknown checks that the throttle treats an unknown username exactly as
// an existing one: the same errors with the same RetryAfter, attempt after attempt.
func TestThrottleSameForUnknown(t *testing.T) {
	h := newHarness(t)
	h.create(t, alice, alicePassword)
	for i := range 16 {
		known := signInErr(t, h.svc, alice, wrongPassword)
		unknown := signInErr(t, h.svc, "nobody@example.com", wrongPassword)
		assert.Equal(t, known.Code, unknown.Code, "attempt %d", i+1)
		assert.Equal(t, known.Message, unknown.Message, "attempt %d", i+1)
		assert.Equal(t, known.RetryAfter, unknown.RetryAfter, "attempt %d", i+1)
		if known.Code == users.CodeThrottled {
			h.clock.Advance(known.RetryAfter)
		}
	}
}

func TestThrottleBackoff(t *testing.T) {
	h := newHarness(t, func(c *users.Config) {
		c.Throttle = users.Throttle{MaxFailures: 3, BaseDelay: time.Second, MaxDelay: 5 * time.Second}
	})
	ctx := context.Background()
	h.create(t, alice, alicePassword)

	// Fail until throttled.
	var e *users.Error
	for i := 0; ; i++ {
		require.Less(t, i, 10, "never throttled")
		e = signInErr(t, h.svc, alice, wrongPassword)
		if e.Code == users.CodeThrottled {
			break
		}
	}
	// Each further failure doubles the delay, up to MaxDelay.
	var got []time.Duration
	for range 5 {
		e = signInErr(t, h.svc, alice, wrongPassword)
		require.Equal(t, users.CodeThrottled, e.Code)
		got = append(got, e.RetryAfter)
		h.clock.Advance(e.RetryAfter - time.Millisecond)
		e = signInErr(t, h.svc, alice, alicePassword)
		require.Equal(t, users.CodeThrottled, e.Code, "still locked just before RetryAfter")
		assert.Equal(t, time.Millisecond, e.RetryAfter)
		h.clock.Advance(time.Millisecond)
		e = signInErr(t, h.svc, alice, wrongPassword) // allowed, and fails
		require.Equal(t, users.CodeUnauthorized, e.Code)
	}
	assert.Equal(t, []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}, got)

	// After the delay a right password gets in, and clears the count.
	e = signInErr(t, h.svc, alice, alicePassword)
	require.Equal(t, users.CodeThrottled, e.Code)
	h.clock.Advance(e.RetryAfter)
	_, err := h.svc.SignIn(ctx, alice, alicePassword)
	require.NoError(t, err)
	for i := range 3 {
		e = signInErr(t, h.svc, alice, wrongPassword)
		assert.Equal(t, users.CodeUnauthorized, e.Code, "failure %d after a success", i+1)
	}
}

func TestThrottleResets(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		reset func(t *testing.T, h *harness, u *users.User) string // returns the password now
	}{
		{"successful sign-in", func(t *testing.T, h *harness, u *users.User) string {
			h.signIn(t, alice, alicePassword)
			return alicePassword
		}},
		{"SetPassword", func(t *testing.T, h *harness, u *users.User) string {
			require.NoError(t, h.svc.SetPassword(ctx, u.ID, otherPassword))
			return otherPassword
		}},
		{"SetPasswordByEmail", func(t *testing.T, h *harness, u *users.User) string {
			require.NoError(t, h.svc.SetPasswordByEmail(ctx, alice, otherPassword))
			return otherPassword
		}},
		{"ResetPassword", func(t *testing.T, h *harness, u *users.User) string {
			require.NoError(t, h.svc.ResetPassword(ctx, h.resetCode(t, alice), otherPassword))
			return otherPassword
		}},
		{"Update", func(t *testing.T, h *harness, u *users.User) string {
			p := otherPassword
			_, err := h.svc.Update(ctx, u.ID, users.Update{Password: &p})
			require.NoError(t, err)
			return otherPassword
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			u := h.create(t, alice, alicePassword)
			for range 9 {
				require.Equal(t, users.CodeUnauthorized, signInErr(t, h.svc, alice, wrongPassword).Code)
			}
			password := tt.reset(t, h, u)
			for i := range 9 {
				assert.Equal(t, users.CodeUnauthorized, signInErr(t, h.svc, "Alice@Example.com", wrongPassword).Code, "failure %d after the reset", i+1)
			}
			_, err := h.svc.SignIn(ctx, alice, password)
			assert.NoError(t, err, "the count started again from zero")
		})
	}
}

// TestThrottleManyUsernames: the throttle remembers at most MaxTracked usernames, forgetting
// the least recently failed first, and the Service keeps working under a flood of names.
func TestThrottleManyUsernames(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.Throttle.MaxTracked = 100 })
	ctx := context.Background()
	h.create(t, alice, alicePassword)
	h.create(t, bob, alicePassword)

	for i := 0; signInErr(t, h.svc, alice, wrongPassword).Code != users.CodeThrottled; i++ {
		require.Less(t, i, 20, "never throttled")
	}
	for i := range 10_000 {
		_, err := h.svc.SignIn(ctx, fmt.Sprintf("flood%05d@example.com", i), wrongPassword)
		require.ErrorIs(t, err, users.ErrUnauthorized)
	}
	_, err := h.svc.SignIn(ctx, alice, alicePassword)
	assert.NoError(t, err, "alice's failures were forgotten to make room")
	_, err = h.svc.SignIn(ctx, bob, alicePassword)
	assert.NoError(t, err)

	for i := 0; signInErr(t, h.svc, bob, wrongPassword).Code != users.CodeThrottled; i++ {
		require.Less(t, i, 20, "the throttle still works")
	}
}

// TestSignInConcurrent signs in from many goroutines at once.
func TestSignInConcurrent(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.MaxConcurrentHashes = 2 })
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	var wg sync.WaitGroup
	tokens := make(chan string, 20)
	for range 20 {
		wg.Go(func() {
			s, err := h.svc.SignIn(ctx, alice, alicePassword)
			if assert.NoError(t, err) {
				tokens <- s.Token
			}
		})
	}
	wg.Wait()
	close(tokens)
	seen := map[string]bool{}
	for tok := range tokens {
		assert.False(t, seen[tok], "tokens are unique")
		seen[tok] = true
		got, err := h.svc.Authenticate(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, u.ID, got.User.ID)
	}
	assert.Len(t, seen, 20)
}

// watchedContext closes waiting the first time someone asks for its Done channel: that is,
// starts waiting for it to end.
type watchedContext struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (c *watchedContext) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// TestOnEventMayCallService: events are emitted after the change they report, outside any
// store transaction, so a handler may look the user up through the Service.
func TestOnEventMayCallService(t *testing.T) {
	ctx := context.Background()
	var svc users.Service
	var looked atomic.Int64
	h := newHarness(t, func(c *users.Config) {
		c.NoWorker = true // nothing else holds the store when a handler gets stuck
		c.OnEvent = func(e users.Event) {
			if e.UserID != "" {
				_, _ = svc.Get(ctx, e.UserID) // an audit hook enriching its record
				looked.Add(1)
			}
		}
	})
	svc = h.svc
	var stage atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		stage.Store("Create")
		u, err := svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword})
		if !assert.NoError(t, err) {
			return
		}
		stage.Store("SignIn")
		s, err := svc.SignIn(ctx, alice, alicePassword)
		if !assert.NoError(t, err) {
			return
		}
		stage.Store("SignOut")
		assert.NoError(t, svc.SignOut(ctx, s.Token))
		stage.Store("RevokeSessions")
		assert.NoError(t, svc.RevokeSessions(ctx, u.ID))
		stage.Store("SetPassword")
		assert.NoError(t, svc.SetPassword(ctx, u.ID, otherPassword))
		stage.Store("Delete")
		_, err = svc.Delete(ctx, u.ID)
		assert.NoError(t, err)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second): // a deadlock; the flow takes milliseconds
		t.Fatalf("an OnEvent handler calling the Service deadlocked in %v", stage.Load())
	}
	assert.GreaterOrEqual(t, looked.Load(), int64(6))
}

func TestThrottleDisabled(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.Throttle.MaxFailures = -1 })
	h.create(t, alice, alicePassword)
	for i := range 30 {
		assert.Equal(t, users.CodeUnauthorized, signInErr(t, h.svc, alice, wrongPassword).Code, "failure %d", i+1)
	}
	h.signIn(t, alice, alicePassword)
}
