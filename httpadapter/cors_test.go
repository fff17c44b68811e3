package httpadapter_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const frontEnd = "https://app.example.com"

// withCORS allows the front end's origin, with credentials when asked.
func withCORS(credentials bool) func(*setup) {
	return func(s *setup) {
		s.opts.CORS = &httpadapter.CORS{AllowedOrigins: []string{frontEnd}, AllowCredentials: credentials, MaxAge: 5 * time.Minute}
	}
}

// preflight is the OPTIONS request a browser sends before a cross-origin PUT with a token.
func preflight(origin string) request {
	return request{method: http.MethodOptions, path: "/users/x", header: http.Header{
		"Origin":                         {origin},
		"Access-Control-Request-Method":  {"PUT"},
		"Access-Control-Request-Headers": {"authorization,content-type"},
	}}
}

// A preflight request from an allowed origin is answered with what it may send; one from
// another origin gets no CORS header, so the browser sends nothing.
func TestCORSPreflight(t *testing.T) {
	f := newFixture(t, withCORS(true))
	res := serve(f.handler, preflight(frontEnd))
	assert.Equal(t, http.StatusNoContent, res.status)
	assert.Equal(t, frontEnd, res.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "PUT", res.header.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "authorization,content-type", res.header.Get("Access-Control-Allow-Headers"))
	assert.Equal(t, "true", res.header.Get("Access-Control-Allow-Credentials"))
	assert.Equal(t, "300", res.header.Get("Access-Control-Max-Age"))

	other := serve(f.handler, preflight("https://evil.example"))
	assert.Empty(t, other.header.Get("Access-Control-Allow-Origin"))
	assert.Empty(t, other.header.Get("Access-Control-Allow-Methods"))

	unknownHeader := preflight(frontEnd)
	unknownHeader.header.Set("Access-Control-Request-Headers", "x-admin")
	assert.Empty(t, serve(f.handler, unknownHeader).header.Get("Access-Control-Allow-Origin"), "a header it does not take")
}

// Without Options.CORS, OPTIONS is a method the routes do not take: 405.
func TestCORSOff(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, preflight(frontEnd)).want(t, http.StatusMethodNotAllowed)
	assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"))
}

// The answers to an allowed origin are readable by it, with the headers a front end needs.
func TestCORSActualRequest(t *testing.T) {
	f := newFixture(t, withCORS(false))
	res := f.do(t, request{method: "GET", path: "/users", token: f.admin.token, header: http.Header{"Origin": {frontEnd}}}).want(t, http.StatusOK)
	assert.Equal(t, frontEnd, res.header.Get("Access-Control-Allow-Origin"))
	assert.Empty(t, res.header.Get("Access-Control-Allow-Credentials"))
	assert.Contains(t, res.header.Get("Access-Control-Expose-Headers"), "X-Total-Count")
	assert.Contains(t, res.header.Values("Vary"), "Origin")

	other := f.do(t, request{method: "GET", path: "/users", token: f.admin.token, header: http.Header{"Origin": {"https://evil.example"}}}).want(t, http.StatusOK)
	assert.Empty(t, other.header.Get("Access-Control-Allow-Origin"))
}

// In cookie mode an origin allowed credentials is trusted by the cross-origin check; other
// origins, and the allowed ones without credentials, are not.
func TestCORSCredentialsTrustOrigin(t *testing.T) {
	tests := []struct {
		name        string
		allowed     string // in CORS.AllowedOrigins
		credentials bool
		origin      string // the request's, as a browser sends it
		status      int
	}{
		{"allowed with credentials", frontEnd, true, frontEnd, http.StatusOK},
		{"allowed without credentials", frontEnd, false, frontEnd, http.StatusForbidden},
		{"another origin", frontEnd, true, "https://evil.example", http.StatusForbidden},
		{"allowed in capitals", "HTTPS://App.Example.com", true, frontEnd, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, withCookie, func(s *setup) {
				s.opts.CORS = &httpadapter.CORS{AllowedOrigins: []string{tt.allowed}, AllowCredentials: tt.credentials}
			})
			header := cookieHeader(f.alice.token, "cross-site")
			header.Set("Origin", tt.origin)
			f.do(t, request{method: "POST", path: "/user/change-password", header: header,
				body: `{"oldPassword":"` + alicePassword + `","newPassword":"` + newPassword + `"}`}).want(t, tt.status)
			f.secret(newPassword)
		})
	}
}

// New refuses CORS origins that are not exact origins: rs/cors would read an empty list, or
// a "*", as every origin.
func TestCORSBadOrigins(t *testing.T) {
	svc, err := users.New(memory.New(), users.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	tests := []struct {
		name    string
		origins []string
	}{
		{"none", nil},
		{"a wildcard", []string{"*"}},
		{"a wildcard host", []string{"https://*.example.com"}},
		{"a path", []string{"https://app.example.com/"}},
		{"no scheme", []string{"app.example.com"}},
		{"another scheme", []string{"ftp://app.example.com"}},
		{"a query", []string{"https://app.example.com?x=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Panics(t, func() { httpadapter.New(svc, httpadapter.Options{CORS: &httpadapter.CORS{AllowedOrigins: tt.origins}}) })
		})
	}
	assert.NotPanics(t, func() {
		httpadapter.New(svc, httpadapter.Options{CORS: &httpadapter.CORS{AllowedOrigins: []string{"http://localhost:5173", "HTTPS://App.Example.com"}}})
	})
}
