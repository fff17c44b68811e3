package httpadapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bodyRoutes are the routes that take a JSON body, with the caller allowed to call them. New
// routes go at the end, so that the fuzz corpus's route numbers keep their meaning.
func bodyRoutes(f *fixture) []request {
	return []request{
		{method: "POST", path: "/user/auth"},
		{method: "POST", path: "/user"},
		{method: "POST", path: "/user/change-password", token: f.alice.token},
		{method: "POST", path: "/user/reset-password", token: f.admin.token},
		{method: "POST", path: "/user/forgot-password"},
		{method: "POST", path: "/user/forgot-password/reset"},
		{method: "POST", path: "/users", token: f.admin.token},
		{method: "PUT", path: "/users/" + f.alice.ID, token: f.admin.token},
		{method: "POST", path: "/user/register"},
		{method: "POST", path: "/user/register/resend"},
		{method: "POST", path: "/user/verify"},
		{method: "POST", path: "/user/change-password"},
		{method: "PUT", path: "/users/" + f.alice.ID + "/password", token: f.admin.token},
		{method: "POST", path: "/user/keys", token: f.alice.token},
		{method: "POST", path: "/users/" + f.alice.ID + "/keys", token: f.admin.token},
	}
}

// takesForm reports whether a route of bodyRoutes also takes a form-encoded body: the ones
// without a token among those that take forms.
func takesForm(req request) bool {
	switch req.path {
	case "/user/register", "/user/register/resend", "/user/verify", "/user/change-password", "/user/forgot-password":
		return req.token == ""
	}
	return false
}

// Every route that takes a body answers a body it cannot read with the same problems.
func TestBodyErrors(t *testing.T) {
	f := newFixture(t)
	tooLarge := `{"username":"` + strings.Repeat("a", httpadapter.DefaultMaxBodyBytes) + `"}`
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		field       string
	}{
		{"malformed JSON", `{"username":`, "", http.StatusBadRequest, "invalid", ""},
		{"trailing data", `{} {}`, "", http.StatusBadRequest, "invalid", ""},
		{"not an object", `["username"]`, "", http.StatusBadRequest, "invalid", ""},
		{"null", `null`, "", http.StatusBadRequest, "invalid", ""},
		{"an unknown field", `{"isAdmin":true}`, "", http.StatusBadRequest, "invalid", "isAdmin"},
		{"a null field", `{"username":null}`, "", http.StatusBadRequest, "invalid", "username"},
		{"a value of the wrong type", `{"password":12345678}`, "", http.StatusBadRequest, "invalid", "password"},
		{"a JSON type with parameters", `{"zzz":1}`, "application/json; charset=utf-8", http.StatusBadRequest, "invalid", "zzz"},
		{"a +json type", `{"zzz":1}`, "application/merge-patch+json", http.StatusBadRequest, "invalid", "zzz"},
		{"form data", `username=a`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "unsupported_media", ""},
		{"text", `{}`, "text/plain", http.StatusUnsupportedMediaType, "unsupported_media", ""},
		{"a malformed content type", `{}`, "application/", http.StatusUnsupportedMediaType, "unsupported_media", ""},
		{"too large", tooLarge, "", http.StatusRequestEntityTooLarge, "too_large", ""},
	}
	for _, route := range bodyRoutes(f) {
		for _, tt := range tests {
			if tt.name == "form data" && takesForm(route) {
				continue // see TestFormBodyErrors
			}
			t.Run(route.method+" "+route.path+" "+tt.name, func(t *testing.T) {
				req := route
				req.body = tt.body
				if tt.contentType != "" {
					req.header = http.Header{"Content-Type": {tt.contentType}}
				}
				p := f.do(t, req).want(t, tt.status).problem(t)
				assert.Equal(t, tt.code, p.Code)
				assert.Equal(t, tt.field, p.Field)
			})
		}
		t.Run(route.method+" "+route.path+" no body", func(t *testing.T) {
			f.do(t, route).want(t, http.StatusUnsupportedMediaType)
		})
	}
}

// The routes that take a form-encoded body answer one they cannot read with the problems of
// a JSON one, naming the field.
func TestFormBodyErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, body, field string
		status            int
	}{
		{"an unknown field", "isAdmin=true", "isAdmin", http.StatusBadRequest},
		{"a field given twice", "email=a%40example.com&email=b%40example.com", "email", http.StatusBadRequest},
		{"a bad escape", "email=%zz", "", http.StatusBadRequest},
		{"a semicolon", "email=a;b", "", http.StatusBadRequest},
		{"JSON declared as a form: its values are not echoed", `{"password":"hunter2 hunter2"}`, "", http.StatusBadRequest},
		{"too large", "email=" + strings.Repeat("a", httpadapter.DefaultMaxBodyBytes), "", http.StatusRequestEntityTooLarge},
	}
	for _, route := range bodyRoutes(f) {
		if !takesForm(route) {
			continue
		}
		for _, tt := range tests {
			t.Run(route.method+" "+route.path+" "+tt.name, func(t *testing.T) {
				req := route
				req.body, req.header = tt.body, formHeader
				res := f.do(t, req).want(t, tt.status)
				assert.Equal(t, tt.field, res.problem(t).Field)
				assert.NotContains(t, string(res.body), "hunter2")
			})
		}
	}
}

// A body over Options.MaxBodyBytes is 413, whether or not its length is declared.
func TestMaxBodyBytes(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.opts.MaxBodyBytes = 32 })
	body := fmt.Sprintf(`{"username":"alice@example.com","password":%q}`, alicePassword)
	require.Greater(t, len(body), 32)
	f.do(t, request{method: "POST", path: "/user/auth", body: body}).want(t, http.StatusRequestEntityTooLarge)

	r := newRequest(request{method: "POST", path: "/user/auth", body: body})
	r.ContentLength = -1 // not declared: the limit applies while reading
	res := serveRequest(f.handler, r)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.status, "body: %s", res.body)

	f.do(t, request{method: "POST", path: "/user/forgot-password", body: `{"email":"a@example.com"}`}).want(t, http.StatusOK)
}

// Requests no route matches get problem+json too: 404, or 405 with Allow.
func TestNotRouted(t *testing.T) {
	f := newFixture(t)
	p := f.do(t, request{method: "GET", path: "/nowhere"}).want(t, http.StatusNotFound).problem(t)
	assert.Equal(t, "not_found", p.Code)
	f.do(t, request{method: "GET", path: "/users/a/b/c"}).want(t, http.StatusNotFound)

	res := f.do(t, request{method: "DELETE", path: "/user"}).want(t, http.StatusMethodNotAllowed)
	assert.Equal(t, "GET, HEAD, POST", res.header.Get("Allow"))
	assert.Equal(t, "method_not_allowed", res.problem(t).Code)
	res = f.do(t, request{method: "PATCH", path: "/users/x"}).want(t, http.StatusMethodNotAllowed)
	assert.Equal(t, "GET, HEAD, PUT, DELETE", res.header.Get("Allow"))
}

// Mounted under a prefix with http.StripPrefix, the handler serves the same API there.
func TestMountedUnderPrefix(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", f.handler))
	res := serve(mux, request{method: "GET", path: "/api/user", token: f.alice.token})
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, string(res.body), `"username":"alice@example.com"`)
	res = serve(mux, request{method: "GET", path: "/api/users/" + f.bob.ID, token: f.admin.token})
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, string(res.body), f.bob.ID)
	res = serve(mux, request{method: "GET", path: "/api/nowhere"})
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, "application/problem+json", res.header.Get("Content-Type"))
}

// failingService fails with an error that is not the package's own, as a broken store does.
type failingService struct {
	users.Service
}

var errBroken = errors.New("disk on fire")

func (failingService) Get(context.Context, string) (*users.User, error) { return nil, errBroken }

func (failingService) Authenticate(ctx context.Context, token string) (*users.Principal, error) {
	if token == "broken" {
		return nil, errBroken
	}
	return nil, users.ErrUnauthorized
}

// An internal error is answered 500 without its cause, and logged; client errors are not
// logged at all, and by default nothing is.
func TestInternalErrors(t *testing.T) {
	f := newFixture(t)
	logs := new(testutil.SyncBuffer)
	opts := f.opts
	opts.Logger = slogTo(logs)
	h := httpadapter.New(failingService{f.svc}, opts)

	res := serve(h, request{method: "GET", path: "/user", token: "broken"})
	assert.Equal(t, http.StatusInternalServerError, res.status)
	assert.JSONEq(t, `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error","code":"internal"}`, string(res.body))
	assert.Contains(t, logs.String(), "httpadapter: internal error")
	assert.Contains(t, logs.String(), "path=/user")
	assert.Contains(t, logs.String(), "disk on fire", "the cause is logged")
	assert.NotContains(t, string(res.body), "disk on fire", "and not answered")

	before := logs.String()
	res = serve(h, request{method: "GET", path: "/user", token: "AAAA"})
	assert.Equal(t, http.StatusUnauthorized, res.status)
	res = serve(h, request{method: "POST", path: "/user/auth", body: `{`})
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, before, logs.String(), "client errors are not logged")

	silent := httpadapter.New(failingService{f.svc}, httpadapter.Options{})
	res = serve(silent, request{method: "GET", path: "/user", token: "broken"})
	assert.Equal(t, http.StatusInternalServerError, res.status, "no logger: silent, no panic")
}
