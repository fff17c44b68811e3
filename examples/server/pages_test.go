package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -cors-origins and USERS_CORS_ORIGINS take a comma-separated list of origins; -base-url is
// checked without -smtp too.
func TestParseConfigBrowser(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		origins []string
		err     string
	}{
		{name: "none", origins: nil},
		{name: "a flag", args: []string{"-cors-origins", "https://app.example.com, http://localhost:5173,"},
			origins: []string{"https://app.example.com", "http://localhost:5173"}},
		{name: "the variable", env: map[string]string{"USERS_CORS_ORIGINS": "https://app.example.com"}, origins: []string{"https://app.example.com"}},
		{name: "a wildcard", args: []string{"-cors-origins", "*"}, err: "-cors-origins"},
		{name: "a wildcard host", args: []string{"-cors-origins", "https://*.example.com"}, err: "-cors-origins"},
		{name: "a path", args: []string{"-cors-origins", "https://app.example.com/app"}, err: "-cors-origins"},
		{name: "a relative base URL", args: []string{"-base-url", "/app"}, err: "-base-url must be an absolute"},
		{name: "a base URL with a query", args: []string{"-base-url", "https://app.example.com/?a=b"}, err: "-base-url must be an absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, env(tt.env), io.Discard)
			if tt.err != "" {
				var usage *usageError
				require.ErrorAs(t, err, &usage)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			origins, err := c.origins()
			require.NoError(t, err)
			assert.Equal(t, tt.origins, origins)
		})
	}
}

// The session cookie is Secure unless the links are built on an http URL, as in development.
func TestCookieFollowsBaseURL(t *testing.T) {
	tests := []struct {
		addr, baseURL string
		insecure      bool
	}{
		{":8080", "", true},
		{":8080", "http://127.0.0.1:8080", true},
		{":8080", "https://app.example.com/users", false},
	}
	for _, tt := range tests {
		c := config{addr: tt.addr, baseURL: tt.baseURL}
		assert.Equal(t, tt.insecure, c.cookie().Insecure, "%+v", tt)
	}
	assert.Equal(t, "http://localhost:8080", config{addr: ":8080"}.linkBase().String())
}

// The development mailer writes, beside the code, the link smtpmail would send: built from
// -base-url, to the page of the mail's kind; a mail without a code has none.
func TestMailerWritesLinks(t *testing.T) {
	base, err := url.Parse("https://app.example.com/users")
	require.NoError(t, err)
	tests := []struct {
		kind users.MailKind
		want string
	}{
		{users.MailPasswordReset, "https://app.example.com/users/reset-password?code=" + testCode},
		{users.MailVerifyEmail, "https://app.example.com/users/verify?code=" + testCode},
		{users.MailPasswordChanged, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			dir := t.TempDir()
			m, err := newMailer(dir, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			m.links = base
			mail := resetMail()
			mail.Kind = tt.kind
			if tt.kind == users.MailPasswordChanged {
				mail.Code = ""
			}
			require.NoError(t, m.Send(t.Context(), mail))
			files := emlFiles(t, dir)
			require.Len(t, files, 1)
			body := readEML(t, files[0]).body
			if tt.want == "" {
				assert.NotContains(t, body, "https://")
				return
			}
			assert.Contains(t, body, "\r\n"+tt.want+"\r\n", "the link, on a line of its own")
			assert.Contains(t, body, "\r\n"+testCode+"\r\n", "the code stays, on a line of its own")
		})
	}
}

// The server mounts the pages the mails link to, in cookie mode, and answers the preflight
// requests of -cors-origins.
func TestRunServesPages(t *testing.T) {
	cheapHashing(t)
	dir := t.TempDir()
	p := start(t, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "users.db"), "-mail-dir", filepath.Join(dir, "mail"),
		"-cors-origins", "https://app.example.com"}, map[string]string{envAdminPassword: "the administrator's pass phrase"})
	client := &http.Client{Timeout: waitTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + p.addr

	for _, path := range []string{"/reset-password?code=x", "/verify?code=x", "/sign-in", "/sign-out"} {
		res, err := client.Get(base + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, path)
		assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"), path)
		assert.Contains(t, string(body), "<h1>", path)
	}

	form := url.Values{"username": {defaultAdminEmail}, "password": {"the administrator's pass phrase"}}
	res, err := client.PostForm(base+"/sign-in", form)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	cookies := res.Cookies()
	require.Len(t, cookies, 1)
	assert.Equal(t, "users_session", cookies[0].Name, "not Secure on http://localhost")
	assert.False(t, cookies[0].Secure)
	assert.True(t, cookies[0].HttpOnly)
	assert.Greater(t, cookies[0].MaxAge, int(time.Hour.Seconds()))

	req, err := http.NewRequest(http.MethodGet, base+"/user", nil)
	require.NoError(t, err)
	req.AddCookie(cookies[0])
	res, err = client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode, "the API takes the cookie: %s", body)
	assert.Contains(t, string(body), defaultAdminEmail)

	req, err = http.NewRequest(http.MethodOptions, base+"/users", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	res, err = client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	assert.Equal(t, "https://app.example.com", res.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", res.Header.Get("Access-Control-Allow-Credentials"))
	assert.False(t, strings.Contains(p.stderr.String(), "pass phrase"), "no password in the log")
}
