package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var userChecks = []check{
	{"CreateUser", testCreateUser},
	{"CreateUserVersionIsOne", testCreateUserVersion},
	{"CreateUserConflictID", testCreateUserConflictID},
	{"CreateUserConflictUsername", testCreateUserConflictUsername},
	{"CreateUserConflictEmail", testCreateUserConflictEmail},
	{"CreateUserEmptyEmailNotUnique", testCreateUserEmptyEmail},
	{"CreateUserWithoutID", testCreateUserWithoutID},
	{"GetUserNotFound", testGetUserNotFound},
	{"GetUserFolded", testGetUserFolded},
	{"FoldedLookAlikes", testFoldedLookAlikes},
	{"UpdateUser", testUpdateUser},
	{"UpdateUserStaleVersion", testUpdateUserStale},
	{"UpdateUserNotFound", testUpdateUserNotFound},
	{"UpdateUserRenames", testUpdateUserRenames},
	{"UpdateUserCaseOfOwnName", testUpdateUserOwnCase},
	{"UpdateUserConflicts", testUpdateUserConflicts},
	{"PermissionsAndPasswordFlags", testPermissionsAndFlags},
	{"NilPermissionsStayNil", testNilPermissions},
	{"DeleteUser", testDeleteUser},
	{"CopiesOfUsers", testUserCopies},
	{"ConcurrentCreateSameUsername", testConcurrentCreateUsername},
	{"ConcurrentCreateSameEmail", testConcurrentCreateEmail},
	{"ConcurrentUpdateSameVersion", testConcurrentUpdate},
}

func testCreateUser(t *testing.T, s users.Store) {
	u := newUser("u1", "Alice@Example.com")
	u.Email = "Alice.Mail@Example.org"
	u.Name = "Alice Liddell"
	u.Scope = []string{users.RoleUser, users.RoleAdmin}
	u.Plan = "pro"
	u.Vendor = []string{"acme", "globex"}
	u.AllowedPrivateComponents = []string{"c1"}
	u.OrgID = "org-1"
	u.Status = users.StatusPending
	u.EmailVerified = true
	u.Metadata = map[string]any{"n": 1.5, "s": "x", "b": true, "z": nil, "o": map[string]any{"l": []any{"a", 2.0}}}
	u.Permissions = map[string]users.Permission{users.ResourceUsers: users.PermissionWrite, "billing": users.PermissionRead}
	u.MustChangePassword = true
	u.PasswordResetDisallowed = true
	u.Updated = day(1)
	want := u.Clone()

	require.NoError(t, s.CreateUser(t.Context(), u))

	assert.Equal(t, int64(1), u.Version, "CreateUser sets u.Version")
	assertUser(t, s, stored(want, 1))
}

func testCreateUserVersion(t *testing.T, s users.Store) {
	u := newUser("u1", "alice@example.com")
	u.Version = 42
	require.NoError(t, s.CreateUser(t.Context(), u))
	assert.Equal(t, int64(1), u.Version)
	got, err := s.GetUser(t.Context(), "u1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Version, "a new user is stored with Version 1 whatever it carries")
}

func testCreateUserConflictID(t *testing.T, s users.Store) {
	first := newUser("u1", "alice@example.com")
	createUser(t, s, first)

	err := s.CreateUser(t.Context(), newUser("u1", "bob@example.com"))

	assertConflict(t, err, "id")
	assertUser(t, s, stored(newUser("u1", "alice@example.com"), 1))
	_, err = s.GetUserByUsername(t.Context(), "bob@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound, "a conflicting user's username is not indexed")
}

func testCreateUserConflictUsername(t *testing.T, s users.Store) {
	createUser(t, s, newUser("u1", "Alice@Example.com"))

	for _, username := range []string{"Alice@Example.com", "alice@example.com", "ALICE@EXAMPLE.COM"} {
		u := newUser("u2", username)
		u.Email = "other@example.com"
		assertConflict(t, s.CreateUser(t.Context(), u), "username", "username %q", username)
	}
	_, err := s.GetUser(t.Context(), "u2")
	assert.ErrorIs(t, err, users.ErrNotFound, "a conflicting user is not stored")
	_, err = s.GetUserByEmail(t.Context(), "other@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound, "a conflicting user's e-mail is not indexed")
}

func testCreateUserConflictEmail(t *testing.T, s users.Store) {
	first := newUser("u1", "alice@example.com")
	first.Email = "Shared@Example.com"
	createUser(t, s, first)

	u := newUser("u2", "bob@example.com")
	u.Email = "shared@EXAMPLE.com"
	assertConflict(t, s.CreateUser(t.Context(), u), "email")

	_, err := s.GetUserByUsername(t.Context(), "bob@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound, "a conflicting user's username is not indexed")
}

func testCreateUserEmptyEmail(t *testing.T, s users.Store) {
	for i := range 3 {
		u := newUser(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d@example.com", i))
		u.Email = ""
		require.NoError(t, s.CreateUser(t.Context(), u), "an empty e-mail is not unique")
	}
	for i := range 3 {
		got, err := s.GetUser(t.Context(), fmt.Sprintf("u%d", i))
		require.NoError(t, err)
		assert.Empty(t, got.Email)
	}
	_, err := s.GetUserByEmail(t.Context(), "")
	assert.ErrorIs(t, err, users.ErrNotFound, "the empty e-mail is no address: it finds no one")
}

func testCreateUserWithoutID(t *testing.T, s users.Store) {
	u := newUser("", "alice@example.com")
	assert.Error(t, s.CreateUser(t.Context(), u), "the user must carry an ID")
	_, err := s.GetUserByUsername(t.Context(), "alice@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound, "a user without an ID is not stored")
}

func testGetUserNotFound(t *testing.T, s users.Store) {
	ctx := t.Context()
	_, err := s.GetUser(ctx, "nobody")
	assert.ErrorIs(t, err, users.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "nobody@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, "nobody@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound)

	u := newUser("u1", "alice@example.com")
	u.Email = "mail@example.org"
	createUser(t, s, u)
	_, err = s.GetUser(ctx, "U1")
	assert.ErrorIs(t, err, users.ErrNotFound, "IDs are compared exactly")
	_, err = s.GetUserByUsername(ctx, "mail@example.org")
	assert.ErrorIs(t, err, users.ErrNotFound, "the username index holds usernames only")
	_, err = s.GetUserByEmail(ctx, "alice@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound, "the e-mail index holds e-mails only")
	_, err = s.GetUserByUsername(ctx, "alice@example.co")
	assert.ErrorIs(t, err, users.ErrNotFound, "look-ups are exact, not prefix matches")
}

func testGetUserFolded(t *testing.T, s users.Store) {
	u := newUser("u1", "MixedCase@Example.COM")
	u.Email = "Mail.Box@Example.Org"
	createUser(t, s, u)
	want := stored(u, 1)
	ctx := t.Context()

	for _, name := range []string{"MixedCase@Example.COM", "mixedcase@example.com", "MIXEDCASE@EXAMPLE.COM"} {
		got, err := s.GetUserByUsername(ctx, name)
		if assert.NoError(t, err, "GetUserByUsername(%q)", name) {
			assert.Equal(t, want, got, "the stored username keeps its case")
		}
	}
	for _, email := range []string{"Mail.Box@Example.Org", "mail.box@example.org", "MAIL.BOX@EXAMPLE.ORG"} {
		got, err := s.GetUserByEmail(ctx, email)
		if assert.NoError(t, err, "GetUserByEmail(%q)", email) {
			assert.Equal(t, want, got)
		}
	}
}

func testUpdateUser(t *testing.T, s users.Store) {
	u := newUser("u1", "alice@example.com")
	createUser(t, s, u)

	u.Name = "Alice Liddell"
	u.Scope = []string{users.RoleAdmin}
	u.Vendor = []string{"acme"}
	u.Plan = "enterprise"
	u.Status = users.StatusDisabled
	u.EmailVerified = true
	u.Metadata = map[string]any{"k": "v"}
	u.PasswordHash = "new hash"
	u.Updated = day(2)
	want := u.Clone()
	require.NoError(t, s.UpdateUser(t.Context(), u))
	assert.Equal(t, int64(2), u.Version, "UpdateUser sets u.Version")
	assertUser(t, s, stored(want, 2))

	u.Metadata = nil
	u.Vendor = nil
	want = u.Clone()
	require.NoError(t, s.UpdateUser(t.Context(), u))
	assert.Equal(t, int64(3), u.Version)
	assertUser(t, s, stored(want, 3))
}

func testUpdateUserStale(t *testing.T, s users.Store) {
	u := newUser("u1", "alice@example.com")
	createUser(t, s, u)
	fresh := u.Clone()
	fresh.Name = "fresh"
	require.NoError(t, s.UpdateUser(t.Context(), fresh))
	want := stored(fresh, 2)

	for _, version := range []int64{0, 1, 3, 42} {
		stale := fresh.Clone()
		stale.Name = "stale"
		stale.Version = version
		err := s.UpdateUser(t.Context(), stale)
		assert.ErrorIs(t, err, users.ErrConflict, "version %d against stored 2", version)
	}
	assertUser(t, s, want)
}

func testUpdateUserNotFound(t *testing.T, s users.Store) {
	createUser(t, s, newUser("u1", "alice@example.com"))
	u := newUser("u2", "bob@example.com")
	u.Version = 1
	assert.ErrorIs(t, s.UpdateUser(t.Context(), u), users.ErrNotFound)
	assertNoUser(t, s, u)
}

func testUpdateUserRenames(t *testing.T, s users.Store) {
	ctx := t.Context()
	u := newUser("u1", "old@example.com")
	u.Email = "old.mail@example.com"
	createUser(t, s, u)
	old := u.Clone()

	u.Username = "New@Example.com"
	u.Email = "New.Mail@Example.com"
	require.NoError(t, s.UpdateUser(ctx, u))
	assertUser(t, s, stored(u, 2))
	got, err := s.GetUserByUsername(ctx, "NEW@example.com")
	if assert.NoError(t, err) {
		assert.Equal(t, "u1", got.ID)
	}

	_, err = s.GetUserByUsername(ctx, old.Username)
	assert.ErrorIs(t, err, users.ErrNotFound, "the old username is findable no more")
	_, err = s.GetUserByEmail(ctx, old.Email)
	assert.ErrorIs(t, err, users.ErrNotFound, "the old e-mail is findable no more")
	n, err := s.CountUsers(ctx, users.Query{Conditions: []users.Condition{{Field: "username", Op: users.OpEq, Value: old.Username}}})
	require.NoError(t, err)
	assert.Zero(t, n, "queries see the new username")

	other := newUser("u2", "OLD@example.com")
	other.Email = "OLD.MAIL@example.com"
	require.NoError(t, s.CreateUser(ctx, other), "the old username and e-mail are free")
	assertUser(t, s, stored(other, 1))

	u.Email = ""
	require.NoError(t, s.UpdateUser(ctx, u))
	_, err = s.GetUserByEmail(ctx, "new.mail@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound, "a cleared e-mail is findable no more")
	third := newUser("u3", "third@example.com")
	third.Email = "new.mail@example.com"
	require.NoError(t, s.CreateUser(ctx, third), "a cleared e-mail is free")
}

func testUpdateUserOwnCase(t *testing.T, s users.Store) {
	u := newUser("u1", "alice@example.com")
	u.Email = "mail@example.com"
	createUser(t, s, u)

	u.Username = "ALICE@example.com"
	u.Email = "MAIL@example.com"
	require.NoError(t, s.UpdateUser(t.Context(), u), "a user does not clash with itself")
	assertUser(t, s, stored(u, 2))

	require.NoError(t, s.UpdateUser(t.Context(), u), "an update that changes nothing succeeds")
	assert.Equal(t, int64(3), u.Version)
}

func testUpdateUserConflicts(t *testing.T, s users.Store) {
	ctx := t.Context()
	alice := newUser("u1", "alice@example.com")
	alice.Email = "alice.mail@example.com"
	bob := newUser("u2", "bob@example.com")
	bob.Email = "bob.mail@example.com"
	createUser(t, s, alice)
	createUser(t, s, bob)

	clash := bob.Clone()
	clash.Username = "ALICE@example.com"
	assert.ErrorIs(t, s.UpdateUser(ctx, clash), users.ErrConflict, "the new username is taken")

	clash = bob.Clone()
	clash.Email = "Alice.Mail@Example.com"
	assert.ErrorIs(t, s.UpdateUser(ctx, clash), users.ErrConflict, "the new e-mail is taken")

	assertUser(t, s, stored(alice, 1))
	assertUser(t, s, stored(bob, 1))
	assert.Equal(t, int64(1), bob.Version)
}

func testPermissionsAndFlags(t *testing.T, s users.Store) {
	ctx := t.Context()
	u := newUser("u1", "alice@example.com")
	u.Permissions = map[string]users.Permission{users.ResourceUsers: users.PermissionAdmin}
	u.MustChangePassword = true
	createUser(t, s, u)
	assertUser(t, s, &users.User{
		ID: "u1", Username: "alice@example.com", Email: "alice@example.com", Name: "User u1",
		Scope: []string{users.RoleUser}, Status: users.StatusActive, Created: epoch, Updated: epoch,
		PasswordHash: "hash of u1", Version: 1,
		Permissions:        map[string]users.Permission{"users": "admin"},
		MustChangePassword: true,
	})

	steps := []struct {
		name        string
		permissions map[string]users.Permission
		mustChange  bool
		noReset     bool
	}{
		{"a level lowered, a resource added, the flags swapped",
			map[string]users.Permission{"users": "read", "reports": "write"}, false, true},
		{"a resource removed, both flags set",
			map[string]users.Permission{"reports": "write"}, true, true},
		{"permissions cleared to nil, both flags cleared",
			nil, false, false},
		{"permissions granted again",
			map[string]users.Permission{"app:orders": "admin", "users": "write"}, false, false},
	}
	for i, step := range steps {
		u.Permissions, u.MustChangePassword, u.PasswordResetDisallowed = step.permissions, step.mustChange, step.noReset
		require.NoError(t, s.UpdateUser(ctx, u), step.name)
		got, err := s.GetUser(ctx, "u1")
		require.NoError(t, err, step.name)
		assert.Equal(t, step.permissions, got.Permissions, step.name)
		assert.Equal(t, step.mustChange, got.MustChangePassword, "MustChangePassword: %s", step.name)
		assert.Equal(t, step.noReset, got.PasswordResetDisallowed, "PasswordResetDisallowed: %s", step.name)
		assert.Equal(t, int64(i+2), got.Version, step.name)
	}

	list, err := s.ListUsers(ctx, users.Query{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, map[string]users.Permission{"app:orders": "admin", "users": "write"}, list[0].Permissions, "ListUsers")
}

func testNilPermissions(t *testing.T, s users.Store) {
	ctx := t.Context()
	none := newUser("u1", "alice@example.com")
	some := newUser("u2", "bob@example.com")
	some.Permissions = map[string]users.Permission{"users": "read"}
	createUser(t, s, none)
	createUser(t, s, some)

	got, err := s.GetUser(ctx, "u1")
	require.NoError(t, err)
	assert.Nil(t, got.Permissions, "nil permissions come back nil, not an empty map")
	got, err = s.GetUserByUsername(ctx, "alice@example.com")
	require.NoError(t, err)
	assert.Nil(t, got.Permissions, "GetUserByUsername")
	got, err = s.GetUserByEmail(ctx, "alice@example.com")
	require.NoError(t, err)
	assert.Nil(t, got.Permissions, "GetUserByEmail")

	list, err := s.ListUsers(ctx, users.Query{Sort: []users.Sort{{Field: "username"}}})
	require.NoError(t, err)
	require.Equal(t, []string{"u1", "u2"}, userIDs(list))
	assert.Nil(t, list[0].Permissions, "ListUsers: alice has none")
	assert.Equal(t, map[string]users.Permission{"users": "read"}, list[1].Permissions, "ListUsers: bob's stay his")

	some.Permissions = nil
	require.NoError(t, s.UpdateUser(ctx, some))
	got, err = s.GetUser(ctx, "u2")
	require.NoError(t, err)
	assert.Nil(t, got.Permissions, "permissions cleared to nil come back nil")
}

func testDeleteUser(t *testing.T, s users.Store) {
	ctx := t.Context()
	alice := newUser("u1", "alice@example.com")
	bob := newUser("u2", "bob@example.com")
	createUser(t, s, alice)
	createUser(t, s, bob)
	require.NoError(t, s.PutToken(ctx, newToken("a1", users.TokenSession, "u1", day(9))))
	require.NoError(t, s.PutToken(ctx, newToken("a2", users.TokenAPIKey, "u1", time.Time{})))
	require.NoError(t, s.PutToken(ctx, newToken("b1", users.TokenSession, "u2", day(9))))
	ticket := newTicket("t1", "u1", day(1))
	require.NoError(t, s.CreateTicket(ctx, ticket))

	require.NoError(t, s.DeleteUser(ctx, "u1"))

	assertNoUser(t, s, alice)
	for _, secret := range []string{"a1", "a2"} {
		_, err := s.GetToken(ctx, digest(secret), epoch)
		assert.ErrorIs(t, err, users.ErrNotFound, "the user's token %s is removed", secret)
	}
	n, err := s.DeleteUserTokens(ctx, "u1")
	require.NoError(t, err)
	assert.Zero(t, n, "no token of the deleted user is left")
	_, err = s.GetToken(ctx, digest("b1"), epoch)
	assert.NoError(t, err, "another user's token stays")
	assertUser(t, s, stored(bob, 1))

	got, err := s.GetTicket(ctx, "t1")
	if assert.NoError(t, err, "tickets stay") {
		assert.Equal(t, ticket, got)
	}
	list, err := s.ListTickets(ctx, "u1")
	require.NoError(t, err)
	assert.Len(t, list, 1, "tickets stay")

	n, err = s.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	assert.ErrorIs(t, s.DeleteUser(ctx, "u1"), users.ErrNotFound, "the second delete")
	assert.ErrorIs(t, s.DeleteUser(ctx, "nobody"), users.ErrNotFound)

	again := newUser("u3", "ALICE@example.com")
	require.NoError(t, s.CreateUser(ctx, again), "the deleted user's username is free")
}

func testUserCopies(t *testing.T, s users.Store) {
	ctx := t.Context()
	u := newUser("u1", "alice@example.com")
	u.Vendor = []string{"acme"}
	u.AllowedPrivateComponents = []string{"c1"}
	u.Metadata = map[string]any{"profile": map[string]any{"langs": []any{"go"}}, "k": "v"}
	u.Permissions = map[string]users.Permission{"users": "read", "billing": "write"}
	want := stored(u, 1)

	require.NoError(t, s.CreateUser(ctx, u))
	mutateUser(u)
	assertUser(t, s, want)

	got, err := s.GetUser(ctx, "u1")
	require.NoError(t, err)
	mutateUser(got)
	assertUser(t, s, want)

	got, err = s.GetUserByUsername(ctx, "alice@example.com")
	require.NoError(t, err)
	mutateUser(got)
	got, err = s.GetUserByEmail(ctx, "alice@example.com")
	require.NoError(t, err)
	mutateUser(got)
	list, err := s.ListUsers(ctx, users.Query{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	mutateUser(list[0])
	assertUser(t, s, want)

	update := want.Clone()
	update.Name = "updated"
	want = stored(update, 2)
	require.NoError(t, s.UpdateUser(ctx, update))
	mutateUser(update)
	assertUser(t, s, want)
}

// mutateUser changes every reference-typed part of u in place, and its plain fields.
func mutateUser(u *users.User) {
	u.Name = "mutated"
	u.Scope[0] = "mutated"
	u.Scope = append(u.Scope, "appended")
	u.Vendor[0] = "mutated"
	u.AllowedPrivateComponents[0] = "mutated"
	profile := u.Metadata["profile"].(map[string]any)
	profile["langs"].([]any)[0] = "mutated"
	profile["new"] = "mutated"
	u.Metadata["k"] = "mutated"
	u.Metadata["added"] = true
	u.Permissions["users"] = users.PermissionAdmin
	u.Permissions["added"] = users.PermissionAdmin
	delete(u.Permissions, "billing")
}

// caseVariant returns s with the letters whose index bits are set in mask upper-cased.
func caseVariant(s string, mask int) string {
	b := []byte(s)
	for i := range b {
		if mask&(1<<i) != 0 {
			b[i] = strings.ToUpper(string(b[i]))[0]
		}
	}
	return string(b)
}

func testConcurrentCreateUsername(t *testing.T, s users.Store) {
	const n = 50
	errs := make([]error, n)
	concurrently(t, n, func(i int) {
		u := newUser(fmt.Sprintf("u%02d", i), caseVariant("racecar@example.com", i))
		u.Email = fmt.Sprintf("racer%02d@example.com", i)
		errs[i] = s.CreateUser(t.Context(), u)
	})

	winner := -1
	for i, err := range errs {
		if err == nil {
			assert.Equal(t, -1, winner, "two creations succeeded: %d and %d", winner, i)
			winner = i
			continue
		}
		assertConflict(t, err, "username", "goroutine %d", i)
	}
	require.NotEqual(t, -1, winner, "one creation succeeds")
	got, err := s.GetUserByUsername(t.Context(), "RACECAR@example.com")
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("u%02d", winner), got.ID)
	count, err := s.CountUsers(t.Context(), users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 1, count)
}

func testConcurrentCreateEmail(t *testing.T, s users.Store) {
	const n = 50
	errs := make([]error, n)
	concurrently(t, n, func(i int) {
		u := newUser(fmt.Sprintf("u%02d", i), fmt.Sprintf("racer%02d@example.com", i))
		u.Email = caseVariant("shared@example.com", i)
		errs[i] = s.CreateUser(t.Context(), u)
	})

	wins := 0
	for i, err := range errs {
		if err == nil {
			wins++
			continue
		}
		assertConflict(t, err, "email", "goroutine %d", i)
	}
	assert.Equal(t, 1, wins, "exactly one creation succeeds")
	count, err := s.CountUsers(t.Context(), users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 1, count)
}

func testConcurrentUpdate(t *testing.T, s users.Store) {
	u := newUser("u1", "alice@example.com")
	createUser(t, s, u)

	const n = 50
	errs := make([]error, n)
	concurrently(t, n, func(i int) {
		c := u.Clone()
		c.Name = fmt.Sprintf("writer %d", i)
		errs[i] = s.UpdateUser(t.Context(), c)
	})

	winner := -1
	for i, err := range errs {
		if err == nil {
			assert.Equal(t, -1, winner, "two updates of version 1 succeeded: %d and %d", winner, i)
			winner = i
			continue
		}
		assert.ErrorIs(t, err, users.ErrConflict, "goroutine %d", i)
	}
	require.NotEqual(t, -1, winner, "one update succeeds")
	got, err := s.GetUser(t.Context(), "u1")
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version)
	assert.Equal(t, fmt.Sprintf("writer %d", winner), got.Name)
}
