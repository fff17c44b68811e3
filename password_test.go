package users_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPasswordPolicy(t *testing.T) {
	ctx := context.Background()
	lengthsOnly := users.PasswordPolicy{MinScore: -1}
	strong := "Kq8-zebra-Vm2-lantern" // scores 4
	tests := []struct {
		name     string
		policy   users.PasswordPolicy
		password string
		wantMsg  string // a part of the error's message; "" for no error
	}{
		{"eight characters", lengthsOnly, "abcdefgh", ""},
		{"seven characters", lengthsOnly, "abcdefg", "at least 8 characters"},
		{"empty", users.PasswordPolicy{}, "", "at least 8 characters"},
		{"eight multibyte runes", lengthsOnly, "日本語日本語日本", ""},
		{"seven multibyte runes, 21 bytes", lengthsOnly, "日本語日本語日", "at least 8 characters"},
		{"256 multibyte runes", lengthsOnly, strings.Repeat("é", 256), ""},
		{"257 multibyte runes", lengthsOnly, strings.Repeat("é", 257), "at most 256 characters"},
		{"256 four-byte runes", lengthsOnly, strings.Repeat("🔑", 256), ""},
		{"257 ASCII", users.PasswordPolicy{}, strings.Repeat("a", 257), "at most 256 characters"},
		{"invalid UTF-8", lengthsOnly, "abcdefgh\xff", "valid UTF-8"},
		{"spaces count", lengthsOnly, "  a  b  ", ""},
		{"equal to the username", users.PasswordPolicy{}, "alice@example.com", "must not be the username"},
		{"username in other case", lengthsOnly, "ALICE@Example.com", "must not be the username"},
		{"equal to the e-mail", users.PasswordPolicy{}, "alice@quuxwerk.example", "must not be the username"},
		{"a passphrase", users.PasswordPolicy{}, alicePassword, ""},
		{"random-looking", users.PasswordPolicy{MinScore: 4}, strong, ""},
		{"common", users.PasswordPolicy{}, "password1", "is too easy to guess: it is a common password"},
		{"common in other case", users.PasswordPolicy{}, "PassWord123", "is too easy to guess"},
		{"common with substitutions", users.PasswordPolicy{}, "p@ssw0rd2024", "is too easy to guess"},
		{"common, no estimate", lengthsOnly, "password1", ""},
		{"the user's name", users.PasswordPolicy{}, "zorblaxian1234", "it contains your username, e-mail address or name"},
		{"the user's e-mail domain", users.PasswordPolicy{}, "quuxwerk1234", "it contains your username, e-mail address or name"},
		{"a keyboard row", users.PasswordPolicy{}, "qwertyuiop[]", "keyboard patterns"},
		{"a repeat", users.PasswordPolicy{}, "aaaaaaaaaaaa", "repeated characters"},
		{"a sequence", users.PasswordPolicy{}, "abcdefghijkl", "sequences"},
		{"one word", users.PasswordPolicy{}, "sunflowers", "is too easy to guess"},
		{"below a higher minimum score", users.PasswordPolicy{MinScore: 4}, "rabbithole1865", "is too easy to guess"},
		{"at the default minimum score", users.PasswordPolicy{}, "rabbithole1865", ""},
		{"a long password is scored by its start", users.PasswordPolicy{}, strong + strings.Repeat("a", 200), ""},
		{"an easy start is not saved by its end", users.PasswordPolicy{}, strings.Repeat("a", users.MaxScoredPasswordLength) + strong, "is too easy to guess"},
		{"longer minimum", users.PasswordPolicy{MinLength: 12}, "abcdefghijk", "at least 12 characters"},
		{"lower maximum", users.PasswordPolicy{MaxLength: 10}, "abcdefghijk", "at most 10 characters"},
	}
	u := &users.User{Username: "alice@example.com", Email: "alice@quuxwerk.example", Name: "Alice Zorblaxian"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(ctx, tt.password, u)
			if tt.wantMsg == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, "password")
			assert.Contains(t, err.Error(), tt.wantMsg)
			if tt.password != "" {
				assert.NotContains(t, err.Error(), tt.password)
			}
		})
	}
	t.Run("the user's words count only for that user", func(t *testing.T) {
		for _, pw := range []string{"zorblaxian1234", "quuxwerk1234"} {
			assert.NoError(t, users.PasswordPolicy{}.Check(ctx, pw, nil), pw)
			assert.NoError(t, users.PasswordPolicy{}.Check(ctx, pw, &users.User{Username: bob, Name: "Bob"}), pw)
		}
		top := &users.User{Username: "bob@quuxwerk.zorbtld"}
		assert.NoError(t, users.PasswordPolicy{}.Check(ctx, "zorbtld1234", top), "the top-level domain is not the user's")
		assert.Error(t, users.PasswordPolicy{}.Check(ctx, "quuxwerk1234", top))
	})
}

// TestCreatePasswordPolicy checks the policy through Create: lengths count runes, a long
// password is never truncated, and the Config's policy applies.
func TestCreatePasswordPolicy(t *testing.T) {
	ctx := context.Background()
	long := "Kq8-zebra-Vm2-lantern" + strings.Repeat("ü", 234) + "x" // 256 runes, 490 bytes
	tests := []struct {
		name     string
		policy   users.PasswordPolicy
		password string
		wantOK   bool
	}{
		{"256 runes", users.PasswordPolicy{}, long, true},
		{"257 runes", users.PasswordPolicy{}, long + "y", false},
		{"equal to username", users.PasswordPolicy{}, "Alice@Example.com", false},
		{"equal to e-mail", users.PasswordPolicy{}, "ALICE@home.example", false},
		{"common", users.PasswordPolicy{}, "iloveyou", false},
		{"common, no estimate", users.PasswordPolicy{MinScore: -1}, "iloveyou", true},
		{"below configured minimum", users.PasswordPolicy{MinLength: 30}, alicePassword, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *users.Config) { c.Passwords = tt.policy })
			_, err := h.svc.Create(ctx, users.NewUser{Username: alice, Email: "alice@home.example", Password: tt.password})
			if !tt.wantOK {
				assert.ErrorIs(t, err, users.ErrInvalid)
				assertCode(t, err, users.CodeInvalid, "password")
				return
			}
			require.NoError(t, err)
			h.signIn(t, alice, tt.password)
			if len(tt.password) > 1 {
				_, err = h.svc.SignIn(ctx, alice, tt.password[:len(tt.password)-1])
				assert.ErrorIs(t, err, users.ErrUnauthorized, "the whole password counts")
			}
		})
	}
	t.Run("no truncation at 72 bytes", func(t *testing.T) {
		h := newHarness(t)
		prefix := "Kq8-zebra-Vm2-lantern" + strings.Repeat("p", 80) // 101 bytes, strong at the start
		h.create(t, alice, prefix+"one")
		_, err := h.svc.SignIn(ctx, alice, prefix+"two")
		assert.ErrorIs(t, err, users.ErrUnauthorized)
	})
}

func TestUserWithoutPassword(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u, err := h.svc.Create(ctx, users.NewUser{Username: alice})
	require.NoError(t, err)
	for _, pw := range []string{"", alicePassword} {
		_, err := h.svc.SignIn(ctx, alice, pw)
		assert.ErrorIs(t, err, users.ErrUnauthorized)
	}
	err = h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: "", NewPassword: alicePassword})
	assert.ErrorIs(t, err, users.ErrWrongPassword)
	require.NoError(t, h.svc.SetPassword(ctx, u.ID, alicePassword))
	h.signIn(t, alice, alicePassword)
}

func TestChangePassword(t *testing.T) {
	ctx := context.Background()

	t.Run("success", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		keep := h.signIn(t, alice, alicePassword)
		other := h.signIn(t, alice, alicePassword)
		code := h.resetCode(t, alice)
		bobs := h.create(t, bob, alicePassword)
		bobSession := h.signIn(t, bob, alicePassword)

		err := h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: alicePassword, NewPassword: otherPassword, KeepToken: keep.Token})
		require.NoError(t, err)
		assert.True(t, authenticates(t, h.svc, keep.Token), "the kept session lives on")
		assert.False(t, authenticates(t, h.svc, other.Token), "other sessions are revoked")
		assert.True(t, authenticates(t, h.svc, bobSession.Token), "other users are untouched")
		assertCode(t, h.svc.ResetPassword(ctx, code, "a brand new password"), users.CodeInvalid, "code")
		_, err = h.svc.SignIn(ctx, alice, alicePassword)
		assert.ErrorIs(t, err, users.ErrUnauthorized)
		h.signIn(t, alice, otherPassword)
		assert.Equal(t, 1, h.events.count(users.EventPasswordChanged))

		// Keeping another user's session keeps nothing of alice's and revokes nothing of bob's.
		err = h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: otherPassword, NewPassword: alicePassword, KeepToken: bobSession.Token})
		require.NoError(t, err)
		assert.False(t, authenticates(t, h.svc, keep.Token))
		assert.True(t, authenticates(t, h.svc, bobSession.Token))
		_, err = h.svc.Get(ctx, bobs.ID)
		require.NoError(t, err)
	})

	t.Run("no kept token revokes every session", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		s := h.signIn(t, alice, alicePassword)
		require.NoError(t, h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: alicePassword, NewPassword: otherPassword}))
		assert.False(t, authenticates(t, h.svc, s.Token))
	})

	t.Run("errors", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		s := h.signIn(t, alice, alicePassword)
		tests := []struct {
			name      string
			c         users.PasswordChange
			want      error
			field     string
			wrongPass bool
		}{
			{"wrong old password", users.PasswordChange{UserID: u.ID, OldPassword: wrongPassword, NewPassword: otherPassword}, users.ErrInvalid, "oldPassword", true},
			{"new password too short", users.PasswordChange{UserID: u.ID, OldPassword: alicePassword, NewPassword: "short"}, users.ErrInvalid, "password", false},
			{"new password common", users.PasswordChange{UserID: u.ID, OldPassword: alicePassword, NewPassword: "password123"}, users.ErrInvalid, "password", false},
			{"new password is the username", users.PasswordChange{UserID: u.ID, OldPassword: alicePassword, NewPassword: alice}, users.ErrInvalid, "password", false},
			{"unknown user", users.PasswordChange{UserID: uuid.NewString(), OldPassword: alicePassword, NewPassword: otherPassword}, users.ErrNotFound, "", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := h.svc.ChangePassword(ctx, tt.c)
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.want)
				assert.Equal(t, tt.wrongPass, errors.Is(err, users.ErrWrongPassword), "errors.Is(err, ErrWrongPassword) for %v", err)
				if tt.field != "" {
					assertCode(t, err, users.ErrorCode(tt.want), tt.field)
				}
				assert.NotErrorIs(t, err, users.ErrUnauthorized)
			})
		}
		assert.True(t, authenticates(t, h.svc, s.Token), "failed changes revoke nothing")
		h.signIn(t, alice, alicePassword)
	})

	t.Run("throttled", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		var err error
		for i := 0; i < 10; i++ {
			err = h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: wrongPassword, NewPassword: otherPassword})
			require.ErrorIs(t, err, users.ErrWrongPassword, "attempt %d", i+1)
		}
		err = h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: alicePassword, NewPassword: otherPassword})
		require.ErrorIs(t, err, users.ErrThrottled, "the 11th attempt is throttled, even with the right password")
		var e *users.Error
		if assert.ErrorAs(t, err, &e) {
			assert.Positive(t, e.RetryAfter)
			h.clock.Advance(e.RetryAfter)
		}
		// ChangePassword and SignIn share the throttle of the account.
		_, err = h.svc.SignIn(ctx, alice, wrongPassword)
		require.Error(t, err)
		_, err = h.svc.SignIn(ctx, alice, alicePassword)
		assert.ErrorIs(t, err, users.ErrThrottled)
	})
}

func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	for _, byEmail := range []bool{false, true} {
		t.Run(fmt.Sprint("byEmail=", byEmail), func(t *testing.T) {
			h := newHarness(t)
			u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Email: "alice@home.example", Password: alicePassword})
			require.NoError(t, err)
			s := h.signIn(t, alice, alicePassword)
			code := h.resetCode(t, "alice@home.example")
			set := func(id, email, pw string) error {
				if byEmail {
					return h.svc.SetPasswordByEmail(ctx, email, pw)
				}
				return h.svc.SetPassword(ctx, id, pw)
			}

			err = set(u.ID, "alice@home.example", "short")
			assert.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, "password")
			assert.ErrorIs(t, set(u.ID, "ALICE@HOME.example", "alice@home.example"), users.ErrInvalid)
			assert.True(t, authenticates(t, h.svc, s.Token), "a refused password changes nothing")

			require.NoError(t, set(u.ID, " Alice@Home.example ", otherPassword))
			assert.False(t, authenticates(t, h.svc, s.Token), "sessions revoked")
			assertCode(t, h.svc.ResetPassword(ctx, code, "a brand new password"), users.CodeInvalid, "code")
			_, err = h.svc.SignIn(ctx, alice, alicePassword)
			assert.ErrorIs(t, err, users.ErrUnauthorized)
			h.signIn(t, alice, otherPassword)
			assert.Equal(t, 1, h.events.count(users.EventPasswordReset))

			assert.ErrorIs(t, set(uuid.NewString(), "nobody@example.com", otherPassword), users.ErrNotFound)
		})
	}
	t.Run("malformed email", func(t *testing.T) {
		h := newHarness(t)
		err := h.svc.SetPasswordByEmail(ctx, "not an address", otherPassword)
		assert.ErrorIs(t, err, users.ErrInvalid)
		assertCode(t, err, users.CodeInvalid, "email")
	})
}

func TestForgotPassword(t *testing.T) {
	ctx := context.Background()

	t.Run("mails a code", func(t *testing.T) {
		h := newHarness(t)
		u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Email: "alice@home.example", Name: "Alice", Password: alicePassword})
		require.NoError(t, err)
		require.NoError(t, h.svc.ForgotPassword(ctx, " ALICE@home.example "))
		m := h.mail.waitFor(t, "alice@home.example", users.MailPasswordReset, 1)
		assert.Equal(t, u.ID, m.UserID)
		assert.Empty(t, m.Name, "no name in a mail to an unverified address")
		assert.Len(t, m.Code, 43)
		assert.Equal(t, h.clock.Now().Add(users.DefaultResetCodeTTL), m.Expires)
		assert.Equal(t, 1, h.events.count(users.EventPasswordForgot))
	})

	t.Run("unknown or inactive address: same answer, no mail", func(t *testing.T) {
		h := newHarness(t)
		_, err := h.svc.Create(ctx, users.NewUser{Username: "disabled@example.com", Status: users.StatusDisabled})
		require.NoError(t, err)
		_, err = h.svc.Create(ctx, users.NewUser{Username: "pending@example.com", Status: users.StatusPending})
		require.NoError(t, err)
		h.create(t, alice, alicePassword)
		for _, addr := range []string{"nobody@example.com", "disabled@example.com", "pending@example.com"} {
			assert.NoError(t, h.svc.ForgotPassword(ctx, addr), addr)
		}
		require.NoError(t, h.svc.ForgotPassword(ctx, alice))
		require.NoError(t, h.svc.Close(), "Close waits for mail being sent")
		mails := h.mail.all()
		require.Len(t, mails, 1)
		assert.Equal(t, alice, mails[0].To)
		assert.Equal(t, 1, h.events.count(users.EventPasswordForgot))
	})

	t.Run("malformed address", func(t *testing.T) {
		h := newHarness(t)
		for _, addr := range []string{"", "alice", "alice@", "<alice@example.com>"} {
			err := h.svc.ForgotPassword(ctx, addr)
			assert.ErrorIs(t, err, users.ErrInvalid, "%q", addr)
			assertCode(t, err, users.CodeInvalid, "email")
		}
	})

	t.Run("no mailer", func(t *testing.T) {
		h := newHarness(t, func(c *users.Config) { c.Mailer = nil })
		h.create(t, alice, alicePassword)
		for _, addr := range []string{alice, "nobody@example.com"} {
			assert.ErrorIs(t, h.svc.ForgotPassword(ctx, addr), users.ErrInternal, addr)
		}
	})

	t.Run("a failing mailer is not the caller's problem", func(t *testing.T) {
		h := newHarness(t)
		h.mail.err = fmt.Errorf("smtp: connection refused")
		h.create(t, alice, alicePassword)
		assert.NoError(t, h.svc.ForgotPassword(ctx, alice))
		require.NoError(t, h.svc.Close())
		assert.Len(t, h.mail.all(), 1)
	})
}

func TestResetPassword(t *testing.T) {
	ctx := context.Background()

	t.Run("once", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		s := h.signIn(t, alice, alicePassword)
		code := h.resetCode(t, alice)

		require.NoError(t, h.svc.ResetPassword(ctx, code, otherPassword))
		assert.False(t, authenticates(t, h.svc, s.Token), "sessions revoked")
		h.signIn(t, alice, otherPassword)
		err := h.svc.ResetPassword(ctx, code, "a third password here")
		assert.ErrorIs(t, err, users.ErrInvalid)
		assertCode(t, err, users.CodeInvalid, "code")
		h.signIn(t, alice, otherPassword)
		assert.Equal(t, 1, h.events.count(users.EventPasswordReset))
		_, err = h.svc.Get(ctx, u.ID)
		require.NoError(t, err)
	})

	t.Run("the three newest codes are valid", func(t *testing.T) {
		h := newHarness(t)
		h.create(t, alice, alicePassword)
		var codes []string
		for range 5 {
			codes = append(codes, h.resetCode(t, alice))
			h.clock.Advance(time.Second)
		}
		// A password the policy refuses tells a valid code (field "password", the code
		// kept) from a void one (field "code").
		for i, want := range []string{"code", "code", "password", "password", "password"} {
			err := h.svc.ResetPassword(ctx, codes[i], "short")
			assertCode(t, err, users.CodeInvalid, want)
		}
		require.NoError(t, h.svc.ResetPassword(ctx, codes[2], otherPassword), "a code requested before two others")
		assertCode(t, h.svc.ResetPassword(ctx, codes[4], otherPassword), users.CodeInvalid, "code")
		h.signIn(t, alice, otherPassword)
	})

	t.Run("requests by someone else do not void the owner's code", func(t *testing.T) {
		h := newHarness(t)
		h.create(t, alice, alicePassword)
		mine := h.resetCode(t, alice)
		for range 2 { // someone else asks for codes for the address
			h.resetCode(t, alice)
		}
		require.NoError(t, h.svc.ResetPassword(ctx, mine, otherPassword))
	})

	t.Run("expired codes take no place", func(t *testing.T) {
		h := newHarness(t)
		h.create(t, alice, alicePassword)
		old := h.resetCode(t, alice)
		h.clock.Advance(time.Hour)
		first := h.resetCode(t, alice)
		h.resetCode(t, alice)
		assertCode(t, h.svc.ResetPassword(ctx, old, otherPassword), users.CodeInvalid, "code")
		n, err := h.store.DeleteExpiredTokens(ctx, h.clock.Now(), 0)
		require.NoError(t, err)
		assert.Zero(t, n, "the expired code was removed when a new one was issued")
		require.NoError(t, h.svc.ResetPassword(ctx, first, otherPassword))
	})

	t.Run("expires after the TTL", func(t *testing.T) {
		h := newHarness(t)
		h.create(t, alice, alicePassword)
		code := h.resetCode(t, alice)
		h.clock.Advance(time.Hour)
		assertCode(t, h.svc.ResetPassword(ctx, code, otherPassword), users.CodeInvalid, "code")
		h.signIn(t, alice, alicePassword)

		code = h.resetCode(t, alice)
		h.clock.Advance(time.Hour - time.Second)
		require.NoError(t, h.svc.ResetPassword(ctx, code, otherPassword), "still valid just before the hour")
	})

	t.Run("policy failure keeps the code", func(t *testing.T) {
		h := newHarness(t)
		h.create(t, alice, alicePassword)
		code := h.resetCode(t, alice)
		for _, pw := range []string{"short", "password1", alice} {
			err := h.svc.ResetPassword(ctx, code, pw)
			assert.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, "password")
		}
		require.NoError(t, h.svc.ResetPassword(ctx, code, otherPassword))
	})

	t.Run("bad codes", func(t *testing.T) {
		h := newHarness(t)
		h.create(t, alice, alicePassword)
		s := h.signIn(t, alice, alicePassword)
		for name, code := range map[string]string{
			"empty": "", "short": "abc", "unknown": strings.Repeat("x", 43), "a session token": s.Token,
		} {
			err := h.svc.ResetPassword(ctx, code, otherPassword)
			assert.ErrorIs(t, err, users.ErrInvalid, name)
			assertCode(t, err, users.CodeInvalid, "code")
		}
		assert.True(t, authenticates(t, h.svc, s.Token))
	})

	t.Run("one of many concurrent resets wins", func(t *testing.T) {
		h := newHarness(t)
		h.create(t, alice, alicePassword)
		code := h.resetCode(t, alice)
		const n = 50
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = h.svc.ResetPassword(ctx, code, fmt.Sprintf("new password number %02d", i)) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				assert.Equal(t, -1, winner, "more than one reset succeeded")
				winner = i
				continue
			}
			assertCode(t, err, users.CodeInvalid, "code")
		}
		require.NotEqual(t, -1, winner, "no reset succeeded")
		h.signIn(t, alice, fmt.Sprintf("new password number %02d", winner))
		assert.Equal(t, 1, h.events.count(users.EventPasswordReset))
	})
}

// TestMailHidesCode checks that a Mail formatted or logged never shows its code.
func TestMailHidesCode(t *testing.T) {
	const code = "c0de-S3CRET-c0de-S3CRET-c0de-S3CRET-c0de-S3"
	m := users.Mail{Kind: users.MailPasswordReset, To: alice, UserID: "u1", Name: "Alice", Code: code, Expires: time.Unix(0, 0)}
	for _, format := range []string{"%v", "%+v", "%s", "%q"} {
		got := fmt.Sprintf(format, m)
		assert.NotContains(t, got, code, format)
		assert.Contains(t, got, alice, format)
		got = fmt.Sprintf(format, &m)
		assert.NotContains(t, got, code, format+" of a pointer")
	}
	assert.NotContains(t, m.String(), code)

	var buf bytes.Buffer
	for _, handler := range []slog.Handler{
		slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
	} {
		log := slog.New(handler)
		log.Info("mail", "mail", m)
		log.Info("mail", "mail", &m)
		log.Info("mail", slog.Any("mail", m))
	}
	assert.NotContains(t, buf.String(), code)
	assert.Contains(t, buf.String(), alice)

	// With the real code of a reset.
	h := newHarness(t)
	h.create(t, alice, alicePassword)
	require.NoError(t, h.svc.ForgotPassword(context.Background(), alice))
	got := h.mail.waitFor(t, alice, users.MailPasswordReset, 1)
	for _, format := range []string{"%v", "%+v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(format, got), got.Code, format)
	}
}

// TestCloseWaitsForMail: every mail ForgotPassword accepted is delivered before Close returns.
func TestCloseWaitsForMail(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const n = 20
	for i := range n {
		addr := fmt.Sprintf("user%02d@example.com", i)
		h.create(t, addr, alicePassword)
		require.NoError(t, h.svc.ForgotPassword(ctx, addr))
	}
	require.NoError(t, h.svc.Close())
	assert.Len(t, h.mail.all(), n)
}
