package users

import (
	"context"
	"fmt"
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

// TestThrottleBounded: however many usernames fail, the throttle tracks at most MaxTracked.
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
	ctx := context.Background()

	for i := range 10_000 {
		_, err := s.SignIn(ctx, fmt.Sprintf("flood%05d@example.com", i), "some password")
		require.ErrorIs(t, err, ErrUnauthorized)
		require.LessOrEqual(t, s.throttle.len(), 100, "after %d usernames", i+1)
	}
	assert.Equal(t, 100, s.throttle.len())

	// The most recent usernames are the ones remembered: failing one of them again keeps
	// the count, and a new name evicts the oldest.
	for range 20 {
		_, err := s.SignIn(ctx, "flood09999@example.com", "some password")
		require.Error(t, err)
	}
	_, err = s.SignIn(ctx, "flood09999@example.com", "some password")
	assert.ErrorIs(t, err, ErrThrottled, "a remembered name is throttled")
	assert.Equal(t, 100, s.throttle.len())
}

// TestThrottleKeySize: the throttle keeps a fixed-size key whatever the length of the username
// a client sends.
func TestThrottleKeySize(t *testing.T) {
	th := newThrottle(Throttle{MaxFailures: 1, BaseDelay: time.Second, MaxDelay: time.Minute, MaxTracked: 10})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	long := fmt.Sprintf("%01000000d", 0) // a megabyte
	key := throttleKey(long)
	th.fail(key, now)
	th.fail(key, now)
	assert.Positive(t, th.wait(throttleKey(" "+long+" "), now), "keys are trimmed")
	assert.Equal(t, throttleKey("Alice@Example.com"), throttleKey("alice@example.com"), "keys are folded")
	th.reset(key)
	assert.Zero(t, th.wait(key, now))
	assert.Zero(t, th.len())
}
