package httpadapter

import (
	"container/list"
	"context"
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
// Requests with Retry-After. The zero value means the defaults. They are kept in the process
// (see NewLimiter): N instances of the handler allow a client N times as much; plug a shared
// Limiter in Options.Limiter, or limit at the edge proxy, for a limit across instances.
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

// The kinds of request a Limiter is asked about.
const (
	LimitSignIn         = "sign-in"         // POST /user/auth and /user/change-password, and the sign-in page of Pages
	LimitCreate         = "create"          // POST /user and /user/register
	LimitForgotPassword = "forgot-password" // POST /user/forgot-password and /user/register/resend
)

// Limiter decides whether a client address may make one more request of a kind (LimitSignIn,
// LimitCreate or LimitForgotPassword). The handler asks it before it serves a limited route,
// and answers 429 Too Many Requests, with Retry-After, when it refuses.
//
// The default, NewLimiter, keeps its buckets in the process: behind a load balancer, each
// instance allows a client the whole limit, so N instances allow N times as much. An app may
// plug its own (one shared through Redis, say) in Options.Limiter. A limit that must hold
// per address across the whole deployment belongs at the edge proxy; the Service's sign-in
// throttle, which counts per account and client address in the Store, holds across
// instances whatever the Limiter.
//
// A Limiter must be safe for concurrent use.
type Limiter interface {
	// Allow takes one request of kind from addr at now and reports whether it may be served;
	// when it may not, retryAfter says how long until it may, and nothing is taken. addr is
	// the client's address (see Options.ClientIPHeader), an IPv6 one as its /64 network,
	// which one client usually holds whole; the zero Addr when it cannot be read. ctx is the
	// request's. A Limiter that cannot decide (its store is down) chooses its own answer: the
	// Service's throttle still guards the passwords.
	Allow(ctx context.Context, kind string, addr netip.Addr, now time.Time) (ok bool, retryAfter time.Duration)
}

// NewLimiter returns the in-process Limiter of limits, whose zero fields mean the defaults
// (see RateLimits): a token bucket per kind and client address, at most limits.MaxClients
// addresses per kind, the least recently seen forgotten first. A kind whose limit is off,
// and a kind it does not know, are always allowed. It is what the handler uses when
// Options.Limiter is nil, and is safe for concurrent use.
func NewLimiter(limits RateLimits) Limiter {
	n := limits.MaxClients
	if n <= 0 {
		n = DefaultMaxClients
	}
	return localLimiter{
		LimitSignIn:         newLimiter(limits.SignIn, defaultSignInLimit, n),
		LimitCreate:         newLimiter(limits.Create, defaultCreateLimit, n),
		LimitForgotPassword: newLimiter(limits.ForgotPassword, defaultForgotPasswordLimit, n),
	}
}

// localLimiter is NewLimiter's Limiter: a limiter by kind, nil for a limit turned off.
type localLimiter map[string]*limiter

func (l localLimiter) Allow(_ context.Context, kind string, addr netip.Addr, now time.Time) (bool, time.Duration) {
	lim := l[kind]
	if lim == nil {
		return true, 0
	}
	d := lim.wait(addr, now)
	return d <= 0, d
}

// limiter applies one RateLimit per client address. It keeps at most max addresses, in a map
// with least-recently-seen eviction, so memory stays bounded whatever the clients do. It is
// safe for concurrent use.
type limiter struct {
	every time.Duration
	burst int
	max   int

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
func newLimiter(l, def RateLimit, maxClients int) *limiter {
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
		clients: make(map[netip.Addr]*list.Element),
		order:   list.New(),
	}
}

// wait takes a request from addr's bucket at now and returns 0, or returns how long addr
// must wait before its next request is allowed, taking nothing.
func (l *limiter) wait(addr netip.Addr, now time.Time) time.Duration {
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

// limit wraps next so that requests over l's limit of kind get 429; a nil l lets everything
// through.
func limit(l Limiter, kind string, next http.Handler, addrOf func(*http.Request) netip.Addr, now func() time.Time, fail errorWriter) http.Handler {
	if l == nil || kind == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, d := l.Allow(r.Context(), kind, network(addrOf(r)), now()); !ok {
			fail(w, r, &users.Error{Code: users.CodeThrottled, Message: "too many requests; try again later", RetryAfter: d})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withClient wraps next so that the request's context carries its client (users.WithClient):
// the address addrOf finds and the User-Agent, which the Service counts failed sign-ins by and
// records in its events.
func withClient(next http.Handler, addrOf func(*http.Request) netip.Addr) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := users.Client{Addr: addrOf(r), UserAgent: r.UserAgent()}
		next.ServeHTTP(w, r.WithContext(users.WithClient(r.Context(), c)))
	})
}

// clientAddr returns the function that finds the address of a request's client. Without a
// header it is the connection's peer (RemoteAddr); with one, set by a trusted proxy, it is
// the last address the header lists (for X-Forwarded-For, the one the proxy added), or the
// peer when the header holds none. An IPv4-mapped IPv6 address is taken as IPv4, without a
// zone; an unreadable one as the zero Addr. Rate limits take it as its network (see network).
func clientAddr(header string) func(*http.Request) netip.Addr {
	header = http.CanonicalHeaderKey(header)
	return func(r *http.Request) netip.Addr {
		if header != "" {
			if a, ok := lastListed(r.Header[header]); ok {
				return a.Unmap().WithZone("")
			}
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		a, _ := netip.ParseAddr(host)
		return a.Unmap().WithZone("")
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
