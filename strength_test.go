package users_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeChecker is a PasswordChecker that records what it is asked and answers with answer.
// Safe for concurrent use.
type fakeChecker struct {
	answer func(ctx context.Context, password string) error

	mu    sync.Mutex
	calls []checkerCall
}

type checkerCall struct {
	password    string
	user        users.User
	hasDeadline bool
	deadline    time.Time
}

func (c *fakeChecker) CheckPassword(ctx context.Context, password string, u *users.User) error {
	deadline, ok := ctx.Deadline()
	c.mu.Lock()
	c.calls = append(c.calls, checkerCall{password: password, user: *u, hasDeadline: ok, deadline: deadline})
	c.mu.Unlock()
	if c.answer == nil {
		return nil
	}
	return c.answer(ctx, password)
}

// asked returns a copy of the calls so far.
func (c *fakeChecker) asked() []checkerCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]checkerCall(nil), c.calls...)
}

// errBreached is what the fake breached-password service answers.
var errBreached = errors.New("found in 1234 breaches")

func TestPasswordChecker(t *testing.T) {
	ctx := context.Background()
	u := &users.User{ID: "u1", Username: alice, Email: "alice@home.example", Name: "Alice", PasswordHash: "$argon2id$secret"}
	ownError := &users.Error{Code: users.CodeInvalid, Field: "password", Message: "has appeared in a data breach; choose another"}

	tests := []struct {
		name      string
		answer    func(ctx context.Context, password string) error
		password  string
		wantErr   error  // matched with errors.Is; nil for none
		wantMsg   string // the message of the *Error returned
		wantAsked bool
	}{
		{"accepts", nil, alicePassword, nil, "", true},
		{"a plain error is wrapped", func(context.Context, string) error { return errBreached }, alicePassword, errBreached, "password: is not accepted: choose another password", true},
		{"an *Error is returned as it is", func(context.Context, string) error { return ownError }, alicePassword, ownError, ownError.Error(), true},
		{"a wrapped *Error is returned as it is", func(context.Context, string) error { return errors.Join(ownError) }, alicePassword, ownError, ownError.Error(), true},
		{"not asked about a password the policy refuses", nil, "password1", users.ErrInvalid, "password: is too easy to guess: it is a common password; add another word or two", false},
		{"a timeout refuses", func(ctx context.Context, _ string) error { <-ctx.Done(); return ctx.Err() }, alicePassword, context.DeadlineExceeded, "password: is not accepted: choose another password", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeChecker{answer: tt.answer}
			policy := users.PasswordPolicy{Checker: c, CheckerTimeout: 50 * time.Millisecond}
			start := time.Now()
			err := policy.Check(ctx, tt.password, u)
			if tt.wantErr == nil {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.wantErr)
				assert.ErrorIs(t, err, users.ErrInvalid)
				assertCode(t, err, users.CodeInvalid, "password")
				assert.Equal(t, tt.wantMsg, err.Error())
				assert.NotContains(t, err.Error(), tt.password)
			}
			calls := c.asked()
			if !tt.wantAsked {
				assert.Empty(t, calls)
				return
			}
			require.Len(t, calls, 1)
			got := calls[0]
			assert.Equal(t, tt.password, got.password)
			assert.True(t, got.hasDeadline, "the checker has a deadline")
			assert.WithinDuration(t, start.Add(50*time.Millisecond), got.deadline, time.Second)
			assert.Equal(t, alice, got.user.Username)
			assert.Equal(t, "alice@home.example", got.user.Email)
			assert.Equal(t, "Alice", got.user.Name)
			assert.Empty(t, got.user.PasswordHash, "the checker is not given the hash")
			assert.Equal(t, "$argon2id$secret", u.PasswordHash, "the caller's user is not changed")
		})
	}

	t.Run("the caller's context ending is the caller's error", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		c := &fakeChecker{answer: func(ctx context.Context, _ string) error {
			cancel()
			<-ctx.Done()
			return errBreached
		}}
		err := users.PasswordPolicy{Checker: c}.Check(cctx, alicePassword, u)
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, users.ErrInvalid)
	})

	t.Run("a nil user", func(t *testing.T) {
		c := &fakeChecker{}
		require.NoError(t, users.PasswordPolicy{Checker: c}.Check(ctx, alicePassword, nil))
		require.Len(t, c.asked(), 1)
		assert.Equal(t, users.User{}, c.asked()[0].user)
	})
}

// TestServicePasswordChecker checks that every way of setting a password the user chose asks
// the Checker, and that a generated password does not.
func TestServicePasswordChecker(t *testing.T) {
	ctx := context.Background()
	refuseNew := func(_ context.Context, password string) error {
		if password == otherPassword {
			return errBreached
		}
		return nil
	}
	tests := []struct {
		name string
		set  func(t *testing.T, h *harness, u *users.User) error
	}{
		{"Register", func(t *testing.T, h *harness, _ *users.User) error {
			return h.svc.Register(ctx, users.Registration{Username: bob, Password: otherPassword})
		}},
		{"SignUp", func(t *testing.T, h *harness, _ *users.User) error {
			_, err := h.svc.SignUp(ctx, users.Registration{Username: bob, Password: otherPassword})
			return err
		}},
		{"Create", func(t *testing.T, h *harness, _ *users.User) error {
			_, err := h.svc.Create(ctx, users.NewUser{Username: bob, Password: otherPassword})
			return err
		}},
		{"Update", func(t *testing.T, h *harness, u *users.User) error {
			pw := otherPassword
			_, err := h.svc.Update(ctx, u.ID, users.Update{Password: &pw})
			return err
		}},
		{"ChangePassword", func(t *testing.T, h *harness, u *users.User) error {
			return h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: alicePassword, NewPassword: otherPassword})
		}},
		{"SetPassword", func(t *testing.T, h *harness, u *users.User) error {
			return h.svc.SetPassword(ctx, u.ID, otherPassword)
		}},
		{"SetPasswordByEmail", func(t *testing.T, h *harness, u *users.User) error {
			return h.svc.SetPasswordByEmail(ctx, alice, otherPassword)
		}},
		{"ResetPassword", func(t *testing.T, h *harness, u *users.User) error {
			return h.svc.ResetPassword(ctx, h.resetCode(t, alice), otherPassword)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeChecker{answer: refuseNew}
			h := newHarness(t, func(cfg *users.Config) { cfg.Passwords.Checker = c })
			u := h.create(t, alice, alicePassword)
			err := tt.set(t, h, u)
			assert.ErrorIs(t, err, errBreached)
			assertCode(t, err, users.CodeInvalid, "password")
			h.signIn(t, alice, alicePassword) // unchanged
			assert.Equal(t, 1, h.userCount(t), "nobody created")
		})
	}

	t.Run("GeneratePassword does not ask", func(t *testing.T) {
		c := &fakeChecker{answer: func(context.Context, string) error { return errBreached }}
		h := newHarness(t, func(cfg *users.Config) {
			cfg.Passwords.MinScore = -1 // so that the user can be created
			cfg.Passwords.Checker = c
		})
		u, err := h.svc.Create(ctx, users.NewUser{Username: alice})
		require.NoError(t, err)
		pw, err := h.svc.GeneratePassword(ctx, u.ID)
		require.NoError(t, err)
		h.signIn(t, alice, pw)
		assert.Empty(t, c.asked())
	})
}

func TestPasswordPolicyConfig(t *testing.T) {
	tests := []struct {
		name   string
		policy users.PasswordPolicy
		wantOK bool
	}{
		{"defaults", users.PasswordPolicy{}, true},
		{"no estimate", users.PasswordPolicy{MinScore: -1}, true},
		{"highest score", users.PasswordPolicy{MinScore: 4}, true},
		{"above the highest score", users.PasswordPolicy{MinScore: 5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := users.New(newHarness(t).store, users.Config{Passwords: tt.policy, Argon2: users.TestArgon2()})
			if tt.wantOK {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, "Passwords")
		})
	}
}

func TestMailName(t *testing.T) {
	tests := []struct {
		name, given, want string
	}{
		{"empty", "", ""},
		{"plain", "Ada Lovelace", "Ada Lovelace"},
		{"accents and scripts", "Zoë Ðorđević 山田", "Zoë Ðorđević 山田"},
		{"HTML is left for the template to escape", `Ada <b>"L"</b>`, `Ada <b>"L"</b>`},
		{"spaces collapse", "  Ada \t\r\n  Lovelace  ", "Ada Lovelace"},
		{"line separator", "Ada\u2028Lovelace", "Ada Lovelace"},
		{"control characters", "Ada\x00\x1b[31m", "Ada[31m"},
		{"format characters", "Ada\u200b \u202eLovelace\u2066", "Ada Lovelace"},
		{"invalid UTF-8", "Ada\xff", "Ada"},
		{"a URL", "Ada https://evil.example", ""},
		{"a scheme without a dot", "Ada http://localhost", ""},
		{"www", "visit www.evil", ""},
		{"a bare domain", "evil.example", ""},
		{"a fullwidth dot", "evil．example", ""},
		{"an address", "Ada ada@evil", ""},
		{"initials are not a domain", "J.R.R. Tolkien", "J.R.R. Tolkien"},
		{"an abbreviation", "Dr. Ada", "Dr. Ada"},
		{"64 characters", strings.Repeat("é", 64), strings.Repeat("é", 64)},
		{"cut to 64 characters", strings.Repeat("é", 65), strings.Repeat("é", 64)},
		{"no space at the cut", strings.Repeat("a", 63) + " b", strings.Repeat("a", 63)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := users.MailName(tt.given)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, got, users.MailName(got), "MailName is idempotent")
		})
	}
}

// TestMailNames checks that the name a user gave reaches only mails to a verified address,
// and then cut and without links or line breaks.
func TestMailNames(t *testing.T) {
	ctx := context.Background()
	hostile := "Prize: claim it at https://evil.example/claim <a href=x>here</a>"

	t.Run("no name in the verification mail of a registration", func(t *testing.T) {
		h := newHarness(t)
		require.NoError(t, h.svc.Register(ctx, users.Registration{Username: alice, Name: hostile, Password: alicePassword}))
		m := h.mail.waitFor(t, alice, users.MailVerifyEmail, 1)
		assert.Empty(t, m.Name)
		u, err := h.svc.GetByUsername(ctx, alice)
		require.NoError(t, err)
		assert.Equal(t, hostile, u.Name, "the name is kept, only not mailed")
	})

	t.Run("no name in mails to an unverified address", func(t *testing.T) {
		h := newHarness(t)
		u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Name: "Alice", Password: alicePassword})
		require.NoError(t, err)
		require.NoError(t, h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: alicePassword, NewPassword: otherPassword}))
		assert.Empty(t, h.mail.waitFor(t, alice, users.MailPasswordChanged, 1).Name)
		require.NoError(t, h.svc.Register(ctx, users.Registration{Username: alice, Name: hostile, Password: wrongPassword}))
		assert.Empty(t, h.mail.waitFor(t, alice, users.MailRegistrationAttempt, 1).Name)
	})

	tests := []struct {
		name, given, want string
	}{
		{"a plain name", "Alice Liddell", "Alice Liddell"},
		{"cut to 64 characters", strings.Repeat("Ålice <b>Liddell</b> ", 5), strings.TrimSpace(string([]rune(strings.Repeat("Ålice <b>Liddell</b> ", 5))[:64]))},
		{"a link", hostile, ""},
	}
	for _, tt := range tests {
		t.Run("a verified user: "+tt.name, func(t *testing.T) {
			h := newHarness(t)
			u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Name: tt.given, EmailVerified: true, Password: alicePassword})
			require.NoError(t, err)
			require.NoError(t, h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: alicePassword, NewPassword: otherPassword}))
			m := h.mail.waitFor(t, alice, users.MailPasswordChanged, 1)
			assert.Equal(t, tt.want, m.Name)
			assert.LessOrEqual(t, len([]rune(m.Name)), users.MaxMailNameLength)
			require.NoError(t, h.svc.ForgotPassword(ctx, alice))
			assert.Equal(t, tt.want, h.mail.waitFor(t, alice, users.MailPasswordReset, 1).Name)
		})
	}
}
