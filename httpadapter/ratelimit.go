package httpadapter

import (
	"container/list"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gousers/users"
	"golang.org/x/time/rate"
)

// RateLimit is a token bucket per client address: a client may make Burst requests at once,
// and earns one more every Every, up to Burst. A zero field takes the default of the route
// the limit applies to; a negative Burst turns the limit off.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// RateLimits are the per-client-address rate limits of the routes that cost the server a
// password hash or a mail, or create accounts. A request over its limit gets 429 Too Many
// Requests with Retry-After. The zero value means the defaults.
type RateLimits struct {
	SignIn         RateLimit // POST /user/auth and /user/change-password; default 10 at once, then one every 6 seconds
	Create         RateLimit // POST /user and /user/register; default 5 at once, then one a minute
	ForgotPassword RateLimit // POST /user/forgot-password and /user/register/resend; default 5 at once, then one a minute
	// MaxClients bounds the addresses each limit remembers; the least recently seen are
	// forgotten first. Default 10,000.
	MaxClients int
}

// The defaults of RateLimits, as its doc comment gives them.
var (
	defaultSignInLimit         = RateLimit{Burst: 10, Every: 6 * time.Second}
	defaultCreateLimit         = RateLimit{Burst: 5, Every: time.Minute}
	defaultForgotPasswordLimit = RateLimit{Burst: 5, Every: time.Minute}
)

// DefaultMaxClients is the default of RateLimits.MaxClients.
const DefaultMaxClients = 10_000

// limiter applies one RateLimit per client address. It keeps at most max addresses, in a map
// with least-recently-seen eviction, so memory stays bounded whatever the clients do. It is
// safe for concurrent use.
type limiter struct {
	every time.Duration
	burst int
	max   int
	now   func() time.Time

	mu      sync.Mutex
	clients map[netip.Addr]*list.Element
	order   *list.List // of *client, most recently seen at the front
}

type client struct {
	addr netip.Addr
	lim  *rate.Limiter
}

// newLimiter returns the limiter of l, whose zero fields take def's values, or nil when l is
// off.
func newLimiter(l, def RateLimit, maxClients int, now func() time.Time) *limiter {
	if l.Burst < 0 {
		return nil
	}
	if l.Burst == 0 {
		l.Burst = def.Burst
	}
	if l.Every <= 0 {
		l.Every = def.Every
	}
	return &limiter{
		every:   l.Every,
		burst:   l.Burst,
		max:     maxClients,
		now:     now,
		clients: make(map[netip.Addr]*list.Element),
		order:   list.New(),
	}
}

// wait takes a request from addr's bucket and returns 0, or returns how long addr must wait
// before its next request is allowed, taking nothing.
func (l *limiter) wait(addr netip.Addr) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.bucket(addr).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// bucket returns addr's limiter, creating it and evicting the least recently seen address
// when full. l.mu must be held.
func (l *limiter) bucket(addr netip.Addr) *rate.Limiter {
	if el, ok := l.clients[addr]; ok {
		l.order.MoveToFront(el)
		return el.Value.(*client).lim
	}
	if l.order.Len() >= l.max {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.clients, oldest.Value.(*client).addr)
	}
	c := &client{addr: addr, lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
	l.clients[addr] = l.order.PushFront(c)
	return c.lim
}

// len returns how many addresses are remembered.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}

// limit wraps next so that requests over the limit get 429; a nil limiter lets everything
// through.
func (l *limiter) limit(next http.Handler, addrOf func(*http.Request) netip.Addr, fail errorWriter) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := l.wait(addrOf(r)); d > 0 {
			fail(w, r, &users.Error{Code: users.CodeThrottled, Message: "too many requests; try again later", RetryAfter: d})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientAddr returns the function that finds the address a request's rate limits are kept
// under. Without a header it is the connection's peer (RemoteAddr); with one, set by a
// trusted proxy, it is the last address the header lists (for X-Forwarded-For, the one the
// proxy added), or the peer when the header holds none. An IPv6 address is taken as its /64
// network, which one client usually holds whole; an unreadable one as the zero Addr.
func clientAddr(header string) func(*http.Request) netip.Addr {
	header = http.CanonicalHeaderKey(header)
	return func(r *http.Request) netip.Addr {
		if header != "" {
			if a, ok := lastListed(r.Header[header]); ok {
				return network(a)
			}
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		a, _ := netip.ParseAddr(host)
		return network(a)
	}
}

// lastListed returns the last address of a comma-separated header, over all its lines.
func lastListed(lines []string) (netip.Addr, bool) {
	if len(lines) == 0 {
		return netip.Addr{}, false
	}
	last := lines[len(lines)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	a, err := netip.ParseAddr(strings.TrimSpace(last))
	return a, err == nil
}

// network returns the key of an address: itself for IPv4, its /64 network for IPv6.
func network(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if !a.Is6() {
		return a
	}
	p, _ := a.Prefix(64) // cannot fail for an IPv6 address and 64
	return p.Addr()
}
