package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
)

// startJSON is start for a run whose log is in the JSON format.
func startJSON(t *testing.T, args []string, vars map[string]string) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcess{stderr: new(testutil.SyncBuffer), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = run(ctx, args, env(vars), p.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	testutil.Eventually(t, func() bool {
		for line := range strings.Lines(p.stderr.String()) {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				p.addr = rec.Addr
				return true
			}
		}
		return false
	}, "the listening line")
	return p
}

// securityLines returns the security log's lines of a JSON log, decoded.
func securityLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(log) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "every line is JSON: %q", line)
		if rec["msg"] == securityMessage {
			out = append(out, rec)
		}
	}
	return out
}

// A sign-in that fails, one that is throttled and the creation of an API key are logged with
// the client's address and User-Agent, and nothing secret is.
func TestSecurityLog(t *testing.T) {
	cheapHashing(t)
	const adminPassword = "a long admin pass phrase"
	const typedAsUsername = "hunter2 in the wrong box" // a password typed into the username field
	wrongPassword := "not the password, but close"
	vars := map[string]string{envAdminEmail: "root@example.com", envAdminPassword: adminPassword, "USERS_LOG_FORMAT": "json"}
	p := startJSON(t, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "u.db"), "-rate-limit", "0"}, vars)
	c := newClient(t, p.addr)

	var s session
	c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": "root@example.com", "password": adminPassword}, &s)
	var key struct{ ID, Key string }
	c.expect(http.StatusCreated, "POST", "/user/keys", s.Token, map[string]string{"name": "deploy"}, &key)
	require.NotEmpty(t, key.Key)
	c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", map[string]string{"username": typedAsUsername, "password": wrongPassword}, nil)
	for range 10 {
		c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", map[string]string{"username": "root@example.com", "password": wrongPassword}, nil)
	}
	c.expect(http.StatusTooManyRequests, "POST", "/user/auth", "", map[string]string{"username": "root@example.com", "password": adminPassword}, nil)
	require.NoError(t, p.stop(t))

	log := p.stderr.String()
	for _, secret := range []string{adminPassword, wrongPassword, typedAsUsername, s.Token, key.Key} {
		assert.NotContains(t, log, secret)
	}
	lines := securityLines(t, log)
	count := map[string]int{}
	for _, l := range lines {
		count[l["event"].(string)]++
	}
	assert.Equal(t, map[string]int{"user.created": 1, "user.signed-in": 1, "apikey.created": 1, "user.sign-in-failed": 11, "user.sign-in-throttled": 1}, count)

	tests := []struct {
		name     string
		event    users.EventType
		level    string
		username string // "" when the line has none
	}{
		{"a failed sign-in of an account", users.EventSignInFailed, "WARN", "root@example.com"},
		{"a throttled sign-in", users.EventSignInThrottled, "WARN", "root@example.com"},
		{"a new API key", users.EventAPIKeyCreated, "INFO", ""},
		{"a sign-in", users.EventSignedIn, "INFO", "root@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l map[string]any
			for _, cand := range lines {
				if cand["event"] == string(tt.event) {
					l = cand
				}
			}
			require.NotNil(t, l, "a %s line", tt.event)
			assert.Equal(t, tt.level, l["level"])
			assert.Equal(t, s.User.ID, l["user"])
			assert.Equal(t, map[string]any{"addr": "127.0.0.1", "userAgent": "Go-http-client/1.1"}, l["client"])
			if tt.username == "" {
				assert.NotContains(t, l, "username")
			} else {
				assert.Equal(t, tt.username, l["username"])
			}
		})
	}
	t.Run("a failed sign-in of no account names none", func(t *testing.T) {
		var anonymous int
		for _, l := range lines {
			if l["event"] == string(users.EventSignInFailed) && l["user"] == nil {
				anonymous++
				assert.NotContains(t, l, "username")
				assert.Equal(t, "127.0.0.1", l["client"].(map[string]any)["addr"])
			}
		}
		assert.Equal(t, 1, anonymous)
	})
}

// securityLog writes each field of an event it has, and leaves out those it has not.
func TestSecurityLogFields(t *testing.T) {
	at := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	tests := []struct {
		name  string
		event users.Event
		want  map[string]any
	}{
		{"an administrator's action", users.Event{Type: users.EventPasswordReset, Time: at, UserID: "u1", ActorID: "a1",
			Client: users.Client{Addr: netip.MustParseAddr("2001:db8::1"), UserAgent: "curl/8.0"}},
			map[string]any{"level": "INFO", "event": "password.reset", "user": "u1", "actor": "a1",
				"client": map[string]any{"addr": "2001:db8::1", "userAgent": "curl/8.0"}}},
		{"a deletion step, from the worker", users.Event{Type: users.EventDeletionStep, Time: at, UserID: "u1", TicketID: "t1", Step: "remove-user"},
			map[string]any{"level": "INFO", "event": "deletion.step", "user": "u1", "ticket": "t1", "step": "remove-user"}},
		{"a throttled sign-in of no account", users.Event{Type: users.EventSignInThrottled, Time: at, Client: users.Client{Addr: netip.MustParseAddr("192.0.2.1")}},
			map[string]any{"level": "WARN", "event": "user.sign-in-throttled", "client": map[string]any{"addr": "192.0.2.1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			securityLog(slog.New(slog.NewJSONHandler(&buf, nil)))(tt.event)
			var got map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
			delete(got, "time")
			assert.Equal(t, "2025-03-14T09:26:53Z", got["at"])
			delete(got, "at")
			tt.want["msg"] = securityMessage
			assert.Equal(t, tt.want, got)
		})
	}
}
