package users_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heldHasher is the cheap argon2id hasher whose verifications, once held, wait until let go:
// a Service busy checking passwords.
type heldHasher struct {
	users.Hasher
	held    atomic.Bool
	entered chan struct{} // receives once per held Verify, on entry
	letGo   chan struct{} // closed to let held verifications finish
}

func newHeldHasher(t testing.TB) *heldHasher {
	t.Helper()
	inner, err := users.NewArgon2idHasher(users.TestArgon2())
	require.NoError(t, err)
	return &heldHasher{Hasher: inner, entered: make(chan struct{}, 16), letGo: make(chan struct{})}
}

func (h *heldHasher) Verify(password, encoded string) (bool, bool, error) {
	if h.held.Load() {
		h.entered <- struct{}{}
		<-h.letGo
	}
	return h.Hasher.Verify(password, encoded)
}

// TestOverloaded: while every hashing slot is taken for longer than MaxHashWait, each call that
// hashes fails with ErrOverloaded and a RetryAfter instead of queueing; a refused sign-in does
// not count as a failure for the throttle; once the slot is free, calls go ahead.
func TestOverloaded(t *testing.T) {
	ctx := context.Background()
	hasher := newHeldHasher(t)
	h := newHarness(t, func(c *users.Config) {
		c.Hasher = hasher
		c.MaxConcurrentHashes = 1
		c.MaxHashWait = 20 * time.Millisecond
	})
	u := h.create(t, alice, alicePassword)

	hasher.held.Store(true)
	busy := make(chan error, 1)
	go func() {
		_, err := h.svc.SignIn(ctx, bob, alicePassword)
		busy <- err
	}()
	<-hasher.entered // the only slot is taken

	tests := []struct {
		name string
		call func() error
	}{
		{"sign-in", func() error { _, err := h.svc.SignIn(ctx, u.Username, alicePassword); return err }},
		{"sign-in of an unknown user", func() error { _, err := h.svc.SignIn(ctx, "nobody@example.com", alicePassword); return err }},
		{"create", func() error {
			_, err := h.svc.Create(ctx, users.NewUser{Username: "carol@example.com", Password: otherPassword})
			return err
		}},
		{"register", func() error {
			return h.svc.Register(ctx, users.Registration{Username: "dave@example.com", Password: otherPassword})
		}},
		{"change password", func() error {
			return h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: alicePassword, NewPassword: otherPassword})
		}},
		{"set password", func() error { return h.svc.SetPassword(ctx, u.ID, otherPassword) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, users.ErrOverloaded)
			var e *users.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, users.CodeOverloaded, e.Code)
			assert.Equal(t, time.Second, e.RetryAfter)
		})
	}
	for range 15 { // more than the throttle's MaxFailures
		_, err := h.svc.SignIn(ctx, u.Username, wrongPassword)
		require.ErrorIs(t, err, users.ErrOverloaded)
	}
	_, err := h.svc.GetByUsername(ctx, "carol@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound, "a refused create creates nothing")

	hasher.held.Store(false)
	close(hasher.letGo)
	assert.ErrorIs(t, <-busy, users.ErrUnauthorized)
	_, err = h.svc.SignIn(ctx, u.Username, alicePassword)
	assert.NoError(t, err, "refused attempts did not throttle the account")
}

// panickyHasher panics verifying one password: a hasher with a bug.
type panickyHasher struct{ users.Hasher }

func (h panickyHasher) Verify(password, encoded string) (bool, bool, error) {
	if password == "panic" {
		panic("hasher bug")
	}
	return h.Hasher.Verify(password, encoded)
}

// TestHasherPanicFreesItsPlace: a hasher that panics (and a server that recovers, as net/http
// does) does not keep its place in the admission, which would refuse every hash after it.
func TestHasherPanicFreesItsPlace(t *testing.T) {
	inner, err := users.NewArgon2idHasher(users.TestArgon2())
	require.NoError(t, err)
	h := newHarness(t, func(c *users.Config) {
		c.Hasher = panickyHasher{inner}
		c.MaxConcurrentHashes = 1
		c.MaxHashWait = -1 // refuse at once what cannot be admitted
	})
	h.create(t, alice, alicePassword)
	for range 3 {
		assert.Panics(t, func() { _, _ = h.svc.SignIn(context.Background(), alice, "panic") })
	}
	_, err = h.svc.SignIn(context.Background(), alice, alicePassword)
	assert.NoError(t, err)
}
