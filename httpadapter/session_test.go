package httpadapter_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// session is the body of POST /user/auth and POST /user.
type session struct {
	Token string         `json:"token"`
	User  map[string]any `json:"user"`
}

func signInBody(username, password string) string {
	return fmt.Sprintf(`{"username":%q,"password":%q}`, username, password)
}

// signIn signs in through the handler and returns the new token.
func (f *fixture) signIn(t testing.TB, username, password string) string {
	t.Helper()
	var s session
	f.do(t, request{method: "POST", path: "/user/auth", body: signInBody(username, password)}).want(t, http.StatusOK).decode(t, &s)
	f.secret(s.Token)
	return s.Token
}

// authenticates reports whether a token is let through GET /user.
func (f *fixture) authenticates(t testing.TB, token string) bool {
	t.Helper()
	res := f.do(t, request{method: "GET", path: "/user", token: token})
	require.Contains(t, []int{http.StatusOK, http.StatusUnauthorized}, res.status)
	return res.status == http.StatusOK
}

func TestSignIn(t *testing.T) {
	f := newFixture(t)
	var s session
	f.do(t, request{method: "POST", path: "/user/auth", body: signInBody(" ALICE@example.com", alicePassword)}).
		want(t, http.StatusOK).decode(t, &s)
	f.secret(s.Token)
	assert.Equal(t, f.alice.ID, s.User["id"])
	assert.Equal(t, "alice@example.com", s.User["username"])
	assert.Equal(t, true, s.User["isActive"])
	assert.Equal(t, map[string]any{}, s.User["metadata"])
	assert.True(t, f.authenticates(t, s.Token))

	t.Run("wrong password and unknown user get one answer", func(t *testing.T) {
		wrong := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", "not the password")}).
			want(t, http.StatusUnauthorized)
		unknown := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("nobody@example.com", "not the password")}).
			want(t, http.StatusUnauthorized)
		assert.Equal(t, wrong.body, unknown.body)
		assert.Equal(t, wrong.header, unknown.header)
		assert.Equal(t, "unauthorized", wrong.problem(t).Code)
	})
	t.Run("missing fields", func(t *testing.T) {
		p := f.do(t, request{method: "POST", path: "/user/auth", body: `{"username":"alice@example.com"}`}).
			want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, "password", p.Field)
	})
	t.Run("an account that is not active", func(t *testing.T) {
		_, err := f.svc.Create(t.Context(), users.NewUser{Username: "pat@example.com", Password: alicePassword, Status: users.StatusPending})
		require.NoError(t, err)
		p := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("pat@example.com", alicePassword)}).
			want(t, http.StatusForbidden).problem(t)
		assert.Equal(t, "forbidden", p.Code)
	})
}

// After repeated failures for one username the Service throttles it: 429 with Retry-After,
// until the delay has passed.
func TestSignInThrottled(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.cfg.Throttle = users.Throttle{MaxFailures: 2, BaseDelay: time.Minute} })
	wrong := request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", "not the password")}
	f.do(t, wrong).want(t, http.StatusUnauthorized)
	f.do(t, wrong).want(t, http.StatusUnauthorized)
	res := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", alicePassword)}).
		want(t, http.StatusTooManyRequests)
	assert.Equal(t, "60", res.header.Get("Retry-After"))
	assert.Equal(t, "throttled", res.problem(t).Code)

	f.clock.Advance(time.Minute)
	f.signIn(t, "alice@example.com", alicePassword)
}

func TestSignUp(t *testing.T) {
	f := newFixture(t)
	var s session
	f.do(t, request{method: "POST", path: "/user", body: fmt.Sprintf(
		`{"username":"dave@example.com","email":"Dave@Example.org","password":%q,"metadata":{"team":"data","n":3}}`, newPassword)}).
		want(t, http.StatusCreated).decode(t, &s)
	f.secret(s.Token)
	assert.Equal(t, "dave@example.com", s.User["username"])
	assert.Equal(t, "Dave@example.org", s.User["email"], "the domain lower-cased")
	assert.Equal(t, []any{"user"}, s.User["scope"])
	assert.Equal(t, "active", s.User["status"])
	assert.Equal(t, map[string]any{"team": "data", "n": 3.0}, s.User["metadata"])
	assert.True(t, f.authenticates(t, s.Token))

	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"a taken username", fmt.Sprintf(`{"username":"ALICE@example.com","password":%q}`, newPassword), http.StatusConflict, "username"},
		{"a taken e-mail", fmt.Sprintf(`{"username":"x@example.com","email":"dave@example.org","password":%q}`, newPassword), http.StatusConflict, "email"},
		{"a username that is no e-mail address", fmt.Sprintf(`{"username":"dave","password":%q}`, newPassword), http.StatusBadRequest, "username"},
		{"no password", `{"username":"x@example.com"}`, http.StatusBadRequest, "password"},
		{"a weak password", `{"username":"x@example.com","password":"password1"}`, http.StatusBadRequest, "password"},
		{"metadata that is no object", fmt.Sprintf(`{"username":"x@example.com","password":%q,"metadata":[1]}`, newPassword), http.StatusBadRequest, "metadata"},
		// Mass assignment: nothing but the four fields can be set by signing up.
		{"a scope", fmt.Sprintf(`{"username":"x@example.com","password":%q,"scope":["admin"]}`, newPassword), http.StatusBadRequest, "scope"},
		{"a status", fmt.Sprintf(`{"username":"x@example.com","password":%q,"status":"active"}`, newPassword), http.StatusBadRequest, "status"},
		{"a field in another case", fmt.Sprintf(`{"username":"x@example.com","password":%q,"Scope":["admin"]}`, newPassword), http.StatusBadRequest, "Scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := f.do(t, request{method: "POST", path: "/user", body: tt.body}).want(t, tt.status).problem(t)
			assert.Equal(t, tt.field, p.Field)
		})
	}
	n, err := f.svc.Count(t.Context(), users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 4, n, "only dave was created")
}

// Under SignUpAdmin, only an administrator may create users through POST /user.
func TestSignUpAdminMode(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.opts.SignUp = httpadapter.SignUpAdmin })
	body := fmt.Sprintf(`{"username":"dave@example.com","password":%q}`, newPassword)
	f.do(t, request{method: "POST", path: "/user", body: body}).want(t, http.StatusUnauthorized)
	f.do(t, request{method: "POST", path: "/user", body: body, token: f.alice.token}).want(t, http.StatusForbidden)
	f.do(t, request{method: "POST", path: "/user", body: body, token: f.admin.token}).want(t, http.StatusCreated)
}

func TestCurrentUser(t *testing.T) {
	f := newFixture(t)
	var u map[string]any
	res := f.do(t, request{method: "GET", path: "/user", token: f.alice.token}).want(t, http.StatusOK)
	res.decode(t, &u)
	assert.Equal(t, f.alice.ID, u["id"])
	assert.Equal(t, []any{"user"}, u["scope"])
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))

	tests := []struct {
		name          string
		authorization string
	}{
		{"no header", ""},
		{"no token", "Bearer "},
		{"another scheme", "Basic " + f.alice.token},
		{"an unknown token", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"a malformed token", "Bearer not-a-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(t, request{method: "GET", path: "/user", header: map[string][]string{"Authorization": {tt.authorization}}}).
				want(t, http.StatusUnauthorized)
			assert.Equal(t, `Bearer realm="users"`, res.header.Get("WWW-Authenticate"))
			assert.Equal(t, "unauthorized", res.problem(t).Code)
		})
	}
	t.Run("the scheme in any case", func(t *testing.T) {
		f.do(t, request{method: "GET", path: "/user", header: map[string][]string{"Authorization": {"bearer " + f.alice.token}}}).
			want(t, http.StatusOK)
	})
	t.Run("an expired token", func(t *testing.T) {
		f.clock.Advance(users.DefaultSessionTTL)
		f.do(t, request{method: "GET", path: "/user", token: f.alice.token}).want(t, http.StatusUnauthorized)
	})
}

func TestSignOut(t *testing.T) {
	f := newFixture(t)
	second := f.signIn(t, "alice@example.com", alicePassword)
	res := f.do(t, request{method: "POST", path: "/user/sign-out", token: f.alice.token}).want(t, http.StatusNoContent)
	assert.Empty(t, res.body)
	assert.False(t, f.authenticates(t, f.alice.token), "the token stops working")
	assert.True(t, f.authenticates(t, second), "other sessions go on")
	f.do(t, request{method: "POST", path: "/user/sign-out", token: f.alice.token}).want(t, http.StatusUnauthorized)
}

func TestRevokeSessions(t *testing.T) {
	f := newFixture(t)
	second := f.signIn(t, "alice@example.com", alicePassword)
	f.do(t, request{method: "POST", path: "/users/" + f.alice.ID + "/sessions/revoke", token: f.admin.token}).
		want(t, http.StatusNoContent)
	assert.False(t, f.authenticates(t, f.alice.token))
	assert.False(t, f.authenticates(t, second))
	assert.True(t, f.authenticates(t, f.bob.token), "other users' sessions go on")
	assert.True(t, f.authenticates(t, f.admin.token))
}

// The middleware works on the app's own routes, without the adapter's handler.
func TestMiddleware(t *testing.T) {
	f := newFixture(t)
	auth := &httpadapter.Auth{Service: f.svc}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := httpadapter.UserFrom(r.Context())
		require.True(t, ok)
		_, _ = w.Write([]byte(u.Username))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /notes", auth.RequireUser(whoami))
	mux.Handle("GET /reports", auth.RequireScope("auditor", users.RoleAdmin)(whoami))

	tests := []struct {
		path   string
		token  string
		status int
		body   string
	}{
		{"/notes", "", http.StatusUnauthorized, ""},
		{"/notes", f.alice.token, http.StatusOK, "alice@example.com"},
		{"/reports", "", http.StatusUnauthorized, ""},
		{"/reports", f.alice.token, http.StatusForbidden, ""},
		{"/reports", f.admin.token, http.StatusOK, "admin@example.com"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.path, tt.status), func(t *testing.T) {
			res := serve(mux, request{method: "GET", path: tt.path, token: tt.token})
			require.Equal(t, tt.status, res.status, "body: %s", res.body)
			if tt.status == http.StatusOK {
				assert.Equal(t, tt.body, string(res.body))
				return
			}
			doc, err := apiSpec()
			require.NoError(t, err)
			validateProblem(t, doc, res)
		})
	}

	_, ok := httpadapter.UserFrom(t.Context())
	assert.False(t, ok, "no user outside the middleware")
	assert.Panics(t, func() { auth.RequireScope() })
	assert.Panics(t, func() { httpadapter.New(nil, httpadapter.Options{}) })
}

// Many clients at once: every answer is the one expected (run with -race).
func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.opts.RateLimits = httpadapter.RateLimits{} }) // limits on
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 10 {
				res := serveRequest(f.handler, from(request{method: "POST", path: "/user/auth",
					body: signInBody("bob@example.com", bobPassword)}, fmt.Sprintf("192.0.2.%d:1", i)))
				if res.status != http.StatusOK && res.status != http.StatusTooManyRequests {
					t.Errorf("sign-in: %d %s", res.status, res.body)
				}
				for _, req := range []request{
					{method: "GET", path: "/user", token: f.alice.token},
					{method: "GET", path: "/users?sort=name:-1", token: f.admin.token},
					{method: "PUT", path: "/users/" + f.bob.ID, token: f.admin.token, body: fmt.Sprintf(`{"name":"Bob %d-%d"}`, i, j)},
				} {
					// A PUT without a version applies to the version it was authorized
					// against: a concurrent one may find it stale.
					if res := serve(f.handler, req); res.status != http.StatusOK && !(req.method == "PUT" && res.status == http.StatusConflict) {
						t.Errorf("%s %s: %d %s", req.method, req.path, res.status, res.body)
					}
				}
			}
		})
	}
	wg.Wait()
}
