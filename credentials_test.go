package users_test

import (
	"context"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// actors is a harness with principals to act as: an administrator, a delegated administrator
// (write on users), an organization administrator of acme, and alice (of acme), each with a
// session and an API key.
type actors struct {
	*harness
	admin, writer, orgAdmin, alice             *users.Principal
	adminKey, writerKey, orgAdminKey, aliceKey *users.Principal
}

func newActors(t *testing.T, configure ...func(*users.Config)) *actors {
	t.Helper()
	h := newHarness(t, configure...)
	a := &actors{harness: h}
	a.admin, a.adminKey = a.principals(t, users.NewUser{Username: "root@example.com", Scope: []string{users.RoleUser, users.RoleAdmin}})
	a.writer, a.writerKey = a.principals(t, users.NewUser{Username: "walt@example.com", Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionWrite}})
	a.orgAdmin, a.orgAdminKey = a.principals(t, users.NewUser{Username: "olga@example.com", Scope: []string{users.RoleUser, users.RoleOrgAdmin}, OrgID: "acme"})
	a.alice, a.aliceKey = a.principals(t, users.NewUser{Username: alice, OrgID: "acme"})
	return a
}

// principals creates the user with alicePassword, and returns a session of theirs and an API
// key of theirs, as principals.
func (a *actors) principals(t *testing.T, in users.NewUser) (session, key *users.Principal) {
	t.Helper()
	ctx := context.Background()
	in.Password = alicePassword
	u, err := a.svc.Create(ctx, in)
	require.NoError(t, err)
	s := a.signIn(t, u.Username, alicePassword)
	k, err := a.svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "own"})
	require.NoError(t, err)
	return a.principal(t, s.Token), a.principal(t, k.Key)
}

func (a *actors) principal(t *testing.T, token string) *users.Principal {
	t.Helper()
	p, err := a.svc.Authenticate(context.Background(), token)
	require.NoError(t, err)
	return p
}

func as(p *users.Principal) context.Context { return users.WithActor(context.Background(), p) }

func TestAuthenticateTellsTheCredential(t *testing.T) {
	a := newActors(t)
	assert.Equal(t, users.TokenSession, a.alice.Kind)
	assert.True(t, a.alice.IsSession())
	assert.Empty(t, a.alice.KeyID)
	assert.Equal(t, users.TokenAPIKey, a.aliceKey.Kind)
	assert.False(t, a.aliceKey.IsSession())
	assert.NotEmpty(t, a.aliceKey.KeyID)
	assert.Equal(t, a.alice.User.ID, a.aliceKey.User.ID)
}

// Rule 1: an API key is a credential of its owner, and no one else mints it.
func TestAPIKeyMinting(t *testing.T) {
	a := newActors(t)
	aliceID := a.alice.User.ID

	own, err := a.svc.CreateAPIKey(as(a.alice), aliceID, users.NewAPIKey{Name: "mine"})
	require.NoError(t, err)
	assert.Empty(t, own.CreatedBy, "the owner made it")
	assert.Empty(t, a.mail.to(alice, users.MailAPIKeyCreated), "no mail for one's own key")

	theirs, err := a.svc.CreateAPIKey(as(a.admin), aliceID, users.NewAPIKey{Name: "from root"})
	require.NoError(t, err)
	assert.Equal(t, a.admin.User.ID, theirs.CreatedBy)
	m := a.mail.waitFor(t, alice, users.MailAPIKeyCreated, 1)
	assert.Equal(t, "from root", m.KeyName)
	assert.Empty(t, m.Code)
	keys, err := a.svc.APIKeys(as(a.alice), aliceID)
	require.NoError(t, err)
	byName := map[string]string{}
	for _, k := range keys {
		byName[k.Name] = k.CreatedBy
	}
	assert.Equal(t, a.admin.User.ID, byName["from root"], "the key list shows who made it")
	assert.Empty(t, byName["mine"])

	rotated, err := a.svc.RotateAPIKey(as(a.admin), aliceID, own.ID)
	require.NoError(t, err)
	assert.Equal(t, a.admin.User.ID, rotated.CreatedBy, "a rotation mints: it records who did it")
	a.mail.waitFor(t, alice, users.MailAPIKeyCreated, 2)

	for name, p := range map[string]*users.Principal{"a users:write holder": a.writer, "an organization administrator": a.orgAdmin} {
		_, err := a.svc.CreateAPIKey(as(p), aliceID, users.NewAPIKey{Name: "delegated"})
		assert.ErrorIs(t, err, users.ErrForbidden, name)
		_, err = a.svc.RotateAPIKey(as(p), aliceID, own.ID)
		assert.ErrorIs(t, err, users.ErrForbidden, name)
		listed, err := a.svc.APIKeys(as(p), aliceID)
		assert.NoError(t, err, "%s lists the keys", name)
		assert.NotEmpty(t, listed)
	}
	require.NoError(t, a.svc.DeleteAPIKey(as(a.orgAdmin), aliceID, theirs.ID), "a delegated administrator revokes keys")
	assert.False(t, authenticates(t, a.svc, theirs.Key))
}

// Rule 3: a key is not a session.
func TestAPIKeyIsNotASession(t *testing.T) {
	a := newActors(t)
	aliceID := a.alice.User.ID
	email, name := "alice@example.org", "Alice L."
	newPassword := "a new pass phrase for alice"
	tests := []struct {
		name string
		do   func() error
	}{
		{"create a key", func() error {
			_, err := a.svc.CreateAPIKey(as(a.aliceKey), aliceID, users.NewAPIKey{Name: "more"})
			return err
		}},
		{"rotate a key", func() error {
			_, err := a.svc.RotateAPIKey(as(a.aliceKey), aliceID, a.aliceKey.KeyID)
			return err
		}},
		{"change the password", func() error {
			return a.svc.ChangePassword(as(a.aliceKey), users.PasswordChange{UserID: aliceID, OldPassword: alicePassword, NewPassword: newPassword})
		}},
		{"change the e-mail address", func() error {
			_, err := a.svc.Update(as(a.aliceKey), aliceID, users.Update{Email: &email, CurrentPassword: alicePassword})
			return err
		}},
		{"an administrator mints a key for another", func() error {
			_, err := a.svc.CreateAPIKey(as(a.adminKey), aliceID, users.NewAPIKey{Name: "x"})
			return err
		}},
		{"an administrator sets another's password", func() error {
			return a.svc.SetPassword(as(a.adminKey), aliceID, newPassword)
		}},
		{"an administrator generates another's password", func() error {
			_, err := a.svc.GeneratePassword(as(a.adminKey), aliceID)
			return err
		}},
		{"an administrator changes another's e-mail address", func() error {
			_, err := a.svc.Update(as(a.adminKey), aliceID, users.Update{Email: &email})
			return err
		}},
		{"an administrator signs another out", func() error {
			return a.svc.RevokeSessions(as(a.adminKey), aliceID)
		}},
		{"a delegated administrator revokes another's keys", func() error {
			return a.svc.DeleteAPIKey(as(a.writerKey), aliceID, a.aliceKey.KeyID)
		}},
		{"an organization administrator lists another's keys", func() error {
			_, err := a.svc.APIKeys(as(a.orgAdminKey), aliceID)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			assert.ErrorIs(t, err, users.ErrSessionRequired)
			assert.ErrorIs(t, err, users.ErrForbidden, "a kind of forbidden")
			assertCode(t, err, users.CodeSessionRequired, "")
		})
	}
	got, err := a.svc.Get(as(a.alice), aliceID)
	require.NoError(t, err)
	assert.Equal(t, alice, got.Email, "nothing changed")

	// What a key may do: act as its owner elsewhere.
	_, err = a.svc.Update(as(a.aliceKey), aliceID, users.Update{Name: &name})
	assert.NoError(t, err, "a key changes the profile")
	_, err = a.svc.Get(as(a.aliceKey), aliceID)
	assert.NoError(t, err)
	assert.NoError(t, a.svc.RevokeSessions(as(a.aliceKey), aliceID), "a key may sign its owner out everywhere")
}

// Rule 4: changing the e-mail address or username needs the current password.
func TestChangeSignInIdentifier(t *testing.T) {
	ctx := context.Background()
	newEmail, newName := "alice@example.org", "alice@example.net"

	t.Run("needs the current password", func(t *testing.T) {
		a := newActors(t)
		id := a.alice.User.ID
		for _, current := range []string{"", wrongPassword} {
			_, err := a.svc.Update(as(a.alice), id, users.Update{Email: &newEmail, CurrentPassword: current})
			assert.ErrorIs(t, err, users.ErrWrongPassword)
			assertCode(t, err, users.CodeInvalid, "currentPassword")
			_, err = a.svc.Update(as(a.alice), id, users.Update{Username: &newName, CurrentPassword: current})
			assert.ErrorIs(t, err, users.ErrWrongPassword)
		}
		u, err := a.svc.Update(as(a.alice), id, users.Update{Email: &newEmail, CurrentPassword: alicePassword})
		require.NoError(t, err)
		assert.Equal(t, newEmail, u.Email)
		assert.False(t, u.EmailVerified, "a new address is unverified")
		m := a.mail.waitFor(t, alice, users.MailEmailChanged, 1)
		assert.Equal(t, id, m.UserID, "the old address is told")
		assert.Empty(t, a.mail.to(newEmail, users.MailEmailChanged))
		assert.Equal(t, 1, a.events.count(users.EventEmailChanged))

		u, err = a.svc.Update(as(a.alice), id, users.Update{Username: &newName, CurrentPassword: alicePassword})
		require.NoError(t, err)
		assert.Equal(t, newName, u.Username)
		a.mail.waitFor(t, newEmail, users.MailUsernameChanged, 1)
		assert.Equal(t, 1, a.events.count(users.EventUsernameChanged))

		sameName := newName
		_, err = a.svc.Update(as(a.alice), id, users.Update{Username: &sameName, Name: &sameName})
		assert.NoError(t, err, "setting the same username changes no identifier: no password needed")
	})

	t.Run("is throttled as sign-in is", func(t *testing.T) {
		a := newActors(t, func(c *users.Config) { c.Throttle.MaxFailures = 3 })
		id := a.alice.User.ID
		for range 3 {
			_, err := a.svc.Update(as(a.alice), id, users.Update{Email: &newEmail, CurrentPassword: wrongPassword})
			require.ErrorIs(t, err, users.ErrWrongPassword)
		}
		_, err := a.svc.Update(as(a.alice), id, users.Update{Email: &newEmail, CurrentPassword: alicePassword})
		assert.ErrorIs(t, err, users.ErrThrottled, "the right password waits too")
		_, err = a.svc.SignIn(ctx, alice, alicePassword)
		assert.ErrorIs(t, err, users.ErrThrottled, "one budget with sign-in")
	})

	t.Run("a user without a password sets one first", func(t *testing.T) {
		a := newActors(t)
		u, err := a.svc.Create(ctx, users.NewUser{Username: "nopass@example.com"})
		require.NoError(t, err)
		// Only an administrator could act as them: build the principal by hand, as an app
		// that signs users in its own way does.
		p := &users.Principal{User: u, Kind: users.TokenSession}
		_, err = a.svc.Update(users.WithActor(ctx, p), u.ID, users.Update{Email: &newEmail})
		assert.ErrorIs(t, err, users.ErrForbidden)
		assertCode(t, err, users.CodeForbidden, "currentPassword")
	})

	t.Run("an administrator changes another's without their password", func(t *testing.T) {
		a := newActors(t)
		_, err := a.svc.Update(as(a.admin), a.alice.User.ID, users.Update{Email: &newEmail})
		require.NoError(t, err)
		a.mail.waitFor(t, alice, users.MailEmailChanged, 1)
	})
}

// Rule 8: a user whose password an administrator generated may only read themself, change
// the password and sign out.
func TestMustChangePassword(t *testing.T) {
	a := newActors(t)
	ctx := context.Background()
	id := a.alice.User.ID
	generated, err := a.svc.GeneratePassword(as(a.admin), id)
	require.NoError(t, err)
	s := a.signIn(t, alice, generated)
	p := a.principal(t, s.Token)
	require.True(t, p.User.MustChangePassword)

	got, err := a.svc.Get(as(p), id)
	require.NoError(t, err, "reads themself")
	assert.True(t, got.MustChangePassword)
	name := "Alice"
	for what, err := range map[string]error{
		"read another":        firstErr(a.svc.Get(as(p), a.admin.User.ID)),
		"update":              firstErr(a.svc.Update(as(p), id, users.Update{Name: &name})),
		"mint a key":          firstErr(a.svc.CreateAPIKey(as(p), id, users.NewAPIKey{Name: "k"})),
		"list keys":           firstErr(a.svc.APIKeys(as(p), id)),
		"sign out everywhere": a.svc.RevokeSessions(as(p), id),
		"set the image":       firstErr(a.svc.SetImage(as(p), id, testutil.PNG(t, 4, 4))),
	} {
		assert.ErrorIs(t, err, users.ErrPasswordChangeRequired, what)
		assert.ErrorIs(t, err, users.ErrForbidden, what)
	}
	require.NoError(t, a.svc.ChangePassword(as(p), users.PasswordChange{UserID: id, OldPassword: generated, NewPassword: otherPassword}))
	p = a.principal(t, s.Token)
	assert.False(t, p.User.MustChangePassword)
	_, err = a.svc.Update(as(p), id, users.Update{Name: &name})
	assert.NoError(t, err, "everything again once changed")
	require.NoError(t, a.svc.SignOut(ctx, s.Token))
}

// Rule 10: the last active administrator stays.
func TestLastAdministrator(t *testing.T) {
	ctx := context.Background()
	disabled, pending := users.StatusDisabled, users.StatusPending
	userOnly := []string{users.RoleUser}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			h := newHarness(t)
			svc, err := users.New(st.open(t), h.cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = svc.Close() })
			root, err := svc.Create(ctx, users.NewUser{Username: "root@example.com", Password: alicePassword, Scope: []string{users.RoleUser, users.RoleAdmin}})
			require.NoError(t, err)
			// A disabled administrator is no administrator.
			_, err = svc.Create(ctx, users.NewUser{Username: "old@example.com", Scope: []string{users.RoleAdmin}, Status: users.StatusDisabled})
			require.NoError(t, err)
			for what, err := range map[string]error{
				"disable":      firstErr(svc.Update(ctx, root.ID, users.Update{Status: &disabled})),
				"make pending": firstErr(svc.Update(ctx, root.ID, users.Update{Status: &pending})),
				"demote":       firstErr(svc.Update(ctx, root.ID, users.Update{Scope: &userOnly})),
				"delete":       firstErr(svc.Delete(ctx, root.ID)),
			} {
				assert.ErrorIs(t, err, users.ErrConflict, what)
			}
			got, err := svc.Get(ctx, root.ID)
			require.NoError(t, err)
			assert.True(t, users.IsAdmin(got), "still an administrator")

			_, err = svc.Create(ctx, users.NewUser{Username: "deputy@example.com", Scope: []string{users.RoleAdmin}})
			require.NoError(t, err)
			_, err = svc.Update(ctx, root.ID, users.Update{Scope: &userOnly})
			assert.NoError(t, err, "with another administrator, one may go")
		})
	}
}

// Rule 11: a deletion ticket remembers its organization, so that another organization's
// administrator cannot read it once the user is gone.
func TestTicketRemembersTheOrganization(t *testing.T) {
	a := newActors(t)
	ctx := context.Background()
	_, err := a.svc.Create(ctx, users.NewUser{Username: "oscar@example.com", Password: alicePassword, Scope: []string{users.RoleUser, users.RoleOrgAdmin}, OrgID: "globex"})
	require.NoError(t, err)
	oscar := a.principal(t, a.signIn(t, "oscar@example.com", alicePassword).Token)

	tk, err := a.svc.Delete(as(a.orgAdmin), a.alice.User.ID)
	require.NoError(t, err)
	assert.Equal(t, "acme", tk.OrgID)
	testutil.Eventually(t, func() bool {
		got, err := a.svc.Ticket(ctx, tk.ID)
		require.NoError(t, err)
		return got.Status == users.TicketCompleted
	}, "the deletion completes")

	_, err = a.svc.Ticket(as(a.orgAdmin), tk.ID)
	assert.NoError(t, err, "the organization's administrator still sees it")
	_, err = a.svc.Ticket(as(oscar), tk.ID)
	assert.ErrorIs(t, err, users.ErrNotFound, "another organization's administrator does not")
	_, err = a.svc.CancelDeletion(as(oscar), tk.ID)
	assert.ErrorIs(t, err, users.ErrNotFound)
	_, err = a.svc.Ticket(as(a.writer), tk.ID)
	assert.NoError(t, err, "write on users sees every ticket")
}
