package httpadapter_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heldHasher is the cheap argon2id hasher whose verifications, once held, wait until let go:
// a Service busy checking passwords.
type heldHasher struct {
	users.Hasher
	held    atomic.Bool
	entered chan struct{} // receives once per held Verify, on entry
	letGo   chan struct{} // closed to let held verifications finish
}

func (h *heldHasher) Verify(password, encoded string) (bool, bool, error) {
	if h.held.Load() {
		h.entered <- struct{}{}
		<-h.letGo
	}
	return h.Hasher.Verify(password, encoded)
}

// Every route that checks or sets a password answers 503 with Retry-After and the code
// overloaded while the Service cannot take another hash within its MaxHashWait; the others
// are not affected.
func TestOverloaded(t *testing.T) {
	inner, err := users.NewArgon2idHasher(users.TestArgon2())
	require.NoError(t, err)
	hasher := &heldHasher{Hasher: inner, entered: make(chan struct{}, 1), letGo: make(chan struct{})}
	f := newFixture(t, func(s *setup) {
		s.cfg.Hasher = hasher
		s.cfg.MaxConcurrentHashes = 1
		s.cfg.MaxHashWait = 10 * time.Millisecond
	})
	code := f.resetCode(t, f.bob.Email)

	hasher.held.Store(true)
	busy := make(chan error, 1)
	go func() {
		_, err := f.svc.SignIn(context.Background(), f.alice.Username, alicePassword)
		busy <- err
	}()
	<-hasher.entered // the only slot is taken
	t.Cleanup(func() {
		close(hasher.letGo)
		assert.NoError(t, <-busy)
	})

	tests := []struct {
		name string
		req  request
	}{
		{"sign-in", request{method: "POST", path: "/user/auth", body: `{"username":"bob@example.com","password":"` + bobPassword + `"}`}},
		{"sign-up", request{method: "POST", path: "/user", body: `{"username":"carol@example.com","password":"` + newPassword + `"}`}},
		{"register", request{method: "POST", path: "/user/register", body: `{"username":"dave@example.com","password":"` + newPassword + `"}`}},
		{"change password", request{method: "POST", path: "/user/change-password", token: f.bob.token, body: `{"oldPassword":"` + bobPassword + `","newPassword":"` + newPassword + `"}`}},
		{"reset password by e-mail", request{method: "POST", path: "/user/reset-password", token: f.admin.token, body: `{"email":"bob@example.com","password":"` + newPassword + `"}`}},
		{"forgotten password reset", request{method: "POST", path: "/user/forgot-password/reset", body: `{"code":"` + code + `","password":"` + newPassword + `"}`}},
		{"set password", request{method: "PUT", path: "/users/" + f.bob.ID + "/password", token: f.admin.token, body: `{"password":"` + newPassword + `"}`}},
		{"generate password", request{method: "POST", path: "/users/" + f.bob.ID + "/reset-password", token: f.admin.token}},
		{"create user", request{method: "POST", path: "/users", token: f.admin.token, body: `{"username":"erin@example.com","password":"` + newPassword + `"}`}},
		{"update password", request{method: "PUT", path: "/users/" + f.bob.ID, token: f.admin.token, body: `{"password":"` + newPassword + `"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(t, tt.req).want(t, http.StatusServiceUnavailable)
			assert.Equal(t, "1", res.header.Get("Retry-After"))
			p := res.problem(t)
			assert.Equal(t, "overloaded", p.Code)
			assert.NotEqual(t, users.ErrInternal.Message, p.Detail, "says what happened")
		})
	}
	t.Run("a route without a hash", func(t *testing.T) {
		f.do(t, request{method: "GET", path: "/user", token: f.bob.token}).want(t, http.StatusOK)
	})
	assert.NotContains(t, f.logs.String(), "internal error", "an overload is not an internal error")
}
