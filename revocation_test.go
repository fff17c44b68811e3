package users_test

import (
	"context"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stores are the Stores the credential rules are tested on: every rule is the Service's, so
// it must hold on each.
var stores = []struct {
	name string
	open func(t testing.TB) users.Store
}{
	{"memory", func(testing.TB) users.Store { return memory.New() }},
	{"sqlite", func(t testing.TB) users.Store {
		s, err := sqlite.Open(context.Background(), sqlite.Memory, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

// The credentials of the revocation matrix, all alice's.
const (
	credMine     = iota // the session alice acts with (the caller's session)
	credOther           // another session of hers
	credReset           // an outstanding password-reset code
	credVerify          // an outstanding e-mail verification code
	credOwnKey          // an API key she made
	credAdminKey        // an API key an administrator made for her
	numCredentials
)

var credentialNames = [numCredentials]string{
	credMine: "caller's session", credOther: "other session", credReset: "reset code",
	credVerify: "verification code", credOwnKey: "API key made by the user", credAdminKey: "API key made by an admin",
}

// credentialWorld is alice with one credential of each kind, and an administrator, on a
// Service over one of the stores.
type credentialWorld struct {
	h       *harness
	svc     users.Service
	store   users.Store
	alice   *users.User
	admin   *users.Principal // a session of the administrator
	mine    *users.Principal // the session alice acts with
	secrets [numCredentials]string
}

// newCredentialWorld builds the world on store, alice unverified (so that she may have a
// verification code) with RequireVerifiedEmail off (so that she may sign in).
func newCredentialWorld(t *testing.T, store users.Store) *credentialWorld {
	t.Helper()
	ctx := context.Background()
	h := newHarness(t)
	svc, err := users.New(store, h.cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	w := &credentialWorld{h: h, svc: svc, store: store}

	_, err = svc.Create(ctx, users.NewUser{Username: "root@example.com", Password: otherPassword, Scope: []string{users.RoleUser, users.RoleAdmin}})
	require.NoError(t, err)
	w.admin = w.principal(t, w.signIn(t, "root@example.com", otherPassword))
	// A second administrator, so that the last one is never at stake here.
	_, err = svc.Create(ctx, users.NewUser{Username: "deputy@example.com", Password: otherPassword, Scope: []string{users.RoleUser, users.RoleAdmin}})
	require.NoError(t, err)

	w.alice, err = svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword})
	require.NoError(t, err)
	w.secrets[credMine] = w.signIn(t, alice, alicePassword)
	w.mine = w.principal(t, w.secrets[credMine])
	w.secrets[credOther] = w.signIn(t, alice, alicePassword)
	own, err := svc.CreateAPIKey(users.WithActor(ctx, w.mine), w.alice.ID, users.NewAPIKey{Name: "own"})
	require.NoError(t, err)
	w.secrets[credOwnKey] = own.Key
	theirs, err := svc.CreateAPIKey(users.WithActor(ctx, w.admin), w.alice.ID, users.NewAPIKey{Name: "theirs"})
	require.NoError(t, err)
	w.secrets[credAdminKey] = theirs.Key

	require.NoError(t, svc.ForgotPassword(ctx, alice))
	w.secrets[credReset] = h.mail.waitFor(t, alice, users.MailPasswordReset, 1).Code
	require.NoError(t, svc.ResendVerification(ctx, alice))
	w.secrets[credVerify] = h.mail.waitFor(t, alice, users.MailVerifyEmail, 1).Code
	return w
}

func (w *credentialWorld) signIn(t *testing.T, username, password string) string {
	t.Helper()
	s, err := w.svc.SignIn(context.Background(), username, password)
	require.NoError(t, err)
	return s.Token
}

func (w *credentialWorld) principal(t *testing.T, token string) *users.Principal {
	t.Helper()
	p, err := w.svc.Authenticate(context.Background(), token)
	require.NoError(t, err)
	return p
}

// alive reports whether credential c still works: sessions and keys through Authenticate,
// codes by being stored unexpired (using one would change the world).
func (w *credentialWorld) alive(t *testing.T, c int) bool {
	t.Helper()
	switch c {
	case credReset, credVerify:
		_, err := w.store.GetToken(context.Background(), users.DigestOf(w.secrets[c]), w.h.clock.Now())
		if err != nil {
			require.ErrorIs(t, err, users.ErrNotFound)
			return false
		}
		return true
	}
	return authenticates(t, w.svc, w.secrets[c])
}

// asAdmin returns a context in which the administrator acts.
func (w *credentialWorld) asAdmin() context.Context {
	return users.WithActor(context.Background(), w.admin)
}

// asAlice returns a context in which alice acts with her session.
func (w *credentialWorld) asAlice() context.Context {
	return users.WithActor(context.Background(), w.mine)
}

// TestRevocationMatrix checks, for every event that changes a credential or what a credential
// may do, which of alice's credentials survive it: DESIGN's credential rules, on every store.
func TestRevocationMatrix(t *testing.T) {
	const (
		dies  = false
		lives = true
	)
	all := func(b bool) [numCredentials]bool { return [numCredentials]bool{b, b, b, b, b, b} }
	keysDie := [numCredentials]bool{lives, lives, lives, lives, dies, dies}
	str := func(s string) *string { return &s }
	events := []struct {
		name string
		do   func(t *testing.T, w *credentialWorld) error
		want [numCredentials]bool
	}{
		{"voluntary password change", func(t *testing.T, w *credentialWorld) error {
			return w.svc.ChangePassword(w.asAlice(), users.PasswordChange{UserID: w.alice.ID, OldPassword: alicePassword, NewPassword: "a new pass phrase for alice"})
		}, [numCredentials]bool{lives, dies, dies, dies, dies, dies}},
		{"forgot-password reset", func(t *testing.T, w *credentialWorld) error {
			return w.svc.ResetPassword(context.Background(), w.secrets[credReset], "a new pass phrase for alice")
		}, all(dies)},
		{"administrator sets the password", func(t *testing.T, w *credentialWorld) error {
			return w.svc.SetPassword(w.asAdmin(), w.alice.ID, "a new pass phrase for alice")
		}, all(dies)},
		{"administrator sets the password through Update", func(t *testing.T, w *credentialWorld) error {
			_, err := w.svc.Update(w.asAdmin(), w.alice.ID, users.Update{Password: str("a new pass phrase for alice")})
			return err
		}, all(dies)},
		{"administrator generates a password", func(t *testing.T, w *credentialWorld) error {
			_, err := w.svc.GeneratePassword(w.asAdmin(), w.alice.ID)
			return err
		}, all(dies)},
		{"disabled", func(t *testing.T, w *credentialWorld) error {
			s := users.StatusDisabled
			_, err := w.svc.Update(w.asAdmin(), w.alice.ID, users.Update{Status: &s})
			return err
		}, all(dies)},
		{"made pending", func(t *testing.T, w *credentialWorld) error {
			s := users.StatusPending
			_, err := w.svc.Update(w.asAdmin(), w.alice.ID, users.Update{Status: &s})
			return err
		}, all(dies)},
		{"deleted", func(t *testing.T, w *credentialWorld) error {
			_, err := w.svc.Delete(w.asAdmin(), w.alice.ID)
			return err
		}, all(dies)},
		{"scope changed", func(t *testing.T, w *credentialWorld) error {
			scope := []string{users.RoleUser, "auditor"}
			_, err := w.svc.Update(w.asAdmin(), w.alice.ID, users.Update{Scope: &scope})
			return err
		}, keysDie},
		{"permissions changed", func(t *testing.T, w *credentialWorld) error {
			perms := map[string]users.Permission{"reports": users.PermissionRead}
			_, err := w.svc.Update(w.asAdmin(), w.alice.ID, users.Update{Permissions: &perms})
			return err
		}, keysDie},
		{"organization changed", func(t *testing.T, w *credentialWorld) error {
			_, err := w.svc.Update(w.asAdmin(), w.alice.ID, users.Update{OrgID: str("globex")})
			return err
		}, keysDie},
		{"e-mail address changed by the user", func(t *testing.T, w *credentialWorld) error {
			_, err := w.svc.Update(w.asAlice(), w.alice.ID, users.Update{Email: str("alice@example.org"), CurrentPassword: alicePassword})
			return err
		}, [numCredentials]bool{lives, lives, dies, dies, lives, lives}},
		{"username changed by the user", func(t *testing.T, w *credentialWorld) error {
			_, err := w.svc.Update(w.asAlice(), w.alice.ID, users.Update{Username: str("alice@example.net"), CurrentPassword: alicePassword})
			return err
		}, all(lives)},
		{"name changed", func(t *testing.T, w *credentialWorld) error {
			_, err := w.svc.Update(w.asAlice(), w.alice.ID, users.Update{Name: str("Alice L.")})
			return err
		}, all(lives)},
		{"signed out everywhere by an administrator", func(t *testing.T, w *credentialWorld) error {
			return w.svc.RevokeSessions(w.asAdmin(), w.alice.ID)
		}, [numCredentials]bool{dies, dies, lives, lives, lives, lives}},
		{"credentials revoked by an administrator", func(t *testing.T, w *credentialWorld) error {
			return w.svc.RevokeCredentials(w.asAdmin(), w.alice.ID)
		}, all(dies)},
		{"signed out with her own API key", func(t *testing.T, w *credentialWorld) error {
			return w.svc.SignOut(context.Background(), w.secrets[credOwnKey])
		}, [numCredentials]bool{lives, lives, lives, lives, dies, lives}},
		{"an administrator mints another key for her", func(t *testing.T, w *credentialWorld) error {
			_, err := w.svc.CreateAPIKey(w.asAdmin(), w.alice.ID, users.NewAPIKey{Name: "another"})
			return err
		}, all(lives)},
		{"her own key rotated by her", func(t *testing.T, w *credentialWorld) error {
			keys, err := w.svc.APIKeys(w.asAlice(), w.alice.ID)
			require.NoError(t, err)
			for _, k := range keys {
				if k.Name == "own" {
					_, err = w.svc.RotateAPIKey(w.asAlice(), w.alice.ID, k.ID)
				}
			}
			return err
		}, [numCredentials]bool{lives, lives, lives, lives, dies, lives}},
		{"a new reset code asked for", func(t *testing.T, w *credentialWorld) error {
			// The three newest codes stay valid: another request does not void hers.
			require.NoError(t, w.svc.ForgotPassword(context.Background(), alice))
			w.h.mail.waitFor(t, alice, users.MailPasswordReset, 2)
			return nil
		}, all(lives)},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			for _, ev := range events {
				t.Run(ev.name, func(t *testing.T) {
					w := newCredentialWorld(t, st.open(t))
					for c := range numCredentials {
						require.True(t, w.alive(t, c), "%s works before", credentialNames[c])
					}
					require.NoError(t, ev.do(t, w))
					for c := range numCredentials {
						assert.Equal(t, ev.want[c], w.alive(t, c), "%s survives", credentialNames[c])
					}
				})
			}
		})
	}
}
