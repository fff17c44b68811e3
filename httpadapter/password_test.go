package httpadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	other := f.signIn(t, "alice@example.com", alicePassword)
	change := func(old, new string) *response {
		return f.do(t, request{method: "POST", path: "/user/change-password", token: f.alice.token,
			body: fmt.Sprintf(`{"oldPassword":%q,"newPassword":%q}`, old, new)})
	}

	t.Run("a wrong current password", func(t *testing.T) {
		p := change("not the password", newPassword).want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, "oldPassword", p.Field)
	})
	t.Run("a new password the policy refuses", func(t *testing.T) {
		p := change(alicePassword, "short").want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, "newPassword", p.Field, "named as the request names it")
	})
	t.Run("missing", func(t *testing.T) {
		p := f.do(t, request{method: "POST", path: "/user/change-password", token: f.alice.token, body: `{"oldPassword":"x"}`}).
			want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, "newPassword", p.Field)
	})

	f.secret(newPassword)
	res := change(alicePassword, newPassword).want(t, http.StatusOK)
	assert.JSONEq(t, `{}`, string(res.body))
	assert.True(t, f.authenticates(t, f.alice.token), "the session that changed it stays")
	assert.False(t, f.authenticates(t, other), "the other sessions are revoked")
	f.signIn(t, "alice@example.com", newPassword)
	f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", alicePassword)}).
		want(t, http.StatusUnauthorized)
}

// An administrator sets a user's password by e-mail address; the user's sessions end.
func TestResetPassword(t *testing.T) {
	f := newFixture(t)
	f.secret(newPassword)
	reset := func(token, email, password string) *response {
		return f.do(t, request{method: "POST", path: "/user/reset-password", token: token,
			body: fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)})
	}
	reset(f.admin.token, "ALICE@example.com", newPassword).want(t, http.StatusOK)
	assert.False(t, f.authenticates(t, f.alice.token))
	f.signIn(t, "alice@example.com", newPassword)

	p := reset(f.admin.token, "alice", newPassword).want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "email", p.Field)
	p = reset(f.admin.token, "alice@example.com", "short").want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "password", p.Field)
	reset(f.admin.token, "nobody@example.com", newPassword).want(t, http.StatusNotFound)
	reset(f.bob.token, "alice@example.com", newPassword).want(t, http.StatusForbidden)
}

func TestForgotPassword(t *testing.T) {
	f := newFixture(t)
	forgot := func(email string) *response {
		return f.do(t, request{method: "POST", path: "/user/forgot-password", body: fmt.Sprintf(`{"email":%q}`, email)})
	}
	known := forgot("alice@example.com").want(t, http.StatusOK)
	unknown := forgot("nobody@example.com").want(t, http.StatusOK)
	assert.Equal(t, known.header, unknown.header, "the same answer for an unknown address")
	assert.Equal(t, known.body, unknown.body)
	assert.JSONEq(t, `{}`, string(known.body))
	testutil.Eventually(t, func() bool { return len(f.mail.to("alice@example.com")) == 1 }, "the code is mailed")
	f.secret(f.mail.to("alice@example.com")[0].Code)

	p := forgot("alice").want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "email", p.Field)
	require.NoError(t, f.svc.Close()) // waits for the mails
	assert.Empty(t, f.mail.to("nobody@example.com"))
}

// The answer does not wait for the look-up or the mail: it comes while the mailer is stuck.
func TestForgotPasswordAnswersBeforeMailing(t *testing.T) {
	mailer := &stuckMailer{release: make(chan struct{}), sent: make(chan users.Mail, 1)}
	f := newFixture(t, func(s *setup) { s.cfg.Mailer = mailer })
	f.do(t, request{method: "POST", path: "/user/forgot-password", body: `{"email":"alice@example.com"}`}).want(t, http.StatusOK)
	close(mailer.release)
	m := <-mailer.sent
	f.secret(m.Code)
	assert.Equal(t, "alice@example.com", m.To)
}

// stuckMailer sends nothing until released.
type stuckMailer struct {
	release chan struct{}
	sent    chan users.Mail
}

func (m *stuckMailer) Send(ctx context.Context, mail users.Mail) error {
	select {
	case <-m.release:
		m.sent <- mail
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestResetForgottenPassword(t *testing.T) {
	f := newFixture(t)
	code := f.resetCode(t, "alice@example.com")
	reset := func(code, password string) *response {
		return f.do(t, request{method: "POST", path: "/user/forgot-password/reset",
			body: fmt.Sprintf(`{"code":%q,"password":%q}`, code, password)})
	}

	p := reset(code, "short").want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "password", p.Field)
	p = reset("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", newPassword).want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "code", p.Field)

	f.secret(newPassword)
	reset(code, newPassword).want(t, http.StatusOK) // the code survived the refused password
	assert.False(t, f.authenticates(t, f.alice.token), "sessions end")
	f.signIn(t, "alice@example.com", newPassword)

	p = reset(code, "yet another pass phrase").want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "code", p.Field, "a code works once")
}

// Repeated wrong current passwords throttle the account: 429 with Retry-After.
func TestChangePasswordThrottled(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.cfg.Throttle = users.Throttle{MaxFailures: 1, BaseDelay: time.Minute} })
	body := fmt.Sprintf(`{"oldPassword":"not the password","newPassword":%q}`, newPassword)
	f.do(t, request{method: "POST", path: "/user/change-password", token: f.alice.token, body: body}).want(t, http.StatusBadRequest)
	res := f.do(t, request{method: "POST", path: "/user/change-password", token: f.alice.token, body: body}).
		want(t, http.StatusTooManyRequests)
	assert.Equal(t, "60", res.header.Get("Retry-After"))
}
