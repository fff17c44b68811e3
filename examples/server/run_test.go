package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunFirstStartAndRestart runs the program twice on one database: the first start creates
// the administrator with a generated password, printed once; the second creates nothing.
func TestRunFirstStartAndRestart(t *testing.T) {
	cheapHashing(t)
	db := filepath.Join(t.TempDir(), "users.db")
	args := []string{"-addr", "127.0.0.1:0", "-db", db}

	p := start(t, args, nil)
	out := p.stderr.String()
	m := printedPasswordRE.FindAllStringSubmatch(out, -1)
	require.Len(t, m, 1, "the password is printed once:\n%s", out)
	password := m[0][1]
	assert.Equal(t, 1, strings.Count(out, password), "and nowhere else")
	assert.Contains(t, out, "no mail directory")

	c := newClient(t, p.addr)
	resp := c.expect(http.StatusOK, "GET", "/healthz", "", nil, nil)
	assert.JSONEq(t, `{"status":"ok"}`, string(resp.body))
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	var s session
	c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": defaultAdminEmail, "password": password}, &s)
	assert.Contains(t, s.User.Scope, users.RoleAdmin)
	c.expect(http.StatusOK, "GET", "/openapi.json", "", nil, nil)

	// Without a mail directory, the code of a forgotten password is read from the log.
	c.expect(http.StatusOK, "POST", "/user/forgot-password", "", map[string]string{"email": defaultAdminEmail}, nil)
	codeRE := regexp.MustCompile(`msg=mail kind=password-reset to=` + regexp.QuoteMeta(defaultAdminEmail) + ` user=\S+ code=(\S+)`)
	var code string
	testutil.Eventually(t, func() bool {
		m := codeRE.FindStringSubmatch(p.stderr.String())
		if m != nil {
			code = m[1]
		}
		return m != nil
	}, "the mail's log line")
	c.expect(http.StatusOK, "POST", "/user/forgot-password/reset", "", map[string]string{"code": code, "password": password}, nil)

	require.NoError(t, p.stop(t))
	out = p.stderr.String()
	assert.Contains(t, out, `msg="shutting down"`)
	assert.Contains(t, out, "msg=stopped")
	assert.NotContains(t, out, s.Token, "no token is logged")
	assert.Equal(t, 1, strings.Count(out, password))

	// The second start finds the administrator and leaves the users as they are.
	p = start(t, args, map[string]string{envAdminEmail: "other@example.com", envAdminPassword: "another pass phrase"})
	out = p.stderr.String()
	assert.NotRegexp(t, printedPasswordRE, out)
	assert.NotContains(t, out, "first administrator")
	c = newClient(t, p.addr)
	c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": defaultAdminEmail, "password": password}, &s)
	var count struct{ Count int }
	c.expect(http.StatusOK, "GET", "/users/count", s.Token, nil, &count)
	assert.Equal(t, 1, count.Count)
	require.NoError(t, p.stop(t))
}

func TestRunRateLimit(t *testing.T) {
	cheapHashing(t)
	vars := map[string]string{envAdminEmail: "root@example.com", envAdminPassword: "a long admin pass phrase"}
	wrong := map[string]string{"username": "root@example.com", "password": "not the password"}

	t.Run("on", func(t *testing.T) {
		p := start(t, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "u.db"), "-rate-limit", "1"}, vars)
		c := newClient(t, p.addr)
		c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", wrong, nil)
		resp := c.expect(http.StatusTooManyRequests, "POST", "/user/auth", "", wrong, nil)
		assert.NotEmpty(t, resp.header.Get("Retry-After"))
		c.expect(http.StatusOK, "GET", "/healthz", "", nil, nil) // not limited
		require.NoError(t, p.stop(t))
	})
	t.Run("off", func(t *testing.T) {
		p := start(t, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "u.db"), "-rate-limit", "0"}, vars)
		c := newClient(t, p.addr)
		for range 8 { // under the Service's own per-account throttle of 10
			c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", wrong, nil)
		}
		require.NoError(t, p.stop(t))
	})
}

func TestRunJSONLog(t *testing.T) {
	cheapHashing(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr testutil.SyncBuffer
	done := make(chan error, 1)
	vars := map[string]string{envAdminEmail: "root@example.com", envAdminPassword: "a long admin pass phrase", "USERS_LOG_FORMAT": "json"}
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "u.db")}, env(vars), &stderr)
	}()
	testutil.Eventually(t, func() bool { return strings.Contains(stderr.String(), `"msg":"listening"`) }, "the listening line")
	cancel()
	require.NoError(t, <-done)

	var msgs []string
	for line := range strings.Lines(stderr.String()) {
		var rec struct{ Msg, Addr string }
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "every line is JSON: %q", line)
		msgs = append(msgs, rec.Msg)
		if rec.Msg == "listening" {
			_, port, err := net.SplitHostPort(rec.Addr)
			require.NoError(t, err)
			assert.NotEqual(t, "0", port, "the address bound, not the one asked for")
		}
	}
	assert.Equal(t, []string{"database open", "no mail directory: mails are logged with their codes, fit only for development",
		"first administrator created", "listening", "shutting down", "stopped"}, msgs)
}

func TestRunStoppedWhileStarting(t *testing.T) {
	cheapHashing(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stderr testutil.SyncBuffer

	err := run(ctx, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "u.db")}, env(nil), &stderr)

	require.NoError(t, err, "a stop asked for before the server listens is a clean stop")
	assert.NotContains(t, stderr.String(), "msg=listening")
	assert.Contains(t, stderr.String(), "msg=stopped")
}

func TestRunCannotListen(t *testing.T) {
	cheapHashing(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var stderr testutil.SyncBuffer

	err = run(t.Context(), []string{"-addr", ln.Addr().String(), "-db", filepath.Join(t.TempDir(), "u.db")},
		env(map[string]string{envAdminPassword: "a long admin pass phrase"}), &stderr)

	require.Error(t, err)
	var usage *usageError
	assert.NotErrorAs(t, err, &usage)
	assert.NotContains(t, stderr.String(), "msg=stopped")
}

func TestHealthzUnavailable(t *testing.T) {
	store, err := sqlite.Open(t.Context(), sqlite.Memory, nil)
	require.NoError(t, err)
	svc, err := users.New(store, users.Config{Argon2: testutil.CheapArgon2(), NoWorker: true})
	require.NoError(t, err)
	defer svc.Close()
	h := healthz(svc, slog.New(slog.DiscardHandler))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"status":"ok"}`, rec.Body.String())

	require.NoError(t, store.Close())
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.JSONEq(t, `{"status":"unavailable"}`, rec.Body.String())
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}
