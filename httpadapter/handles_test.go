package httpadapter_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/memory"
)

// TestHandles serves a Service whose usernames are handles: sign-up, an administrator's
// create and sign-in take a handle as the username and a separate, optional e-mail address,
// in the same JSON shape.
func TestHandles(t *testing.T) {
	svc, err := users.New(memory.New(), users.Config{Usernames: users.UsernameHandle, Argon2: users.TestArgon2(), NoWorker: true})
	require.NoError(t, err)
	t.Cleanup(func() { svc.Close() })
	off := httpadapter.RateLimit{Burst: -1}
	h := httpadapter.New(svc, httpadapter.Options{SignUp: httpadapter.SignUpOpen, RateLimits: httpadapter.RateLimits{SignIn: off, Create: off, ForgotPassword: off}})
	ctx := context.Background()
	_, err = svc.Create(ctx, users.NewUser{Username: "root", Password: adminPassword, Scope: []string{users.RoleUser, users.RoleAdmin}})
	require.NoError(t, err)
	admin, err := svc.SignIn(ctx, "root", adminPassword)
	require.NoError(t, err)

	do := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
		return rec.Code, out
	}

	tests := []struct {
		name         string
		method, path string
		admin        bool
		body         string
		status       int
		username     string // of the user in the answer
		email        string
	}{
		{"sign-up with a handle and an e-mail address", "POST", "/user", false,
			`{"username":"Carol_1","email":"Carol@Example.com","password":"` + newPassword + `"}`, http.StatusCreated, "carol_1", "Carol@example.com"},
		{"sign-up with a handle alone", "POST", "/user", false,
			`{"username":"dave_2","password":"` + newPassword + `"}`, http.StatusCreated, "dave_2", ""},
		{"an administrator creates a handle", "POST", "/users", true,
			`{"username":"Erin","email":"erin@example.com"}`, http.StatusCreated, "erin", "erin@example.com"},
		{"a look-alike handle is taken", "POST", "/user", false,
			`{"username":"ＣＡＲＯＬ_1","password":"` + newPassword + `"}`, http.StatusConflict, "", ""},
		{"an e-mail address is not a handle", "POST", "/users", true,
			`{"username":"frank@example.com"}`, http.StatusBadRequest, "", ""},
		{"sign-in with the handle in another case", "POST", "/user/auth", false,
			`{"username":"CAROL_1","password":"` + newPassword + `"}`, http.StatusOK, "carol_1", "Carol@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := ""
			if tt.admin {
				token = admin.Token
			}
			status, out := do(tt.method, tt.path, token, tt.body)
			require.Equal(t, tt.status, status, "%v", out)
			if tt.username == "" {
				return
			}
			u := out
			if inner, ok := out["user"].(map[string]any); ok {
				u = inner
			}
			assert.Equal(t, tt.username, u["username"])
			if tt.email == "" {
				assert.NotContains(t, u, "email")
			} else {
				assert.Equal(t, tt.email, u["email"])
			}
		})
	}
}
