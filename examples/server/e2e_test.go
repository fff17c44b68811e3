package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users/internal/testutil"
)

// buildTimeout bounds the build of the program for the end-to-end test.
const buildTimeout = 5 * time.Minute

// buildServer builds the program into dir and returns the path of the binary. It runs the
// go command that runs the test: go test puts its own GOROOT/bin first on the PATH of the
// test.
func buildServer(t *testing.T, dir string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	require.NoError(t, err, "the go command")
	bin := filepath.Join(dir, "server")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, goCmd, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)
	return bin
}

// process is the program running in a process of its own.
type process struct {
	cmd     *exec.Cmd
	addr    string
	stderr  *testutil.SyncBuffer
	stdout  *testutil.SyncBuffer
	exited  chan struct{}
	waitErr error // cmd.Wait's; read after exited is closed
}

// startProcess runs bin with args, in an environment of the test's own without USERS_
// variables, plus vars, and waits until it listens. The process is killed when the test ends,
// unless it has exited.
func startProcess(t *testing.T, bin string, args []string, vars map[string]string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), stderr: new(testutil.SyncBuffer), stdout: new(testutil.SyncBuffer), exited: make(chan struct{})}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "USERS_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	for k, v := range vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, p.stdout
	require.NoError(t, p.cmd.Start())
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("the server's standard error:\n%s", p.stderr)
		}
	})
	p.addr = waitListening(t, p.stderr, p.exited)
	return p
}

// terminate sends SIGTERM and requires the process to exit with status 0 within waitTimeout.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	select {
	case <-p.exited:
	case <-deadline.C:
		require.FailNow(t, "the server did not exit after SIGTERM")
	}
	require.NoError(t, p.waitErr, "exit status")
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode())
}

// codeLineRE finds a reset code on a line of its own: 43 characters of unpadded base64url.
var codeLineRE = regexp.MustCompile(`(?m)^([A-Za-z0-9_-]{43})\r?$`)

// waitResetCode waits until dir holds a reset mail to addr and returns the code in the newest.
// Other mails, such as the notice that a password changed, are passed over.
func waitResetCode(t *testing.T, dir, addr string) string {
	t.Helper()
	return waitMailCode(t, dir, addr, "Reset your password")
}

// waitMailCode waits until dir holds a mail to addr with the subject and returns the code in
// the newest.
func waitMailCode(t *testing.T, dir, addr, subject string) string {
	t.Helper()
	var m parsedMail
	testutil.Eventually(t, func() bool {
		files := emlFiles(t, dir)
		for i := len(files) - 1; i >= 0; i-- {
			m = readEML(t, files[i])
			if to, _ := m.header.AddressList("To"); m.header.Get("Subject") == subject && len(to) == 1 && to[0].Address == addr {
				return true
			}
		}
		return false
	}, "a mail %q to %s in %s", subject, addr, dir)
	to, err := m.header.AddressList("To")
	require.NoError(t, err)
	require.Len(t, to, 1)
	assert.Equal(t, addr, to[0].Address)
	code := codeLineRE.FindStringSubmatch(m.body)
	require.NotNil(t, code, "a code in the mail:\n%s", m.body)
	return code[1]
}

// TestEndToEnd builds the program, runs it, and walks the Appmixer user API's sequence of
// calls (seeds 000 and 001) over real HTTP, then stops it with SIGTERM.
func TestEndToEnd(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("stops the server with SIGTERM, which Windows does not have")
	}
	dir := t.TempDir()
	bin := buildServer(t, dir)
	mailDir := filepath.Join(dir, "mail")

	const (
		adminEmail    = "root@example.com"
		adminPassword = "the administrator's pass phrase"
		adaEmail      = "ada@example.com"
		password1     = "correct horse battery staple"
		password2     = "analytical engine 1843"
		password3     = "chosen after forgetting"
		password4     = "set by an administrator"
	)
	secrets := []string{adminPassword, password1, password2, password3, password4}

	p := startProcess(t, bin,
		[]string{"-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "users.db"), "-mail-dir", mailDir, "-rate-limit", "0", "-signup", "open"},
		map[string]string{envAdminEmail: adminEmail, envAdminPassword: adminPassword})
	c := newClient(t, p.addr)

	resp := c.expect(http.StatusOK, "GET", "/healthz", "", nil, nil)
	assert.JSONEq(t, `{"status":"ok"}`, string(resp.body))

	// Create user: POST /user → 201 {token, user}.
	var created session
	c.expect(http.StatusCreated, "POST", "/user", "", map[string]string{"username": adaEmail, "email": adaEmail, "password": password1}, &created)
	require.NotEmpty(t, created.Token)
	secrets = append(secrets, created.Token)
	adaID := created.User.ID
	require.NotEmpty(t, adaID)
	assert.Equal(t, adaEmail, created.User.Username)
	assert.Equal(t, []string{"user"}, created.User.Scope)
	assert.True(t, created.User.IsActive)
	var prob problem
	c.expect(http.StatusConflict, "POST", "/user", "", map[string]string{"username": adaEmail, "password": password1}, &prob)
	assert.Equal(t, "conflict", prob.Code)

	// Sign in: POST /user/auth → 200 {token, user}; a wrong password and an unknown user get
	// the same answer.
	var ada session
	c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": password1}, &ada)
	require.NotEmpty(t, ada.Token)
	secrets = append(secrets, ada.Token)
	assert.Equal(t, adaID, ada.User.ID)
	wrong := c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": "not the password"}, nil)
	unknown := c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", map[string]string{"username": "nobody@example.com", "password": "not the password"}, nil)
	assert.Equal(t, string(wrong.body), string(unknown.body))
	assert.Equal(t, "application/problem+json", wrong.header.Get("Content-Type"))

	// Current user: GET /user → 200 the caller.
	var me user
	c.expect(http.StatusOK, "GET", "/user", ada.Token, nil, &me)
	assert.Equal(t, adaID, me.ID)
	assert.Equal(t, adaEmail, me.Username)
	assert.Equal(t, adaEmail, me.Email)
	assert.True(t, me.IsActive)
	resp = c.expect(http.StatusUnauthorized, "GET", "/user", "", nil, nil)
	assert.NotEmpty(t, resp.header.Get("WWW-Authenticate"))

	// Administrator sign-in; a user is no administrator.
	var admin session
	c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": adminEmail, "password": adminPassword}, &admin)
	secrets = append(secrets, admin.Token)
	assert.Contains(t, admin.User.Scope, "admin")
	c.expect(http.StatusForbidden, "GET", "/users", ada.Token, nil, nil)
	c.expect(http.StatusForbidden, "GET", "/users/count", ada.Token, nil, nil)

	// List: GET /users?filter=…&sort=…&limit=…&offset=… → 200 [user] with X-Total-Count.
	q := url.Values{"filter": {"username:" + adaEmail}, "sort": {"created:-1"}, "limit": {"30"}, "offset": {"0"}}
	var list []user
	resp = c.expect(http.StatusOK, "GET", "/users?"+q.Encode(), admin.Token, nil, &list)
	require.Len(t, list, 1)
	assert.Equal(t, adaID, list[0].ID)
	assert.Equal(t, "1", resp.header.Get("X-Total-Count"))
	resp = c.expect(http.StatusOK, "GET", "/users?sort=created:1", admin.Token, nil, &list)
	require.Len(t, list, 2)
	assert.Equal(t, []string{adminEmail, adaEmail}, []string{list[0].Username, list[1].Username})
	assert.Equal(t, "2", resp.header.Get("X-Total-Count"))
	c.expect(http.StatusOK, "GET", "/users?pattern=ADA", admin.Token, nil, &list)
	require.Len(t, list, 1)
	assert.Equal(t, adaID, list[0].ID)

	// Count: GET /users/count → 200 {count}.
	var count struct {
		Count int `json:"count"`
	}
	c.expect(http.StatusOK, "GET", "/users/count", admin.Token, nil, &count)
	assert.Equal(t, 2, count.Count)
	c.expect(http.StatusOK, "GET", "/users/count?filter=scope:admin", admin.Token, nil, &count)
	assert.Equal(t, 1, count.Count)

	// Update: PUT /users/{id} → 200 the user.
	var updated user
	c.expect(http.StatusOK, "PUT", "/users/"+adaID, admin.Token,
		map[string]any{"name": "Ada Lovelace", "plan": "pro", "metadata": map[string]any{"team": "engines"}}, &updated)
	assert.Equal(t, "Ada Lovelace", updated.Name)
	assert.Equal(t, "pro", updated.Plan)
	assert.Equal(t, map[string]any{"team": "engines"}, updated.Metadata)
	assert.Greater(t, updated.Version, me.Version)
	var got user
	c.expect(http.StatusOK, "GET", "/users/"+adaID, admin.Token, nil, &got)
	assert.Equal(t, updated, got)

	// Change password: POST /user/change-password → 200 {}; the caller's session stays.
	c.expect(http.StatusBadRequest, "POST", "/user/change-password", ada.Token,
		map[string]string{"oldPassword": "not the password", "newPassword": password2}, &prob)
	assert.Equal(t, "invalid", prob.Code)
	resp = c.expect(http.StatusOK, "POST", "/user/change-password", ada.Token,
		map[string]string{"oldPassword": password1, "newPassword": password2}, nil)
	assert.JSONEq(t, `{}`, string(resp.body))
	c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": password1}, nil)
	c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": password2}, nil)
	c.expect(http.StatusOK, "GET", "/user", ada.Token, nil, nil)

	// Forgot password: POST /user/forgot-password → 200 {}, for an unknown address too; the
	// code comes by mail, written to the mail directory in the background.
	resp = c.expect(http.StatusOK, "POST", "/user/forgot-password", "", map[string]string{"email": "nobody@example.com"}, nil)
	assert.JSONEq(t, `{}`, string(resp.body))
	resp = c.expect(http.StatusOK, "POST", "/user/forgot-password", "", map[string]string{"email": adaEmail}, nil)
	assert.JSONEq(t, `{}`, string(resp.body))
	code := waitResetCode(t, mailDir, adaEmail)
	secrets = append(secrets, code)

	// Reset forgotten password: POST /user/forgot-password/reset → 200 {}; the code works once.
	resp = c.expect(http.StatusOK, "POST", "/user/forgot-password/reset", "", map[string]string{"code": code, "password": password3}, nil)
	assert.JSONEq(t, `{}`, string(resp.body))
	c.expect(http.StatusBadRequest, "POST", "/user/forgot-password/reset", "", map[string]string{"code": code, "password": password4}, &prob)
	assert.Equal(t, "code", prob.Field)
	c.expect(http.StatusUnauthorized, "GET", "/user", ada.Token, nil, nil) // sessions revoked
	c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": password2}, nil)
	c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": password3}, &ada)
	secrets = append(secrets, ada.Token)

	// Administrator's reset: POST /user/reset-password → 200 {}.
	c.expect(http.StatusForbidden, "POST", "/user/reset-password", ada.Token, map[string]string{"email": adminEmail, "password": password4}, nil)
	resp = c.expect(http.StatusOK, "POST", "/user/reset-password", admin.Token, map[string]string{"email": adaEmail, "password": password4}, nil)
	assert.JSONEq(t, `{}`, string(resp.body))
	c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": password3}, nil)
	c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": password4}, &ada)
	secrets = append(secrets, ada.Token)

	// Delete: DELETE /users/{id} → 200 the ticket; poll GET /users/{id}/delete-status/{ticket}
	// until it is completed.
	var tk ticket
	c.expect(http.StatusOK, "DELETE", "/users/"+adaID, admin.Token, nil, &tk)
	require.NotEmpty(t, tk.Ticket)
	assert.Equal(t, adaID, tk.UserID)
	assert.Contains(t, []string{"in-progress", "completed"}, tk.Status)
	assert.Equal(t, 3, tk.StepsTotal, "revoke-credentials, remove-image and remove-user")
	c.expect(http.StatusUnauthorized, "GET", "/user", ada.Token, nil, nil)
	statusPath := "/users/" + adaID + "/delete-status/" + tk.Ticket
	testutil.Eventually(t, func() bool {
		c.expect(http.StatusOK, "GET", statusPath, admin.Token, nil, &tk)
		require.NotContains(t, []string{"failed", "cancelled"}, tk.Status)
		return tk.Status == "completed"
	}, "the deletion to complete")
	assert.Equal(t, tk.StepsTotal, tk.StepsDone)
	c.expect(http.StatusNotFound, "GET", "/users/"+adaID, admin.Token, nil, nil)
	c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": password4}, nil)
	c.expect(http.StatusOK, "GET", "/users/count", admin.Token, nil, &count)
	assert.Equal(t, 1, count.Count)

	// SIGTERM: a clean stop, status 0.
	p.terminate(t)
	log := p.stderr.String()
	assert.Contains(t, log, `msg="shutting down"`)
	assert.Contains(t, log, "msg=stopped")
	assert.Empty(t, p.stdout.String())
	for i, s := range secrets {
		assert.NotContains(t, log, s, "secret %d is in the log", i)
	}
	assert.NotRegexp(t, `(?m)^\s*password: `, log, "a given password is not printed")
	assert.Regexp(t, `msg=mail kind=password-reset to=`+regexp.QuoteMeta(adaEmail)+` user=\S+ file=`, log)

	// One reset mail, for the known address, and a notice for each of ada's three password
	// changes (change, reset, administrator's reset); no temporary file left.
	var subjects []string
	for _, f := range emlFiles(t, mailDir) {
		m := readEML(t, f)
		to, err := m.header.AddressList("To")
		require.NoError(t, err)
		require.Len(t, to, 1)
		assert.Equal(t, adaEmail, to[0].Address)
		subjects = append(subjects, m.header.Get("Subject"))
	}
	assert.ElementsMatch(t, []string{"Reset your password", "Your password was changed", "Your password was changed", "Your password was changed"}, subjects)
	entries, err := os.ReadDir(mailDir)
	require.NoError(t, err)
	assert.Len(t, entries, len(subjects), "no temporary file left")
}
