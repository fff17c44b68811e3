package httpadapter_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cookieName is the default name of the session cookie: Secure, host-only, Path /.
const cookieName = "__Host-users_session"

// withCookie turns on cookie mode with the defaults.
func withCookie(s *setup) { s.opts.Cookie = &httpadapter.Cookie{} }

// sessionCookie returns the session cookie a response sets, failing the test without one.
func (r *response) sessionCookie(t testing.TB) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	require.FailNow(t, "no session cookie", "Set-Cookie: %q", r.header.Values("Set-Cookie"))
	return nil
}

// cookieHeader returns a request header with the session cookie and the headers a browser
// adds to a request of the site, from the site (same-origin) or another (cross-site).
func cookieHeader(token, fetchSite string) http.Header {
	h := http.Header{"Cookie": {cookieName + "=" + token}}
	if fetchSite != "" {
		h.Set("Sec-Fetch-Site", fetchSite)
	}
	return h
}

// In cookie mode sign-in sets the session's token in an HttpOnly, Secure, SameSite=Lax cookie
// that expires with the session; the JSON answer stays as it is.
func TestCookieSignIn(t *testing.T) {
	f := newFixture(t, withCookie)
	res := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", alicePassword)}).want(t, http.StatusOK)
	var s struct {
		Token   string    `json:"token"`
		Expires time.Time `json:"expires"`
	}
	res.decode(t, &s)
	f.secret(s.Token)
	c := res.sessionCookie(t)
	assert.Equal(t, s.Token, c.Value, "the cookie holds the token of the answer")
	assert.True(t, c.HttpOnly)
	assert.True(t, c.Secure)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Equal(t, "/", c.Path)
	assert.Empty(t, c.Domain)
	assert.Equal(t, int(s.Expires.Sub(f.clock.Now()).Seconds()), c.MaxAge, "the cookie lasts as long as the session")
	assert.True(t, c.Expires.Equal(s.Expires.Truncate(time.Second)), "Expires %v, session %v", c.Expires, s.Expires)

	var me map[string]any
	f.do(t, request{method: "GET", path: "/user", header: cookieHeader(c.Value, "same-origin")}).want(t, http.StatusOK).decode(t, &me)
	assert.Equal(t, f.alice.ID, me["id"])
}

// Sign-up, when it answers with a session, sets the cookie too.
func TestCookieSignUp(t *testing.T) {
	f := newFixture(t, withCookie)
	res := f.do(t, request{method: "POST", path: "/user", body: signInBody("carol@example.com", newPassword)}).want(t, http.StatusCreated)
	var s session
	res.decode(t, &s)
	f.secret(s.Token)
	assert.Equal(t, s.Token, res.sessionCookie(t).Value)
}

// The middleware takes the cookie as it takes the Authorization header; the header wins when
// a request has both, even when it is bad.
func TestCookieAuthenticates(t *testing.T) {
	f := newFixture(t, withCookie)
	tests := []struct {
		name   string
		header http.Header
		token  string
		status int
		userID string
	}{
		{"the cookie", cookieHeader(f.alice.token, ""), "", http.StatusOK, f.alice.ID},
		{"the header over the cookie", cookieHeader(f.alice.token, ""), f.bob.token, http.StatusOK, f.bob.ID},
		{"a bad header beside a good cookie", cookieHeader(f.alice.token, ""), "not-a-token", http.StatusUnauthorized, ""},
		{"an unknown cookie", cookieHeader("not-a-token", ""), "", http.StatusUnauthorized, ""},
		{"an empty cookie", cookieHeader("", ""), "", http.StatusUnauthorized, ""},
		{"a cookie of another name", http.Header{"Cookie": {"session=" + f.alice.token}}, "", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(t, request{method: "GET", path: "/user", header: tt.header, token: tt.token}).want(t, tt.status)
			if tt.status == http.StatusOK {
				var me map[string]any
				res.decode(t, &me)
				assert.Equal(t, tt.userID, me["id"])
			}
		})
	}
}

// A cookie that no longer authenticates is answered 401 and cleared from the browser.
func TestCookieDeadIsCleared(t *testing.T) {
	f := newFixture(t, withCookie)
	require.NoError(t, f.svc.SignOut(t.Context(), f.alice.token))
	res := f.do(t, request{method: "GET", path: "/user", header: cookieHeader(f.alice.token, "")}).want(t, http.StatusUnauthorized)
	c := res.sessionCookie(t)
	assert.Empty(t, c.Value)
	assert.Negative(t, c.MaxAge, "Max-Age=0: the browser drops it")
}

// An unsafe request with the cookie must come from the site itself: a cross-origin one is
// refused (403) and does nothing, a same-origin one passes. A request with a bearer token is
// not checked: a browser never adds that header by itself.
func TestCookieCrossOriginRefused(t *testing.T) {
	tests := []struct {
		name    string
		header  http.Header
		bearer  bool
		status  int
		signsIn bool // whether alice's session still works after
	}{
		{"cross-site with the cookie", cookieHeader("", "cross-site"), false, http.StatusForbidden, true},
		{"same-site but another origin", cookieHeader("", "same-site"), false, http.StatusForbidden, true},
		{"an Origin that is not the host", withHeader(cookieHeader("", ""), "Origin", "https://evil.example"), false, http.StatusForbidden, true},
		{"same-origin with the cookie", cookieHeader("", "same-origin"), false, http.StatusNoContent, false},
		{"the Origin of the host", withHeader(cookieHeader("", ""), "Origin", "http://example.com"), false, http.StatusNoContent, false},
		{"no browser headers (not a browser)", cookieHeader("", ""), false, http.StatusNoContent, false},
		{"cross-site with a bearer token", http.Header{"Sec-Fetch-Site": {"cross-site"}}, true, http.StatusNoContent, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, withCookie)
			req := request{method: "POST", path: "/user/sign-out", header: tt.header}
			if tt.bearer {
				req.token = f.alice.token
			} else {
				req.header.Set("Cookie", cookieName+"="+f.alice.token)
			}
			res := f.do(t, req).want(t, tt.status)
			assert.Equal(t, tt.signsIn, f.authenticates(t, f.alice.token))
			if tt.status == http.StatusForbidden {
				assert.Equal(t, "forbidden", res.problem(t).Code)
				assert.Empty(t, res.header.Values("Set-Cookie"), "a refused request keeps the cookie")
			} else {
				assert.Empty(t, res.sessionCookie(t).Value, "sign-out clears the cookie")
			}
		})
	}
}

// withHeader returns h with one more header.
func withHeader(h http.Header, name, value string) http.Header {
	h.Set(name, value)
	return h
}

// In cookie mode another site cannot sign a visitor in (login CSRF): sign-in and sign-up
// from a cross-origin browser request are refused.
func TestCookieSignInCrossOrigin(t *testing.T) {
	f := newFixture(t, withCookie)
	for _, path := range []string{"/user/auth", "/user"} {
		t.Run(path, func(t *testing.T) {
			res := f.do(t, request{method: "POST", path: path, body: signInBody("alice@example.com", alicePassword),
				header: http.Header{"Sec-Fetch-Site": {"cross-site"}}}).want(t, http.StatusForbidden)
			assert.Empty(t, res.header.Values("Set-Cookie"))
		})
	}
	t.Run("without cookie mode sign-in is not checked", func(t *testing.T) {
		f := newFixture(t)
		res := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", alicePassword),
			header: http.Header{"Sec-Fetch-Site": {"cross-site"}}}).want(t, http.StatusOK)
		var s session
		res.decode(t, &s)
		f.secret(s.Token)
		assert.Empty(t, res.header.Values("Set-Cookie"), "no cookie outside cookie mode")
	})
}

// Without cookie mode a cookie is no credential.
func TestCookieIgnoredWithoutCookieMode(t *testing.T) {
	f := newFixture(t)
	f.do(t, request{method: "GET", path: "/user", header: cookieHeader(f.alice.token, "same-origin")}).want(t, http.StatusUnauthorized)
}

// A route that takes either the caller's credentials or a body's (change-password) takes the
// cookie as the caller's.
func TestCookieOptionalUser(t *testing.T) {
	f := newFixture(t, withCookie)
	body := `{"oldPassword":"` + alicePassword + `","newPassword":"` + newPassword + `"}`
	f.secret(newPassword)
	f.do(t, request{method: "POST", path: "/user/change-password", body: body, header: cookieHeader(f.alice.token, "cross-site")}).
		want(t, http.StatusForbidden)
	f.do(t, request{method: "POST", path: "/user/change-password", body: body, header: cookieHeader(f.alice.token, "same-origin")}).
		want(t, http.StatusOK)
	_, err := f.svc.SignIn(t.Context(), "alice@example.com", newPassword)
	assert.NoError(t, err)
	assert.True(t, f.authenticates(t, f.alice.token), "the caller's session stays")
}

// The cookie's name, path, domain and Secure attribute follow Cookie.
func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name   string
		cookie httpadapter.Cookie
		want   http.Cookie
	}{
		{"the defaults: __Host-", httpadapter.Cookie{}, http.Cookie{Name: cookieName, Path: "/", Secure: true}},
		{"insecure, for http://localhost", httpadapter.Cookie{Insecure: true}, http.Cookie{Name: "users_session", Path: "/"}},
		{"a path", httpadapter.Cookie{Path: "/app"}, http.Cookie{Name: "users_session", Path: "/app", Secure: true}},
		{"a domain", httpadapter.Cookie{Domain: "example.com"}, http.Cookie{Name: "users_session", Path: "/", Domain: "example.com", Secure: true}},
		{"a name", httpadapter.Cookie{Name: "sid"}, http.Cookie{Name: "sid", Path: "/", Secure: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(s *setup) { s.opts.Cookie = &tt.cookie })
			res := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("bob@example.com", bobPassword)}).want(t, http.StatusOK)
			var s session
			res.decode(t, &s)
			f.secret(s.Token)
			cookies := (&http.Response{Header: res.header}).Cookies()
			require.Len(t, cookies, 1)
			c := cookies[0]
			assert.Equal(t, tt.want.Name, c.Name)
			assert.Equal(t, tt.want.Path, c.Path)
			assert.Equal(t, tt.want.Domain, c.Domain)
			assert.Equal(t, tt.want.Secure, c.Secure)
			assert.True(t, c.HttpOnly)
			assert.Equal(t, http.SameSiteLaxMode, c.SameSite)

			auth := &httpadapter.Auth{Service: f.svc, Cookie: &tt.cookie}
			r := newRequest(request{method: "GET", path: "/"})
			r.AddCookie(&http.Cookie{Name: tt.want.Name, Value: s.Token})
			assert.Equal(t, http.StatusOK, serveRequest(auth.RequireUser(okHandler), r).status, "Auth reads the same cookie")
		})
	}
}

// okHandler answers 200 with the signed-in user's ID, or "anonymous".
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if u, ok := httpadapter.UserFrom(r.Context()); ok {
		_, _ = w.Write([]byte(u.ID))
		return
	}
	_, _ = w.Write([]byte("anonymous"))
})

// Auth.Unauthorized replaces the middleware's 401 and 403 answers, e.g. with a redirect to a
// sign-in page; internal errors are still 500.
func TestAuthUnauthorized(t *testing.T) {
	f := newFixture(t, withCookie)
	var got []error
	auth := &httpadapter.Auth{Service: f.svc, Cookie: &httpadapter.Cookie{},
		Unauthorized: func(w http.ResponseWriter, r *http.Request, err error) {
			got = append(got, err)
			http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
		}}
	tests := []struct {
		name    string
		handler http.Handler
		req     request
		status  int
		want    error
	}{
		{"no credential", auth.RequireUser(okHandler), request{method: "GET", path: "/"}, http.StatusSeeOther, users.ErrUnauthorized},
		{"a bad token", auth.RequireUser(okHandler), request{method: "GET", path: "/", token: "nope"}, http.StatusSeeOther, users.ErrUnauthorized},
		{"a cookie cross-origin", auth.RequireUser(okHandler), request{method: "POST", path: "/", header: cookieHeader(f.alice.token, "cross-site")}, http.StatusSeeOther, users.ErrForbidden},
		{"a missing role", auth.RequireScope("admin")(okHandler), request{method: "GET", path: "/", token: f.alice.token}, http.StatusSeeOther, users.ErrForbidden},
		{"a good cookie", auth.RequireUser(okHandler), request{method: "GET", path: "/", header: cookieHeader(f.alice.token, "")}, http.StatusOK, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			res := serve(tt.handler, tt.req)
			assert.Equal(t, tt.status, res.status)
			if tt.want == nil {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.True(t, errors.Is(got[0], tt.want), "%v", got[0])
			assert.Equal(t, "/sign-in", res.header.Get("Location"))
		})
	}

	t.Run("through Options", func(t *testing.T) {
		f := newFixture(t, func(s *setup) {
			s.opts.Unauthorized = func(w http.ResponseWriter, r *http.Request, err error) {
				http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
			}
		})
		res := serve(f.handler, request{method: "GET", path: "/user"})
		assert.Equal(t, http.StatusSeeOther, res.status)
	})
}

// OptionalUser lets a request without credentials through anonymously and one with
// credentials as RequireUser does.
func TestOptionalUser(t *testing.T) {
	f := newFixture(t)
	auth := &httpadapter.Auth{Service: f.svc, Cookie: &httpadapter.Cookie{}}
	h := auth.OptionalUser(okHandler)
	tests := []struct {
		name   string
		req    request
		status int
		body   string
	}{
		{"nothing", request{method: "GET", path: "/"}, http.StatusOK, "anonymous"},
		{"a bearer token", request{method: "GET", path: "/", token: f.alice.token}, http.StatusOK, f.alice.ID},
		{"the cookie", request{method: "GET", path: "/", header: cookieHeader(f.bob.token, "")}, http.StatusOK, f.bob.ID},
		{"a bad token", request{method: "GET", path: "/", token: "nope"}, http.StatusUnauthorized, ""},
		{"an empty Authorization header", request{method: "GET", path: "/", header: http.Header{"Authorization": {""}}}, http.StatusUnauthorized, ""},
		{"a bad cookie", request{method: "GET", path: "/", header: cookieHeader("nope", "")}, http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := serve(h, tt.req)
			require.Equal(t, tt.status, res.status, "body: %s", res.body)
			if tt.body != "" {
				assert.Equal(t, tt.body, string(res.body))
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		token  string
		ok     bool
	}{
		{"bearer", []string{"Bearer abc"}, "abc", true},
		{"the scheme in any case", []string{"bEARER abc"}, "abc", true},
		{"spaces around the token", []string{"Bearer   abc  "}, "abc", true},
		{"none", nil, "", false},
		{"another scheme", []string{"Basic abc"}, "", false},
		{"no token", []string{"Bearer "}, "", false},
		{"no space", []string{"Bearerabc"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(request{method: "GET", path: "/", header: http.Header{"Authorization": tt.header}})
			if tt.header == nil {
				r.Header.Del("Authorization")
			}
			token, ok := httpadapter.BearerToken(r)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.token, token)
		})
	}
}
