package users_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// from returns a context of a request from the address, with a browser's User-Agent.
func from(addr string) context.Context {
	ctx := context.Background()
	if addr == "" {
		return ctx
	}
	return users.WithClient(ctx, users.Client{Addr: netip.MustParseAddr(addr), UserAgent: "Mozilla/5.0"})
}

// Addresses of the throttle's tests.
const (
	ownerAddr    = "198.51.100.7"
	attackerAddr = "203.0.113.9"
)

// failUntilThrottled signs in with a wrong password from ctx until the throttle refuses, and
// returns how many failures it took; it fails the test past limit.
func failUntilThrottled(t *testing.T, svc users.Service, ctx context.Context, username string, limit int) int {
	t.Helper()
	for i := 0; ; i++ {
		require.LessOrEqual(t, i, limit, "never throttled")
		_, err := svc.SignIn(ctx, username, wrongPassword)
		if users.ErrorCode(err) == users.CodeThrottled {
			return i
		}
		require.ErrorIs(t, err, users.ErrUnauthorized)
	}
}

// An attacker who knows a username and guesses from their own address locks out that address
// only: the owner signs in from theirs. A context without a client is one address.
func TestThrottleNoLockOut(t *testing.T) {
	tests := []struct {
		name           string
		attacker, user string // addresses; "" for a context without a client
		ownerThrottled bool
	}{
		{"from another address", attackerAddr, ownerAddr, false},
		{"from another IPv6 /64", "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"without an address, from an address", "", ownerAddr, false},
		{"from one IPv6 /64", "2001:db8:1:2::1", "2001:db8:1:2::2", true},
		{"from the same address", attackerAddr, attackerAddr, true},
		{"both without an address", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.create(t, alice, alicePassword)
			assert.Equal(t, 10, failUntilThrottled(t, h.svc, from(tt.attacker), alice, 10))

			_, err := h.svc.SignIn(from(tt.user), alice, alicePassword)
			if tt.ownerThrottled {
				assert.ErrorIs(t, err, users.ErrThrottled)
				return
			}
			require.NoError(t, err, "the owner signs in")
			_, err = h.svc.SignIn(from(tt.attacker), alice, alicePassword)
			assert.ErrorIs(t, err, users.ErrThrottled, "the owner's success does not free the attacker's address")
		})
	}
}

// Failures spread over many addresses reach the account's ceiling: then every address is
// throttled but the ones the owner signed in from before, and the owner's successes do not
// reset the ceiling.
func TestThrottleAccountCeiling(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.Throttle.MaxFailures, c.Throttle.MaxAccountFailures = 3, 6 })
	ctx := context.Background()
	h.create(t, alice, alicePassword)
	_, err := h.svc.SignIn(from(ownerAddr), alice, alicePassword)
	require.NoError(t, err, "the owner's address is known from now on")

	attackers := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}
	for _, a := range attackers[:2] {
		for range 3 {
			_, err := h.svc.SignIn(from(a), alice, wrongPassword)
			require.ErrorIs(t, err, users.ErrUnauthorized)
		}
	}
	tests := []struct {
		name string
		ctx  context.Context
		want error // of a right password
	}{
		{"a new address", from(attackers[2]), users.ErrThrottled},
		{"no address", ctx, users.ErrThrottled},
		{"the owner's known address", from(ownerAddr), nil},
		{"a new address after the owner's success", from("192.0.2.99"), users.ErrThrottled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.svc.SignIn(tt.ctx, alice, alicePassword)
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}

	t.Run("a known address keeps its own count", func(t *testing.T) {
		assert.Equal(t, 3, failUntilThrottled(t, h.svc, from(ownerAddr), alice, 3))
	})
	t.Run("forgotten a day after the latest failure", func(t *testing.T) {
		h.clock.Advance(users.DefaultThrottleForget)
		_, err := h.svc.SignIn(from(attackers[2]), alice, alicePassword)
		assert.NoError(t, err)
		assert.Equal(t, 3, failUntilThrottled(t, h.svc, from(attackers[0]), alice, 3), "counts start again")
	})
}

// Every password check of an account counts against one budget, whichever identifier was
// typed and whichever operation asked: sign-in by username, change of password by e-mail
// address or by user ID, and the re-authentication of a change of e-mail address.
func TestThrottleOneBudgetPerAccount(t *testing.T) {
	const home = "alice@home.example"
	type fail func(t *testing.T, h *harness, u *users.User) error
	signIn := func(t *testing.T, h *harness, u *users.User) error {
		_, err := h.svc.SignIn(context.Background(), alice, wrongPassword)
		return err
	}
	byEmail := func(t *testing.T, h *harness, u *users.User) error {
		return h.svc.ChangePassword(context.Background(), users.PasswordChange{Email: home, OldPassword: wrongPassword, NewPassword: otherPassword})
	}
	byID := func(t *testing.T, h *harness, u *users.User) error {
		return h.svc.ChangePassword(context.Background(), users.PasswordChange{UserID: u.ID, OldPassword: wrongPassword, NewPassword: otherPassword})
	}
	reauth := func(t *testing.T, h *harness, u *users.User) error {
		s, err := h.svc.NewSession(context.Background(), u.ID)
		require.NoError(t, err)
		p, err := h.svc.Authenticate(context.Background(), s.Token)
		require.NoError(t, err)
		email := "alice@new.example"
		_, err = h.svc.Update(users.WithActor(context.Background(), p), u.ID, users.Update{Email: &email, CurrentPassword: wrongPassword})
		return err
	}
	tests := []struct {
		name          string
		first, second fail
	}{
		{"sign-in by username, then change-password by e-mail", signIn, byEmail},
		{"change-password by e-mail, then sign-in by username", byEmail, signIn},
		{"change-password by ID, then by e-mail", byID, byEmail},
		{"re-authentication, then sign-in", reauth, signIn},
		{"sign-in, then re-authentication", signIn, reauth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			u, err := h.svc.Create(context.Background(), users.NewUser{Username: alice, Email: home, Password: alicePassword})
			require.NoError(t, err)
			for i := range 5 {
				require.NotErrorIs(t, tt.first(t, h, u), users.ErrThrottled, "failure %d", i+1)
				require.NotErrorIs(t, tt.second(t, h, u), users.ErrThrottled, "failure %d", i+1)
			}
			assert.ErrorIs(t, tt.first(t, h, u), users.ErrThrottled)
			assert.ErrorIs(t, tt.second(t, h, u), users.ErrThrottled)
			_, err = h.svc.SignIn(context.Background(), home, alicePassword)
			assert.ErrorIs(t, err, users.ErrUnauthorized, "an unknown username is not the account")
			_, err = h.svc.SignIn(context.Background(), "ALICE@example.com", alicePassword)
			assert.ErrorIs(t, err, users.ErrThrottled)
		})
	}
}

// Two Services on one SQLite database count the same failures: guesses spread over both get
// no more than one allows.
func TestThrottleSharedThroughTheStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "users.db")
	clock := newClock()
	var svcs []users.Service
	for range 2 {
		st, err := sqlite.Open(ctx, path, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		svc, err := users.New(st, users.Config{Now: clock.Now, Argon2: users.TestArgon2(), NoWorker: true})
		require.NoError(t, err)
		t.Cleanup(func() { _ = svc.Close() })
		svcs = append(svcs, svc)
	}
	_, err := svcs[0].Create(ctx, users.NewUser{Username: alice, Password: alicePassword})
	require.NoError(t, err)

	for i := range 10 {
		_, err := svcs[i%2].SignIn(from(attackerAddr), alice, wrongPassword)
		require.ErrorIs(t, err, users.ErrUnauthorized, "failure %d", i+1)
	}
	for i, svc := range svcs {
		_, err := svc.SignIn(from(attackerAddr), alice, alicePassword)
		assert.ErrorIs(t, err, users.ErrThrottled, "service %d", i)
		_, err = svc.SignIn(from(ownerAddr), alice, alicePassword)
		assert.NoError(t, err, "service %d: the owner's address is not throttled", i)
	}

	t.Run("unknown names too", func(t *testing.T) {
		for i := range 10 {
			_, err := svcs[i%2].SignIn(from(attackerAddr), "nobody@example.com", wrongPassword)
			require.ErrorIs(t, err, users.ErrUnauthorized, "failure %d", i+1)
		}
		for i, svc := range svcs {
			_, err := svc.SignIn(from(attackerAddr), "Nobody@Example.com", wrongPassword)
			assert.ErrorIs(t, err, users.ErrThrottled, "service %d", i)
		}
	})
}

// Every event of a request records its client; a throttled sign-in is its own event.
func TestEventsRecordTheClient(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.Throttle.MaxFailures = 1 })
	u := h.create(t, alice, alicePassword)
	ctx := users.WithClient(context.Background(), users.Client{Addr: netip.MustParseAddr("::ffff:192.0.2.1"), UserAgent: "curl/8.0"})
	want := users.Client{Addr: netip.MustParseAddr("192.0.2.1"), UserAgent: "curl/8.0"}

	_, err := h.svc.SignIn(ctx, alice, wrongPassword)
	require.ErrorIs(t, err, users.ErrUnauthorized)
	_, err = h.svc.SignIn(ctx, alice, alicePassword)
	require.ErrorIs(t, err, users.ErrThrottled)
	h.clock.Advance(time.Hour)
	_, err = h.svc.SignIn(ctx, alice, alicePassword)
	require.NoError(t, err)
	_, err = h.svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "ci"})
	require.NoError(t, err)
	require.NoError(t, h.svc.ForgotPassword(ctx, alice))
	testutil.Eventually(t, func() bool { return h.events.count(users.EventPasswordForgot) == 1 }, "the forgot-password event")

	var got []users.EventType
	for _, e := range h.events.all() {
		if e.Type == users.EventUserCreated {
			assert.Equal(t, users.Client{}, e.Client, "a call without a client")
			continue
		}
		got = append(got, e.Type)
		assert.Equal(t, want, e.Client, "%s", e.Type)
		assert.Equal(t, u.ID, e.UserID, "%s", e.Type)
	}
	assert.Equal(t, []users.EventType{users.EventSignInFailed, users.EventSignInThrottled, users.EventSignedIn,
		users.EventAPIKeyCreated, users.EventPasswordForgot}, got)
}

func TestClientFrom(t *testing.T) {
	_, ok := users.ClientFrom(context.Background())
	assert.False(t, ok)

	long := "Mozilla/5.0 " + strings.Repeat("é", 500)
	tests := []struct {
		name string
		in   users.Client
		want users.Client
	}{
		{"kept", users.Client{Addr: netip.MustParseAddr("192.0.2.1"), UserAgent: "curl/8.0"}, users.Client{Addr: netip.MustParseAddr("192.0.2.1"), UserAgent: "curl/8.0"}},
		{"unmapped, without a zone", users.Client{Addr: netip.MustParseAddr("::ffff:192.0.2.1")}, users.Client{Addr: netip.MustParseAddr("192.0.2.1")}},
		{"without a zone", users.Client{Addr: netip.MustParseAddr("fe80::1%eth0")}, users.Client{Addr: netip.MustParseAddr("fe80::1")}},
		{"invalid UTF-8 replaced", users.Client{UserAgent: "a\xffb"}, users.Client{UserAgent: "a\uFFFDb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := users.ClientFrom(users.WithClient(context.Background(), tt.in))
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("a long User-Agent is cut on a rune boundary", func(t *testing.T) {
		got, _ := users.ClientFrom(users.WithClient(context.Background(), users.Client{UserAgent: long}))
		assert.LessOrEqual(t, len(got.UserAgent), users.MaxUserAgent)
		assert.Greater(t, len(got.UserAgent), users.MaxUserAgent-2)
		assert.True(t, len(got.UserAgent) > 0 && got.UserAgent == long[:len(got.UserAgent)])
		assert.Equal(t, "é", got.UserAgent[len(got.UserAgent)-2:])
	})
}

// An address stays known for KnownFor after the latest right password from it.
func TestThrottleKnownFor(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name    string
		signIns []time.Duration // when the owner signs in, from the start
		attack  time.Duration   // when the attack reaches the ceiling
		known   bool
	}{
		{"within KnownFor", []time.Duration{0}, 9 * day, true},
		{"past KnownFor", []time.Duration{0}, 11 * day, false},
		{"renewed by a later sign-in", []time.Duration{0, 5 * day}, 12 * day, true},
		{"renewed, then past", []time.Duration{0, 5 * day}, 16 * day, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *users.Config) {
				c.Throttle = users.Throttle{MaxFailures: 3, MaxAccountFailures: 6, KnownFor: 10 * day}
			})
			h.create(t, alice, alicePassword)
			var elapsed time.Duration
			for _, at := range tt.signIns {
				h.clock.Advance(at - elapsed)
				elapsed = at
				_, err := h.svc.SignIn(from(ownerAddr), alice, alicePassword)
				require.NoError(t, err)
			}
			h.clock.Advance(tt.attack - elapsed)
			for _, a := range []string{"203.0.113.1", "203.0.113.2"} {
				for range 3 {
					_, err := h.svc.SignIn(from(a), alice, wrongPassword)
					require.ErrorIs(t, err, users.ErrUnauthorized)
				}
			}
			_, err := h.svc.SignIn(from(ownerAddr), alice, alicePassword)
			if tt.known {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, users.ErrThrottled)
			}
		})
	}
}
