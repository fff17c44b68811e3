package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
)

// waitTimeout bounds every wait on a condition; generous, because -race slows everything.
const waitTimeout = 20 * time.Second

// cheapHashing makes the in-process Service hash passwords with tiny argon2id parameters for
// the rest of the test: the defaults cost tens of milliseconds a hash, on purpose. Tests that
// call it must not run in parallel.
func cheapHashing(t *testing.T) {
	saved := argon2Params
	argon2Params = users.TestArgon2()
	t.Cleanup(func() { argon2Params = saved })
}

// env returns a getenv reading vars; every other variable is unset.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// listeningRE finds the address the server logged that it listens on, in the text format.
var listeningRE = regexp.MustCompile(`(?m)\bmsg=listening addr=(\S+)$`)

// waitListening waits until log (the server's standard error) has the listening line, and
// returns the address it gives. exited, when it is closed, means the server has stopped.
func waitListening(t testing.TB, log *testutil.SyncBuffer, exited <-chan struct{}) string {
	t.Helper()
	var addr string
	testutil.Eventually(t, func() bool {
		select {
		case <-exited:
			require.FailNow(t, "the server stopped before listening", "its standard error:\n%s", log)
		default:
		}
		if m := listeningRE.FindStringSubmatch(log.String()); m != nil {
			addr = m[1]
			return true
		}
		return false
	}, "the listening line")
	return addr
}

// inProcess is a run of the program in the test's process.
type inProcess struct {
	addr   string               // the address it listens on
	stderr *testutil.SyncBuffer // what it wrote to its standard error
	cancel context.CancelFunc
	done   chan struct{}
	err    error // run's error; read after done is closed
}

// start runs the program in-process with args and the environment vars, and waits until it
// listens. The run is stopped when the test ends, unless stop was called.
func start(t *testing.T, args []string, vars map[string]string) *inProcess {
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
	p.addr = waitListening(t, p.stderr, p.done)
	return p
}

// stop stops the run, as a signal would, and returns run's error.
func (p *inProcess) stop(t testing.TB) error {
	t.Helper()
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		require.FailNow(t, "run did not return after its context ended")
	}
	return p.err
}

// client is a client of the API at a base URL.
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func newClient(t testing.TB, addr string) *client {
	return &client{t: t, base: "http://" + addr, http: &http.Client{Timeout: waitTimeout}}
}

// response is an answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with body (JSON-encoded when not nil) and the bearer token (when not
// empty), and returns the answer.
func (c *client) do(method, path, token string, body any) response {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	require.NoError(c.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// expect sends a request like do, requires the status want, and decodes the body into out
// when out is not nil.
func (c *client) expect(want int, method, path, token string, body, out any) response {
	c.t.Helper()
	resp := c.do(method, path, token, body)
	require.Equal(c.t, want, resp.status, "%s %s: %s", method, path, strings.TrimSpace(string(resp.body)))
	if out != nil {
		require.NoError(c.t, json.Unmarshal(resp.body, out), "%s %s: %s", method, path, resp.body)
	}
	return resp
}

// session is the answer of sign-in and sign-up.
type session struct {
	Token   string    `json:"token"`
	User    user      `json:"user"`
	Expires time.Time `json:"expires"`
}

// user is the part of the API's user the tests read.
type user struct {
	ID       string         `json:"id"`
	Username string         `json:"username"`
	Email    string         `json:"email"`
	Name     string         `json:"name"`
	Scope    []string       `json:"scope"`
	Plan     string         `json:"plan"`
	Status   string         `json:"status"`
	IsActive bool           `json:"isActive"`
	Metadata map[string]any `json:"metadata"`
	Version  int64          `json:"version"`
}

// ticket is the API's deletion ticket.
type ticket struct {
	Ticket     string `json:"ticket"`
	UserID     string `json:"userId"`
	Status     string `json:"status"`
	StepsDone  int    `json:"stepsDone"`
	StepsTotal int    `json:"stepsTotal"`
}

// problem is the API's error document.
type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Field  string `json:"field"`
}
