package smtpmail_test

import (
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/smtpmail"
)

// systemPython is Debian's Python, which python3-aiosmtpd installs aiosmtpd for.
const systemPython = "/usr/bin/python3"

// The lines aiosmtpd's debugging handler writes around each message it receives.
const (
	messageStart = "---------- MESSAGE FOLLOWS ----------"
	messageEnd   = "------------ END MESSAGE ------------"
)

// aiosmtpd is a real SMTP server, aiosmtpd, run by a test.
type aiosmtpd struct {
	addr   string
	stdout *testutil.SyncBuffer // each message received, written by the debugging handler
	stderr *testutil.SyncBuffer
}

// startAiosmtpd runs aiosmtpd with its debugging handler on a free port of 127.0.0.1, with
// the extra arguments args, until the test ends. When aiosmtpd is not installed the test is
// skipped, unless USERS_REQUIRE_SMTP=1 (as in CI), which makes it fail instead.
func startAiosmtpd(t *testing.T, args ...string) *aiosmtpd {
	t.Helper()
	if err := exec.Command(systemPython, "-c", "import aiosmtpd").Run(); err != nil {
		msg := "aiosmtpd is not installed for " + systemPython + " (apt-get install python3-aiosmtpd): " + err.Error()
		if os.Getenv("USERS_REQUIRE_SMTP") == "1" {
			t.Fatal(msg + "; USERS_REQUIRE_SMTP=1 requires it")
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &aiosmtpd{addr: ln.Addr().String(), stdout: new(testutil.SyncBuffer), stderr: new(testutil.SyncBuffer)}
	require.NoError(t, ln.Close())

	cmd := exec.Command(systemPython, append([]string{"-m", "aiosmtpd", "-n", "-l", s.addr}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1") // each message as it comes
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("aiosmtpd's standard output:\n%s\nits standard error:\n%s", s.stdout, s.stderr)
		}
	})
	testutil.Eventually(t, func() bool {
		select {
		case <-exited:
			require.FailNow(t, "aiosmtpd stopped", "its standard error:\n%s", s.stderr)
		default:
		}
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, "aiosmtpd to accept connections on %s", s.addr)
	return s
}

// waitMessages waits until aiosmtpd has written n messages, and returns them as they were
// received, with CRLF line ends.
func (s *aiosmtpd) waitMessages(t *testing.T, n int) []string {
	t.Helper()
	testutil.Eventually(t, func() bool {
		return strings.Count(s.stdout.String(), messageEnd) >= n
	}, "%d messages on aiosmtpd's standard output", n)
	var msgs []string
	for _, block := range strings.Split(s.stdout.String(), messageStart+"\n")[1:] {
		block, _, _ = strings.Cut(block, messageEnd)
		lines := strings.Split(strings.TrimSuffix(block, "\n"), "\n")
		if strings.HasPrefix(lines[0], "mail options:") {
			lines = lines[2:] // and the blank line after them
		}
		var kept []string
		for _, l := range lines {
			if !strings.HasPrefix(l, "X-Peer: ") { // the handler's, before the blank line
				kept = append(kept, l)
			}
		}
		msgs = append(msgs, strings.Join(kept, "\r\n")+"\r\n")
	}
	return msgs
}

// TestAiosmtpd sends every kind of mail to a real SMTP server, aiosmtpd, and checks what it
// received.
func TestAiosmtpd(t *testing.T) {
	cert := newTestCert(t)
	tests := []struct {
		name  string
		args  func(t *testing.T) []string
		setup func(o *smtpmail.Options)
	}{
		{
			name: "insecure",
			args: func(*testing.T) []string { return nil },
			setup: func(o *smtpmail.Options) {
				o.AllowInsecure = true
			},
		},
		{
			name: "STARTTLS",
			args: func(t *testing.T) []string {
				dir := t.TempDir()
				certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
				require.NoError(t, os.WriteFile(certFile, cert.certPEM, 0o600))
				require.NoError(t, os.WriteFile(keyFile, cert.keyPEM, 0o600))
				return []string{"--tlscert", certFile, "--tlskey", keyFile} // and requires STARTTLS
			},
			setup: func(o *smtpmail.Options) {
				o.AllowInsecure = false
				o.TLSConfig = &tls.Config{RootCAs: cert.pool}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := startAiosmtpd(t, tt.args(t)...)
			ml := newTestMailer(t, server.addr, func(o *smtpmail.Options) {
				o.RetryDelay = 0 // the default
				tt.setup(o)
			})
			for i, kind := range allKinds {
				m := testMail(kind)
				m.To = string(kind) + "@example.com"
				m.Name = ""
				if i == 0 {
					m.Name = "Zoë Ångström"
				}
				require.NoError(t, ml.Send(t.Context(), m), kind)
			}

			msgs := server.waitMessages(t, len(allKinds))
			require.Len(t, msgs, len(allKinds))
			for i, kind := range allKinds {
				want := wantMail[kind]
				got := parseMail(t, []byte(msgs[i]))
				to, err := got.header.AddressList("To")
				require.NoError(t, err)
				assert.Equal(t, string(kind)+"@example.com", to[0].Address, kind)
				assert.Equal(t, want.subject, got.subject, kind)
				if want.link != "" {
					assert.Contains(t, got.text, "\n"+want.link+"\n", kind)
					assert.Contains(t, got.html, `href="`+want.link+`"`, kind)
				}
				if want.code {
					assert.Contains(t, got.text, testCode, kind)
				} else {
					assert.NotContains(t, msgs[i], testCode, kind)
				}
			}
			assert.Contains(t, parseMail(t, []byte(msgs[0])).text, "Hello Zoë Ångström,")
			t.Logf("aiosmtpd at %s received %d messages: %s", server.addr, len(msgs), strings.Join(subjects(t, msgs), "; "))
		})
	}
}

// subjects returns the subjects of msgs.
func subjects(t *testing.T, msgs []string) []string {
	var s []string
	for _, m := range msgs {
		s = append(s, parseMail(t, []byte(m)).subject)
	}
	return s
}
