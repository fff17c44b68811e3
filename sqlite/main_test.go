package sqlite_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gousers/users/internal/testutil"
)

// The multi-process tests (crash_test.go, process_test.go) re-execute the test binary as a
// child process. The child finds its role and its database file in these environment
// variables; TestMain runs the role instead of the tests.
const (
	childRoleEnv = "GOUSERS_SQLITE_TEST_CHILD"
	childDBEnv   = "GOUSERS_SQLITE_TEST_DB"
)

// childRoles are the programs a child process can run, by role name. Each runs until it
// exits the process itself (or is killed); a role that returns exits with status 0.
var childRoles = map[string]func(dbPath string){}

// procTimeout bounds every wait of the multi-process tests: generous, because a loaded CI
// machine running -race is slow. The tests normally finish in a few seconds.
const procTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		run, ok := childRoles[role]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
			os.Exit(2)
		}
		run(os.Getenv(childDBEnv))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childOut writes whole lines to stdout, one write each, so that concurrent writers never
// interleave and a killed child never leaves half a line (a pipe write of up to PIPE_BUF
// bytes is atomic).
var childOut sync.Mutex

// say writes one line to the parent. It is called only after what it reports has happened.
func say(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	childOut.Lock()
	defer childOut.Unlock()
	if _, err := os.Stdout.WriteString(line); err != nil {
		os.Exit(3) // the parent is gone
	}
}

// childFail reports a failure of the child on stderr and exits; the parent sees the exit and
// shows the message.
func childFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "child: "+format+"\n", args...)
	os.Exit(1)
}

// child is a running child process: the test binary re-executed in a role.
type child struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string   // the lines of its stdout; closed at EOF
	stop   chan struct{} // closed when the test no longer reads lines
	exited chan struct{} // closed once the process has exited and been waited for
	err    error         // of Wait; read after exited is closed
	stderr testutil.SyncBuffer
}

// startChild starts the test binary as a child process in role, on the database file at
// dbPath. The child is killed and waited for when the test ends, if it has not exited; its
// stderr is shown when the test fails, and a data race it reports fails the test.
func startChild(t *testing.T, name, role, dbPath string) *child {
	t.Helper()
	c := &child{
		name:   name,
		lines:  make(chan string, 1024),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	// The -test.run flag is not needed, since TestMain runs the role before parsing flags,
	// but keeps the child to this test should the role ever not be found.
	c.cmd = exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$")
	c.cmd.Env = append(os.Environ(), childRoleEnv+"="+role, childDBEnv+"="+dbPath)
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	c.stdin, err = c.cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())

	go func() {
		defer close(c.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			case <-c.stop: // nobody reads any more: discard, but read on to EOF
			}
		}
		close(c.lines)
		c.err = c.cmd.Wait() // only after every read from the pipe, as Wait requires
	}()

	var stopOnce sync.Once
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill() // fails harmlessly when it has exited
		stopOnce.Do(func() { close(c.stop) })
		select {
		case <-c.exited:
		case <-time.After(procTimeout):
			t.Errorf("%s: not reaped after SIGKILL", c.name)
		}
		out := c.stderr.String()
		if strings.Contains(out, "DATA RACE") {
			t.Errorf("%s reported a data race:\n%s", c.name, out)
		} else if t.Failed() && out != "" {
			t.Logf("%s stderr:\n%s", c.name, out)
		}
	})
	return c
}

// next returns the child's next line, waiting until deadline, or ok false at EOF (the child
// exited or was killed). It fails the test when the deadline passes first.
func (c *child) next(t *testing.T, deadline <-chan time.Time, what string) (line string, ok bool) {
	t.Helper()
	select {
	case line, ok = <-c.lines:
		return line, ok
	case <-deadline:
		require.FailNowf(t, "timed out", "%s: waiting for %s", c.name, what)
		return "", false
	}
}

// waitFor returns the fields of the first line whose first field is verb, skipping others,
// and fails the test at EOF or when timeout passes first.
func (c *child) waitFor(t *testing.T, verb string, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		line, ok := c.next(t, deadline, fmt.Sprintf("a %q line", verb))
		if !ok {
			require.FailNowf(t, "child exited", "%s exited (%v) before a %q line; stderr:\n%s",
				c.name, c.wait(), verb, c.stderr.String())
		}
		if f := strings.Fields(line); len(f) > 0 && f[0] == verb {
			return f
		}
	}
}

// kill sends SIGKILL to the child: no deferred function, no Close, no flush runs.
func (c *child) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Kill())
}

// rest returns the lines the child wrote that the test has not read yet, waiting until the
// child has exited (it must be exiting or killed) and its stdout is drained.
func (c *child) rest(t *testing.T) []string {
	t.Helper()
	deadline := time.After(procTimeout)
	var out []string
	for {
		line, ok := c.next(t, deadline, "the end of stdout")
		if !ok {
			return out
		}
		out = append(out, line)
	}
}

// requireKilled requires that the child, which has exited, died of SIGKILL.
func requireKilled(t *testing.T, c *child) {
	t.Helper()
	var exit *exec.ExitError
	require.ErrorAs(t, c.wait(), &exit, "%s was killed", c.name)
	status, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, status.Signaled() && status.Signal() == syscall.SIGKILL, "%s died of SIGKILL, not %v", c.name, exit)
}

// wait waits for the child to exit (after its stdout is drained or no longer read) and
// returns Wait's error.
func (c *child) wait() error {
	select {
	case <-c.exited:
		return c.err
	case <-time.After(procTimeout):
		return fmt.Errorf("%s did not exit within %v", c.name, procTimeout)
	}
}

// procEventually fails the test unless cond becomes true within procTimeout. It polls cond
// on a short ticker: it waits for a condition, never for a guessed time.
func procEventually(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	if cond() {
		return
	}
	deadline := time.NewTimer(procTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-deadline.C:
			require.FailNowf(t, "condition not met in time", format, args...)
		case <-tick.C:
			if cond() {
				return
			}
		}
	}
}
