package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var contextChecks = []check{
	{"DoneBeforeCall", testContextDone},
}

// testContextDone calls every method with a context already cancelled: each returns an error
// that is context.Canceled, and changes nothing.
func testContextDone(t *testing.T, s users.Store) {
	withUsers(t, s, "u1", "u2")
	key := newAPIKey("key", "u1", "k1", "laptop", epoch)
	require.NoError(t, s.PutToken(t.Context(), key))
	require.NoError(t, s.PutToken(t.Context(), newToken("reset", users.TokenReset, "u1", day(1))))
	require.NoError(t, s.PutImage(t.Context(), pngImage("u1")))
	createTicket(t, s, newTicket("k1", "u1", epoch))
	done := finishedTicket("k3", users.TicketCompleted, epoch)
	createTicket(t, s, done)
	throttle, isThrottle := s.(users.ThrottleStore)
	if isThrottle {
		_, err := throttle.AddFailure(t.Context(), digest("throttled"), epoch)
		require.NoError(t, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := []struct {
		method string
		call   func() error
	}{
		{"CreateUser", func() error { return s.CreateUser(ctx, newUser("u9", "u9@example.com")) }},
		{"GetUser", func() error { _, err := s.GetUser(ctx, "u1"); return err }},
		{"GetUserByUsername", func() error { _, err := s.GetUserByUsername(ctx, "u1@example.com"); return err }},
		{"GetUserByEmail", func() error { _, err := s.GetUserByEmail(ctx, "u1@example.com"); return err }},
		{"UpdateUser", func() error { return s.UpdateUser(ctx, stored(newUser("u1", "renamed@example.com"), 1)) }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, "u2") }},
		{"ListUsers", func() error { _, err := s.ListUsers(ctx, users.Query{}); return err }},
		{"CountUsers", func() error { _, err := s.CountUsers(ctx, users.Query{}); return err }},
		{"PutToken", func() error { return s.PutToken(ctx, newToken("new", users.TokenSession, "u1", day(1))) }},
		{"GetToken", func() error { _, err := s.GetToken(ctx, key.Digest, epoch); return err }},
		{"ConsumeToken", func() error {
			_, err := s.ConsumeToken(ctx, digest("reset"), users.TokenReset, epoch)
			return err
		}},
		{"DeleteToken", func() error { return s.DeleteToken(ctx, key.Digest) }},
		{"DeleteUserTokens", func() error { _, err := s.DeleteUserTokens(ctx, "u1"); return err }},
		{"DeleteExpiredTokens", func() error { _, err := s.DeleteExpiredTokens(ctx, day(9), 0); return err }},
		{"ListTokens", func() error { _, err := s.ListTokens(ctx, "u1", users.TokenAPIKey); return err }},
		{"TouchToken", func() error { return s.TouchToken(ctx, key.Digest, day(1)) }},
		{"PutImage", func() error { return s.PutImage(ctx, jpegImage("u2")) }},
		{"GetImage", func() error { _, err := s.GetImage(ctx, "u1"); return err }},
		{"DeleteImage", func() error { return s.DeleteImage(ctx, "u1") }},
		{"CreateTicket", func() error { return s.CreateTicket(ctx, newTicket("k2", "u1", epoch)) }},
		{"GetTicket", func() error { _, err := s.GetTicket(ctx, "k1"); return err }},
		{"ListTickets", func() error { _, err := s.ListTickets(ctx, "u1"); return err }},
		{"UpdateTicket", func() error { return s.UpdateTicket(ctx, storedTicket(newTicket("k1", "u1", epoch), 1)) }},
		{"ClaimTicket", func() error { _, err := s.ClaimTicket(ctx, "worker", epoch, day(1)); return err }},
		{"DeleteTickets", func() error { _, err := s.DeleteTickets(ctx, day(9), 0); return err }},
		{"Atomic", func() error {
			return s.Atomic(ctx, func(ctx context.Context, tx users.Store) error { return tx.DeleteUser(ctx, "u2") })
		}},
	}
	if isThrottle {
		calls = append(calls, []struct {
			method string
			call   func() error
		}{
			{"AddFailure", func() error { _, err := throttle.AddFailure(ctx, digest("throttled"), day(1)); return err }},
			{"Failures", func() error { _, _, err := throttle.Failures(ctx, digest("throttled")); return err }},
			{"ResetFailures", func() error { return throttle.ResetFailures(ctx, digest("throttled")) }},
			{"DeleteFailures", func() error { _, err := throttle.DeleteFailures(ctx, day(9), 0); return err }},
		}...)
	}
	for _, c := range calls {
		t.Run(c.method, func(t *testing.T) {
			var err error
			within(t, 5*time.Second, func() { err = c.call() })
			assert.ErrorIs(t, err, context.Canceled, "a call with a done context returns ctx.Err()")
		})
	}

	// Nothing changed.
	assertUser(t, s, stored(newUser("u1", "u1@example.com"), 1))
	assertUser(t, s, stored(newUser("u2", "u2@example.com"), 1))
	assertNoUser(t, s, newUser("u9", "u9@example.com"))
	assert.Equal(t, []*users.Token{key}, listTokens(t, s, "u1", users.TokenAPIKey), "the key, never used")
	_, err := s.GetToken(t.Context(), digest("reset"), epoch)
	assert.NoError(t, err, "the reset code is not consumed")
	assert.Empty(t, listTokens(t, s, "u1", users.TokenSession), "no session is stored")
	assertImage(t, s, pngImage("u1"))
	assertNoImage(t, s, "u2")
	assertTicket(t, s, storedTicket(newTicket("k1", "u1", epoch), 1))
	assertTicket(t, s, storedTicket(done, 1))
	_, err = s.GetTicket(t.Context(), "k2")
	assert.ErrorIs(t, err, users.ErrNotFound)
	if isThrottle {
		n, last, err := throttle.Failures(t.Context(), digest("throttled"))
		require.NoError(t, err)
		assert.Equal(t, 1, n, "the failure count is unchanged")
		assert.Equal(t, epoch, last, "the latest failure is unchanged")
	}
}
