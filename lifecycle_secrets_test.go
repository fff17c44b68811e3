package users_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoSecretLeaksLifecycle runs the flows of registration, verification, generated
// passwords, change by e-mail, API keys and import with a Debug logger and a failing mailer,
// and checks that no password, code, key or hash appears in the log, an event, an error or an
// import result.
func TestNoSecretLeaksLifecycle(t *testing.T) {
	logs := new(testutil.SyncBuffer)
	h := newHarness(t, requireVerifiedEmail, func(c *users.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	h.mail.err = errors.New("smtp: 550 mailbox unavailable")
	ctx := context.Background()
	r := &flowRecord{}
	pw1 := r.secret("first Secret password 1")
	pw2 := r.secret("second Secret password 2")
	wrong := r.secret("wrong Secret password 3")

	// Registration, a taken address, verification.
	require.NoError(t, h.svc.Register(ctx, users.Registration{Username: alice, Password: pw1}))
	code := r.secret(h.mail.waitFor(t, alice, users.MailVerifyEmail, 1).Code)
	require.NoError(t, h.svc.Register(ctx, users.Registration{Username: alice, Password: pw2}))
	h.mail.waitFor(t, alice, users.MailRegistrationAttempt, 1)
	_ = r.err(firstErr(h.svc.SignIn(ctx, alice, pw1)))
	_ = r.err(firstErr(h.svc.VerifyEmail(ctx, code[:42]+"!")))
	require.NoError(t, h.svc.ResendVerification(ctx, alice))
	code = r.secret(h.mail.waitFor(t, alice, users.MailVerifyEmail, 2).Code)
	u, err := h.svc.VerifyEmail(ctx, code)
	require.NoError(t, err)
	_ = r.err(firstErr(h.svc.VerifyEmail(ctx, code)))
	r.secret(h.storedHash(t, u.ID))

	// A generated password, changed by e-mail.
	generated, err := h.svc.GeneratePassword(ctx, u.ID)
	require.NoError(t, err)
	r.secret(generated)
	r.secret(h.storedHash(t, u.ID))
	_ = r.err(h.svc.ChangePassword(ctx, users.PasswordChange{Email: alice, OldPassword: wrong, NewPassword: pw2}))
	_ = r.err(h.svc.ChangePassword(ctx, users.PasswordChange{Email: "nobody@example.com", OldPassword: generated, NewPassword: pw2}))
	_ = r.err(h.svc.ChangePassword(ctx, users.PasswordChange{Email: alice, OldPassword: generated, NewPassword: "short"}))
	require.NoError(t, h.svc.ChangePassword(ctx, users.PasswordChange{Email: alice, OldPassword: generated, NewPassword: pw2}))
	r.secret(h.storedHash(t, u.ID))

	// API keys.
	k, err := h.svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "ci"})
	require.NoError(t, err)
	r.secret(k.Key)
	_, err = h.svc.Authenticate(ctx, k.Key)
	require.NoError(t, err)
	rotated, err := h.svc.RotateAPIKey(ctx, u.ID, k.ID)
	require.NoError(t, err)
	r.secret(rotated.Key)
	_ = r.err(firstErr(h.svc.Authenticate(ctx, k.Key)))
	_ = r.err(firstErr(h.svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "ci"})))
	_ = r.err(h.svc.SignOut(ctx, rotated.Key))
	_ = r.err(h.svc.SignOut(ctx, rotated.Key))

	// Import: a bcrypt hash upgraded at sign-in, rejected hashes, an unusable stored hash.
	legacyPw := r.secret("legacy Secret password 4")
	legacy := r.secret(bcryptHash(t, legacyPw, "2y"))
	noKey := r.secret("$argon2id$v=19$m=64,t=1,p=1$U0VDUkVUU0FMVFNFQ1JFVA$")
	results, err := h.svc.Import(ctx, []*users.User{
		{Username: "legacy@example.com", PasswordHash: legacy, EmailVerified: true},
		{Username: "plain@example.com", PasswordHash: r.secret("plain Secret password 5")},
		{Username: "nokey@example.com", PasswordHash: noKey},
		{Username: "legacy@example.com", PasswordHash: legacy},
	})
	require.NoError(t, err)
	for _, res := range results {
		_ = r.err(res.Err)
	}
	_ = r.err(firstErr(h.svc.SignIn(ctx, "legacy@example.com", wrong)))
	s, err := h.svc.SignIn(ctx, "legacy@example.com", legacyPw)
	require.NoError(t, err)
	r.secret(s.Token)
	r.secret(h.storedHash(t, results[0].ID))
	broken := &users.User{ID: uuid.NewString(), Username: "broken@example.com", Email: "broken@example.com", Scope: []string{"user"},
		Status: users.StatusActive, EmailVerified: true, PasswordHash: noKey}
	require.NoError(t, h.store.CreateUser(ctx, broken))
	_ = r.err(firstErr(h.svc.SignIn(ctx, "broken@example.com", pw1)))
	_ = r.err(h.svc.Export(ctx, func(u *users.User) error {
		return errors.New("export stopped")
	}))
	h.clock.Advance(time.Hour)
	require.NoError(t, h.svc.Close())

	log := logs.String()
	assert.Contains(t, log, "mail not sent")
	assert.Contains(t, log, "unreadable password hash")
	r.assertNoLeaks(t, log, h.events.all(), fmt.Sprintf("%+v\n", results), "Secret password", "$argon2id$", "$2y$", "U0VDUkVU")
}
