package users_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

const (
	rootAddress  = "root@example.com"
	rootPassword = "a long administrator pass phrase"
)

// admins returns the active administrators of svc, oldest first.
func admins(t *testing.T, svc users.Service) []*users.User {
	t.Helper()
	page, _, err := svc.List(t.Context(), users.Query{
		Conditions: []users.Condition{{Field: "scope", Op: users.OpEq, Value: users.RoleAdmin}},
		Sort:       []users.Sort{{Field: "created"}},
	})
	require.NoError(t, err)
	var out []*users.User
	for _, u := range page {
		if users.IsAdmin(u) {
			out = append(out, u)
		}
	}
	return out
}

func TestEnsureAdminCreatesTheFirstAdministrator(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, h *harness) // users present before the call
	}{
		{"empty store", func(*testing.T, *harness) {}},
		{"users but no administrator", func(t *testing.T, h *harness) {
			h.create(t, alice, alicePassword)
			h.create(t, bob, alicePassword)
		}},
		{"a disabled administrator only", func(t *testing.T, h *harness) {
			_, err := h.svc.Create(t.Context(), users.NewUser{
				Username: alice, Password: alicePassword,
				Scope: []string{users.RoleAdmin}, Status: users.StatusDisabled,
			})
			require.NoError(t, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.setup(t, h)

			u, created, err := users.EnsureAdmin(t.Context(), h.svc, " Root@Example.com ", rootPassword)

			require.NoError(t, err)
			assert.True(t, created)
			require.NotNil(t, u)
			// Prepared as every address is: the domain lower-cased, the local part as given.
			assert.Equal(t, "Root@example.com", u.Username)
			assert.Equal(t, "Root@example.com", u.Email)
			assert.Equal(t, "Administrator", u.Name)
			assert.True(t, u.EmailVerified)
			assert.Equal(t, users.StatusActive, u.Status)
			assert.ElementsMatch(t, []string{users.RoleUser, users.RoleAdmin}, u.Scope)
			assert.True(t, users.IsAdmin(u))
			s := h.signIn(t, rootAddress, rootPassword)
			assert.Equal(t, u.ID, s.User.ID)
			assert.Len(t, admins(t, h.svc), 1)
		})
	}
}

func TestEnsureAdminIsIdempotent(t *testing.T) {
	h := newHarness(t)
	first, created, err := users.EnsureAdmin(t.Context(), h.svc, rootAddress, rootPassword)
	require.NoError(t, err)
	require.True(t, created)

	tests := []struct {
		name     string
		email    string
		password string
	}{
		{"the same address and password", rootAddress, rootPassword},
		{"the same address in other case", "ROOT@example.com", rootPassword},
		{"another password", rootAddress, "an entirely different pass phrase"},
		{"no password", rootAddress, ""},
		{"another address", "ops@example.com", "an entirely different pass phrase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, created, err := users.EnsureAdmin(t.Context(), h.svc, tt.email, tt.password)

			require.NoError(t, err)
			assert.False(t, created)
			require.NotNil(t, u)
			assert.Equal(t, first.ID, u.ID, "the existing administrator")
			assert.Equal(t, first.Version, u.Version, "unchanged")
			h.signIn(t, rootAddress, rootPassword) // the password is not replaced
			n, err := h.svc.Count(t.Context(), users.Query{})
			require.NoError(t, err)
			assert.Equal(t, 1, n, "no user added")
		})
	}
}

func TestEnsureAdminReturnsTheOldestAdministrator(t *testing.T) {
	h := newHarness(t)
	h.create(t, bob, alicePassword)
	oldest, err := h.svc.Create(t.Context(), users.NewUser{Username: alice, Password: alicePassword, Scope: []string{users.RoleAdmin}})
	require.NoError(t, err)
	h.clock.Advance(time.Second)
	_, err = h.svc.Create(t.Context(), users.NewUser{Username: "carol@example.com", Password: alicePassword, Scope: []string{users.RoleAdmin}})
	require.NoError(t, err)

	u, created, err := users.EnsureAdmin(t.Context(), h.svc, rootAddress, rootPassword)

	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, oldest.ID, u.ID)
	_, err = h.svc.GetByUsername(t.Context(), rootAddress)
	assert.ErrorIs(t, err, users.ErrNotFound, "no administrator added")
}

func TestEnsureAdminPromotesNoOne(t *testing.T) {
	tests := []struct {
		name   string
		create users.NewUser
	}{
		{"a user with the address as username", users.NewUser{Username: rootAddress, Password: alicePassword}},
		{"a user with the address as e-mail", users.NewUser{Username: alice, Email: rootAddress, Password: alicePassword}},
		{"a pending administrator with the address", users.NewUser{Username: rootAddress, Password: alicePassword, Scope: []string{users.RoleAdmin}, Status: users.StatusPending}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			before, err := h.svc.Create(t.Context(), tt.create)
			require.NoError(t, err)

			u, created, err := users.EnsureAdmin(t.Context(), h.svc, rootAddress, rootPassword)

			assert.Nil(t, u)
			assert.False(t, created)
			require.ErrorIs(t, err, users.ErrConflict)
			assertCode(t, err, users.CodeConflict, "username")
			assert.NotContains(t, err.Error(), rootPassword)
			after, err := h.svc.Get(t.Context(), before.ID)
			require.NoError(t, err)
			assert.Equal(t, before, after, "the user is left as they were")
			assert.Empty(t, admins(t, h.svc))
		})
	}
}

func TestEnsureAdminRefusesBadInput(t *testing.T) {
	tests := []struct {
		name       string
		haveAdmin  bool // an administrator exists before the call
		email      string
		password   string
		wantField  string
		wantSecret string // must not be in the error
	}{
		{name: "not an address", email: "root", password: rootPassword, wantField: "username", wantSecret: rootPassword},
		{name: "no address", email: " ", password: rootPassword, wantField: "username", wantSecret: rootPassword},
		{name: "not an address, administrator present", haveAdmin: true, email: "root", password: rootPassword, wantField: "username", wantSecret: rootPassword},
		{name: "no password", email: rootAddress, password: "", wantField: "password"},
		{name: "short password", email: rootAddress, password: "short", wantField: "password", wantSecret: "short"},
		{name: "password equal to the address", email: rootAddress, password: rootAddress, wantField: "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.haveAdmin {
				_, _, err := users.EnsureAdmin(t.Context(), h.svc, alice, alicePassword)
				require.NoError(t, err)
			}
			before, err := h.svc.Count(t.Context(), users.Query{})
			require.NoError(t, err)

			u, created, err := users.EnsureAdmin(t.Context(), h.svc, tt.email, tt.password)

			assert.Nil(t, u)
			assert.False(t, created)
			require.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, tt.wantField)
			if tt.wantSecret != "" {
				assert.NotContains(t, err.Error(), tt.wantSecret)
			}
			after, err := h.svc.Count(t.Context(), users.Query{})
			require.NoError(t, err)
			assert.Equal(t, before, after, "no user created")
		})
	}
}

func TestEnsureAdminConcurrentStarts(t *testing.T) {
	h := newHarness(t)
	// Several processes sharing one store start at once: here, several Services on one store.
	svcs := []users.Service{h.svc, h.another(t), h.another(t), h.another(t)}
	type result struct {
		u       *users.User
		created bool
		err     error
	}
	results := make([]result, 4*len(svcs))
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			u, created, err := users.EnsureAdmin(context.Background(), svcs[i%len(svcs)], rootAddress, rootPassword)
			results[i] = result{u, created, err}
		})
	}
	wg.Wait()

	all := admins(t, h.svc)
	require.Len(t, all, 1, "one administrator")
	creators := 0
	for i, r := range results {
		require.NoError(t, r.err, "call %d", i)
		assert.Equal(t, all[0].ID, r.u.ID, "call %d returns the administrator", i)
		if r.created {
			creators++
		}
	}
	assert.Equal(t, 1, creators, "one call created it")
}

func TestEnsureAdminStopsWithTheContext(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	u, created, err := users.EnsureAdmin(ctx, h.svc, rootAddress, rootPassword)

	assert.Nil(t, u)
	assert.False(t, created)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, admins(t, h.svc))
}

// An app calls EnsureAdmin at every start: the first creates the administrator, later ones
// find it and change nothing.
func ExampleEnsureAdmin() {
	ctx := context.Background()
	svc, err := users.New(memory.New(), users.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	for range 2 { // two starts
		admin, created, err := users.EnsureAdmin(ctx, svc, "root@example.com", "a long administrator pass phrase")
		if err != nil {
			log.Fatal(err) // e.g. users.ErrConflict: the address belongs to a user who is not an administrator
		}
		fmt.Println(admin.Username, admin.Scope, created)
	}
	// Output:
	// root@example.com [user admin] true
	// root@example.com [user admin] false
}

// With handles for usernames, the first administrator is the handle "admin", with the address.
func TestEnsureAdminWithHandles(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.Usernames = users.UsernameHandle })
	u, created, err := users.EnsureAdmin(t.Context(), h.svc, "root@example.com", rootPassword)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, "admin", u.Username)
	assert.Equal(t, "root@example.com", u.Email)
	h.signIn(t, "admin", rootPassword)
}
