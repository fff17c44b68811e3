package userstest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
)

// waiting reports whether a WaitMail is blocked waiting for a mail.
func (ml *Mailer) waiting() bool {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return ml.arrived != nil
}

func TestWaitMailWaitsForASend(t *testing.T) {
	var m Mailer
	type result struct {
		mail users.Mail
		err  error
	}
	done := make(chan result, 1)
	go func() {
		mail, err := m.WaitMail(t.Context(), "ada@example.com", users.MailVerifyEmail)
		done <- result{mail, err}
	}()
	require.Eventually(t, m.waiting, WaitTimeout, time.Millisecond, "WaitMail blocks")

	// A mail of another kind, then one to another address, do not end the wait.
	require.NoError(t, m.Send(context.Background(), users.Mail{Kind: users.MailPasswordReset, To: "ada@example.com", Code: "reset"}))
	require.Eventually(t, m.waiting, WaitTimeout, time.Millisecond, "WaitMail blocks again")
	require.NoError(t, m.Send(context.Background(), users.Mail{Kind: users.MailVerifyEmail, To: "bob@example.com", Code: "bob's"}))
	require.Eventually(t, m.waiting, WaitTimeout, time.Millisecond, "WaitMail blocks again")
	require.NoError(t, m.Send(context.Background(), users.Mail{Kind: users.MailVerifyEmail, To: "ada@example.com", Code: "verify"}))

	select {
	case r := <-done:
		require.NoError(t, r.err)
		assert.Equal(t, "verify", r.mail.Code)
	case <-time.After(WaitTimeout):
		require.FailNow(t, "WaitMail did not return after the mail was sent")
	}
}

func TestWaitMailStopsWhenTheContextEnds(t *testing.T) {
	var m Mailer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := m.WaitMail(ctx, "ada@example.com", users.MailVerifyEmail)
		done <- err
	}()
	require.Eventually(t, m.waiting, WaitTimeout, time.Millisecond, "WaitMail blocks")
	cancel()

	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(WaitTimeout):
		require.FailNow(t, "WaitMail did not return when its context ended")
	}
}
