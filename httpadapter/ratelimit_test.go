package httpadapter_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gousers/users/httpadapter"
	"github.com/stretchr/testify/assert"
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
