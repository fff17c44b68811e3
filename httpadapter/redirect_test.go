package httpadapter_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The redirect allowlist of the tests: an absolute URL of each kind, and a path.
var allowlist = []string{"https://app.example.com/registered", "https://app.example.com/failed", "/forgot-done"}

func withAllowlist(s *setup) { s.opts.RedirectAllowlist = allowlist }

// A form post to register or forgot-password with success and failure is answered 303 to
// success when it succeeds, and to failure, with the error, when it fails.
func TestRedirects(t *testing.T) {
	f := newFixture(t, withAllowlist)
	tests := []struct {
		name     string
		path     string
		form     url.Values
		location string
	}{
		{"register", "/user/register", url.Values{"email": {"dora@example.com"}, "password": {newPassword},
			"success": {"https://app.example.com/registered?from=form"}, "failure": {"https://app.example.com/failed"}},
			"https://app.example.com/registered?from=form"},
		{"register with a taken address: the same answer", "/user/register", url.Values{"email": {"alice@example.com"}, "password": {newPassword},
			"success": {"https://app.example.com/registered?from=form"}, "failure": {"https://app.example.com/failed"}},
			"https://app.example.com/registered?from=form"},
		{"register with a short password", "/user/register", url.Values{"email": {"erin@example.com"}, "password": {"short"},
			"success": {"https://app.example.com/registered"}, "failure": {"https://app.example.com/failed#top"}},
			"https://app.example.com/failed?error=invalid&field=password#top"},
		{"register without a password", "/user/register", url.Values{"email": {"erin@example.com"},
			"failure": {"https://app.example.com/failed"}},
			"https://app.example.com/failed?error=invalid&field=password"},
		{"forgot-password to a path", "/user/forgot-password", url.Values{"email": {"alice@example.com"}, "success": {"/forgot-done"}},
			"/forgot-done"},
		{"forgot-password of an unknown address: the same answer", "/user/forgot-password", url.Values{"email": {"nobody@example.com"}, "success": {"/forgot-done"}},
			"/forgot-done"},
	}
	f.secret(newPassword)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(t, request{method: "POST", path: tt.path, body: tt.form.Encode(), header: formHeader}).want(t, http.StatusSeeOther)
			assert.Equal(t, tt.location, res.header.Get("Location"))
			assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
		})
	}
}

// A form post that gives only success gets the route's own answer when it fails.
func TestRedirectsWithoutFailure(t *testing.T) {
	f := newFixture(t, withAllowlist)
	form := url.Values{"email": {"erin@example.com"}, "password": {"short"}, "success": {"https://app.example.com/registered"}}
	p := f.do(t, request{method: "POST", path: "/user/register", body: form.Encode(), header: formHeader}).want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "password", p.Field)
}

// A JSON request may give success and failure: they are checked, and the answer is JSON.
func TestRedirectsJSON(t *testing.T) {
	f := newFixture(t, withAllowlist)
	f.do(t, request{method: "POST", path: "/user/forgot-password",
		body: `{"email":"alice@example.com","success":"/forgot-done","failure":"https://app.example.com/failed"}`}).want(t, http.StatusOK)
	p := f.do(t, request{method: "POST", path: "/user/forgot-password",
		body: `{"email":"alice@example.com","success":"https://evil.example/forgot-done"}`}).want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "success", p.Field)
	p = f.do(t, request{method: "POST", path: "/user/forgot-password", body: `{"email":"alice@example.com","failure":5}`}).
		want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "failure", p.Field)
}

// A URL that does not match an entry of the allowlist exactly (scheme, host and path) is 400
// naming the field, and the request does nothing: the handler is never an open redirect.
func TestRedirectsRefused(t *testing.T) {
	f := newFixture(t, withAllowlist)
	tests := []struct{ name, url string }{
		{"another host", "https://evil.example/registered"},
		{"a host that ends like it", "https://app.example.com.evil.example/registered"},
		{"another scheme", "http://app.example.com/registered"},
		{"another path", "https://app.example.com/registered/more"},
		{"a path prefix", "https://app.example.com/register"},
		{"user information", "https://app.example.com@evil.example/registered"},
		{"user information before the host", "https://evil@app.example.com/registered"},
		{"scheme-relative", "//evil.example/forgot-done"},
		{"a backslash", "/\\evil.example/forgot-done"},
		{"a javascript URL", "javascript:alert(1)"},
		{"a relative path", "forgot-done"},
		{"a control character", "/forgot-done\n"},
		{"another port", "https://app.example.com:8443/registered"},
	}
	for _, tt := range tests {
		for _, field := range []string{"success", "failure"} {
			t.Run(tt.name+" as "+field, func(t *testing.T) {
				n := len(f.mail.to("frank@example.com"))
				form := url.Values{"email": {"frank@example.com"}, "password": {newPassword}, field: {tt.url}}
				res := f.do(t, request{method: "POST", path: "/user/register", body: form.Encode(), header: formHeader}).want(t, http.StatusBadRequest)
				assert.Equal(t, field, res.problem(t).Field)
				assert.Empty(t, res.header.Get("Location"))
				assert.Len(t, f.mail.to("frank@example.com"), n, "nothing was registered")
			})
		}
	}
	t.Run("given twice", func(t *testing.T) {
		body := "email=frank%40example.com&password=x&success=%2Fforgot-done&success=%2Fforgot-done"
		assert.Equal(t, "success", f.do(t, request{method: "POST", path: "/user/forgot-password", body: body, header: formHeader}).
			want(t, http.StatusBadRequest).problem(t).Field)
	})
	t.Run("without an allowlist every URL is refused", func(t *testing.T) {
		f := newFixture(t)
		form := url.Values{"email": {"alice@example.com"}, "success": {"/forgot-done"}}
		f.do(t, request{method: "POST", path: "/user/forgot-password", body: form.Encode(), header: formHeader}).want(t, http.StatusBadRequest)
	})
	_, err := f.svc.GetByUsername(t.Context(), "frank@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound)
}

// New refuses an allowlist entry that is neither an absolute http(s) URL nor a path.
func TestRedirectAllowlistEntries(t *testing.T) {
	svc, err := users.New(memory.New(), users.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	for _, entry := range []string{"", "relative", "//evil.example/x", "javascript:alert(1)", "https://u@app.example.com/x", "ftp://app.example.com/x", "https:///x"} {
		t.Run(entry, func(t *testing.T) {
			assert.Panics(t, func() { httpadapter.New(svc, httpadapter.Options{RedirectAllowlist: []string{entry}}) })
			assert.Panics(t, func() { httpadapter.Pages(svc, httpadapter.PagesOptions{RedirectAllowlist: []string{entry}}) })
		})
	}
}
