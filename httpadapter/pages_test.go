package httpadapter_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pagesFixture is the fixture with the pages' handler beside the API's.
type pagesFixture struct {
	*fixture
	pages http.Handler
}

// newPages builds a fixture and the pages over its Service: in cookie mode with the tests'
// allowlist, without rate limits, unless configure changes the options.
func newPages(t *testing.T, configure ...func(*httpadapter.PagesOptions)) *pagesFixture {
	t.Helper()
	f := newFixture(t)
	opts := httpadapter.PagesOptions{
		Cookie:            &httpadapter.Cookie{},
		RedirectAllowlist: allowlist,
		RateLimits:        httpadapter.RateLimits{SignIn: httpadapter.RateLimit{Burst: -1}},
		Logger:            slogTo(f.logs),
		Now:               f.clock.Now,
	}
	for _, c := range configure {
		c(&opts)
	}
	return &pagesFixture{fixture: f, pages: httpadapter.Pages(f.svc, opts)}
}

// page is a page the handler answered.
type page struct {
	status int
	header http.Header
	html   string
}

// get opens a page.
func (f *pagesFixture) get(t testing.TB, target string) page {
	t.Helper()
	res := serve(f.pages, request{method: "GET", path: target})
	return f.checked(t, res)
}

// post sends a page's form as a browser on the page's own origin does.
func (f *pagesFixture) post(t testing.TB, path string, form url.Values, header ...string) page {
	t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	res := serve(f.pages, request{method: "POST", path: path, body: form.Encode(), header: h})
	return f.checked(t, res)
}

// checked returns the response as a page, checking the headers every page has, and that it
// holds no password and no hash.
func (f *pagesFixture) checked(t testing.TB, res *response) page {
	t.Helper()
	p := page{status: res.status, header: res.header, html: string(res.body)}
	for _, s := range []string{adminPassword, alicePassword, bobPassword, newPassword, "$argon2id$"} {
		assert.NotContains(t, p.html, s, "a secret in a page")
	}
	if res.status == http.StatusSeeOther {
		return p
	}
	assert.Equal(t, "text/html; charset=utf-8", res.header.Get("Content-Type"))
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", res.header.Get("Referrer-Policy"), "the code in the address never leaves in a Referer")
	assert.Equal(t, "DENY", res.header.Get("X-Frame-Options"))
	assert.Contains(t, res.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Contains(t, p.html, `<html lang="en">`)
	return p
}

var (
	headingRE = regexp.MustCompile(`<h1>([^<]*)</h1>`)
	alertRE   = regexp.MustCompile(`<p role="alert"[^>]*>([^<]*)</p>`)
)

// heading returns the page's h1.
func (p page) heading(t testing.TB) string {
	t.Helper()
	m := headingRE.FindStringSubmatch(p.html)
	require.NotNil(t, m, "no heading in:\n%s", p.html)
	return m[1]
}

// alert returns the error the page announces, or "".
func (p page) alert() string {
	if m := alertRE.FindStringSubmatch(p.html); m != nil {
		return m[1]
	}
	return ""
}

// hasForm reports whether the page has a form.
func (p page) hasForm() bool { return strings.Contains(p.html, "<form") }

// Opening the reset link shows a form and uses nothing; a password the policy refuses is
// shown in words and the form stays; a good one is set, once.
func TestPagesResetPassword(t *testing.T) {
	f := newPages(t)
	code := f.resetCode(t, "alice@example.com")
	link := "/reset-password?code=" + url.QueryEscape(code)

	for range 2 { // a mail scanner, then the user
		p := f.get(t, link)
		require.Equal(t, http.StatusOK, p.status)
		assert.Equal(t, "Choose a new password", p.heading(t))
		assert.Empty(t, p.alert())
		assert.Contains(t, p.html, `<label for="password">New password</label>`)
		assert.Contains(t, p.html, `<input id="password" name="password" type="password" autocomplete="new-password" required>`)
		assert.Contains(t, p.html, `<form method="post" action="reset-password">`)
		assert.Contains(t, p.html, `<input type="hidden" name="code" value="`+code+`">`)
	}

	p := f.post(t, "/reset-password", url.Values{"code": {code}, "password": {"x9q"}})
	require.Equal(t, http.StatusBadRequest, p.status)
	assert.Equal(t, "The password must have at least 8 characters.", p.alert())
	assert.True(t, p.hasForm(), "the form stays, to try again")
	assert.Contains(t, p.html, `aria-invalid="true" aria-describedby="error"`)
	assert.NotContains(t, p.html, "x9q", "the password is not echoed")

	p = f.post(t, "/reset-password", url.Values{"code": {code}, "password": {newPassword}})
	require.Equal(t, http.StatusOK, p.status, p.html)
	assert.Equal(t, "Password changed", p.heading(t))
	assert.NotContains(t, p.html, code)
	assert.Contains(t, p.html, `<a href="sign-in">`)
	_, err := f.svc.SignIn(t.Context(), "alice@example.com", newPassword)
	assert.NoError(t, err)
	assert.False(t, f.authenticates(t, f.alice.token), "the reset signed every session out")

	p = f.post(t, "/reset-password", url.Values{"code": {code}, "password": {"another new pass phrase"}})
	require.Equal(t, http.StatusBadRequest, p.status)
	assert.Contains(t, p.alert(), "This link does not work")
	assert.False(t, p.hasForm(), "no form for a code that does not work")
}

// Opening the verification link shows a button and verifies nothing; its POST verifies.
func TestPagesVerify(t *testing.T) {
	f := newPages(t)
	code := f.verifyCode(t, "alice@example.com")

	p := f.get(t, "/verify?code="+url.QueryEscape(code))
	require.Equal(t, http.StatusOK, p.status)
	assert.Equal(t, "Confirm your e-mail address", p.heading(t))
	assert.Contains(t, p.html, `<button type="submit">Confirm my e-mail address</button>`)
	u, err := f.svc.Get(t.Context(), f.alice.ID)
	require.NoError(t, err)
	assert.False(t, u.EmailVerified, "opening the link verifies nothing")

	p = f.post(t, "/verify", url.Values{"code": {code}})
	require.Equal(t, http.StatusOK, p.status, p.html)
	assert.Equal(t, "E-mail address confirmed", p.heading(t))
	assert.Contains(t, p.html, "alice@example.com")
	u, err = f.svc.Get(t.Context(), f.alice.ID)
	require.NoError(t, err)
	assert.True(t, u.EmailVerified)

	p = f.post(t, "/verify", url.Values{"code": {code}})
	assert.Equal(t, http.StatusBadRequest, p.status)
	assert.Contains(t, p.alert(), "This link does not work")
}

// A link without a code, a form it cannot read, and a page that does not exist get a page
// that says so.
func TestPagesBadRequests(t *testing.T) {
	f := newPages(t)
	tests := []struct {
		name   string
		page   func() page
		status int
		alert  string
	}{
		{"a reset link without a code", func() page { return f.get(t, "/reset-password") }, http.StatusBadRequest, "This link does not work"},
		{"a verify link without a code", func() page { return f.get(t, "/verify?code=") }, http.StatusBadRequest, "This link does not work"},
		{"a form field it does not take", func() page {
			return f.post(t, "/reset-password", url.Values{"code": {"c"}, "password": {newPassword}, "isAdmin": {"true"}})
		}, http.StatusBadRequest, "The form field isAdmin is not a field of this request."},
		{"a form without a password", func() page { return f.post(t, "/reset-password", url.Values{"code": {"c"}}) }, http.StatusBadRequest, "The password is required."},
		{"a body that is not a form", func() page {
			return f.post(t, "/verify", url.Values{}, "Content-Type", "application/json")
		}, http.StatusUnsupportedMediaType, "The form must be sent as application/x-www-form-urlencoded."},
		{"an unknown page", func() page { return f.get(t, "/nowhere") }, http.StatusNotFound, "There is no such page."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.page()
			assert.Equal(t, tt.status, p.status)
			assert.Contains(t, p.alert(), tt.alert)
		})
	}
}

// A page's form sent from another origin is refused and does nothing.
func TestPagesCrossOrigin(t *testing.T) {
	f := newPages(t)
	code := f.resetCode(t, "bob@example.com")
	for _, site := range []string{"cross-site", "same-site"} {
		p := f.post(t, "/reset-password", url.Values{"code": {code}, "password": {newPassword}}, "Sec-Fetch-Site", site)
		assert.Equal(t, http.StatusForbidden, p.status)
		assert.Contains(t, p.alert(), "This form was sent from another site")
	}
	_, err := f.svc.SignIn(t.Context(), "bob@example.com", bobPassword)
	assert.NoError(t, err, "the password stays")
	p := f.post(t, "/reset-password", url.Values{"code": {code}, "password": {newPassword}})
	assert.Equal(t, http.StatusOK, p.status, "the code is still usable")
}

// The sign-in page sets the session cookie; the sign-out page signs the session out and
// clears it.
func TestPagesSignInAndOut(t *testing.T) {
	f := newPages(t)
	p := f.get(t, "/sign-in")
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.html, `<label for="username">Username</label>`)
	assert.Contains(t, p.html, `autocomplete="current-password"`)

	p = f.post(t, "/sign-in", url.Values{"username": {"alice@example.com"}, "password": {"not the password"}})
	assert.Equal(t, http.StatusUnauthorized, p.status)
	assert.Equal(t, "Wrong username or password.", p.alert())
	assert.Contains(t, p.html, `value="alice@example.com"`, "the username stays in the form")
	assert.Empty(t, p.header.Values("Set-Cookie"))

	p = f.post(t, "/sign-in", url.Values{"username": {"alice@example.com"}, "password": {alicePassword}})
	require.Equal(t, http.StatusOK, p.status, p.html)
	assert.Equal(t, "Signed in", p.heading(t))
	assert.Contains(t, p.html, "You are signed in as alice@example.com.")
	c := (&response{header: p.header}).sessionCookie(t)
	f.secret(c.Value)
	assert.True(t, c.HttpOnly)
	assert.True(t, c.Secure)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.NotContains(t, p.html, c.Value, "the token stays in the cookie")
	assert.True(t, f.authenticates(t, c.Value))

	p = f.post(t, "/sign-out", url.Values{}, "Cookie", cookieName+"="+c.Value, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusForbidden, p.status)
	assert.True(t, f.authenticates(t, c.Value), "another site cannot sign the user out")

	p = f.post(t, "/sign-out", url.Values{}, "Cookie", cookieName+"="+c.Value)
	require.Equal(t, http.StatusOK, p.status)
	assert.Equal(t, "Signed out", p.heading(t))
	assert.Empty(t, (&response{header: p.header}).sessionCookie(t).Value)
	assert.False(t, f.authenticates(t, c.Value))
}

// The sign-in page is rate-limited per client address, as POST /user/auth is.
func TestPagesSignInRateLimited(t *testing.T) {
	f := newPages(t, func(o *httpadapter.PagesOptions) { o.RateLimits.SignIn = httpadapter.RateLimit{Burst: 1} })
	form := url.Values{"username": {"alice@example.com"}, "password": {"not the password"}}
	assert.Equal(t, http.StatusUnauthorized, f.post(t, "/sign-in", form).status)
	p := f.post(t, "/sign-in", form)
	assert.Equal(t, http.StatusTooManyRequests, p.status)
	assert.NotEmpty(t, p.header.Get("Retry-After"))
	assert.Equal(t, "Too many requests; try again later.", p.alert())
}

// A plugged Limiter decides the sign-in page's limit, with the client's address.
func TestPagesSignInPluggedLimiter(t *testing.T) {
	l := &recordingLimiter{refuse: map[string]bool{httpadapter.LimitSignIn: true}}
	f := newPages(t, func(o *httpadapter.PagesOptions) { o.Limiter = l })
	form := url.Values{"username": {"alice@example.com"}, "password": {alicePassword}}
	p := f.post(t, "/sign-in", form)
	assert.Equal(t, http.StatusTooManyRequests, p.status)
	assert.Equal(t, "42", p.header.Get("Retry-After"))
	assert.Equal(t, []string{"sign-in 192.0.2.1"}, l.calls())
}

// Without a cookie there is nothing to sign in to: no sign-in page, and no link to one.
func TestPagesWithoutCookie(t *testing.T) {
	f := newPages(t, func(o *httpadapter.PagesOptions) { o.Cookie = nil })
	assert.Equal(t, http.StatusNotFound, f.get(t, "/sign-in").status)
	assert.Equal(t, http.StatusNotFound, f.post(t, "/sign-out", url.Values{}).status)
	code := f.resetCode(t, "alice@example.com")
	p := f.post(t, "/reset-password", url.Values{"code": {code}, "password": {newPassword}})
	require.Equal(t, http.StatusOK, p.status)
	assert.NotContains(t, p.html, "sign-in")
}

// The pages carry success and failure URLs of the allowlist from the link to the form, and
// redirect there after the POST; any other URL is refused.
func TestPagesRedirects(t *testing.T) {
	f := newPages(t)
	code := f.resetCode(t, "alice@example.com")
	q := url.Values{"code": {code}, "success": {"https://app.example.com/registered"}, "failure": {"https://app.example.com/failed"}}
	p := f.get(t, "/reset-password?"+q.Encode())
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.html, `<input type="hidden" name="success" value="https://app.example.com/registered">`)
	assert.Contains(t, p.html, `<input type="hidden" name="failure" value="https://app.example.com/failed">`)

	q.Set("password", "x9q")
	p = f.post(t, "/reset-password", q)
	require.Equal(t, http.StatusSeeOther, p.status)
	assert.Equal(t, "https://app.example.com/failed?error=invalid&field=password", p.header.Get("Location"))

	q.Set("password", newPassword)
	p = f.post(t, "/reset-password", q)
	require.Equal(t, http.StatusSeeOther, p.status)
	assert.Equal(t, "https://app.example.com/registered", p.header.Get("Location"))

	p = f.get(t, "/reset-password?code=c&success="+url.QueryEscape("https://evil.example/registered"))
	assert.Equal(t, http.StatusBadRequest, p.status)
	assert.False(t, p.hasForm())
	p = f.post(t, "/verify", url.Values{"code": {"c"}, "failure": {"https://evil.example/x"}})
	assert.Equal(t, http.StatusBadRequest, p.status)
	assert.Empty(t, p.header.Get("Location"))
	assert.Contains(t, p.alert(), "address to go to next that this site does not allow")
}

// What the page shows of its request is escaped: a code cannot inject markup.
func TestPagesEscape(t *testing.T) {
	f := newPages(t)
	p := f.get(t, "/reset-password?code="+url.QueryEscape(`"><script>alert(1)</script>`))
	require.Equal(t, http.StatusOK, p.status)
	assert.NotContains(t, p.html, "<script>")
	assert.Contains(t, p.html, `value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`)
}

// The Content-Security-Policy allows the pages' own style sheet, by its hash, and nothing
// else; forms may go to the page's origin and the allowlist's.
func TestPagesContentSecurityPolicy(t *testing.T) {
	f := newPages(t)
	p := f.get(t, "/sign-in")
	style := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(p.html)
	require.NotNil(t, style)
	sum := sha256.Sum256([]byte(style[1]))
	assert.Equal(t, "default-src 'none'; style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'; "+
		"form-action 'self' https://app.example.com https://app.example.com; frame-ancestors 'none'; base-uri 'none'",
		p.header.Get("Content-Security-Policy"))
	assert.NotContains(t, p.html, "<script")
}

// An internal error is shown without its details, and logged.
func TestPagesInternalError(t *testing.T) {
	f := newFixture(t)
	pages := httpadapter.Pages(brokenVerify{f.svc}, httpadapter.PagesOptions{Logger: slogTo(f.logs)})
	res := serve(pages, request{method: "POST", path: "/verify", body: "code=c",
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	assert.Equal(t, http.StatusInternalServerError, res.status)
	assert.Contains(t, string(res.body), "Something went wrong on our side")
	assert.NotContains(t, string(res.body), "the store is down")
	assert.Contains(t, f.logs.String(), "the store is down")
}

// brokenVerify is a Service whose VerifyEmail fails as a broken store would.
type brokenVerify struct{ users.Service }

func (brokenVerify) VerifyEmail(_ context.Context, _ string) (*users.User, error) {
	return nil, errors.New("the store is down")
}
