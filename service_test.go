package users_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name  string
		cfg   users.Config
		field string
	}{
		{"weak argon2 memory", users.Config{Argon2: users.Argon2Params{Memory: 0, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}, "Argon2"},
		{"short salt", users.Config{Argon2: users.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 4, KeyLength: 32}}, "Argon2"},
		{"min above max", users.Config{Passwords: users.PasswordPolicy{MinLength: 20, MaxLength: 10}}, "Passwords"},
		{"unnamed step", users.Config{DeletionSteps: []users.DeletionStep{{Run: noopStep}}}, "DeletionSteps"},
		{"step without run", users.Config{DeletionSteps: []users.DeletionStep{{Name: "x"}}}, "DeletionSteps"},
		{"duplicate step", users.Config{DeletionSteps: []users.DeletionStep{{Name: "x", Run: noopStep}, {Name: "x", Run: noopStep}}}, "DeletionSteps"},
		{"built-in step name", users.Config{DeletionSteps: []users.DeletionStep{{Name: "remove-user", Run: noopStep}}}, "DeletionSteps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.NoWorker = true
			svc, err := users.New(memory.New(), tt.cfg)
			if svc != nil {
				_ = svc.Close()
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, tt.field)
		})
	}
	t.Run("nil store", func(t *testing.T) {
		_, err := users.New(nil, users.Config{})
		assert.ErrorIs(t, err, users.ErrInvalid)
	})
}

func noopStep(context.Context, string) error { return nil }

func TestCreateNormalises(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()

	got, err := h.svc.Create(ctx, users.NewUser{Username: "  Alice@Example.com \t", Password: alicePassword, Name: "  Alice  "})
	require.NoError(t, err)
	assert.Equal(t, "Alice@example.com", got.Username, "username trimmed, case of the local part kept, domain lower-cased")
	assert.Equal(t, "Alice@example.com", got.Email, "e-mail defaults to the username")
	assert.Equal(t, "Alice", got.Name)
	assert.Equal(t, []string{users.RoleUser}, got.Scope)
	assert.Equal(t, users.StatusActive, got.Status)
	assert.True(t, got.IsActive())
	assert.False(t, got.EmailVerified)
	assert.Equal(t, int64(1), got.Version)
	assert.Equal(t, users.CanonicalTime(h.clock.Now()), got.Created)
	assert.Equal(t, got.Created, got.Updated)
	assert.NotEmpty(t, got.PasswordHash)
	assert.NotContains(t, got.PasswordHash, alicePassword)

	id, err := uuid.Parse(got.ID)
	require.NoError(t, err)
	assert.Equal(t, uuid.Version(7), id.Version(), "IDs are UUID v7")
	assert.Equal(t, uuid.RFC4122, id.Variant())

	stored, err := h.svc.Get(ctx, got.ID)
	require.NoError(t, err)
	assert.Equal(t, got, stored)
	byName, err := h.svc.GetByUsername(ctx, "ALICE@example.COM")
	require.NoError(t, err)
	assert.Equal(t, got.ID, byName.ID)

	full, err := h.svc.Create(ctx, users.NewUser{
		Username: "bob@example.com", Email: " Bob@Work.example ", Scope: []string{" admin ", "user", "admin", ""},
		Vendor: []string{"acme"}, Status: users.StatusPending, EmailVerified: true, Plan: " pro ",
		Metadata: map[string]any{"n": 1, "tags": []string{"a"}},
	})
	require.NoError(t, err)
	assert.Equal(t, "Bob@work.example", full.Email)
	assert.Equal(t, []string{"admin", "user"}, full.Scope)
	assert.Equal(t, []string{"acme"}, full.Vendor)
	assert.Equal(t, users.StatusPending, full.Status)
	assert.True(t, full.EmailVerified)
	assert.Equal(t, "pro", full.Plan)
	assert.Equal(t, map[string]any{"n": 1.0, "tags": []any{"a"}}, full.Metadata)
	assert.Empty(t, full.PasswordHash, "no password given")

	idA, idB := uuid.MustParse(got.ID), uuid.MustParse(full.ID)
	assert.Less(t, idA.String(), idB.String(), "v7 IDs are in creation order")
}

func TestCreateValidation(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		in    users.NewUser
		field string
	}{
		{"no username", users.NewUser{Password: alicePassword}, "username"},
		{"blank username", users.NewUser{Username: "   "}, "username"},
		{"username not an address", users.NewUser{Username: "alice"}, "username"},
		{"username with display name", users.NewUser{Username: "Alice <alice@example.com>"}, "username"},
		{"username without domain dot", users.NewUser{Username: "alice@localhost"}, "username"},
		{"username too long", users.NewUser{Username: strings.Repeat("a", 250) + "@example.com"}, "username"},
		{"bad email", users.NewUser{Username: alice, Email: "not an address"}, "email"},
		{"bad status", users.NewUser{Username: alice, Status: "frozen"}, "status"},
		{"name with control character", users.NewUser{Username: alice, Name: "Al\x00ice"}, "name"},
		{"name too long", users.NewUser{Username: alice, Name: strings.Repeat("n", users.MaxNameLength+1)}, "name"},
		{"too many roles", users.NewUser{Username: alice, Scope: manyStrings(users.MaxListLength + 1)}, "scope"},
		{"role too long", users.NewUser{Username: alice, Scope: []string{strings.Repeat("r", users.MaxRoleLength+1)}}, "scope"},
		{"vendor with control character", users.NewUser{Username: alice, Vendor: []string{"a\nb"}}, "vendor"},
		{"metadata not JSON", users.NewUser{Username: alice, Metadata: map[string]any{"f": math.NaN()}}, "metadata"},
		{"metadata empty key", users.NewUser{Username: alice, Metadata: map[string]any{"": 1}}, "metadata"},
		{"metadata too large", users.NewUser{Username: alice, Metadata: map[string]any{"big": strings.Repeat("x", users.MaxMetadataBytes)}}, "metadata"},
		{"password too short", users.NewUser{Username: alice, Password: "short"}, "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.svc.Create(ctx, tt.in)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, tt.field)
		})
	}
	n, err := h.svc.Count(ctx, users.Query{})
	require.NoError(t, err)
	assert.Zero(t, n, "no invalid user was stored")
}

func manyStrings(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint("role", i)
	}
	return out
}

func TestCreateConflicts(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	_, err := h.svc.Create(ctx, users.NewUser{Username: alice, Email: "alice@home.example"})
	require.NoError(t, err)

	tests := []struct {
		name  string
		in    users.NewUser
		field string
	}{
		{"same username", users.NewUser{Username: alice, Email: "other@example.com"}, "username"},
		{"username in other case", users.NewUser{Username: "ALICE@example.com", Email: "other@example.com"}, "username"},
		{"same email in other case", users.NewUser{Username: "alice2@example.com", Email: "Alice@HOME.example"}, "email"},
		{"email defaulting to a taken one", users.NewUser{Username: "alice@home.example"}, "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.svc.Create(ctx, tt.in)
			assert.ErrorIs(t, err, users.ErrConflict)
			assertCode(t, err, users.CodeConflict, tt.field)
		})
	}
}

func TestUserJSON(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.Passwords.MinScore = -1 })
	ctx := context.Background()
	created, err := h.svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword, Status: users.StatusActive, OrgID: "org1", AllowedPrivateComponents: []string{"c"}})
	require.NoError(t, err)
	hash := h.storedHash(t, created.ID)
	require.NotEmpty(t, hash)

	got, err := h.svc.Get(ctx, created.ID)
	require.NoError(t, err)
	byName, err := h.svc.GetByUsername(ctx, alice)
	require.NoError(t, err)
	page, _, err := h.svc.List(ctx, users.Query{})
	require.NoError(t, err)
	require.Len(t, page, 1)
	session := h.signIn(t, alice, alicePassword)

	for name, v := range map[string]any{
		"created": created, "get": got, "by username": byName, "list": page, "session": session, "session user": session.User,
	} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			s := string(b)
			assert.NotContains(t, s, hash)
			assert.NotContains(t, s, "$argon2id$")
			assert.NotContains(t, s, "passwordHash")
			assert.NotContains(t, s, "PasswordHash")
			assert.NotContains(t, s, alicePassword)
		})
	}

	var m map[string]any
	b, err := json.Marshal(got)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	for _, key := range []string{"id", "username", "email", "scope", "status", "isActive", "emailVerified", "metadata", "created", "updated", "version", "orgId", "allowedPrivateComponents", "hasPassword", "passwordResetAllowed", "mustChangePassword"} {
		assert.Contains(t, m, key)
	}
	assert.Equal(t, true, m["isActive"])
	assert.Equal(t, map[string]any{}, m["metadata"], "nil metadata is {}")
	assert.Equal(t, alice, m["username"])
	assert.Equal(t, true, m["hasPassword"])
	assert.Equal(t, true, m["passwordResetAllowed"])
	assert.Equal(t, false, m["mustChangePassword"])
	assert.Len(t, m, 16, "no other keys: %v", m)

	disabled := *got
	disabled.Status = users.StatusDisabled
	disabled.Metadata = map[string]any{"k": "v"}
	b, err = json.Marshal(&disabled)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, false, m["isActive"], "isActive derives from the status")
	assert.Equal(t, "disabled", m["status"])
	assert.Equal(t, map[string]any{"k": "v"}, m["metadata"])

	b, err = json.Marshal(session)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, session.Token, m["token"])
	assert.Contains(t, m, "user")
	assert.Contains(t, m, "expires")
}

func TestGetNotFound(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	_, err := h.svc.Get(ctx, uuid.NewString())
	assert.ErrorIs(t, err, users.ErrNotFound)
	_, err = h.svc.GetByUsername(ctx, "nobody@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound)
}

// populate creates n users named user<i>@example.com with plan "pro" for even i and "free" for
// odd, without passwords, and returns them in creation order.
func populate(t *testing.T, svc users.Service, n int) []*users.User {
	t.Helper()
	out := make([]*users.User, n)
	for i := range out {
		plan := "free"
		if i%2 == 0 {
			plan = "pro"
		}
		u, err := svc.Create(context.Background(), users.NewUser{
			Username: fmt.Sprintf("user%03d@example.com", i), Name: fmt.Sprintf("User %03d", n-i), Plan: plan,
			Metadata: map[string]any{"i": i},
		})
		require.NoError(t, err)
		out[i] = u
	}
	return out
}

func TestListAndCount(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	all := populate(t, h.svc, 95) // 48 pro, 47 free
	ids := func(us []*users.User) []string {
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		return out
	}
	var pro, proByName []*users.User
	for _, u := range all {
		if u.Plan == "pro" {
			pro = append(pro, u)
		}
	}
	for i := len(pro) - 1; i >= 0; i-- { // names run backwards
		proByName = append(proByName, pro[i])
	}
	isPro := users.Condition{Field: "plan", Op: users.OpEq, Value: "pro"}

	tests := []struct {
		name      string
		q         users.Query
		wantPage  []*users.User
		wantTotal int
	}{
		{"default page", users.Query{}, all[:30], 95},
		{"second page", users.Query{Offset: 30}, all[30:60], 95},
		{"last short page", users.Query{Offset: 90}, all[90:], 95},
		{"past the end", users.Query{Offset: 200}, nil, 95},
		{"filter", users.Query{Conditions: []users.Condition{isPro}, Limit: 1000}, pro, 48},
		{"filter sorted", users.Query{Conditions: []users.Condition{isPro}, Sort: []users.Sort{{Field: "name"}}, Limit: 10}, proByName[:10], 48},
		{"filter sorted offset", users.Query{Conditions: []users.Condition{isPro}, Sort: []users.Sort{{Field: "name"}}, Limit: 10, Offset: 40}, proByName[40:], 48},
		{"short first page", users.Query{Conditions: []users.Condition{{Field: "metadata.i", Op: users.OpLt, Value: 5}}}, all[:5], 5},
		{"exactly one page", users.Query{Conditions: []users.Condition{{Field: "metadata.i", Op: users.OpLt, Value: 30}}}, all[:30], 30},
		{"pattern", users.Query{Pattern: "USER09"}, all[90:], 5},
		{"or", users.Query{Or: true, Conditions: []users.Condition{
			{Field: "username", Op: users.OpEq, Value: "USER001@example.com"},
			{Field: "metadata.i", Op: users.OpEq, Value: 3},
		}}, []*users.User{all[1], all[3]}, 2},
		{"like", users.Query{Conditions: []users.Condition{{Field: "username", Op: users.OpLike, Value: "user0_0@%"}}}, []*users.User{all[0], all[10], all[20], all[30], all[40], all[50], all[60], all[70], all[80], all[90]}, 10},
		{"descending", users.Query{Sort: []users.Sort{{Field: "username", Desc: true}}, Limit: 2}, []*users.User{all[94], all[93]}, 95},
		{"nothing", users.Query{Conditions: []users.Condition{{Field: "plan", Op: users.OpEq, Value: "gold"}}}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, total, err := h.svc.List(ctx, tt.q)
			require.NoError(t, err)
			assert.Equal(t, ids(tt.wantPage), ids(page))
			assert.Equal(t, tt.wantTotal, total)
			for _, u := range page {
				assert.Empty(t, u.PasswordHash)
			}
			count, err := h.svc.Count(ctx, tt.q)
			require.NoError(t, err)
			assert.Equal(t, tt.wantTotal, count)
		})
	}

	bad := []struct {
		name  string
		q     users.Query
		field string
	}{
		{"negative limit", users.Query{Limit: -1}, "limit"},
		{"limit too large", users.Query{Limit: users.MaxLimit + 1}, "limit"},
		{"negative offset", users.Query{Offset: -1}, "offset"},
		{"unknown field", users.Query{Conditions: []users.Condition{{Field: "password", Op: users.OpEq, Value: "x"}}}, "filter"},
		{"bad sort", users.Query{Sort: []users.Sort{{Field: "scope"}}}, "sort"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := h.svc.List(ctx, tt.q)
			assert.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, tt.field)
			_, err = h.svc.Count(ctx, tt.q)
			assert.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, tt.field)
		})
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	str := func(s string) *string { return &s }

	t.Run("absent fields unchanged", func(t *testing.T) {
		h := newHarness(t)
		u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword, Name: "Alice", Plan: "pro",
			Scope: []string{"user", "editor"}, Vendor: []string{"v"}, OrgID: "o", EmailVerified: true, Metadata: map[string]any{"a": "b"}})
		require.NoError(t, err)
		h.clock.Advance(time.Minute)

		got, err := h.svc.Update(ctx, u.ID, users.Update{Name: str("Alice B.")})
		require.NoError(t, err)
		want := u.Clone()
		want.Name = "Alice B."
		want.Version = 2
		want.Updated = users.CanonicalTime(h.clock.Now())
		assert.Equal(t, want, got)
		stored, err := h.svc.Get(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, want, stored)
		assert.Equal(t, u.PasswordHash, stored.PasswordHash, "password untouched")
	})

	t.Run("every field", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		scope, vendor, comps := []string{"admin"}, []string{"x", "y"}, []string{"c1"}
		status, verified := users.StatusPending, true
		meta := map[string]any{"k": []any{1.0, "two"}}
		got, err := h.svc.Update(ctx, u.ID, users.Update{
			Username: str(" alice2@example.com "), Email: str("a2@example.com"), Name: str("N"), Scope: &scope, Plan: str("p"),
			Vendor: &vendor, AllowedPrivateComponents: &comps, OrgID: str("org"), Status: &status, EmailVerified: &verified, Metadata: &meta,
		})
		require.NoError(t, err)
		assert.Equal(t, "alice2@example.com", got.Username)
		assert.Equal(t, "a2@example.com", got.Email)
		assert.Equal(t, "N", got.Name)
		assert.Equal(t, scope, got.Scope)
		assert.Equal(t, "p", got.Plan)
		assert.Equal(t, vendor, got.Vendor)
		assert.Equal(t, comps, got.AllowedPrivateComponents)
		assert.Equal(t, "org", got.OrgID)
		assert.Equal(t, status, got.Status)
		assert.True(t, got.EmailVerified, "set in the same patch as the e-mail")
		assert.Equal(t, meta, got.Metadata)
		_, err = h.svc.GetByUsername(ctx, alice)
		assert.ErrorIs(t, err, users.ErrNotFound, "the old username is free")
	})

	t.Run("metadata replaced whole", func(t *testing.T) {
		h := newHarness(t)
		u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Metadata: map[string]any{"a": 1}})
		require.NoError(t, err)
		meta := map[string]any{"b": 2}
		got, err := h.svc.Update(ctx, u.ID, users.Update{Metadata: &meta})
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"b": 2.0}, got.Metadata)
		empty := map[string]any{}
		got, err = h.svc.Update(ctx, u.ID, users.Update{Metadata: &empty})
		require.NoError(t, err)
		assert.Empty(t, got.Metadata)
	})

	t.Run("email change resets verification", func(t *testing.T) {
		h := newHarness(t)
		u, err := h.svc.Create(ctx, users.NewUser{Username: alice, EmailVerified: true})
		require.NoError(t, err)
		yes := true
		tests := []struct {
			name         string
			p            users.Update
			wantVerified bool
		}{
			{"case only", users.Update{Email: str("ALICE@example.com")}, true},
			{"other field", users.Update{Name: str("x")}, true},
			{"new address", users.Update{Email: str("new@example.com")}, false},
			{"new address verified", users.Update{Email: str("newer@example.com"), EmailVerified: &yes}, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := h.svc.Update(ctx, u.ID, tt.p)
				require.NoError(t, err)
				assert.Equal(t, tt.wantVerified, got.EmailVerified)
			})
		}
	})

	t.Run("errors", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		h.create(t, bob, alicePassword)
		noScope, bad, stale := []string{}, users.Status("gone"), int64(7)
		tests := []struct {
			name  string
			id    string
			p     users.Update
			want  error
			field string
		}{
			{"unknown user", uuid.NewString(), users.Update{Name: str("x")}, users.ErrNotFound, ""},
			{"username taken", u.ID, users.Update{Username: str("BOB@example.com")}, users.ErrConflict, "username"},
			{"email taken", u.ID, users.Update{Email: str("bob@EXAMPLE.com")}, users.ErrConflict, "email"},
			{"stale version", u.ID, users.Update{Name: str("x"), Version: &stale}, users.ErrConflict, "version"},
			{"bad username", u.ID, users.Update{Username: str("nope")}, users.ErrInvalid, "username"},
			{"empty email", u.ID, users.Update{Email: str("")}, users.ErrInvalid, "email"},
			{"empty scope", u.ID, users.Update{Scope: &noScope}, users.ErrInvalid, "scope"},
			{"bad status", u.ID, users.Update{Status: &bad}, users.ErrInvalid, "status"},
			{"password too short", u.ID, users.Update{Password: str("short")}, users.ErrInvalid, "password"},
			{"password is username", u.ID, users.Update{Password: str("ALICE@example.com")}, users.ErrInvalid, "password"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := h.svc.Update(ctx, tt.id, tt.p)
				assert.Nil(t, got)
				assert.ErrorIs(t, err, tt.want)
				if tt.field != "" {
					assertCode(t, err, users.ErrorCode(tt.want), tt.field)
				}
			})
		}
		stored, err := h.svc.Get(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u, stored, "no failed update changed anything")
	})

	t.Run("version", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		v := u.Version
		got, err := h.svc.Update(ctx, u.ID, users.Update{Name: str("one"), Version: &v})
		require.NoError(t, err)
		assert.Equal(t, v+1, got.Version)
		_, err = h.svc.Update(ctx, u.ID, users.Update{Name: str("two"), Version: &v})
		assert.ErrorIs(t, err, users.ErrConflict, "the version moved on")
	})

	t.Run("password hashed and revokes sessions and codes", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		s1 := h.signIn(t, alice, alicePassword)
		code := h.resetCode(t, alice)
		got, err := h.svc.Update(ctx, u.ID, users.Update{Password: str(otherPassword)})
		require.NoError(t, err)
		assert.NotEqual(t, u.PasswordHash, h.storedHash(t, u.ID))
		assert.NotContains(t, h.storedHash(t, u.ID), otherPassword)
		assert.Equal(t, h.storedHash(t, u.ID), got.PasswordHash)
		assert.False(t, authenticates(t, h.svc, s1.Token))
		assertCode(t, h.svc.ResetPassword(ctx, code, "yet another password"), users.CodeInvalid, "code")
		_, err = h.svc.SignIn(ctx, alice, alicePassword)
		assert.ErrorIs(t, err, users.ErrUnauthorized)
		h.signIn(t, alice, otherPassword)
		assert.Equal(t, 1, h.events.count(users.EventSessionsRevoked))
	})

	t.Run("disabling revokes sessions", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		s1 := h.signIn(t, alice, alicePassword)
		code := h.resetCode(t, alice)
		disabled, active := users.StatusDisabled, users.StatusActive
		_, err := h.svc.Update(ctx, u.ID, users.Update{Status: &disabled})
		require.NoError(t, err)
		assert.False(t, authenticates(t, h.svc, s1.Token))
		_, err = h.svc.Update(ctx, u.ID, users.Update{Status: &active})
		require.NoError(t, err)
		assert.False(t, authenticates(t, h.svc, s1.Token), "re-enabling does not bring sessions back")
		assertCode(t, h.svc.ResetPassword(ctx, code, "yet another password"), users.CodeInvalid, "code")
		h.signIn(t, alice, alicePassword)
	})

	t.Run("other changes keep sessions", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		s1 := h.signIn(t, alice, alicePassword)
		_, err := h.svc.Update(ctx, u.ID, users.Update{Name: str("Alice"), Email: str("alice@home.example")})
		require.NoError(t, err)
		assert.True(t, authenticates(t, h.svc, s1.Token))
	})
}

// TestUpdateConcurrent runs many updates of one user at once, each setting its own field
// without a version: every one of them applies, and none undoes another.
func TestUpdateConcurrent(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	str := func(s string) *string { return &s }
	yes := true
	patches := []users.Update{
		{Name: str("Name")},
		{Plan: str("Plan")},
		{OrgID: str("Org")},
		{Vendor: &[]string{"vendor"}},
		{AllowedPrivateComponents: &[]string{"component"}},
		{Scope: &[]string{"user", "editor"}},
		{Metadata: &map[string]any{"key": "value"}},
		{EmailVerified: &yes},
		{Username: str("alice.renamed@example.com")},
		{Email: str("alice@home.example"), EmailVerified: &yes},
	}
	const perPatch = 2 // 20 goroutines
	var wg sync.WaitGroup
	errs := make(chan error, len(patches)*perPatch)
	for range perPatch {
		for _, p := range patches {
			wg.Go(func() {
				_, err := h.svc.Update(ctx, u.ID, p)
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	got, err := h.svc.Get(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, "Name", got.Name)
	assert.Equal(t, "Plan", got.Plan)
	assert.Equal(t, "Org", got.OrgID)
	assert.Equal(t, []string{"vendor"}, got.Vendor)
	assert.Equal(t, []string{"component"}, got.AllowedPrivateComponents)
	assert.Equal(t, []string{"user", "editor"}, got.Scope)
	assert.Equal(t, map[string]any{"key": "value"}, got.Metadata)
	assert.True(t, got.EmailVerified)
	assert.Equal(t, "alice.renamed@example.com", got.Username)
	assert.Equal(t, "alice@home.example", got.Email)
	assert.Equal(t, u.Version+int64(len(patches)*perPatch), got.Version, "every update applied once")
	assert.Equal(t, len(patches)*perPatch, h.events.count(users.EventUserUpdated))
}

// TestUpdateWhileBeingDeleted: Update returns ErrConflict while the user is being deleted.
func TestUpdateWhileBeingDeleted(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.NoWorker = true })
	ctx := context.Background()
	str := func(s string) *string { return &s }
	active := users.StatusActive
	tests := []struct {
		name string
		p    users.Update
	}{
		{"reactivate", users.Update{Status: &active}},
		{"rename", users.Update{Name: str("Still Here")}},
		{"new password", users.Update{Password: str(otherPassword)}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := h.create(t, fmt.Sprintf("user%d@example.com", i), alicePassword)
			_, err := h.svc.Delete(ctx, u.ID)
			require.NoError(t, err)
			_, err = h.svc.Update(ctx, u.ID, tt.p)
			assert.ErrorIs(t, err, users.ErrConflict)
			got, err := h.svc.Get(ctx, u.ID)
			require.NoError(t, err)
			assert.Equal(t, users.StatusDisabled, got.Status)
		})
	}
}

// contendedStore lets another writer change a user right after each of the Service's
// look-ups outside a transaction, as many concurrent writers would: the first competing
// writes land between the Service's read and its write.
type contendedStore struct {
	*memory.Store
	competing atomic.Int64 // competing writes still to make
}

func (s *contendedStore) GetUser(ctx context.Context, id string) (*users.User, error) {
	u, err := s.Store.GetUser(ctx, id)
	if err == nil {
		if n := s.competing.Add(-1); n >= 0 {
			c := u.Clone()
			c.Plan = fmt.Sprint("competitor-", n)
			if err := s.Store.UpdateUser(ctx, c); err != nil {
				return nil, err
			}
		}
	}
	return u, err
}

// TestUpdateUnderContention: an update without a version is applied after any number of
// concurrent ones, never refused as stale.
func TestUpdateUnderContention(t *testing.T) {
	ctx := context.Background()
	store := &contendedStore{Store: memory.New()}
	svc, err := users.New(store, users.Config{Argon2: users.TestArgon2(), NoWorker: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	u, err := svc.Create(ctx, users.NewUser{Username: alice})
	require.NoError(t, err)

	store.competing.Store(15)
	name := "Alice"
	got, err := svc.Update(ctx, u.ID, users.Update{Name: &name})
	require.NoError(t, err, "an update without a version is never stale")
	assert.Equal(t, "Alice", got.Name)
	stored, err := store.Store.GetUser(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, "Alice", stored.Name)
	if store.competing.Load() < 15 { // some competing write happened
		assert.True(t, strings.HasPrefix(stored.Plan, "competitor-"), "the competing writes stay")
	}
}

// TestBlankScope: a scope of blank entries is no scope: Create gives the default, [user], and
// Update refuses it as it refuses an empty one.
func TestBlankScope(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Scope: []string{"", " "}})
	require.NoError(t, err)
	assert.Equal(t, []string{users.RoleUser}, u.Scope)
	blank := []string{" "}
	_, err = h.svc.Update(ctx, u.ID, users.Update{Scope: &blank})
	assertCode(t, err, users.CodeInvalid, "scope")
}
