package httpadapter_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The account lifecycle: registration with e-mail verification, approval, enabling and
// disabling.

// mailOf waits for the n-th mail (from 0) to an address and returns it, recording its code
// as a secret.
func (f *fixture) mailOf(t testing.TB, to string, n int) users.Mail {
	t.Helper()
	testutil.Eventually(t, func() bool { return len(f.mail.to(to)) > n }, "mail %d to %s", n, to)
	m := f.mail.to(to)[n]
	if m.Code != "" {
		f.secret(m.Code)
	}
	return m
}

// Axway API Manager Users API (seed 002): POST /users/register, then GET /users/validateuser
// with the code mailed; here POST /user/register and POST /user/verify. With verified e-mail
// required, the user is pending until they verify, and then active.
func TestRegisterAndVerify(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.cfg.RequireVerifiedEmail = true })
	f.secret(newPassword)
	res := f.do(t, request{method: "POST", path: "/user/register",
		body: fmt.Sprintf(`{"email":"dave@example.com","name":"Dave","password":%q}`, newPassword)}).want(t, http.StatusAccepted)
	assert.JSONEq(t, `{}`, string(res.body))

	m := f.mailOf(t, "dave@example.com", 0)
	assert.Equal(t, users.MailVerifyEmail, m.Kind)
	require.NotEmpty(t, m.Code)

	t.Run("pending: the right password gets a clear 403, a wrong one the usual 401", func(t *testing.T) {
		wrong := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("dave@example.com", "not the password")}).
			want(t, http.StatusUnauthorized)
		unknown := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("nobody@example.com", "not the password")}).
			want(t, http.StatusUnauthorized)
		assert.Equal(t, unknown.body, wrong.body, "nothing tells a pending account from no account")
		p := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("dave@example.com", newPassword)}).
			want(t, http.StatusForbidden).problem(t)
		assert.Equal(t, "emailVerified", p.Field)
		assert.Contains(t, p.Detail, "not verified")
	})

	t.Run("a bad code", func(t *testing.T) {
		p := f.do(t, request{method: "POST", path: "/user/verify", body: `{"code":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`}).
			want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, "code", p.Field)
		p = f.do(t, request{method: "POST", path: "/user/verify", body: `{}`}).want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, "code", p.Field)
	})

	var u map[string]any
	f.do(t, request{method: "POST", path: "/user/verify", body: fmt.Sprintf(`{"code":%q}`, m.Code)}).
		want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, "dave@example.com", u["username"])
	assert.Equal(t, "Dave", u["name"])
	assert.Equal(t, "active", u["status"])
	assert.Equal(t, true, u["emailVerified"])
	f.signIn(t, "dave@example.com", newPassword)

	p := f.do(t, request{method: "POST", path: "/user/verify", body: fmt.Sprintf(`{"code":%q}`, m.Code)}).
		want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "code", p.Field, "a code works once")
}

// Amadis administration API (seed 004): POST /api/user/v1/register takes a form-encoded
// name, email and password; here POST /user/register takes the same fields form-encoded, and
// so do POST /user/register/resend and POST /user/verify.
func TestRegisterFormEncoded(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.cfg.RequireVerifiedEmail = true })
	f.secret(newPassword)
	form := url.Values{"name": {"Dave"}, "email": {"dave@example.com"}, "password": {newPassword}}
	res := f.do(t, request{method: "POST", path: "/user/register", body: form.Encode(), header: formHeader}).
		want(t, http.StatusAccepted)
	assert.JSONEq(t, `{}`, string(res.body))
	first := f.mailOf(t, "dave@example.com", 0)

	f.do(t, request{method: "POST", path: "/user/register/resend", body: "email=dave%40example.com", header: formHeader}).
		want(t, http.StatusAccepted)
	second := f.mailOf(t, "dave@example.com", 1)
	assert.NotEqual(t, first.Code, second.Code)

	f.do(t, request{method: "POST", path: "/user/verify", body: url.Values{"code": {first.Code}}.Encode(), header: formHeader}).
		want(t, http.StatusBadRequest) // voided by the new one
	var u map[string]any
	f.do(t, request{method: "POST", path: "/user/verify", body: url.Values{"code": {second.Code}}.Encode(), header: formHeader}).
		want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, true, u["emailVerified"])

	t.Run("form errors name the field", func(t *testing.T) {
		for _, tt := range []struct{ body, field string }{
			{"email=dave%40example.com&password=x&isAdmin=true", "isAdmin"},
			{"email=a%40example.com&email=b%40example.com&password=" + url.QueryEscape(newPassword), "email"},
			{"email=dave%40example.com", "password"},
			{"email=dave&password=" + url.QueryEscape(newPassword), "username"},
			{"email=%zz", ""},
		} {
			p := f.do(t, request{method: "POST", path: "/user/register", body: tt.body, header: formHeader}).
				want(t, http.StatusBadRequest).problem(t)
			assert.Equal(t, tt.field, p.Field, tt.body)
		}
	})
}

// Axway API Manager Users API (seed 002): register sends the validation mail "to confirm
// ownership". Registering an address that has an account answers exactly as a new one (same
// status, headers and body), creates nothing, and mails the owner that someone tried.
func TestRegisterExistingAddress(t *testing.T) {
	f := newFixture(t)
	f.secret(newPassword)
	register := func(email string) *response {
		return f.do(t, request{method: "POST", path: "/user/register",
			body: fmt.Sprintf(`{"email":%q,"password":%q}`, email, newPassword)}).want(t, http.StatusAccepted)
	}
	fresh := register("dave@example.com")
	taken := register("Alice@example.com")
	assert.Equal(t, fresh.header, taken.header)
	assert.Equal(t, fresh.body, taken.body)

	assert.Equal(t, users.MailVerifyEmail, f.mailOf(t, "dave@example.com", 0).Kind)
	m := f.mailOf(t, "alice@example.com", 0)
	assert.Equal(t, users.MailRegistrationAttempt, m.Kind)
	assert.Empty(t, m.Code)
	require.NoError(t, f.svc.Close()) // waits for the background work
	assert.Len(t, f.mail.to("alice@example.com"), 1)
	f.signIn(t, "alice@example.com", alicePassword) // alice's account is untouched
	f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", newPassword)}).
		want(t, http.StatusUnauthorized)
}

// Register and resend answer 202 {} the same way whether or not a mail goes out; resend
// sends nothing to a verified or unknown address.
func TestResendVerification(t *testing.T) {
	f := newFixture(t)
	verified, err := f.svc.Create(t.Context(), users.NewUser{Username: "vera@example.com", EmailVerified: true})
	require.NoError(t, err)
	resend := func(email string) *response {
		return f.do(t, request{method: "POST", path: "/user/register/resend", body: fmt.Sprintf(`{"email":%q}`, email)}).
			want(t, http.StatusAccepted)
	}
	a, b, c := resend("alice@example.com"), resend(verified.Email), resend("nobody@example.com")
	assert.Equal(t, a.body, b.body)
	assert.Equal(t, a.body, c.body)
	assert.Equal(t, users.MailVerifyEmail, f.mailOf(t, "alice@example.com", 0).Kind)
	require.NoError(t, f.svc.Close())
	assert.Empty(t, f.mail.to(verified.Email))
	assert.Empty(t, f.mail.to("nobody@example.com"))

	p := f.do(t, request{method: "POST", path: "/user/register/resend", body: `{"email":"nobody"}`}).
		want(t, http.StatusBadRequest).problem(t)
	assert.Equal(t, "email", p.Field)
}

// SignUpAdmin closes POST /user/register as it closes POST /user.
func TestRegisterSignUpAdmin(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.opts.SignUp = httpadapter.SignUpAdmin })
	body := fmt.Sprintf(`{"email":"dave@example.com","password":%q}`, newPassword)
	f.do(t, request{method: "POST", path: "/user/register", body: body}).want(t, http.StatusUnauthorized)
	f.do(t, request{method: "POST", path: "/user/register", body: body, token: f.alice.token}).want(t, http.StatusForbidden)
	f.do(t, request{method: "POST", path: "/user/register", body: body, token: f.admin.token}).want(t, http.StatusAccepted)
}

// Axway API Manager Users API (seed 002): POST /users/{id}/approve "grants approval to a
// request to create a new user". With approval required, a registered user stays pending
// after verifying, cannot sign in, and is active once approved.
func TestApprove(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.cfg.RequireApproval = true })
	f.secret(newPassword)
	f.do(t, request{method: "POST", path: "/user/register",
		body: fmt.Sprintf(`{"email":"dave@example.com","password":%q}`, newPassword)}).want(t, http.StatusAccepted)
	var u map[string]any
	f.do(t, request{method: "POST", path: "/user/verify", body: fmt.Sprintf(`{"code":%q}`, f.mailOf(t, "dave@example.com", 0).Code)}).
		want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, "pending", u["status"], "verified, and still awaiting approval")
	assert.Equal(t, true, u["emailVerified"])
	p := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("dave@example.com", newPassword)}).
		want(t, http.StatusForbidden).problem(t)
	assert.Equal(t, "status", p.Field)

	id, _ := u["id"].(string)
	f.do(t, request{method: "POST", path: "/users/" + id + "/approve", token: f.alice.token}).want(t, http.StatusForbidden)
	f.do(t, request{method: "POST", path: "/users/" + id + "/approve", token: f.admin.token}).want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, "active", u["status"])
	assert.Equal(t, true, u["isActive"])
	f.signIn(t, "dave@example.com", newPassword)
	f.do(t, request{method: "POST", path: "/users/" + id + "/approve", token: f.admin.token}).want(t, http.StatusOK) // no change

	t.Run("a disabled user is enabled, not approved", func(t *testing.T) {
		f.do(t, request{method: "PUT", path: "/users/" + id, token: f.admin.token, body: `{"status":"disabled"}`}).want(t, http.StatusOK)
		p := f.do(t, request{method: "POST", path: "/users/" + id + "/approve", token: f.admin.token}).
			want(t, http.StatusConflict).problem(t)
		assert.Equal(t, "status", p.Field)
	})
}

// Axway API Manager Users API (seed 002): the user's "enabled" flag; Tyk Dashboard Users API
// (seed 003): "active". PUT /users/{id} with status disabled revokes every session and API
// key of the user at once; enabling them again brings none back.
func TestDisableRevokesSessionsAndKeys(t *testing.T) {
	f := newFixture(t)
	second := f.signIn(t, "alice@example.com", alicePassword)
	key := f.apiKey(t, f.alice.ID, "ci")
	require.True(t, f.authenticates(t, key.Key))

	var u map[string]any
	f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: f.admin.token, body: `{"status":"disabled"}`}).
		want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, "disabled", u["status"])
	for _, token := range []string{f.alice.token, second, key.Key} {
		assert.False(t, f.authenticates(t, token))
	}
	p := f.do(t, request{method: "POST", path: "/user/auth", body: signInBody("alice@example.com", alicePassword)}).
		want(t, http.StatusForbidden).problem(t)
	assert.Equal(t, "status", p.Field)

	f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: f.admin.token, body: `{"status":"active"}`}).want(t, http.StatusOK)
	for _, token := range []string{f.alice.token, second, key.Key} {
		assert.False(t, f.authenticates(t, token), "enabling brings back no credential")
	}
	var keys []map[string]any
	f.do(t, request{method: "GET", path: "/users/" + f.alice.ID + "/keys", token: f.admin.token}).want(t, http.StatusOK).decode(t, &keys)
	assert.Empty(t, keys)
	f.signIn(t, "alice@example.com", alicePassword)
}
