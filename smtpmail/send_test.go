package smtpmail_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/smtpmail"
)

// sendAsync calls Send in a goroutine and returns the channel its error will come on.
func sendAsync(ctx context.Context, ml *smtpmail.Mailer, m users.Mail) <-chan error {
	done := make(chan error, 1)
	go func() { done <- ml.Send(ctx, m) }()
	return done
}

// await returns the next value of ch, failing the test if none comes in time.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testutil.WaitTimeout):
		require.FailNow(t, "timed out waiting for "+what)
		panic("unreachable")
	}
}

func TestSendDelivers(t *testing.T) {
	f := newFakeSMTP(t, nil)
	ml := newTestMailer(t, f.addr, nil)
	for _, kind := range allKinds {
		require.NoError(t, ml.Send(t.Context(), testMail(kind)), kind)
	}
	got := f.received()
	require.Len(t, got, len(allKinds))
	for i, kind := range allKinds {
		assert.Equal(t, "FROM:<no-reply@example.com> BODY=8BITMIME", got[i].from)
		assert.Equal(t, []string{"TO:<ada@example.com>"}, got[i].to)
		assert.False(t, got[i].tls)
		assert.Equal(t, wantMail[kind].subject, parseMail(t, []byte(got[i].data)).subject)
	}
}

func TestSendUsesSTARTTLSAndAuth(t *testing.T) {
	cert := newTestCert(t)
	f := newFakeSMTP(t, func(f *fakeSMTP) {
		f.tls = &tls.Config{Certificates: []tls.Certificate{cert.cert}}
		f.auth = true
	})
	ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) {
		o.AllowInsecure = false
		o.TLSConfig = &tls.Config{RootCAs: cert.pool} // ServerName: 127.0.0.1, the host of Addr
		o.Username, o.Password = "mailer", "smtp password"
	})
	require.NoError(t, ml.Send(t.Context(), testMail(users.MailPasswordReset)))
	got := f.received()
	require.Len(t, got, 1)
	assert.True(t, got[0].tls, "sent over TLS")
	assert.Equal(t, "\x00mailer\x00smtp password", got[0].auth)
}

func TestSendUsesSTARTTLSEvenWhenInsecureIsAllowed(t *testing.T) {
	cert := newTestCert(t)
	f := newFakeSMTP(t, func(f *fakeSMTP) { f.tls = &tls.Config{Certificates: []tls.Certificate{cert.cert}} })
	ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.TLSConfig = &tls.Config{RootCAs: cert.pool} })
	require.NoError(t, ml.Send(t.Context(), testMail(users.MailPasswordChanged)))
	got := f.received()
	require.Len(t, got, 1)
	assert.True(t, got[0].tls)
}

func TestSendRefusesAnUntrustedCertificate(t *testing.T) {
	cert := newTestCert(t)
	f := newFakeSMTP(t, func(f *fakeSMTP) { f.tls = &tls.Config{Certificates: []tls.Certificate{cert.cert}} })
	ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.AllowInsecure = false })
	err := ml.Send(t.Context(), testMail(users.MailPasswordReset))
	var verr *tls.CertificateVerificationError
	require.ErrorAs(t, err, &verr)
	assert.Contains(t, err.Error(), "starttls")
	sessions, _ := f.counts()
	assert.Equal(t, 1, sessions, "not retried")
	assert.Empty(t, f.received())
}

func TestSendRequiresSTARTTLS(t *testing.T) {
	f := newFakeSMTP(t, nil) // no STARTTLS
	ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.AllowInsecure = false })
	err := ml.Send(t.Context(), testMail(users.MailPasswordReset))
	require.ErrorIs(t, err, smtpmail.ErrNoTLS)
	sessions, _ := f.counts()
	assert.Equal(t, 1, sessions, "not retried")
	assert.Empty(t, f.received())
}

func TestSendRetriesTemporaryFailures(t *testing.T) {
	tests := []struct {
		name     string
		failures int    // sessions that fail before one succeeds
		verb     string // the command they fail at
		reply    string
	}{
		{"4xx to RCPT", 1, "RCPT", "451 4.3.0 mailbox busy, try later"},
		{"4xx to MAIL, twice", 2, "MAIL", "452 4.3.1 insufficient storage"},
		{"4xx to EHLO and HELO", 1, "", "421 4.3.2 shutting down"},
		{"4xx to DATA", 1, "DATA", "451 4.3.0 try later"},
		{"connection dropped", 2, "MAIL", "close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSMTP(t, func(f *fakeSMTP) {
				f.respond = func(session int, line string) string {
					if session <= tt.failures && strings.HasPrefix(line, tt.verb) {
						return tt.reply
					}
					return ""
				}
			})
			ml := newTestMailer(t, f.addr, nil)
			require.NoError(t, ml.Send(t.Context(), testMail(users.MailPasswordReset)))
			sessions, _ := f.counts()
			assert.Equal(t, tt.failures+1, sessions)
			assert.Len(t, f.received(), 1)
		})
	}
}

func TestSendRetriesAfterA4xxToTheMessage(t *testing.T) {
	var mu sync.Mutex
	replies := []string{"451 4.7.1 greylisted, try again later"}
	f := newFakeSMTP(t, func(f *fakeSMTP) {
		f.dataReply = func([]byte) string {
			mu.Lock()
			defer mu.Unlock()
			if len(replies) == 0 {
				return "250 OK"
			}
			r := replies[0]
			replies = replies[1:]
			return r
		}
	})
	ml := newTestMailer(t, f.addr, nil)
	require.NoError(t, ml.Send(t.Context(), testMail(users.MailPasswordReset)))
	sessions, _ := f.counts()
	assert.Equal(t, 2, sessions)
	assert.Len(t, f.received(), 1)
}

func TestSendGivesUpAfterMaxAttempts(t *testing.T) {
	for _, attempts := range []int{0, 1, 5} { // 0: the default, 3
		t.Run(fmt.Sprint(attempts), func(t *testing.T) {
			f := newFakeSMTP(t, func(f *fakeSMTP) {
				f.respond = func(_ int, line string) string {
					if strings.HasPrefix(line, "RCPT") {
						return "450 4.2.1 mailbox unavailable"
					}
					return ""
				}
			})
			ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.MaxAttempts = attempts })
			err := ml.Send(t.Context(), testMail(users.MailPasswordReset))
			want := attempts
			if want == 0 {
				want = smtpmail.DefaultMaxAttempts
			}
			var reply *textproto.Error
			require.ErrorAs(t, err, &reply)
			assert.Equal(t, 450, reply.Code)
			assert.Contains(t, err.Error(), fmt.Sprintf("attempt %d of %d", want, want))
			assert.Contains(t, err.Error(), "password-reset mail to ada@example.com")
			sessions, _ := f.counts()
			assert.Equal(t, want, sessions)
		})
	}
}

func TestSendDoesNotRetryPermanentFailures(t *testing.T) {
	tests := []struct {
		name  string
		verb  string
		reply string
		want  int
	}{
		{"5xx to RCPT", "RCPT", "550 5.1.1 no such user", 550},
		{"5xx to MAIL", "MAIL", "553 5.7.1 sender not allowed", 553},
		{"5xx to EHLO and HELO", "", "554 5.7.1 go away", 554},
		{"5xx to DATA", "DATA", "554 5.5.1 no valid recipients", 554},
		{"5xx to AUTH", "AUTH", "535 5.7.8 authentication failed", 535},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSMTP(t, func(f *fakeSMTP) {
				f.auth = true
				f.respond = func(_ int, line string) string {
					if strings.HasPrefix(line, tt.verb) {
						return tt.reply
					}
					return ""
				}
			})
			ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.Username, o.Password = "mailer", "smtp password" })
			err := ml.Send(t.Context(), testMail(users.MailPasswordReset))
			var reply *textproto.Error
			require.ErrorAs(t, err, &reply)
			assert.Equal(t, tt.want, reply.Code)
			assert.Contains(t, err.Error(), "attempt 1 of 3")
			assert.NotContains(t, err.Error(), testCode)
			assert.NotContains(t, err.Error(), "smtp password")
			sessions, _ := f.counts()
			assert.Equal(t, 1, sessions, "not retried")
			assert.Empty(t, f.received())
		})
	}
}

func TestSendRedactsEchoedSecrets(t *testing.T) {
	t.Run("code echoed in the reply to the message", func(t *testing.T) {
		f := newFakeSMTP(t, func(f *fakeSMTP) {
			f.dataReply = func(data []byte) string {
				for _, line := range strings.Split(string(data), "\n") {
					if strings.Contains(line, testCode) {
						return "554 5.7.1 refused: " + strings.TrimSpace(line)
					}
				}
				return "554 5.7.1 refused"
			}
		})
		ml := newTestMailer(t, f.addr, nil)
		err := ml.Send(t.Context(), testMail(users.MailPasswordReset))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `554 "5.7.1 refused: [redacted]"`)
		assert.NotContains(t, err.Error(), testCode)
		var reply *textproto.Error
		assert.False(t, errors.As(err, &reply), "the reply holding the code is not reachable either")
	})
	t.Run("credentials echoed in the reply to AUTH", func(t *testing.T) {
		f := newFakeSMTP(t, func(f *fakeSMTP) {
			f.auth = true
			f.respond = func(_ int, line string) string {
				if arg, ok := strings.CutPrefix(line, "AUTH PLAIN "); ok {
					plain, _ := base64.StdEncoding.DecodeString(arg)
					return "535 5.7.8 bad credentials " + arg + " " + strings.ReplaceAll(string(plain), "\x00", " ")
				}
				return ""
			}
		})
		ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.Username, o.Password = "mailer", "smtp password" })
		err := ml.Send(t.Context(), testMail(users.MailPasswordReset))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `535 "5.7.8 bad credentials [redacted]  mailer [redacted]"`)
		assert.NotContains(t, err.Error(), "smtp password")
	})
}

func TestSendRefusesInvalidMails(t *testing.T) {
	f := newFakeSMTP(t, nil)
	ml := newTestMailer(t, f.addr, nil)
	for _, tt := range invalidMails() {
		if strings.HasPrefix(tt.name, "subject") || strings.HasPrefix(tt.name, "template") {
			continue // kinds of TestRenderRefuses's own templates
		}
		t.Run(tt.name, func(t *testing.T) {
			err := ml.Send(t.Context(), tt.mail)
			require.ErrorIs(t, err, smtpmail.ErrInvalidMail)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), testCode)
		})
	}
	sessions, _ := f.counts()
	assert.Zero(t, sessions, "the server is never contacted")
}

func TestSendBoundsConnections(t *testing.T) {
	const maxConns, mails = 2, 7
	arrived := make(chan int, mails)
	release := make(chan struct{})
	f := newFakeSMTP(t, func(f *fakeSMTP) {
		f.respond = func(session int, line string) string {
			if strings.HasPrefix(line, "MAIL") {
				arrived <- session
				select {
				case <-release:
				case <-f.done:
				}
			}
			return ""
		}
	})
	ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.MaxConns = maxConns })

	results := make(chan error, mails)
	for range mails {
		go func() { results <- ml.Send(t.Context(), testMail(users.MailPasswordReset)) }()
	}
	// Hold the sessions until maxConns are in progress at once, then let them through one at
	// a time: each release lets one more start. A session beyond the bound would be counted
	// by the server while maxConns are held.
	for range maxConns {
		await(t, arrived, "a session")
	}
	for released := 0; released < mails; released++ {
		release <- struct{}{}
		if released+maxConns < mails {
			await(t, arrived, "the next session")
		}
	}
	for range mails {
		require.NoError(t, await(t, results, "Send"))
	}
	sessions, maxActive := f.counts()
	assert.Equal(t, mails, sessions)
	assert.Equal(t, maxConns, maxActive, "at most MaxConns connections at once, and that many")
	assert.Len(t, f.received(), mails)
}

func TestSendStopsWhenCancelled(t *testing.T) {
	arrived := make(chan struct{}, 1)
	f := newFakeSMTP(t, func(f *fakeSMTP) {
		f.respond = func(_ int, line string) string {
			if strings.HasPrefix(line, "MAIL") {
				arrived <- struct{}{}
				<-f.done // never answers
			}
			return ""
		}
	})
	ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.MaxConns = 1 })

	ctx, cancel := context.WithCancel(t.Context())
	first := sendAsync(ctx, ml, testMail(users.MailPasswordReset))
	await(t, arrived, "the first session")

	// The second mail waits for the only connection slot; cancelling stops both.
	second := sendAsync(ctx, ml, testMail(users.MailVerifyEmail))
	cancel()
	for _, done := range []<-chan error{first, second} {
		err := await(t, done, "Send to return")
		require.ErrorIs(t, err, context.Canceled)
		assert.NotContains(t, err.Error(), testCode)
	}
	sessions, _ := f.counts()
	assert.Equal(t, 1, sessions, "no retry after cancellation")
}

func TestSendTimeout(t *testing.T) {
	f := newFakeSMTP(t, func(f *fakeSMTP) {
		f.respond = func(_ int, line string) string {
			if strings.HasPrefix(line, "EHLO") {
				<-f.done // never answers
			}
			return ""
		}
	})
	ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.Timeout = 50 * time.Millisecond })
	err := await(t, sendAsync(t.Context(), ml, testMail(users.MailPasswordReset)), "Send to time out")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "hello")
}

func TestSendDoesNotWaitToRetryPastTheDeadline(t *testing.T) {
	f := newFakeSMTP(t, func(f *fakeSMTP) {
		f.respond = func(_ int, line string) string {
			if strings.HasPrefix(line, "RCPT") {
				return "451 4.3.0 try later"
			}
			return ""
		}
	})
	ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.RetryDelay = time.Hour })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := await(t, sendAsync(ctx, ml, testMail(users.MailPasswordReset)), "Send to give up")
	var reply *textproto.Error
	require.ErrorAs(t, err, &reply)
	assert.Equal(t, 451, reply.Code)
	assert.Contains(t, err.Error(), "no time left to retry")
	sessions, _ := f.counts()
	assert.Equal(t, 1, sessions)
}

func TestSendCancelledWhileWaitingToRetry(t *testing.T) {
	closed := make(chan int, 1)
	f := newFakeSMTP(t, func(f *fakeSMTP) {
		f.respond = func(_ int, line string) string {
			if strings.HasPrefix(line, "RCPT") {
				return "451 4.3.0 try later"
			}
			return ""
		}
		f.closed = func(session int) { closed <- session }
	})
	ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.RetryDelay = time.Hour; o.Timeout = 2 * time.Hour })
	ctx, cancel := context.WithCancel(t.Context())
	done := sendAsync(ctx, ml, testMail(users.MailPasswordReset))
	await(t, closed, "the client to hang up after the refusal")
	cancel()
	err := await(t, done, "Send to return")
	require.ErrorIs(t, err, context.Canceled)
	var reply *textproto.Error
	require.ErrorAs(t, err, &reply, "the failure that was to be retried")
	assert.Equal(t, 451, reply.Code)
	sessions, _ := f.counts()
	assert.Equal(t, 1, sessions)
}

func TestSendConcurrently(t *testing.T) {
	f := newFakeSMTP(t, nil)
	ml := newTestMailer(t, f.addr, func(o *smtpmail.Options) { o.MaxConns = 3 })
	const mails = 24
	var wg sync.WaitGroup
	errs := make(chan error, mails)
	for i := range mails {
		wg.Go(func() {
			m := testMail(allKinds[i%len(allKinds)])
			m.To = fmt.Sprintf("user%d@example.com", i)
			errs <- ml.Send(t.Context(), m)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := f.received()
	require.Len(t, got, mails)
	seen := make(map[string]bool)
	for _, m := range got {
		seen[m.to[0]] = true
	}
	assert.Len(t, seen, mails, "each mail to its own recipient")
	_, maxActive := f.counts()
	assert.LessOrEqual(t, maxActive, 3)
}
