package httpadapter

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A limiter remembers at most its maximum of addresses, forgetting the least recently seen,
// however many clients come, also at once.
func TestLimiterIsBounded(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(RateLimit{Burst: 1, Every: time.Hour}, defaultSignInLimit, 3)
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() { l.wait(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now) })
	}
	wg.Wait()
	assert.Equal(t, 3, l.len())

	a, b, c, d := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.4")
	for _, addr := range []netip.Addr{a, b, c} {
		assert.Zero(t, l.wait(addr, now))
	}
	assert.Equal(t, time.Hour, l.wait(a, now), "a is limited, and now the most recently seen")
	assert.Zero(t, l.wait(d, now)) // forgets b, the least recently seen
	assert.Equal(t, 3, l.len())
	assert.Zero(t, l.wait(b, now), "b was forgotten: a fresh bucket")
	assert.Equal(t, time.Hour, l.wait(a, now), "a was kept")
}

func TestNewLimiter(t *testing.T) {
	assert.Nil(t, newLimiter(RateLimit{Burst: -1}, defaultSignInLimit, 1), "a negative burst turns the limit off")
	l := newLimiter(RateLimit{}, defaultCreateLimit, 1)
	assert.Equal(t, defaultCreateLimit.Burst, l.burst, "zero means the default")
	assert.Equal(t, defaultCreateLimit.Every, l.every)
	l = newLimiter(RateLimit{Burst: 3}, defaultCreateLimit, 1)
	assert.Equal(t, 3, l.burst)
	assert.Equal(t, defaultCreateLimit.Every, l.every, "a zero field takes the default")
}
