package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/textproto"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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
		"security event", "first administrator created", "listening", "shutting down", "stopped"}, msgs)
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
	svc, err := users.New(store, users.Config{Argon2: users.TestArgon2(), NoWorker: true})
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

// TestRunSMTP runs the program with -smtp against a minimal SMTP server: the reset mail
// arrives there, with a link built from -base-url, and its code works.
func TestRunSMTP(t *testing.T) {
	cheapHashing(t)
	addr, mails := smtpSink(t)
	const password = "a long admin pass phrase"
	p := start(t, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "u.db"),
		"-smtp", addr, "-smtp-insecure", "-base-url", "https://app.example.com/accounts"},
		map[string]string{
			envAdminPassword: password, "USERS_SMTP_FROM": "Example <no-reply@example.com>",
			"USERS_SMTP_USERNAME": "mailer", "USERS_SMTP_PASSWORD": "smtp secret",
		})
	assert.Contains(t, p.stderr.String(), `msg="mail over SMTP" server=`+addr)
	assert.NotContains(t, p.stderr.String(), "no mail directory")

	c := newClient(t, p.addr)
	c.expect(http.StatusOK, "POST", "/user/forgot-password", "", map[string]string{"email": defaultAdminEmail}, nil)
	var raw string
	select {
	case raw = <-mails:
	case <-time.After(waitTimeout):
		require.FailNow(t, "no mail arrived", "the server's standard error:\n%s", p.stderr)
	}
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	require.NoError(t, err)
	assert.Equal(t, `"Example" <no-reply@example.com>`, msg.Header.Get("From"))
	assert.Equal(t, `"Administrator" <`+defaultAdminEmail+">", msg.Header.Get("To"))
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	text, err := multipart.NewReader(msg.Body, params["boundary"]).NextPart()
	require.NoError(t, err)
	body, err := io.ReadAll(text)
	require.NoError(t, err)
	m := regexp.MustCompile(`https://app\.example\.com/accounts/reset-password\?code=(\S+)`).FindSubmatch(body)
	require.NotNil(t, m, "the link, built from -base-url:\n%s", body)
	code := string(m[1])
	c.expect(http.StatusOK, "POST", "/user/forgot-password/reset", "", map[string]string{"code": code, "password": "another long pass phrase"}, nil)

	require.NoError(t, p.stop(t))
	assert.NotContains(t, p.stderr.String(), code)
	assert.NotContains(t, p.stderr.String(), "smtp secret")
}

// smtpSink is a minimal SMTP server on 127.0.0.1, without STARTTLS, that accepts any
// credentials and every message, and sends each message on the channel it returns, with CRLF
// line ends. It stops when the test ends.
func smtpSink(t *testing.T) (addr string, mails <-chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ch := make(chan string, 10)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(waitTimeout))
				tp := textproto.NewConn(conn)
				_ = tp.PrintfLine("220 sink")
				for {
					line, err := tp.ReadLine()
					if err != nil {
						return
					}
					verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
					switch verb {
					case "EHLO":
						_ = tp.PrintfLine("250-sink\r\n250 AUTH PLAIN")
					case "AUTH":
						_ = tp.PrintfLine("235 authenticated")
					case "DATA":
						_ = tp.PrintfLine("354 go ahead")
						b, err := tp.ReadDotBytes()
						if err != nil {
							return
						}
						ch <- string(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
						_ = tp.PrintfLine("250 OK")
					case "QUIT":
						_ = tp.PrintfLine("221 bye")
						return
					default:
						_ = tp.PrintfLine("250 OK")
					}
				}
			})
		}
	})
	return ln.Addr().String(), ch
}
