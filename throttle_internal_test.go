package users

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noUsers is a Store in which no user exists. Only the methods sign-in calls are implemented:
// the internal tests cannot import the memory store (it imports this package).
type noUsers struct{ Store }

func (noUsers) GetUserByUsername(context.Context, string) (*User, error) {
	return nil, NotFoundError("user")
}

// plainHasher is a Hasher without cost, for tests about the throttle.
type plainHasher struct{}

func (plainHasher) Hash(password string) (string, error) { return "plain:" + password, nil }
func (plainHasher) Verify(password, encoded string) (bool, bool, error) {
	return encoded == "plain:"+password, false, nil
}

// TestThrottleBounded: however many usernames fail, the throttle tracks at most MaxTracked
// keys in memory.
func TestThrottleBounded(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	svc, err := New(noUsers{}, Config{
		NoWorker: true,
		Hasher:   plainHasher{},
		Now:      func() time.Time { return now },
		Throttle: Throttle{MaxTracked: 100},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	s := svc.(*service)
	require.NotNil(t, s.throttle.cache, "a store without ThrottleStore: counts in memory")
	ctx := context.Background()

	for i := range 10_000 {
		_, err := s.SignIn(ctx, fmt.Sprintf("flood%05d@example.com", i), "some password")
		require.ErrorIs(t, err, ErrUnauthorized)
		require.LessOrEqual(t, s.throttle.cache.len(), 100, "after %d usernames", i+1)
	}
	assert.Equal(t, 100, s.throttle.cache.len())

	// The most recent usernames are the ones remembered: failing one of them again keeps
	// the count, and a new name evicts the oldest.
	for range 20 {
		_, err := s.SignIn(ctx, "flood09999@example.com", "some password")
		require.Error(t, err)
	}
	_, err = s.SignIn(ctx, "flood09999@example.com", "some password")
	assert.ErrorIs(t, err, ErrThrottled, "a remembered name is throttled")
	assert.Equal(t, 100, s.throttle.cache.len())
}

// TestThrottleKeys: which checks share a count. Keys have a fixed size whatever a client
// sends.
func TestThrottleKeys(t *testing.T) {
	th := newThrottle(Throttle{}, noUsers{})
	alice, bob := accountKey("0190a5c0-0000-7000-8000-000000000001"), accountKey("0190a5c0-0000-7000-8000-000000000002")
	addr := netip.MustParseAddr
	long := fmt.Sprintf("%01000000d", 0) // a megabyte
	tests := []struct {
		name string
		a, b throttleKeys
		same bool
	}{
		{"one account, one address", th.keys(alice, addr("192.0.2.1")), th.keys(alice, addr("192.0.2.1")), true},
		{"two addresses", th.keys(alice, addr("192.0.2.1")), th.keys(alice, addr("192.0.2.2")), false},
		{"two accounts", th.keys(alice, addr("192.0.2.1")), th.keys(bob, addr("192.0.2.1")), false},
		{"one IPv6 /64", th.keys(alice, addr("2001:db8:1:2::1")), th.keys(alice, addr("2001:db8:1:2:ffff::9%eth0")), true},
		{"two IPv6 /64s", th.keys(alice, addr("2001:db8:1:2::1")), th.keys(alice, addr("2001:db8:1:3::1")), false},
		{"IPv4-mapped IPv6 is IPv4", th.keys(alice, addr("::ffff:192.0.2.1")), th.keys(alice, addr("192.0.2.1")), true},
		{"no address is one address", th.keys(alice, netip.Addr{}), th.keys(alice, netip.Addr{}), true},
		{"no address is not 0.0.0.0", th.keys(alice, netip.Addr{}), th.keys(alice, addr("0.0.0.0")), false},
		{"names are folded", th.keys(nameKey("Alice@Example.com"), netip.Addr{}), th.keys(nameKey("alice@example.com"), netip.Addr{}), true},
		{"names are trimmed", th.keys(nameKey(" "+long+" "), netip.Addr{}), th.keys(nameKey(long), netip.Addr{}), true},
		{"a name is not an account", th.keys(nameKey("0190a5c0-0000-7000-8000-000000000001"), netip.Addr{}), th.keys(alice, netip.Addr{}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.same {
				assert.Equal(t, tt.a, tt.b)
			} else {
				assert.NotEqual(t, tt.a.pair, tt.b.pair)
			}
			assert.NotEqual(t, tt.a.pair, tt.a.account, "the pair is not the account")
			assert.NotEqual(t, knownKey(tt.a.pair), tt.a.pair)
		})
	}
}

// TestThrottleLockedFor: the delay after n failures, from the limit-th on, doubles from
// BaseDelay up to MaxDelay, counted from the latest failure.
func TestThrottleLockedFor(t *testing.T) {
	th := newThrottle(Throttle{BaseDelay: time.Second, MaxDelay: time.Minute}, noUsers{})
	last := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		n     int
		since time.Duration // from the latest failure to now
		want  time.Duration
	}{
		{"no failure", 0, 0, 0},
		{"under the limit", 2, 0, 0},
		{"at the limit", 3, 0, time.Second},
		{"one over", 4, 0, 2 * time.Second},
		{"capped", 10, 0, time.Minute},
		{"far over, no overflow", 1_000, 0, time.Minute},
		{"part of the delay gone", 4, 500 * time.Millisecond, 1500 * time.Millisecond},
		{"the delay gone", 4, 2 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, th.lockedFor(tt.n, last, 3, last.Add(tt.since)))
		})
	}
}

func TestThrottleDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Throttle
		want Throttle
	}{
		{"zero", Throttle{}, Throttle{MaxFailures: 10, MaxAccountFailures: 100, BaseDelay: time.Second, MaxDelay: time.Hour,
			Forget: 24 * time.Hour, KnownFor: 30 * 24 * time.Hour, MaxTracked: 100_000}},
		{"the ceiling follows MaxFailures", Throttle{MaxFailures: 3}, Throttle{MaxFailures: 3, MaxAccountFailures: 30, BaseDelay: time.Second,
			MaxDelay: time.Hour, Forget: 24 * time.Hour, KnownFor: 30 * 24 * time.Hour, MaxTracked: 100_000}},
		{"Forget is never shorter than MaxDelay", Throttle{MaxDelay: 48 * time.Hour, Forget: time.Hour, KnownFor: -1},
			Throttle{MaxFailures: 10, MaxAccountFailures: 100, BaseDelay: time.Second, MaxDelay: 48 * time.Hour,
				Forget: 48 * time.Hour, KnownFor: -1, MaxTracked: 100_000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			got.setDefaults()
			assert.Equal(t, tt.want, got)
		})
	}
	d := Throttle{}
	d.setDefaults()
	assert.Equal(t, 30*24*time.Hour, d.retention(), "a sweeper keeps entries as long as an address stays known")
}

// failingCounts is a ThrottleStore over noUsers whose reads or writes fail.
type failingCounts struct {
	noUsers
	readErr, writeErr error
	adds              atomic.Int64
}

func (f *failingCounts) AddFailure(context.Context, Digest, time.Time) (int, error) {
	f.adds.Add(1)
	return 1, f.writeErr
}

func (f *failingCounts) Failures(context.Context, Digest) (int, time.Time, error) {
	return 0, time.Time{}, f.readErr
}

func (f *failingCounts) ResetFailures(context.Context, Digest) error { return f.writeErr }

func (f *failingCounts) DeleteFailures(context.Context, time.Time, int) (int, error) {
	return 0, f.writeErr
}

// countingVerifier is plainHasher counting its verifications.
type countingVerifier struct {
	plainHasher
	verified atomic.Int64
}

func (c *countingVerifier) Verify(password, encoded string) (bool, bool, error) {
	c.verified.Add(1)
	return c.plainHasher.Verify(password, encoded)
}

// TestThrottleFailsClosed: a store that cannot read or count failures fails the password check
// with ErrInternal, and never answers a guess it did not count.
func TestThrottleFailsClosed(t *testing.T) {
	broken := errors.New("the database is gone")
	tests := []struct {
		name         string
		store        *failingCounts
		wantVerified bool // a password was verified
	}{
		{"reads fail: nothing is verified", &failingCounts{readErr: broken}, false},
		{"counting fails: the answer is internal", &failingCounts{writeErr: broken}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &countingVerifier{}
			svc, err := New(tt.store, Config{NoWorker: true, Hasher: h})
			require.NoError(t, err)
			t.Cleanup(func() { _ = svc.Close() })
			require.Nil(t, svc.(*service).throttle.cache, "the store keeps the counts")
			h.verified.Store(0)

			_, err = svc.SignIn(context.Background(), "alice@example.com", "some password")
			assert.ErrorIs(t, err, ErrInternal)
			assert.NotErrorIs(t, err, ErrUnauthorized, "the guess gets no answer")
			assert.Equal(t, tt.wantVerified, h.verified.Load() > 0)
		})
	}
}

// countedCounts is a ThrottleStore in memory that counts its writes.
type countedCounts struct {
	noUsers
	cache  *failureCache
	writes int
}

func (c *countedCounts) AddFailure(ctx context.Context, key Digest, now time.Time) (int, error) {
	c.writes++
	return c.cache.AddFailure(ctx, key, now)
}

func (c *countedCounts) Failures(ctx context.Context, key Digest) (int, time.Time, error) {
	return c.cache.Failures(ctx, key)
}

func (c *countedCounts) ResetFailures(ctx context.Context, key Digest) error {
	c.writes++
	return c.cache.ResetFailures(ctx, key)
}

func (c *countedCounts) DeleteFailures(context.Context, time.Time, int) (int, error) { return 0, nil }

// TestThrottleSuccessWrites: a right password writes to the store only to clear a count the
// address has, and to renew the address's mark at most once a day (KnownFor/30).
func TestThrottleSuccessWrites(t *testing.T) {
	cfg := Throttle{}
	cfg.setDefaults()
	store := &countedCounts{cache: newFailureCache(100)}
	th := newThrottle(cfg, store)
	require.Nil(t, th.cache)
	ctx := context.Background()
	k := th.keys(accountKey("u1"), netip.MustParseAddr("192.0.2.1"))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	steps := []struct {
		name   string
		at     time.Duration
		failed bool // a failure before the success
		writes int  // the success's writes
	}{
		{"the first: the mark", 0, false, 1},
		{"an hour later: nothing", time.Hour, false, 0},
		{"after a failure: the count cleared", 2 * time.Hour, true, 1},
		{"a day later: the mark renewed", 25 * time.Hour, false, 1},
		{"right after: nothing", 25*time.Hour + time.Minute, false, 0},
	}
	for _, st := range steps {
		now := start.Add(st.at)
		if st.failed {
			c, err := th.check(ctx, k, now)
			require.NoError(t, err)
			require.NoError(t, th.fail(ctx, k, c, now))
		}
		c, err := th.check(ctx, k, now)
		require.NoError(t, err)
		before := store.writes
		require.NoError(t, th.succeed(ctx, k, c, now))
		assert.Equal(t, st.writes, store.writes-before, st.name)
	}
	n, _, err := store.Failures(ctx, k.account)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "a success leaves the account's count")
}
