package users_test

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// register registers a user and returns the verification code mailed to addr.
func (h *harness) register(t *testing.T, r users.Registration, addr string) string {
	t.Helper()
	n := len(h.mail.to(addr, users.MailVerifyEmail))
	require.NoError(t, h.svc.Register(context.Background(), r))
	m := h.mail.waitFor(t, addr, users.MailVerifyEmail, n+1)
	require.Len(t, m.Code, 43)
	return m.Code
}

// userCount returns how many users the store holds.
func (h *harness) userCount(t testing.TB) int {
	t.Helper()
	n, err := h.store.CountUsers(context.Background(), users.Query{})
	require.NoError(t, err)
	return n
}

func requireVerifiedEmail(c *users.Config) { c.RequireVerifiedEmail = true }
func requireApproval(c *users.Config)      { c.RequireApproval = true }

func TestRegister(t *testing.T) {
	ctx := context.Background()

	t.Run("creates the user and mails a code", func(t *testing.T) {
		tests := []struct {
			name      string
			configure []func(*users.Config)
			want      users.Status
			signsIn   bool
		}{
			{"no requirement", nil, users.StatusActive, true},
			// Pending means awaiting an administrator: a user who must only verify is active,
			// and kept from signing in by the unverified address.
			{"verified e-mail required", []func(*users.Config){requireVerifiedEmail}, users.StatusActive, false},
			{"approval required", []func(*users.Config){requireApproval}, users.StatusPending, false},
			{"both required", []func(*users.Config){requireVerifiedEmail, requireApproval}, users.StatusPending, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, tt.configure...)
				code := h.register(t, users.Registration{Username: " Alice@example.com ", Name: " Alice ", Password: alicePassword}, "Alice@example.com")
				u, err := h.svc.GetByUsername(ctx, alice)
				require.NoError(t, err)
				assert.Equal(t, tt.want, u.Status)
				assert.False(t, u.EmailVerified)
				assert.Equal(t, "Alice", u.Name)
				assert.Equal(t, []string{users.RoleUser}, u.Scope)
				assert.NotEmpty(t, h.storedHash(t, u.ID))
				m := h.mail.to("Alice@example.com", users.MailVerifyEmail)[0]
				assert.Equal(t, u.ID, m.UserID)
				assert.Empty(t, m.Name, "no name in a mail to an unverified address")
				assert.Equal(t, h.clock.Now().Add(users.DefaultVerifyCodeTTL), m.Expires)
				assert.NotEqual(t, code, h.storedHash(t, u.ID))
				assert.Equal(t, 1, h.events.count(users.EventRegistered))
				assert.Equal(t, 1, h.events.count(users.EventUserCreated))
				_, err = h.svc.SignIn(ctx, alice, alicePassword)
				if tt.signsIn {
					assert.NoError(t, err, "an active user signs in before verifying")
				} else {
					assert.ErrorIs(t, err, users.ErrForbidden)
				}
			})
		}
	})

	t.Run("username and e-mail default to each other", func(t *testing.T) {
		tests := []struct {
			name         string
			r            users.Registration
			username, to string
		}{
			{"e-mail only", users.Registration{Email: alice, Password: alicePassword}, alice, alice},
			{"username only", users.Registration{Username: alice, Password: alicePassword}, alice, alice},
			{"both", users.Registration{Username: alice, Email: "alice@home.example", Password: alicePassword}, alice, "alice@home.example"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t)
				h.register(t, tt.r, tt.to)
				u, err := h.svc.GetByUsername(ctx, tt.username)
				require.NoError(t, err)
				assert.Equal(t, tt.to, u.Email)
			})
		}
	})

	t.Run("a taken username or e-mail: same answer, the owner is told", func(t *testing.T) {
		h := newHarness(t, requireVerifiedEmail)
		owner, err := h.svc.Create(ctx, users.NewUser{Username: alice, Email: "alice@home.example", EmailVerified: true, Name: "Alice", Password: alicePassword})
		require.NoError(t, err)
		fresh := h.svc.Register(ctx, users.Registration{Username: "fresh@example.com", Password: otherPassword})
		require.NoError(t, fresh)
		h.mail.waitFor(t, "fresh@example.com", users.MailVerifyEmail, 1)

		tests := []struct {
			name string
			r    users.Registration
		}{
			{"username", users.Registration{Username: "ALICE@example.com", Email: "new@example.com", Password: otherPassword}},
			{"e-mail", users.Registration{Username: "new@example.com", Email: "Alice@Home.example", Password: otherPassword}},
			{"e-mail as username", users.Registration{Username: "alice@home.example", Password: otherPassword}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := h.svc.Register(ctx, tt.r)
				assert.Equal(t, fresh, err, "the answer of a fresh registration")
				m := h.mail.waitFor(t, "alice@home.example", users.MailRegistrationAttempt, i+1)
				assert.Equal(t, owner.ID, m.UserID)
				assert.Equal(t, "Alice", m.Name)
				assert.Empty(t, m.Code)
			})
		}
		require.NoError(t, h.svc.Close())
		assert.Equal(t, 2, h.userCount(t), "nothing created")
		assert.Len(t, h.mail.all(), 1+len(tests), "no other mail: %v", h.mail.all())
		assert.Empty(t, h.mail.to("new@example.com", users.MailVerifyEmail))
		assert.Equal(t, 1, h.events.count(users.EventRegistered))
		got, err := h.svc.Get(ctx, owner.ID)
		require.NoError(t, err)
		assert.Equal(t, owner, got, "the owner is untouched")
	})

	t.Run("invalid input", func(t *testing.T) {
		h := newHarness(t)
		tests := []struct {
			name  string
			r     users.Registration
			field string
		}{
			{"nothing", users.Registration{Password: alicePassword}, "username"},
			{"username not an address", users.Registration{Username: "alice", Password: alicePassword}, "username"},
			{"bad e-mail", users.Registration{Username: alice, Email: "alice@", Password: alicePassword}, "email"},
			{"name with control characters", users.Registration{Username: alice, Name: "A\x00", Password: alicePassword}, "name"},
			{"no password", users.Registration{Username: alice}, "password"},
			{"short password", users.Registration{Username: alice, Password: "short"}, "password"},
			{"common password", users.Registration{Username: alice, Password: "password123"}, "password"},
			{"password is the e-mail", users.Registration{Username: alice, Email: "alice@home.example", Password: "ALICE@home.example"}, "password"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := h.svc.Register(ctx, tt.r)
				assert.ErrorIs(t, err, users.ErrInvalid)
				assertCode(t, err, users.CodeInvalid, tt.field)
			})
		}
		require.NoError(t, h.svc.Close())
		assert.Zero(t, h.userCount(t))
		assert.Empty(t, h.mail.all())
	})

	t.Run("no mailer", func(t *testing.T) {
		h := newHarness(t, func(c *users.Config) { c.Mailer = nil })
		h.create(t, alice, alicePassword)
		for _, addr := range []string{alice, bob} {
			err := h.svc.Register(ctx, users.Registration{Username: addr, Password: otherPassword})
			assert.ErrorIs(t, err, users.ErrInternal, addr)
		}
		require.NoError(t, h.svc.Close())
		assert.Equal(t, 1, h.userCount(t))
	})
}

func TestResendVerification(t *testing.T) {
	ctx := context.Background()

	t.Run("voids the earlier code", func(t *testing.T) {
		h := newHarness(t, requireVerifiedEmail)
		first := h.register(t, users.Registration{Username: alice, Password: alicePassword}, alice)
		require.NoError(t, h.svc.ResendVerification(ctx, " ALICE@example.com "))
		second := h.mail.waitFor(t, alice, users.MailVerifyEmail, 2).Code
		require.NotEqual(t, first, second)
		_, err := h.svc.VerifyEmail(ctx, first)
		assertCode(t, err, users.CodeInvalid, "code")
		u, err := h.svc.VerifyEmail(ctx, second)
		require.NoError(t, err)
		assert.True(t, u.EmailVerified)
	})

	t.Run("verified, disabled or unknown: same answer, no mail", func(t *testing.T) {
		h := newHarness(t)
		for _, in := range []users.NewUser{
			{Username: "verified@example.com", EmailVerified: true},
			{Username: "disabled@example.com", Status: users.StatusDisabled},
			{Username: "pending@example.com", Status: users.StatusPending},
		} {
			_, err := h.svc.Create(ctx, in)
			require.NoError(t, err)
		}
		for _, addr := range []string{"verified@example.com", "disabled@example.com", "nobody@example.com", "pending@example.com"} {
			assert.NoError(t, h.svc.ResendVerification(ctx, addr), addr)
		}
		require.NoError(t, h.svc.Close())
		mails := h.mail.all()
		require.Len(t, mails, 1, "only the unverified pending user gets a code")
		assert.Equal(t, "pending@example.com", mails[0].To)
		assert.Equal(t, users.MailVerifyEmail, mails[0].Kind)
	})

	t.Run("malformed address and no mailer", func(t *testing.T) {
		h := newHarness(t)
		assertCode(t, h.svc.ResendVerification(ctx, "alice"), users.CodeInvalid, "email")
		h = newHarness(t, func(c *users.Config) { c.Mailer = nil })
		assert.ErrorIs(t, h.svc.ResendVerification(ctx, alice), users.ErrInternal)
	})
}

func TestVerifyEmail(t *testing.T) {
	ctx := context.Background()

	t.Run("verifies the address, once, and lets the user sign in", func(t *testing.T) {
		h := newHarness(t, requireVerifiedEmail)
		code := h.register(t, users.Registration{Username: alice, Password: alicePassword}, alice)
		h.clock.Advance(time.Minute)
		u, err := h.svc.VerifyEmail(ctx, code)
		require.NoError(t, err)
		assert.True(t, u.EmailVerified)
		assert.Equal(t, users.StatusActive, u.Status)
		assert.Equal(t, users.CanonicalTime(h.clock.Now()), u.Updated)
		stored, err := h.svc.Get(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u, stored)
		h.signIn(t, alice, alicePassword)
		assert.Equal(t, 1, h.events.count(users.EventEmailVerified))

		_, err = h.svc.VerifyEmail(ctx, code)
		assert.ErrorIs(t, err, users.ErrInvalid)
		assertCode(t, err, users.CodeInvalid, "code")
	})

	t.Run("with approval required the user stays pending", func(t *testing.T) {
		h := newHarness(t, requireApproval)
		code := h.register(t, users.Registration{Username: alice, Password: alicePassword}, alice)
		u, err := h.svc.VerifyEmail(ctx, code)
		require.NoError(t, err)
		assert.True(t, u.EmailVerified)
		assert.Equal(t, users.StatusPending, u.Status)
		_, err = h.svc.SignIn(ctx, alice, alicePassword)
		assertCode(t, err, users.CodeForbidden, "status")
		_, err = h.svc.Approve(ctx, u.ID)
		require.NoError(t, err)
		h.signIn(t, alice, alicePassword)
	})

	t.Run("a user an administrator left pending stays pending", func(t *testing.T) {
		for _, st := range stores {
			t.Run(st.name, func(t *testing.T) {
				h := newHarness(t, requireVerifiedEmail)
				svc, err := users.New(st.open(t), h.cfg)
				require.NoError(t, err)
				t.Cleanup(func() { _ = svc.Close() })
				u, err := svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword, Status: users.StatusPending})
				require.NoError(t, err)
				require.NoError(t, svc.ResendVerification(ctx, alice))
				code := h.mail.waitFor(t, alice, users.MailVerifyEmail, 1).Code
				got, err := svc.VerifyEmail(ctx, code)
				require.NoError(t, err)
				assert.True(t, got.EmailVerified)
				assert.Equal(t, users.StatusPending, got.Status, "verification is not approval")
				_, err = svc.SignIn(ctx, alice, alicePassword)
				assertCode(t, err, users.CodeForbidden, "status")
				got, err = svc.Approve(ctx, u.ID)
				require.NoError(t, err)
				assert.Equal(t, users.StatusActive, got.Status)
			})
		}
	})

	t.Run("expires after VerifyCodeTTL", func(t *testing.T) {
		h := newHarness(t, requireVerifiedEmail, func(c *users.Config) { c.VerifyCodeTTL = time.Hour })
		code := h.register(t, users.Registration{Username: alice, Password: alicePassword}, alice)
		assert.Equal(t, h.clock.Now().Add(time.Hour), h.mail.to(alice, users.MailVerifyEmail)[0].Expires)
		h.clock.Advance(time.Hour)
		_, err := h.svc.VerifyEmail(ctx, code)
		assertCode(t, err, users.CodeInvalid, "code")

		require.NoError(t, h.svc.ResendVerification(ctx, alice))
		code = h.mail.waitFor(t, alice, users.MailVerifyEmail, 2).Code
		h.clock.Advance(time.Hour - time.Second)
		_, err = h.svc.VerifyEmail(ctx, code)
		assert.NoError(t, err, "still valid a second before the hour")
	})

	t.Run("bad codes", func(t *testing.T) {
		h := newHarness(t)
		h.create(t, bob, alicePassword)
		s := h.signIn(t, bob, alicePassword)
		reset := h.resetCode(t, bob)
		for name, code := range map[string]string{
			"empty": "", "short": "abc", "bad alphabet": "!" + reset[1:], "unknown": "A" + reset[1:],
			"a reset code": reset, "a session token": s.Token,
		} {
			u, err := h.svc.VerifyEmail(ctx, code)
			assert.Nil(t, u, name)
			assert.ErrorIs(t, err, users.ErrInvalid, name)
			assertCode(t, err, users.CodeInvalid, "code")
		}
		require.NoError(t, h.svc.ResetPassword(ctx, reset, otherPassword), "the reset code was not spent")
	})

	t.Run("changing the e-mail voids the code", func(t *testing.T) {
		h := newHarness(t, requireVerifiedEmail)
		code := h.register(t, users.Registration{Username: alice, Password: alicePassword}, alice)
		u, err := h.svc.GetByUsername(ctx, alice)
		require.NoError(t, err)
		newAddr := "alice@home.example"
		_, err = h.svc.Update(ctx, u.ID, users.Update{Email: &newAddr})
		require.NoError(t, err)
		_, err = h.svc.VerifyEmail(ctx, code)
		assertCode(t, err, users.CodeInvalid, "code")
		got, err := h.svc.Get(ctx, u.ID)
		require.NoError(t, err)
		assert.False(t, got.EmailVerified)
		assert.Equal(t, users.StatusActive, got.Status)
		_, err = h.svc.SignIn(ctx, alice, alicePassword)
		assert.ErrorIs(t, err, users.ErrForbidden, "unverified: no session")
	})
}

func TestSignInRequirements(t *testing.T) {
	h := newHarness(t, requireVerifiedEmail)
	ctx := context.Background()
	ids := map[string]string{}
	for _, in := range []users.NewUser{
		{Username: "unverified@example.com"},
		{Username: "verified@example.com", EmailVerified: true},
		{Username: "pending@example.com", EmailVerified: true, Status: users.StatusPending},
		{Username: "pending-unverified@example.com", Status: users.StatusPending},
		{Username: "disabled@example.com", EmailVerified: true, Status: users.StatusDisabled},
		{Username: "disabled-unverified@example.com", Status: users.StatusDisabled},
	} {
		in.Password = alicePassword
		u, err := h.svc.Create(ctx, in)
		require.NoError(t, err)
		ids[in.Username] = u.ID
	}
	_, unknownErr := h.svc.SignIn(ctx, "nobody@example.com", alicePassword)
	require.ErrorIs(t, unknownErr, users.ErrUnauthorized)

	tests := []struct {
		username string
		field    string // of the ErrForbidden; "" when sign-in succeeds
	}{
		{"verified@example.com", ""},
		{"unverified@example.com", "emailVerified"},
		{"pending@example.com", "status"},
		{"pending-unverified@example.com", "emailVerified"},
		{"disabled@example.com", "status"},
		{"disabled-unverified@example.com", "status"},
	}
	for _, tt := range tests {
		t.Run(tt.username, func(t *testing.T) {
			_, err := h.svc.SignIn(ctx, tt.username, wrongPassword)
			assert.Equal(t, unknownErr, err, "a wrong password gets the answer of an unknown user")

			s, err := h.svc.SignIn(ctx, tt.username, alicePassword)
			if tt.field == "" {
				require.NoError(t, err)
				assert.True(t, authenticates(t, h.svc, s.Token))
			} else {
				assert.Nil(t, s)
				assert.ErrorIs(t, err, users.ErrForbidden)
				assertCode(t, err, users.CodeForbidden, tt.field)
			}

			s, err = h.svc.NewSession(ctx, ids[tt.username])
			if tt.field == "" {
				require.NoError(t, err)
			} else {
				assert.Nil(t, s)
				assertCode(t, err, users.CodeForbidden, tt.field)
			}
		})
	}
}

func TestApprove(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	create := func(username string, status users.Status) *users.User {
		u, err := h.svc.Create(ctx, users.NewUser{Username: username, Password: alicePassword, Status: status})
		require.NoError(t, err)
		return u
	}
	pending := create("pending@example.com", users.StatusPending)
	active := create("active@example.com", users.StatusActive)
	disabled := create("disabled@example.com", users.StatusDisabled)

	h.clock.Advance(time.Minute)
	got, err := h.svc.Approve(ctx, pending.ID)
	require.NoError(t, err)
	assert.Equal(t, users.StatusActive, got.Status)
	assert.Equal(t, users.CanonicalTime(h.clock.Now()), got.Updated)
	assert.Equal(t, int64(2), got.Version)
	h.signIn(t, "pending@example.com", alicePassword)
	assert.Equal(t, 1, h.events.count(users.EventApproved))

	got, err = h.svc.Approve(ctx, active.ID)
	require.NoError(t, err)
	assert.Equal(t, active, got, "an active user is returned unchanged")
	got, err = h.svc.Approve(ctx, pending.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version, "approving again changes nothing")
	assert.Equal(t, 1, h.events.count(users.EventApproved), "no event when nothing changes")

	_, err = h.svc.Approve(ctx, disabled.ID)
	assert.ErrorIs(t, err, users.ErrConflict)
	stored, err := h.svc.Get(ctx, disabled.ID)
	require.NoError(t, err)
	assert.Equal(t, users.StatusDisabled, stored.Status)

	_, err = h.svc.Approve(ctx, uuid.NewString())
	assert.ErrorIs(t, err, users.ErrNotFound)
}

// generatedPassword is the documented shape of a generated password: four groups of five
// characters, without the ones easily mistaken for each other, joined by hyphens.
var generatedPassword = regexp.MustCompile(`^[a-km-zA-HJ-NP-Z2-9]{5}(-[a-km-zA-HJ-NP-Z2-9]{5}){3}$`)

func TestGeneratePassword(t *testing.T) {
	ctx := context.Background()

	t.Run("sets a strong password the user must change", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		s := h.signIn(t, alice, alicePassword)
		code := h.resetCode(t, alice)

		pw, err := h.svc.GeneratePassword(ctx, u.ID)
		require.NoError(t, err)
		assert.Len(t, pw, 23)
		assert.Regexp(t, generatedPassword, pw)
		assert.NoError(t, users.PasswordPolicy{MinLength: 23}.Check(ctx, pw, &users.User{Username: alice, Email: alice}))
		got, err := h.svc.Get(ctx, u.ID)
		require.NoError(t, err)
		assert.True(t, got.MustChangePassword)
		assert.False(t, authenticates(t, h.svc, s.Token), "sessions revoked")
		assertCode(t, h.svc.ResetPassword(ctx, code, otherPassword), users.CodeInvalid, "code")
		_, err = h.svc.SignIn(ctx, alice, alicePassword)
		assert.ErrorIs(t, err, users.ErrUnauthorized)
		s = h.signIn(t, alice, pw)
		assert.True(t, s.User.MustChangePassword)

		seen := map[string]bool{pw: true}
		for range 20 {
			next, err := h.svc.GeneratePassword(ctx, u.ID)
			require.NoError(t, err)
			assert.Regexp(t, generatedPassword, next)
			assert.False(t, seen[next], "a password repeats")
			seen[next] = true
		}

		_, err = h.svc.GeneratePassword(ctx, uuid.NewString())
		assert.ErrorIs(t, err, users.ErrNotFound)
	})

	t.Run("a policy no generated password passes", func(t *testing.T) {
		h := newHarness(t, func(c *users.Config) { c.Passwords.MaxLength = 20 })
		const short = "staple horse 4u2"
		u := h.create(t, alice, short)
		_, err := h.svc.GeneratePassword(ctx, u.ID)
		assert.ErrorIs(t, err, users.ErrInternal)
		h.signIn(t, alice, short)
	})

	// Each way of setting a password clears MustChangePassword and mails a notice; generating
	// the password mails none.
	pw5 := "fifth password of alice"
	tests := []struct {
		name string
		set  func(t *testing.T, h *harness, u *users.User, generated string)
	}{
		{"ChangePassword", func(t *testing.T, h *harness, u *users.User, generated string) {
			require.NoError(t, h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: generated, NewPassword: pw5}))
		}},
		{"ChangePassword by e-mail", func(t *testing.T, h *harness, u *users.User, generated string) {
			require.NoError(t, h.svc.ChangePassword(ctx, users.PasswordChange{Email: alice, OldPassword: generated, NewPassword: pw5}))
		}},
		{"SetPassword", func(t *testing.T, h *harness, u *users.User, _ string) {
			require.NoError(t, h.svc.SetPassword(ctx, u.ID, pw5))
		}},
		{"ResetPassword", func(t *testing.T, h *harness, u *users.User, _ string) {
			require.NoError(t, h.svc.ResetPassword(ctx, h.resetCode(t, alice), pw5))
		}},
		{"Update", func(t *testing.T, h *harness, u *users.User, _ string) {
			_, err := h.svc.Update(ctx, u.ID, users.Update{Password: &pw5})
			require.NoError(t, err)
		}},
	}
	for _, tt := range tests {
		t.Run("cleared by "+tt.name, func(t *testing.T) {
			h := newHarness(t)
			u := h.create(t, alice, alicePassword)
			generated, err := h.svc.GeneratePassword(ctx, u.ID)
			require.NoError(t, err)
			tt.set(t, h, u, generated)
			got, err := h.svc.Get(ctx, u.ID)
			require.NoError(t, err)
			assert.False(t, got.MustChangePassword)
			h.signIn(t, alice, pw5)
			h.mail.waitFor(t, alice, users.MailPasswordChanged, 1)
			require.NoError(t, h.svc.Close())
			assert.Len(t, h.mail.to(alice, users.MailPasswordChanged), 1, "one notice: none for the generated password")
		})
	}
}

func TestChangePasswordByEmail(t *testing.T) {
	ctx := context.Background()
	const home = "alice@home.example"
	setup := func(t *testing.T, configure ...func(*users.Config)) (*harness, *users.User) {
		h := newHarness(t, configure...)
		u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Email: home, Password: alicePassword})
		require.NoError(t, err)
		return h, u
	}

	t.Run("the right password changes it", func(t *testing.T) {
		h, _ := setup(t)
		s := h.signIn(t, alice, alicePassword)
		err := h.svc.ChangePassword(ctx, users.PasswordChange{Email: " Alice@Home.example ", OldPassword: alicePassword, NewPassword: otherPassword})
		require.NoError(t, err)
		assert.False(t, authenticates(t, h.svc, s.Token))
		h.signIn(t, alice, otherPassword)
		assert.Equal(t, 1, h.events.count(users.EventPasswordChanged))
	})

	t.Run("a wrong password and an unknown address answer alike", func(t *testing.T) {
		hasher := newCountingHasher(t, users.TestArgon2())
		h, _ := setup(t, func(c *users.Config) { c.Hasher = hasher })
		_, err := h.svc.Create(ctx, users.NewUser{Username: bob}) // no password
		require.NoError(t, err)
		tests := []struct{ name, email, old string }{
			{"wrong password", home, wrongPassword},
			{"unknown address", "nobody@example.com", alicePassword},
			{"the username is not the address", alice, alicePassword},
			{"no password set", bob, alicePassword},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := hasher.total()
				err := h.svc.ChangePassword(ctx, users.PasswordChange{Email: tt.email, OldPassword: tt.old, NewPassword: otherPassword})
				assert.Equal(t, users.ErrWrongPassword, err)
				assert.Equal(t, int64(1), hasher.total()-before, "one hash, as for a wrong password")
			})
		}
		h.signIn(t, alice, alicePassword)
	})

	t.Run("malformed address", func(t *testing.T) {
		h, _ := setup(t)
		err := h.svc.ChangePassword(ctx, users.PasswordChange{Email: "alice", OldPassword: alicePassword, NewPassword: otherPassword})
		assertCode(t, err, users.CodeInvalid, "email")
	})

	t.Run("throttled whether or not the address exists", func(t *testing.T) {
		h, _ := setup(t)
		for _, addr := range []string{home, "nobody@example.com"} {
			t.Run(addr, func(t *testing.T) {
				for i := range 10 {
					err := h.svc.ChangePassword(ctx, users.PasswordChange{Email: addr, OldPassword: wrongPassword, NewPassword: otherPassword})
					require.ErrorIs(t, err, users.ErrWrongPassword, "attempt %d", i+1)
				}
				err := h.svc.ChangePassword(ctx, users.PasswordChange{Email: addr, OldPassword: alicePassword, NewPassword: otherPassword})
				require.ErrorIs(t, err, users.ErrThrottled)
				var e *users.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, time.Second, e.RetryAfter)
			})
		}
		h.clock.Advance(time.Second)
		require.NoError(t, h.svc.ChangePassword(ctx, users.PasswordChange{Email: home, OldPassword: alicePassword, NewPassword: otherPassword}))
	})

	t.Run("a user who may not sign in is forbidden after the right password", func(t *testing.T) {
		for _, status := range []users.Status{users.StatusPending, users.StatusDisabled} {
			t.Run(string(status), func(t *testing.T) {
				h, u := setup(t)
				_, err := h.svc.Update(ctx, u.ID, users.Update{Status: &status})
				require.NoError(t, err)
				before := h.storedHash(t, u.ID)
				err = h.svc.ChangePassword(ctx, users.PasswordChange{Email: home, OldPassword: wrongPassword, NewPassword: otherPassword})
				assert.ErrorIs(t, err, users.ErrWrongPassword)
				err = h.svc.ChangePassword(ctx, users.PasswordChange{Email: home, OldPassword: alicePassword, NewPassword: otherPassword})
				assertCode(t, err, users.CodeForbidden, "status")
				assert.Equal(t, before, h.storedHash(t, u.ID), "the password is unchanged")
			})
		}
	})
}

func TestPasswordResetDisallowed(t *testing.T) {
	ctx := context.Background()
	allowedInJSON := func(t *testing.T, u *users.User) any {
		t.Helper()
		b, err := json.Marshal(u)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		return m["passwordResetAllowed"]
	}

	t.Run("ForgotPassword mails nothing", func(t *testing.T) {
		h := newHarness(t)
		u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword, PasswordResetDisallowed: true})
		require.NoError(t, err)
		assert.Equal(t, false, allowedInJSON(t, u))
		assert.NoError(t, h.svc.ForgotPassword(ctx, alice))
		require.NoError(t, h.svc.Close())
		assert.Empty(t, h.mail.all())
		assert.Zero(t, h.events.count(users.EventPasswordForgot))
	})

	t.Run("Update toggles it and voids the codes issued before", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		assert.Equal(t, true, allowedInJSON(t, u))
		code := h.resetCode(t, alice)

		no, yes := false, true
		got, err := h.svc.Update(ctx, u.ID, users.Update{PasswordResetAllowed: &no})
		require.NoError(t, err)
		assert.True(t, got.PasswordResetDisallowed)
		assert.Equal(t, false, allowedInJSON(t, got))
		assertCode(t, h.svc.ResetPassword(ctx, code, otherPassword), users.CodeInvalid, "code")

		got, err = h.svc.Update(ctx, u.ID, users.Update{PasswordResetAllowed: &yes})
		require.NoError(t, err)
		assert.False(t, got.PasswordResetDisallowed)
		assert.Equal(t, true, allowedInJSON(t, got))
		assertCode(t, h.svc.ResetPassword(ctx, code, otherPassword), users.CodeInvalid, "code")
		h.signIn(t, alice, alicePassword)

		require.NoError(t, h.svc.ResetPassword(ctx, h.resetCode(t, alice), otherPassword), "a new code works")
		h.signIn(t, alice, otherPassword)
	})
}

// TestAuthenticateRequiresVerifiedEmail: under RequireVerifiedEmail, a session and an API key
// stop working once the user's address is no longer verified (a new address, say), and work
// again once it is.
func TestAuthenticateRequiresVerifiedEmail(t *testing.T) {
	h := newHarness(t, requireVerifiedEmail)
	ctx := context.Background()
	u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword, EmailVerified: true})
	require.NoError(t, err)
	s := h.signIn(t, alice, alicePassword)
	key, err := h.svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "ci"})
	require.NoError(t, err)
	for _, token := range []string{s.Token, key.Key} {
		_, err := h.svc.Authenticate(ctx, token)
		require.NoError(t, err)
	}

	email := "alice@new.example"
	_, err = h.svc.Update(ctx, u.ID, users.Update{Email: &email})
	require.NoError(t, err)
	for _, token := range []string{s.Token, key.Key} {
		_, err := h.svc.Authenticate(ctx, token)
		assert.ErrorIs(t, err, users.ErrUnauthorized)
	}

	verified := true
	_, err = h.svc.Update(ctx, u.ID, users.Update{EmailVerified: &verified})
	require.NoError(t, err)
	for _, token := range []string{s.Token, key.Key} {
		_, err := h.svc.Authenticate(ctx, token)
		assert.NoError(t, err)
	}
}

// With handles for usernames, registration needs an address to send the code to; sign-up
// without verification does not.
func TestRegisterWithHandles(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(c *users.Config) { c.Usernames = users.UsernameHandle })
	err := h.svc.Register(ctx, users.Registration{Username: "ada_1", Password: alicePassword})
	assertCode(t, err, users.CodeInvalid, "email")
	h.register(t, users.Registration{Username: "Ada_1", Email: alice, Password: alicePassword}, alice)
	u, err := h.svc.GetByUsername(ctx, "ada_1")
	require.NoError(t, err)
	assert.Equal(t, alice, u.Email)

	s, err := h.svc.SignUp(ctx, users.Registration{Username: "grace_2", Password: alicePassword})
	require.NoError(t, err)
	assert.Empty(t, s.User.Email, "an address is optional beside a handle")
}
