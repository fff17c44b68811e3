package httpadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// limited is a rate limit of two requests at once, then one a minute.
var limited = httpadapter.RateLimit{Burst: 2, Every: time.Minute}

// from returns the request as sent from a client address, with extra headers.
func from(req request, remoteAddr string, header ...string) *http.Request {
	r := newRequest(req)
	r.RemoteAddr = remoteAddr
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// Each limited route lets a client address make Burst requests, then answers 429 with
// Retry-After until the address has earned another; other addresses are not affected.
func TestRateLimits(t *testing.T) {
	wrongSignIn := request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", "not the password")}
	tests := []struct {
		name  string
		limit func(*httpadapter.RateLimits)
		req   func(i int) request
		ok    int
	}{
		{"sign-in", func(l *httpadapter.RateLimits) { l.SignIn = limited },
			func(int) request { return wrongSignIn }, http.StatusUnauthorized},
		{"sign-up", func(l *httpadapter.RateLimits) { l.Create = limited },
			func(i int) request {
				return request{method: "POST", path: "/user", body: fmt.Sprintf(`{"username":"u%d@example.com","password":%q}`, i, newPassword)}
			}, http.StatusCreated},
		{"forgot-password", func(l *httpadapter.RateLimits) { l.ForgotPassword = limited },
			func(int) request {
				return request{method: "POST", path: "/user/forgot-password", body: `{"email":"nobody@example.com"}`}
			},
			http.StatusOK},
		{"register, with sign-up", func(l *httpadapter.RateLimits) { l.Create = limited },
			func(i int) request {
				return request{method: "POST", path: "/user/register", body: fmt.Sprintf(`{"email":"u%d@example.com","password":%q}`, i, newPassword)}
			}, http.StatusAccepted},
		{"resend, with forgot-password", func(l *httpadapter.RateLimits) { l.ForgotPassword = limited },
			func(int) request {
				return request{method: "POST", path: "/user/register/resend", body: "email=nobody%40example.com", header: formHeader}
			}, http.StatusAccepted},
		{"change-password by e-mail, with sign-in", func(l *httpadapter.RateLimits) { l.SignIn = limited },
			func(i int) request {
				return request{method: "POST", path: "/user/change-password",
					body: fmt.Sprintf(`{"email":"u%d@example.com","oldPassword":"x","newPassword":%q}`, i, newPassword)}
			}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(s *setup) { tt.limit(&s.opts.RateLimits) })
			send := func(i int, addr string) *response {
				res := serveRequest(f.handler, from(tt.req(i), addr))
				validateResponse(t, newRequest(tt.req(i)), res)
				return res
			}
			assert.Equal(t, tt.ok, send(1, "192.0.2.1:1000").status)
			assert.Equal(t, tt.ok, send(2, "192.0.2.1:2000").status)
			res := send(3, "192.0.2.1:1000")
			assert.Equal(t, http.StatusTooManyRequests, res.status)
			assert.Equal(t, "60", res.header.Get("Retry-After"))
			assert.Equal(t, "throttled", res.problem(t).Code)
			assert.Equal(t, tt.ok, send(4, "192.0.2.2:1000").status, "another address has its own bucket")

			f.clock.Advance(30 * time.Second)
			assert.Equal(t, "30", send(5, "192.0.2.1:1000").header.Get("Retry-After"))
			f.clock.Advance(30 * time.Second)
			assert.Equal(t, tt.ok, send(6, "192.0.2.1:1000").status, "one more after a minute")
			assert.Equal(t, http.StatusTooManyRequests, send(7, "192.0.2.1:1000").status)
		})
	}
}

// The zero Options limit sign-ins by default; the routes without a limit have none.
func TestRateLimitsByDefault(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.opts.RateLimits = httpadapter.RateLimits{} })
	wrong := request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", "not the password")}
	const burst = 10 // the default
	for range burst {
		f.do(t, wrong).want(t, http.StatusUnauthorized)
	}
	f.do(t, wrong).want(t, http.StatusTooManyRequests)
	for range 3 * burst {
		f.do(t, request{method: "GET", path: "/user", token: f.alice.token}).want(t, http.StatusOK)
	}
}

// A proxy's header is trusted only when configured, and then its last address counts. IPv6
// clients are limited by their /64 network.
func TestRateLimitClientAddress(t *testing.T) {
	req := request{method: "POST", path: "/user/forgot-password", body: `{"email":"nobody@example.com"}`}
	oneAtATime := httpadapter.RateLimits{ForgotPassword: httpadapter.RateLimit{Burst: 1, Every: time.Hour}}
	tests := []struct {
		name       string
		header     string   // Options.ClientIPHeader
		first      []string // remote address, then header name-value pairs
		second     []string // the same for the second request
		sameBucket bool
	}{
		{"X-Forwarded-For ignored when not configured", "",
			[]string{"192.0.2.1:1", "X-Forwarded-For", "198.51.100.1"}, []string{"192.0.2.1:1", "X-Forwarded-For", "198.51.100.2"}, true},
		{"X-Forwarded-For trusted when configured", "X-Forwarded-For",
			[]string{"192.0.2.1:1", "X-Forwarded-For", "198.51.100.1"}, []string{"192.0.2.1:1", "X-Forwarded-For", "198.51.100.2"}, false},
		{"the proxy's entry is the last", "X-Forwarded-For",
			[]string{"192.0.2.1:1", "X-Forwarded-For", "203.0.113.9, 198.51.100.1"}, []string{"192.0.2.1:1", "X-Forwarded-For", "203.0.113.8, 198.51.100.1"}, true},
		{"the last header line", "X-Forwarded-For",
			[]string{"192.0.2.1:1", "X-Forwarded-For", "203.0.113.9", "X-Forwarded-For", "198.51.100.1"}, []string{"192.0.2.1:1", "X-Forwarded-For", "198.51.100.1"}, true},
		{"X-Real-IP", "X-Real-IP",
			[]string{"192.0.2.1:1", "X-Real-IP", "198.51.100.1"}, []string{"192.0.2.1:1", "X-Real-IP", "198.51.100.2"}, false},
		{"an unreadable header falls back to the peer", "X-Real-IP",
			[]string{"192.0.2.1:1", "X-Real-IP", "somewhere"}, []string{"192.0.2.1:1"}, true},
		{"one IPv6 /64", "",
			[]string{"[2001:db8:1:2::1]:1"}, []string{"[2001:db8:1:2:ffff::9]:1"}, true},
		{"two IPv6 /64s", "",
			[]string{"[2001:db8:1:2::1]:1"}, []string{"[2001:db8:1:3::1]:1"}, false},
		{"IPv4-mapped IPv6 is IPv4", "",
			[]string{"[::ffff:192.0.2.1]:1"}, []string{"192.0.2.1:2"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(s *setup) { s.opts.RateLimits, s.opts.ClientIPHeader = oneAtATime, tt.header })
			assert.Equal(t, http.StatusOK, serveRequest(f.handler, from(req, tt.first[0], tt.first[1:]...)).status)
			want := http.StatusOK
			if tt.sameBucket {
				want = http.StatusTooManyRequests
			}
			assert.Equal(t, want, serveRequest(f.handler, from(req, tt.second[0], tt.second[1:]...)).status)
		})
	}
}

// recordingLimiter is a Limiter that refuses the kinds in refuse and records what it is
// asked. Safe for concurrent use.
type recordingLimiter struct {
	refuse map[string]bool
	mu     sync.Mutex
	asked  []string // kind and address
}

func (l *recordingLimiter) Allow(_ context.Context, kind string, addr netip.Addr, _ time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, kind+" "+addr.String())
	if l.refuse[kind] {
		return false, 42 * time.Second
	}
	return true, 0
}

func (l *recordingLimiter) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.asked)
}

// oneAnHour is a rate limit of one request an hour.
var oneAnHour = httpadapter.RateLimit{Burst: 1, Every: time.Hour}

// A plugged Limiter decides every limited route, with the route's kind and the client's
// address (an IPv6 one as its /64), in place of the in-process RateLimits; other routes never
// ask it.
func TestPluggedLimiter(t *testing.T) {
	tests := []struct {
		name string
		req  request
		kind string // "" for a route without a limit
	}{
		{"sign-in", request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", "not the password")}, httpadapter.LimitSignIn},
		{"change-password", request{method: "POST", path: "/user/change-password",
			body: fmt.Sprintf(`{"email":"alice@example.com","oldPassword":"x","newPassword":%q}`, newPassword)}, httpadapter.LimitSignIn},
		{"sign-up", request{method: "POST", path: "/user", body: fmt.Sprintf(`{"username":"new@example.com","password":%q}`, newPassword)}, httpadapter.LimitCreate},
		{"register", request{method: "POST", path: "/user/register", body: fmt.Sprintf(`{"email":"new@example.com","password":%q}`, newPassword)}, httpadapter.LimitCreate},
		{"forgot-password", request{method: "POST", path: "/user/forgot-password", body: `{"email":"nobody@example.com"}`}, httpadapter.LimitForgotPassword},
		{"resend", request{method: "POST", path: "/user/register/resend", body: `{"email":"nobody@example.com"}`}, httpadapter.LimitForgotPassword},
		{"verify, not limited", request{method: "POST", path: "/user/verify", body: `{"code":"x"}`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &recordingLimiter{refuse: map[string]bool{tt.kind: true}}
			f := newFixture(t, func(s *setup) {
				s.opts.Limiter = l
				s.opts.RateLimits = httpadapter.RateLimits{SignIn: oneAnHour, Create: oneAnHour, ForgotPassword: oneAnHour} // ignored
			})
			res := serveRequest(f.handler, from(tt.req, "[2001:db8:1:2::7]:1000"))
			validateResponse(t, newRequest(tt.req), res)
			if tt.kind == "" {
				assert.NotEqual(t, http.StatusTooManyRequests, res.status)
				assert.Empty(t, l.calls())
				return
			}
			assert.Equal(t, http.StatusTooManyRequests, res.status)
			assert.Equal(t, "42", res.header.Get("Retry-After"))
			assert.Equal(t, []string{tt.kind + " 2001:db8:1:2::"}, l.calls())

			l.mu.Lock()
			l.refuse = nil
			l.mu.Unlock()
			for range 3 {
				res = serveRequest(f.handler, from(tt.req, "192.0.2.1:1000"))
				assert.NotEqual(t, http.StatusTooManyRequests, res.status, "the in-process limits do not apply")
			}
		})
	}
}

// The handler puts the client's address and User-Agent in the context of every request, and
// so in the Service's events.
func TestClientInContext(t *testing.T) {
	var mu sync.Mutex
	var events []users.Event
	record := func(e users.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name       string
		header     string // Options.ClientIPHeader
		remote     string
		extra      []string
		userAgent  string
		wantAddr   string
		wantLength int
	}{
		{"the peer", "", "192.0.2.1:1234", nil, "curl/8.0", "192.0.2.1", len("curl/8.0")},
		{"the full IPv6 address", "", "[2001:db8::7]:1234", nil, "curl/8.0", "2001:db8::7", len("curl/8.0")},
		{"IPv4-mapped", "", "[::ffff:192.0.2.1]:1234", nil, "curl/8.0", "192.0.2.1", len("curl/8.0")},
		{"a trusted proxy's header", "X-Forwarded-For", "10.0.0.1:1234", []string{"X-Forwarded-For", "203.0.113.9, 198.51.100.1"}, "curl/8.0", "198.51.100.1", len("curl/8.0")},
		{"an untrusted header", "", "10.0.0.1:1234", []string{"X-Forwarded-For", "198.51.100.1"}, "curl/8.0", "10.0.0.1", len("curl/8.0")},
		{"a long User-Agent is cut", "", "192.0.2.1:1234", nil, long, "192.0.2.1", users.MaxUserAgent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(s *setup) {
				s.cfg.OnEvent = record
				s.opts.ClientIPHeader = tt.header
			})
			mu.Lock()
			events = nil
			mu.Unlock()
			req := request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", alicePassword)}
			r := from(req, tt.remote, append([]string{"User-Agent", tt.userAgent}, tt.extra...)...)
			res := serveRequest(f.handler, r)
			require.Equal(t, http.StatusOK, res.status)

			mu.Lock()
			defer mu.Unlock()
			require.Len(t, events, 1)
			assert.Equal(t, users.EventSignedIn, events[0].Type)
			assert.Equal(t, tt.wantAddr, events[0].Client.Addr.String())
			assert.Len(t, events[0].Client.UserAgent, tt.wantLength)
		})
	}
}
