package main

import (
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// printedPasswordRE finds the password the program prints for a generated administrator.
var printedPasswordRE = regexp.MustCompile(`(?m)^    password: (\S+)$`)

// newTestService returns a Service on a fresh memory store with cheap hashing, closed when the
// test ends.
func newTestService(t *testing.T) users.Service {
	t.Helper()
	svc, err := users.New(memory.New(), users.Config{Argon2: users.TestArgon2()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

// requireAdmin checks that the one user of svc is the first administrator, active, with the
// admin role, and that password signs them in.
func requireAdmin(t *testing.T, svc users.Service, username, password string) {
	t.Helper()
	page, total, err := svc.List(t.Context(), users.Query{})
	require.NoError(t, err)
	require.Equal(t, 1, total)
	u := page[0]
	assert.Equal(t, username, u.Username)
	assert.Equal(t, username, u.Email)
	assert.True(t, u.HasRole(users.RoleAdmin), "scope %v", u.Scope)
	assert.True(t, u.HasRole(users.RoleUser), "scope %v", u.Scope)
	assert.Equal(t, users.StatusActive, u.Status)
	assert.True(t, users.IsAdmin(u))
	s, err := svc.SignIn(t.Context(), username, password)
	require.NoError(t, err, "the administrator signs in")
	assert.Equal(t, u.ID, s.User.ID)
}

func TestEnsureAdminFromEnvironment(t *testing.T) {
	svc := newTestService(t)
	var stderr, log testutil.SyncBuffer
	vars := map[string]string{envAdminEmail: "root@example.com", envAdminPassword: "a long admin pass phrase"}

	require.NoError(t, ensureAdmin(t.Context(), svc, env(vars), &stderr, slog.New(slog.NewTextHandler(&log, nil))))

	requireAdmin(t, svc, "root@example.com", "a long admin pass phrase")
	assert.Empty(t, stderr.String(), "nothing printed: the operator chose the password")
	assert.Contains(t, log.String(), `msg="first administrator created" username=root@example.com`)
	assert.NotContains(t, log.String(), "a long admin pass phrase")
}

func TestEnsureAdminGeneratesPassword(t *testing.T) {
	svc := newTestService(t)
	var stderr, log testutil.SyncBuffer

	require.NoError(t, ensureAdmin(t.Context(), svc, env(nil), &stderr, slog.New(slog.NewTextHandler(&log, nil))))

	m := printedPasswordRE.FindAllStringSubmatch(stderr.String(), -1)
	require.Len(t, m, 1, "the password is printed once: %s", stderr.String())
	password := m[0][1]
	assert.Regexp(t, `^[A-Za-z0-9_-]{24}$`, password, "24 characters of base64url")
	assert.Equal(t, 1, strings.Count(stderr.String(), password))
	assert.Contains(t, stderr.String(), "username: "+defaultAdminEmail)
	assert.Contains(t, stderr.String(), "shown this once")
	requireAdmin(t, svc, defaultAdminEmail, password)
	assert.NotContains(t, log.String(), password, "the log never has it")

	// A second start creates and prints nothing.
	stderr, log = testutil.SyncBuffer{}, testutil.SyncBuffer{}
	require.NoError(t, ensureAdmin(t.Context(), svc, env(nil), &stderr, slog.New(slog.NewTextHandler(&log, nil))))
	assert.Empty(t, stderr.String())
	assert.Empty(t, log.String())
	requireAdmin(t, svc, defaultAdminEmail, password)
}

func TestEnsureAdminEmailWithoutPassword(t *testing.T) {
	svc := newTestService(t)
	var stderr testutil.SyncBuffer

	require.NoError(t, ensureAdmin(t.Context(), svc, env(map[string]string{envAdminEmail: " ops@example.com "}), &stderr, slog.New(slog.DiscardHandler)))

	m := printedPasswordRE.FindStringSubmatch(stderr.String())
	require.NotNil(t, m, "a password is generated and printed")
	requireAdmin(t, svc, "ops@example.com", m[1])
}

func TestEnsureAdminWithExistingUsers(t *testing.T) {
	vars := map[string]string{envAdminEmail: "root@example.com", envAdminPassword: "a long admin pass phrase"}
	tests := []struct {
		name        string
		existing    users.NewUser
		wantCreated bool  // the administrator of vars is created
		wantErr     error // nil, or what ensureAdmin returns
	}{
		{
			name:     "an administrator",
			existing: users.NewUser{Username: "ada@example.com", Password: "correct horse battery staple", Scope: []string{users.RoleAdmin}},
		},
		{
			name:        "users but no administrator",
			existing:    users.NewUser{Username: "ada@example.com", Password: "correct horse battery staple"},
			wantCreated: true,
		},
		{
			name:     "a user who is not an administrator holds the address",
			existing: users.NewUser{Username: "root@example.com", Password: "correct horse battery staple"},
			wantErr:  users.ErrConflict,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := newTestService(t)
			_, err := svc.Create(t.Context(), tt.existing)
			require.NoError(t, err)
			var stderr, log testutil.SyncBuffer

			err = ensureAdmin(t.Context(), svc, env(vars), &stderr, slog.New(slog.NewTextHandler(&log, nil)))

			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.NotContains(t, err.Error(), vars[envAdminPassword])
			} else {
				require.NoError(t, err)
			}
			n, err := svc.Count(t.Context(), users.Query{})
			require.NoError(t, err)
			root, err := svc.GetByUsername(t.Context(), "root@example.com")
			if tt.wantCreated {
				require.NoError(t, err)
				assert.True(t, users.IsAdmin(root))
				assert.Equal(t, 2, n)
				assert.Contains(t, log.String(), `msg="first administrator created" username=root@example.com`)
			} else {
				assert.Equal(t, 1, n, "no user added")
				assert.Empty(t, log.String())
				if err == nil {
					assert.False(t, users.IsAdmin(root), "no one is promoted")
				}
			}
			assert.Empty(t, stderr.String())
		})
	}
}

func TestEnsureAdminRefusesBadEnvironment(t *testing.T) {
	tests := []struct {
		name  string
		vars  map[string]string
		field string
	}{
		{"short password", map[string]string{envAdminPassword: "short"}, "password"},
		{"password equal to the username", map[string]string{envAdminEmail: "root@example.com", envAdminPassword: "root@example.com"}, "password"},
		{"address", map[string]string{envAdminEmail: "root", envAdminPassword: "a long admin pass phrase"}, "username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := newTestService(t)
			var stderr, log testutil.SyncBuffer

			err := ensureAdmin(t.Context(), svc, env(tt.vars), &stderr, slog.New(slog.NewTextHandler(&log, nil)))

			require.ErrorIs(t, err, users.ErrInvalid)
			var e *users.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.field, e.Field)
			if p := tt.vars[envAdminPassword]; p != "" && p != tt.vars[envAdminEmail] {
				assert.NotContains(t, err.Error(), p, "the error never has the password")
			}
			n, err := svc.Count(t.Context(), users.Query{})
			require.NoError(t, err)
			assert.Zero(t, n)
			assert.Empty(t, stderr.String())
		})
	}
}
