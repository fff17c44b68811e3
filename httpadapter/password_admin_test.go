package httpadapter_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Password administration: users without a password, setting and generating passwords,
// turning forgot-password off for a user, and changing a password by e-mail address.

// Tyk Dashboard Users API (seed 003): "You can add a user via the API without a password by
// leaving out the password field. You then use Set User Password request to add a password."
// Such a user cannot sign in (the same 401 as a wrong password) until PUT /users/{id}/password.
func TestUserWithoutPassword(t *testing.T) {
	f := newFixture(t)
	f.secret(newPassword)
	var u map[string]any
	f.do(t, request{method: "POST", path: "/users", token: f.admin.token, body: `{"username":"tess@example.com","name":"Tess"}`}).
		want(t, http.StatusCreated).decode(t, &u)
	assert.Equal(t, false, u["hasPassword"])
	assert.Equal(t, "active", u["status"])
	id, _ := u["id"].(string)

	noPassword := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("tess@example.com", newPassword)}).
		want(t, http.StatusUnauthorized)
	wrong := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", "not the password")}).
		want(t, http.StatusUnauthorized)
	assert.Equal(t, wrong.body, noPassword.body)
	f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("tess@example.com", "")}).want(t, http.StatusBadRequest)

	t.Run("the password must pass the policy", func(t *testing.T) {
		p := f.do(t, request{method: "PUT", path: "/users/" + id + "/password", token: f.admin.token, body: `{"password":"short"}`}).
			want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, "password", p.Field)
		p = f.do(t, request{method: "PUT", path: "/users/" + id + "/password", token: f.admin.token, body: `{}`}).
			want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, "password", p.Field)
	})

	res := f.do(t, request{method: "PUT", path: "/users/" + id + "/password", token: f.admin.token,
		body: fmt.Sprintf(`{"password":%q}`, newPassword)}).want(t, http.StatusOK)
	assert.JSONEq(t, `{}`, string(res.body))
	token := f.signIn(t, "tess@example.com", newPassword)
	f.do(t, request{method: "GET", path: "/user", token: token}).want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, true, u["hasPassword"])

	t.Run("setting it again ends the user's sessions", func(t *testing.T) {
		f.do(t, request{method: "PUT", path: "/users/" + id + "/password", token: f.admin.token,
			body: fmt.Sprintf(`{"password":%q}`, "yet another pass phrase")}).want(t, http.StatusOK)
		assert.False(t, f.authenticates(t, token))
	})
	t.Run("a user sets no password of their own this way", func(t *testing.T) {
		p := f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID + "/password", token: f.alice.token,
			body: fmt.Sprintf(`{"password":%q}`, newPassword)}).want(t, http.StatusForbidden).problem(t)
		assert.Equal(t, "forbidden", p.Code)
	})
}

// Amadis administration API (seed 004): PATCH /api/user/v1/resetpassword, "resetting a user
// password (backend generated)", answers the new password; Axway (seed 002): PUT
// /users/{id}/resetpassword. Here POST /users/{id}/reset-password answers {password}, not to
// be stored by caches; the password works, and the user must change it: mustChangePassword
// is true until they do.
func TestGeneratePassword(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, request{method: "POST", path: "/users/" + f.alice.ID + "/reset-password", token: f.admin.token}).
		want(t, http.StatusOK)
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	var got struct{ Password string }
	res.decode(t, &got)
	require.Len(t, got.Password, 23)
	f.secret(got.Password)
	assert.False(t, f.authenticates(t, f.alice.token), "the user's sessions end")

	token := f.signIn(t, "alice@example.com", got.Password)
	var u map[string]any
	f.do(t, request{method: "GET", path: "/user", token: token}).want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, true, u["mustChangePassword"])

	f.secret(newPassword)
	f.do(t, request{method: "POST", path: "/user/change-password", token: token,
		body: fmt.Sprintf(`{"oldPassword":%q,"newPassword":%q}`, got.Password, newPassword)}).want(t, http.StatusOK)
	f.do(t, request{method: "GET", path: "/user", token: token}).want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, false, u["mustChangePassword"])
	f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", got.Password)}).
		want(t, http.StatusUnauthorized)

	f.do(t, request{method: "POST", path: "/users/" + f.bob.ID + "/reset-password", token: token}).want(t, http.StatusForbidden)
	f.do(t, request{method: "POST", path: "/users/" + f.alice.ID + "/reset-password", token: token}).want(t, http.StatusForbidden)
}

// Tyk Dashboard Users API (seed 003): allow and disallow reset password. passwordResetAllowed
// is set by POST /users and PUT /users/{id}; when false, POST /user/forgot-password mails
// nothing and answers exactly as usual.
func TestPasswordResetAllowed(t *testing.T) {
	f := newFixture(t)
	var u map[string]any
	f.do(t, request{method: "POST", path: "/users", token: f.admin.token,
		body: `{"username":"tess@example.com","passwordResetAllowed":false}`}).want(t, http.StatusCreated).decode(t, &u)
	assert.Equal(t, false, u["passwordResetAllowed"])
	tess, _ := u["id"].(string)
	f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: f.admin.token, body: `{"passwordResetAllowed":false}`}).
		want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, false, u["passwordResetAllowed"])

	forgot := func(email string) *response {
		return f.do(t, request{method: "POST", path: "/user/forgot-password", body: fmt.Sprintf(`{"email":%q}`, email)}).
			want(t, http.StatusOK)
	}
	disallowed, allowed := forgot("alice@example.com"), forgot("bob@example.com")
	assert.Equal(t, allowed.header, disallowed.header)
	assert.Equal(t, allowed.body, disallowed.body)
	forgot("tess@example.com")
	f.mailOf(t, "bob@example.com", 0)
	require.NoError(t, f.svc.Close())
	assert.Empty(t, f.mail.to("alice@example.com"))
	assert.Empty(t, f.mail.to("tess@example.com"))

	t.Run("a user may not allow it for themself", func(t *testing.T) {
		p := f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: f.alice.token, body: `{"passwordResetAllowed":true}`}).
			want(t, http.StatusForbidden).problem(t)
		assert.Equal(t, "passwordResetAllowed", p.Field)
	})
	f.do(t, request{method: "PUT", path: "/users/" + tess, token: f.admin.token, body: `{"passwordResetAllowed":true}`}).
		want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, true, u["passwordResetAllowed"])
}

// Amadis administration API (seed 004): PATCH /api/user/v1/changepassword takes a
// form-encoded email, old and new password, "400: wrong old password". Here POST
// /user/change-password without an Authorization header takes {email, oldPassword,
// newPassword}, form-encoded or JSON; an unknown address gets the very same 400 as a wrong
// password, and a pending account a 403 only after the right one.
func TestChangePasswordByEmail(t *testing.T) {
	f := newFixture(t)
	f.secret(newPassword)
	change := func(email, old, new string, form bool) *response {
		if form {
			body := url.Values{"email": {email}, "oldPassword": {old}, "newPassword": {new}}.Encode()
			return f.do(t, request{method: "POST", path: "/user/change-password", body: body, header: formHeader})
		}
		return f.do(t, request{method: "POST", path: "/user/change-password",
			body: fmt.Sprintf(`{"email":%q,"oldPassword":%q,"newPassword":%q}`, email, old, new)})
	}

	wrong := change("alice@example.com", "not the password", newPassword, true).want(t, http.StatusBadRequest)
	unknown := change("nobody@example.com", "not the password", newPassword, true).want(t, http.StatusBadRequest)
	assert.Equal(t, wrong.header, unknown.header)
	assert.Equal(t, wrong.body, unknown.body)
	assert.Equal(t, "oldPassword", wrong.problem(t).Field)
	p := change("alice@example.com", alicePassword, "short", false).want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "newPassword", p.Field)
	p = f.do(t, request{method: "POST", path: "/user/change-password",
		body: fmt.Sprintf(`{"oldPassword":%q,"newPassword":%q}`, alicePassword, newPassword)}).want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "email", p.Field, "without a token the e-mail address is required")

	res := change("alice@example.com", alicePassword, newPassword, true).want(t, http.StatusOK)
	assert.JSONEq(t, `{}`, string(res.body))
	assert.False(t, f.authenticates(t, f.alice.token), "every session of the user ends")
	f.signIn(t, "alice@example.com", newPassword)
	change("bob@example.com", bobPassword, newPassword, false).want(t, http.StatusOK)
	bob := f.signIn(t, "bob@example.com", newPassword)

	t.Run("a pending account", func(t *testing.T) {
		_, err := f.svc.Create(t.Context(), users.NewUser{Username: "pat@example.com", Password: alicePassword, Status: users.StatusPending})
		require.NoError(t, err)
		change("pat@example.com", "not the password", newPassword, true).want(t, http.StatusBadRequest)
		p := change("pat@example.com", alicePassword, newPassword, true).want(t, http.StatusForbidden).problem(t)
		assert.Equal(t, "status", p.Field)
	})
	t.Run("a bad token is 401, never read as the e-mail form", func(t *testing.T) {
		res := f.do(t, request{method: "POST", path: "/user/change-password", token: "AAAA",
			body: fmt.Sprintf(`{"email":"bob@example.com","oldPassword":%q,"newPassword":%q}`, newPassword, alicePassword)})
		res.want(t, http.StatusUnauthorized)
	})
	t.Run("with a token the e-mail form is refused", func(t *testing.T) {
		p := f.do(t, request{method: "POST", path: "/user/change-password", token: bob,
			body: fmt.Sprintf(`{"email":"bob@example.com","oldPassword":%q,"newPassword":%q}`, newPassword, alicePassword)}).
			want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, "email", p.Field)
	})
}

// POST /user/change-password is under the sign-in rate limit, with or without a token: each
// request costs a password hash.
func TestChangePasswordRateLimited(t *testing.T) {
	f := newFixture(t, func(s *setup) {
		s.opts.RateLimits.SignIn = httpadapter.RateLimit{Burst: 2, Every: time.Minute}
	})
	for i := range 2 {
		f.do(t, request{method: "POST", path: "/user/change-password",
			body: fmt.Sprintf(`{"email":"nobody%d@example.com","oldPassword":"x","newPassword":%q}`, i, newPassword)}).
			want(t, http.StatusBadRequest)
	}
	res := f.do(t, request{method: "POST", path: "/user/change-password", token: f.alice.token,
		body: fmt.Sprintf(`{"oldPassword":%q,"newPassword":%q}`, alicePassword, newPassword)}).want(t, http.StatusTooManyRequests)
	assert.Equal(t, "60", res.header.Get("Retry-After"))
}
