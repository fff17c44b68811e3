package httpadapter_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apiKey is the JSON of an API key.
type apiKey struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Prefix   string     `json:"prefix"`
	Key      string     `json:"key"`
	Created  time.Time  `json:"created"`
	Expires  *time.Time `json:"expires"`
	LastUsed *time.Time `json:"lastUsed"`
}

// createKey creates an API key through the handler and returns it.
func (f *fixture) createKey(t testing.TB, path, token, body string) apiKey {
	t.Helper()
	var k apiKey
	f.do(t, request{method: "POST", path: path, token: token, body: body}).want(t, http.StatusCreated).decode(t, &k)
	require.NotEmpty(t, k.Key)
	f.secret(k.Key)
	return k
}

// Tyk Dashboard Users API (seed 003): each user has an access_key for the API; Amadis
// administration API (seed 004): register returns a "user_secret". Here a user creates named
// API keys, shown once, listed without their secrets, usable wherever a bearer token is.
func TestAPIKeys(t *testing.T) {
	f := newFixture(t)
	expires := f.clock.Now().Add(24 * time.Hour).UTC()
	ci := f.createKey(t, "/user/keys", f.alice.token, fmt.Sprintf(`{"name":"ci","expires":%q}`, expires.Format(time.RFC3339)))
	assert.Equal(t, "ci", ci.Name)
	assert.True(t, strings.HasPrefix(ci.Key, ci.Prefix))
	require.NotNil(t, ci.Expires)
	assert.True(t, expires.Equal(*ci.Expires))
	laptop := f.createKey(t, "/user/keys", f.alice.token, `{"name":"laptop"}`)
	assert.Nil(t, laptop.Expires)

	t.Run("a key is a bearer token", func(t *testing.T) {
		var u map[string]any
		f.do(t, request{method: "GET", path: "/user", token: ci.Key}).want(t, http.StatusOK).decode(t, &u)
		assert.Equal(t, f.alice.ID, u["id"])
		f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: ci.Key, body: `{"name":"Alice"}`}).want(t, http.StatusOK)
		f.do(t, request{method: "GET", path: "/users/" + f.bob.ID, token: ci.Key}).want(t, http.StatusForbidden)
	})
	t.Run("listed without secrets", func(t *testing.T) {
		res := f.do(t, request{method: "GET", path: "/user/keys", token: f.alice.token}).want(t, http.StatusOK)
		var keys []apiKey
		res.decode(t, &keys)
		require.Len(t, keys, 2)
		assert.Equal(t, []string{"ci", "laptop"}, []string{keys[0].Name, keys[1].Name})
		assert.Equal(t, ci.Prefix, keys[0].Prefix)
		assert.NotContains(t, string(res.body), `"key"`)
		require.NotNil(t, keys[0].LastUsed, "the key was used")
		assert.Nil(t, keys[1].LastUsed)
		f.do(t, request{method: "GET", path: "/user/keys", token: f.bob.token}).want(t, http.StatusOK).decode(t, &keys)
		assert.Empty(t, keys, "bob has none")
	})
	t.Run("rotate", func(t *testing.T) {
		var rotated apiKey
		f.do(t, request{method: "POST", path: "/user/keys/" + ci.ID + "/rotate", token: f.alice.token}).
			want(t, http.StatusOK).decode(t, &rotated)
		f.secret(rotated.Key)
		assert.Equal(t, ci.ID, rotated.ID)
		assert.Equal(t, "ci", rotated.Name)
		assert.NotEqual(t, ci.Key, rotated.Key)
		assert.False(t, f.authenticates(t, ci.Key), "the old key stops working")
		assert.True(t, f.authenticates(t, rotated.Key))
		ci = rotated
	})
	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct {
			body   string
			status int
			field  string
		}{
			{`{}`, 400, "name"},
			{`{"name":"ci"}`, 409, "name"},
			{`{"name":"old","expires":"2020-01-01T00:00:00Z"}`, 400, "expires"},
			{`{"name":"x","expires":"tomorrow"}`, 400, "expires"},
			{`{"name":"x","key":"chosen"}`, 400, "key"},
		} {
			p := f.do(t, request{method: "POST", path: "/user/keys", token: f.alice.token, body: tt.body}).want(t, tt.status).problem(t)
			assert.Equal(t, tt.field, p.Field, tt.body)
		}
		f.do(t, request{method: "DELETE", path: "/user/keys/nope", token: f.alice.token}).want(t, http.StatusNotFound)
		f.do(t, request{method: "DELETE", path: "/user/keys/" + ci.ID, token: f.bob.token}).want(t, http.StatusNotFound)
		f.do(t, request{method: "POST", path: "/user/keys/" + ci.ID + "/rotate", token: f.bob.token}).want(t, http.StatusNotFound)
	})
	t.Run("an expired key stops working", func(t *testing.T) {
		f.clock.Advance(25 * time.Hour)
		assert.False(t, f.authenticates(t, ci.Key))
		assert.True(t, f.authenticates(t, laptop.Key))
		f.do(t, request{method: "POST", path: "/user/keys/" + ci.ID + "/rotate", token: f.alice.token}).want(t, http.StatusConflict)
	})
	res := f.do(t, request{method: "DELETE", path: "/user/keys/" + laptop.ID, token: f.alice.token}).want(t, http.StatusNoContent)
	assert.Empty(t, res.body)
	assert.False(t, f.authenticates(t, laptop.Key))
}

// An administrator manages another user's keys under /users/{id}/keys.
func TestUserAPIKeys(t *testing.T) {
	f := newFixture(t)
	path := "/users/" + f.bob.ID + "/keys"
	k := f.createKey(t, path, f.admin.token, `{"name":"deploy"}`)
	var u map[string]any
	f.do(t, request{method: "GET", path: "/user", token: k.Key}).want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, f.bob.ID, u["id"], "the key is bob's")

	var keys []apiKey
	f.do(t, request{method: "GET", path: path, token: f.admin.token}).want(t, http.StatusOK).decode(t, &keys)
	require.Len(t, keys, 1)
	assert.Empty(t, keys[0].Key)

	var rotated apiKey
	f.do(t, request{method: "POST", path: path + "/" + k.ID + "/rotate", token: f.admin.token}).want(t, http.StatusOK).decode(t, &rotated)
	f.secret(rotated.Key)
	assert.False(t, f.authenticates(t, k.Key))
	f.do(t, request{method: "POST", path: path + "/" + k.ID + "/rotate", token: f.alice.token}).want(t, http.StatusForbidden)
	f.do(t, request{method: "DELETE", path: path + "/" + k.ID, token: f.alice.token}).want(t, http.StatusForbidden)
	f.do(t, request{method: "DELETE", path: path + "/" + k.ID, token: f.admin.token}).want(t, http.StatusNoContent)
	assert.False(t, f.authenticates(t, rotated.Key))
	f.do(t, request{method: "DELETE", path: path + "/" + k.ID, token: f.admin.token}).want(t, http.StatusNotFound)
}

// Tyk Dashboard Users API (seed 003): "Reset User Session ... also resets the user's
// Dashboard API credentials". POST /users/{id}/sessions/revoke ends the sessions only;
// with ?keys=true the API keys too.
func TestRevokeCredentials(t *testing.T) {
	f := newFixture(t)
	k := f.apiKey(t, f.alice.ID, "ci")
	revoke := "/users/" + f.alice.ID + "/sessions/revoke"
	f.do(t, request{method: "POST", path: revoke, token: f.admin.token}).want(t, http.StatusNoContent)
	assert.False(t, f.authenticates(t, f.alice.token))
	assert.True(t, f.authenticates(t, k.Key), "sessions only")

	token := f.signIn(t, "alice@example.com", alicePassword)
	f.do(t, request{method: "POST", path: revoke + "?keys=false", token: f.admin.token}).want(t, http.StatusNoContent)
	assert.True(t, f.authenticates(t, k.Key))
	f.do(t, request{method: "POST", path: revoke + "?keys=true", token: f.admin.token}).want(t, http.StatusNoContent)
	assert.False(t, f.authenticates(t, token))
	assert.False(t, f.authenticates(t, k.Key), "and the keys")

	for _, query := range []string{"?keys=maybe", "?keys=true&keys=false", "?all=true"} {
		p := f.do(t, request{method: "POST", path: revoke + query, token: f.admin.token}).want(t, http.StatusBadRequest).problem(t)
		assert.NotEmpty(t, p.Field, query)
	}
}

// POST /user/sign-out ends a session; an API key is not one, so it does not sign out: 400,
// and the key keeps working (it is deleted with DELETE /user/keys/{id}).
func TestSignOutWithAPIKey(t *testing.T) {
	f := newFixture(t)
	k := f.apiKey(t, f.alice.ID, "ci")
	f.do(t, request{method: "POST", path: "/user/sign-out", token: k.Key}).want(t, http.StatusNoContent)
	assert.False(t, f.authenticates(t, k.Key), "signing out with a key revokes it")
	assert.True(t, f.authenticates(t, f.alice.token), "and not the user's sessions")
	f.do(t, request{method: "POST", path: "/user/sign-out", token: k.Key}).want(t, http.StatusUnauthorized)
}
