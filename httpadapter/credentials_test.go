package httpadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The credential rules through the REST API: see the package users' documentation.

// Every route that needs a session answers an API key 403 session_required, and does nothing.
func TestRoutesRefuseAPIKeys(t *testing.T) {
	f := newFixture(t)
	aliceKey := f.apiKey(t, f.alice.ID, "alice ci")
	adminKey := f.apiKey(t, f.admin.ID, "admin ci")
	alice := "/users/" + f.alice.ID
	tests := []struct {
		name string
		req  request
	}{
		{"mint an own key", request{method: "POST", path: "/user/keys", body: `{"name":"more"}`, token: aliceKey.Key}},
		{"rotate an own key", request{method: "POST", path: "/user/keys/" + aliceKey.ID + "/rotate", token: aliceKey.Key}},
		{"change the own password", request{method: "POST", path: "/user/change-password", token: aliceKey.Key,
			body: fmt.Sprintf(`{"oldPassword":%q,"newPassword":%q}`, alicePassword, newPassword)}},
		{"change the own e-mail address", request{method: "PUT", path: alice, token: aliceKey.Key,
			body: fmt.Sprintf(`{"email":"alice@example.org","currentPassword":%q}`, alicePassword)}},
		{"change the own username", request{method: "PUT", path: alice, token: aliceKey.Key,
			body: fmt.Sprintf(`{"username":"alice@example.org","currentPassword":%q}`, alicePassword)}},
		{"mint a key for another", request{method: "POST", path: alice + "/keys", body: `{"name":"x"}`, token: adminKey.Key}},
		{"rotate another's key", request{method: "POST", path: alice + "/keys/" + aliceKey.ID + "/rotate", token: adminKey.Key}},
		{"list another's keys", request{method: "GET", path: alice + "/keys", token: adminKey.Key}},
		{"revoke another's key", request{method: "DELETE", path: alice + "/keys/" + aliceKey.ID, token: adminKey.Key}},
		{"set another's password", request{method: "PUT", path: alice + "/password", token: adminKey.Key,
			body: fmt.Sprintf(`{"password":%q}`, newPassword)}},
		{"set another's password by e-mail", request{method: "POST", path: "/user/reset-password", token: adminKey.Key,
			body: fmt.Sprintf(`{"email":"alice@example.com","password":%q}`, newPassword)}},
		{"generate another's password", request{method: "POST", path: alice + "/reset-password", token: adminKey.Key}},
		{"sign another out", request{method: "POST", path: alice + "/sessions/revoke", token: adminKey.Key}},
		{"revoke another's credentials", request{method: "POST", path: alice + "/sessions/revoke?keys=true", token: adminKey.Key}},
		{"change another's e-mail address", request{method: "PUT", path: alice, token: adminKey.Key, body: `{"email":"alice@example.org"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := f.do(t, tt.req).want(t, http.StatusForbidden).problem(t)
			assert.Equal(t, "session_required", p.Code)
		})
	}
	u, err := f.svc.Get(t.Context(), f.alice.ID)
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", u.Email, "nothing changed")
	assert.True(t, f.authenticates(t, f.alice.token), "alice's session lives")
	assert.True(t, f.authenticates(t, aliceKey.Key), "and her key")

	// With a session, the same requests pass: the key was the only reason.
	f.do(t, request{method: "POST", path: "/user/keys", body: `{"name":"more"}`, token: f.alice.token}).want(t, http.StatusCreated)
	f.do(t, request{method: "POST", path: alice + "/keys", body: `{"name":"x"}`, token: f.admin.token}).want(t, http.StatusCreated)
	// And a key still does what does not need a session.
	f.do(t, request{method: "PUT", path: alice, token: aliceKey.Key, body: `{"name":"Alice L."}`}).want(t, http.StatusOK)
	f.do(t, request{method: "GET", path: "/user", token: aliceKey.Key}).want(t, http.StatusOK)
}

// An administrator's key for another user is recorded and mailed to the user; a delegated
// administrator lists and revokes keys, never mints them.
func TestMintingKeysForOthers(t *testing.T) {
	f := newFixture(t)
	walt := f.accountOf(t, users.NewUser{Username: "walt@example.com", Password: bobPassword,
		Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionWrite}})
	var k users.APIKey
	f.do(t, request{method: "POST", path: "/users/" + f.alice.ID + "/keys", body: `{"name":"from root"}`, token: f.admin.token}).
		want(t, http.StatusCreated).decode(t, &k)
	f.secret(k.Key)
	assert.Equal(t, f.admin.ID, k.CreatedBy)
	testutil.Eventually(t, func() bool {
		for _, m := range f.mail.to("alice@example.com") {
			if m.Kind == users.MailAPIKeyCreated && m.KeyName == "from root" {
				return true
			}
		}
		return false
	}, "alice is told")
	var keys []users.APIKey
	f.do(t, request{method: "GET", path: "/user/keys", token: f.alice.token}).want(t, http.StatusOK).decode(t, &keys)
	require.Len(t, keys, 1)
	assert.Equal(t, f.admin.ID, keys[0].CreatedBy, "alice sees who made it")

	f.do(t, request{method: "POST", path: "/users/" + f.alice.ID + "/keys", body: `{"name":"by walt"}`, token: walt.token}).want(t, http.StatusForbidden)
	f.do(t, request{method: "GET", path: "/users/" + f.alice.ID + "/keys", token: walt.token}).want(t, http.StatusOK)
	f.do(t, request{method: "DELETE", path: "/users/" + f.alice.ID + "/keys/" + k.ID, token: walt.token}).want(t, http.StatusNoContent)
	assert.False(t, f.authenticates(t, k.Key))
}

// A user whose password an administrator generated may read themself, change the password
// and sign out; everything else answers 403 password_change_required, the app's own routes
// behind Auth.RequireUser included.
func TestPasswordChangeRequired(t *testing.T) {
	f := newFixture(t)
	var generated struct{ Password string }
	f.do(t, request{method: "POST", path: "/users/" + f.alice.ID + "/reset-password", token: f.admin.token}).
		want(t, http.StatusOK).decode(t, &generated)
	f.secret(generated.Password)
	var s users.Session
	f.do(t, request{method: "POST", path: "/user/auth", body: fmt.Sprintf(`{"username":"alice@example.com","password":%q}`, generated.Password)}).
		want(t, http.StatusOK).decode(t, &s)
	f.secret(s.Token)

	f.do(t, request{method: "GET", path: "/user", token: s.Token}).want(t, http.StatusOK)
	for _, req := range []request{
		{method: "GET", path: "/users/" + f.alice.ID},
		{method: "PUT", path: "/users/" + f.alice.ID, body: `{"name":"Alice"}`},
		{method: "GET", path: "/user/keys"},
		{method: "POST", path: "/user/keys", body: `{"name":"k"}`},
		{method: "GET", path: "/user/image"},
		{method: "GET", path: "/users"},
	} {
		req.token = s.Token
		p := f.do(t, req).want(t, http.StatusForbidden).problem(t)
		assert.Equal(t, "password_change_required", p.Code, "%s %s", req.method, req.path)
	}
	auth := &httpadapter.Auth{Service: f.svc}
	app := auth.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	res := serve(app, request{method: "GET", path: "/notes", token: s.Token})
	assert.Equal(t, http.StatusForbidden, res.status, "the app's own routes too")

	f.do(t, request{method: "POST", path: "/user/change-password", token: s.Token,
		body: fmt.Sprintf(`{"oldPassword":%q,"newPassword":%q}`, generated.Password, newPassword)}).want(t, http.StatusOK)
	f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: s.Token, body: `{"name":"Alice"}`}).want(t, http.StatusOK)
	assert.Equal(t, http.StatusNoContent, serve(app, request{method: "GET", path: "/notes", token: s.Token}).status)
	f.do(t, request{method: "POST", path: "/user/sign-out", token: s.Token}).want(t, http.StatusNoContent)
}

// The sign-up modes: what POST /user answers, what it creates, and what it tells.
func TestSignUpModes(t *testing.T) {
	body := func(username string) string {
		return fmt.Sprintf(`{"username":%q,"password":%q,"metadata":{"team":"blue"}}`, username, newPassword)
	}
	t.Run("verify, the default, registers and answers alike for a taken address", func(t *testing.T) {
		f := newFixture(t, func(s *setup) {
			s.opts.SignUp = httpadapter.SignUpVerify
			s.cfg.RequireVerifiedEmail = true
		})
		f.secret(newPassword)
		fresh := f.do(t, request{method: "POST", path: "/user", body: body("dave@example.com")}).want(t, http.StatusAccepted)
		taken := f.do(t, request{method: "POST", path: "/user", body: body("alice@example.com")}).want(t, http.StatusAccepted)
		assert.Equal(t, fresh.body, taken.body, "the same answer whether or not the address has an account")
		code := f.mailOf(t, "dave@example.com", 0)
		require.Equal(t, users.MailVerifyEmail, code.Kind)
		f.secret(code.Code)
		testutil.Eventually(t, func() bool {
			ms := f.mail.to("alice@example.com")
			return len(ms) > 0 && ms[len(ms)-1].Kind == users.MailRegistrationAttempt
		}, "the owner of the taken address is told")
		u, err := f.svc.GetByUsername(t.Context(), "dave@example.com")
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"team": "blue"}, u.Metadata)
		f.do(t, request{method: "POST", path: "/user/auth", body: fmt.Sprintf(`{"username":"dave@example.com","password":%q}`, newPassword)}).
			want(t, http.StatusForbidden)
		f.do(t, request{method: "POST", path: "/user/verify", body: fmt.Sprintf(`{"code":%q}`, code.Code)}).want(t, http.StatusOK)
		f.do(t, request{method: "POST", path: "/user/auth", body: fmt.Sprintf(`{"username":"dave@example.com","password":%q}`, newPassword)}).
			want(t, http.StatusOK)
	})
	t.Run("open answers with a session, and says when an address is taken", func(t *testing.T) {
		f := newFixture(t, func(s *setup) { s.opts.SignUp = httpadapter.SignUpOpen })
		var s users.Session
		f.do(t, request{method: "POST", path: "/user", body: body("dave@example.com")}).want(t, http.StatusCreated).decode(t, &s)
		f.secret(s.Token)
		assert.True(t, f.authenticates(t, s.Token))
		f.do(t, request{method: "POST", path: "/user", body: body("alice@example.com")}).want(t, http.StatusConflict)
	})
	for name, configure := range map[string]func(*users.Config){
		"verified address": func(c *users.Config) { c.RequireVerifiedEmail = true },
		"approval":         func(c *users.Config) { c.RequireApproval = true },
	} {
		t.Run("open honours a required "+name, func(t *testing.T) {
			f := newFixture(t, func(s *setup) {
				s.opts.SignUp = httpadapter.SignUpOpen
				configure(&s.cfg)
			})
			f.secret(newPassword)
			res := f.do(t, request{method: "POST", path: "/user", body: body("dave@example.com")}).want(t, http.StatusAccepted)
			assert.JSONEq(t, `{}`, string(res.body), "no session")
			assert.Equal(t, users.MailVerifyEmail, f.mailOf(t, "dave@example.com", 0).Kind)
			f.do(t, request{method: "POST", path: "/user/auth", body: fmt.Sprintf(`{"username":"dave@example.com","password":%q}`, newPassword)}).
				want(t, http.StatusForbidden)
		})
	}
}

// The check-then-act race through the REST API: a delegated administrator's requests on bob
// race an administrator making bob an administrator. A request lands before the promotion or
// not at all.
func TestAdminRoutesRace(t *testing.T) {
	png := string(testutil.PNG(t, 2, 2))
	routes := []struct {
		name   string
		req    func(bob *users.User) request
		status users.Status
		effect func(e testutil.JournalEntry) bool
	}{
		{"PUT /users/{id}", func(bob *users.User) request {
			return request{method: "PUT", path: "/users/" + bob.ID, body: `{"name":"by walt"}`}
		}, "", func(e testutil.JournalEntry) bool { return e.Op == "UpdateUser" && e.User.Name == "by walt" }},
		{"PUT /users/{id}/password", func(bob *users.User) request {
			return request{method: "PUT", path: "/users/" + bob.ID + "/password", body: fmt.Sprintf(`{"password":%q}`, newPassword)}
		}, "", func(e testutil.JournalEntry) bool { return e.Op == "UpdateUser" && e.User.PasswordHash != "" }},
		{"POST /user/reset-password", func(bob *users.User) request {
			return request{method: "POST", path: "/user/reset-password", body: fmt.Sprintf(`{"email":%q,"password":%q}`, bob.Email, newPassword)}
		}, "", func(e testutil.JournalEntry) bool { return e.Op == "UpdateUser" && e.User.PasswordHash != "" }},
		{"POST /users/{id}/reset-password", func(bob *users.User) request {
			return request{method: "POST", path: "/users/" + bob.ID + "/reset-password"}
		}, "", func(e testutil.JournalEntry) bool { return e.Op == "UpdateUser" && e.User.MustChangePassword }},
		{"DELETE /users/{id}", func(bob *users.User) request {
			return request{method: "DELETE", path: "/users/" + bob.ID}
		}, "", func(e testutil.JournalEntry) bool {
			return e.Op == "UpdateUser" && e.User.Status == users.StatusDisabled
		}},
		{"POST /users/{id}/approve", func(bob *users.User) request {
			return request{method: "POST", path: "/users/" + bob.ID + "/approve"}
		}, users.StatusPending, func(e testutil.JournalEntry) bool { return e.Op == "UpdateUser" && e.User.Status == users.StatusActive }},
		{"POST /users/{id}/sessions/revoke", func(bob *users.User) request {
			return request{method: "POST", path: "/users/" + bob.ID + "/sessions/revoke"}
		}, "", func(e testutil.JournalEntry) bool {
			return e.Op == "DeleteUserTokens" && len(e.Kinds) == 1 && e.Kinds[0] == users.TokenSession
		}},
		{"PUT /users/{id}/image", func(bob *users.User) request {
			return request{method: "PUT", path: "/users/" + bob.ID + "/image", body: png, header: imageHeader("image/png")}
		}, "", func(e testutil.JournalEntry) bool { return e.Op == "PutImage" }},
	}
	promotion := func(e testutil.JournalEntry) bool { return e.Op == "UpdateUser" && e.User.HasRole(users.RoleAdmin) }
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			journal := testutil.NewJournal(memory.New())
			f := newFixture(t, func(s *setup) {
				s.store = journal
				s.cfg.NoWorker = true
			})
			walt := f.accountOf(t, users.NewUser{Username: "walt@example.com", Password: bobPassword,
				Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionWrite}})
			asAdmin := users.WithActor(context.Background(), &users.Principal{User: f.admin.User, Kind: users.TokenSession})
			adminScope := []string{users.RoleUser, users.RoleAdmin}
			for round := range 20 {
				bob, err := f.svc.Create(t.Context(), users.NewUser{Username: fmt.Sprintf("bob%d@example.com", round), Status: rt.status})
				require.NoError(t, err)
				req := rt.req(bob)
				req.token = walt.token
				var res *response
				var promoteErr error
				var wg sync.WaitGroup
				start := make(chan struct{})
				wg.Go(func() { <-start; res = serve(f.handler, req) })
				wg.Go(func() {
					<-start
					_, promoteErr = f.svc.Update(asAdmin, bob.ID, users.Update{Scope: &adminScope})
				})
				close(start)
				wg.Wait()
				if promoteErr != nil {
					require.ErrorIs(t, promoteErr, users.ErrConflict, "only a deletion that began first stops the promotion")
					continue
				}
				assert.Contains(t, []int{http.StatusOK, http.StatusNoContent, http.StatusForbidden}, res.status, "round %d: %s", round, res.body)
				after, promoted := testutil.Since(journal.Entries(), bob.ID, promotion)
				require.True(t, promoted)
				for _, e := range after {
					assert.False(t, rt.effect(e), "round %d: the request landed on an administrator", round)
				}
				if res.status == http.StatusForbidden {
					assert.True(t, strings.Contains(string(res.body), `"code":"forbidden"`), "round %d: %s", round, res.body)
				}
			}
		})
	}
}
