package httpadapter_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/gousers/users/httpadapter"
)

// trustedNetwork is a Limiter that lets the app's own network through and asks another
// Limiter about everyone else.
type trustedNetwork struct {
	prefix netip.Prefix
	next   httpadapter.Limiter
}

func (l trustedNetwork) Allow(ctx context.Context, kind string, addr netip.Addr, now time.Time) (bool, time.Duration) {
	if l.prefix.Contains(addr) {
		return true, 0
	}
	return l.next.Allow(ctx, kind, addr, now)
}

// Plug a Limiter of one's own in Options.Limiter: here one that exempts an internal network
// from the in-process limits. A Limiter shared by every instance (through Redis, say) plugs
// in the same way.
func ExampleNewLimiter() {
	limits := httpadapter.RateLimits{SignIn: httpadapter.RateLimit{Burst: 2, Every: time.Minute}}
	l := trustedNetwork{prefix: netip.MustParsePrefix("10.0.0.0/8"), next: httpadapter.NewLimiter(limits)}
	_ = httpadapter.Options{Limiter: l} // for httpadapter.New

	ctx, now := context.Background(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, addr := range []string{"10.1.2.3", "10.1.2.3", "10.1.2.3", "203.0.113.9", "203.0.113.9", "203.0.113.9"} {
		ok, retry := l.Allow(ctx, httpadapter.LimitSignIn, netip.MustParseAddr(addr), now)
		fmt.Println(addr, ok, retry)
	}
	// Output:
	// 10.1.2.3 true 0s
	// 10.1.2.3 true 0s
	// 10.1.2.3 true 0s
	// 203.0.113.9 true 0s
	// 203.0.113.9 true 0s
	// 203.0.113.9 false 1m0s
}
