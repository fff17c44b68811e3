package users_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Actors and targets of the policy tables.
var (
	policyAdmin         = &users.User{ID: "admin", Username: "admin@example.com", Scope: []string{"user", "admin"}, Status: users.StatusActive}
	policyOtherAdmin    = &users.User{ID: "admin2", Username: "admin2@example.com", Scope: []string{"admin"}, Status: users.StatusActive}
	policyUser          = &users.User{ID: "user", Username: "user@example.com", Scope: []string{"user", "editor"}, Status: users.StatusActive}
	policyOther         = &users.User{ID: "other", Username: "other@example.com", Scope: []string{"user"}, Status: users.StatusActive}
	policyDisabledAdmin = &users.User{ID: "dadmin", Username: "dadmin@example.com", Scope: []string{"admin"}, Status: users.StatusDisabled}
	policyPendingAdmin  = &users.User{ID: "padmin", Username: "padmin@example.com", Scope: []string{"admin"}, Status: users.StatusPending}
	policyDisabledUser  = &users.User{ID: "duser", Username: "duser@example.com", Scope: []string{"user"}, Status: users.StatusDisabled}
)

func TestIsAdmin(t *testing.T) {
	tests := []struct {
		name string
		u    *users.User
		want bool
	}{
		{"admin", policyAdmin, true},
		{"admin only", policyOtherAdmin, true},
		{"user", policyUser, false},
		{"disabled admin", policyDisabledAdmin, false},
		{"pending admin", policyPendingAdmin, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, users.IsAdmin(tt.u))
		})
	}
}

func TestAuthorize(t *testing.T) {
	allActions := []users.Action{users.ActionRead, users.ActionList, users.ActionCreate, users.ActionUpdate,
		users.ActionDelete, users.ActionSetPassword, users.ActionRevokeSessions}
	type want map[users.Action]bool // actions allowed; the rest are forbidden
	tests := []struct {
		name    string
		actor   *users.User
		target  *users.User // nil for list and create
		allowed want
	}{
		{"admin on other", policyAdmin, policyOther, want{
			users.ActionRead: true, users.ActionUpdate: true, users.ActionDelete: true, users.ActionSetPassword: true, users.ActionRevokeSessions: true,
			users.ActionList: true, users.ActionCreate: true}},
		{"admin on another admin", policyAdmin, policyOtherAdmin, want{
			users.ActionRead: true, users.ActionUpdate: true, users.ActionDelete: true, users.ActionSetPassword: true, users.ActionRevokeSessions: true,
			users.ActionList: true, users.ActionCreate: true}},
		{"admin on self", policyAdmin, policyAdmin, want{
			users.ActionRead: true, users.ActionUpdate: true, users.ActionDelete: true, users.ActionSetPassword: true, users.ActionRevokeSessions: true,
			users.ActionList: true, users.ActionCreate: true}},
		{"admin without target", policyAdmin, nil, want{
			users.ActionRead: true, users.ActionUpdate: true, users.ActionDelete: true, users.ActionSetPassword: true, users.ActionRevokeSessions: true,
			users.ActionList: true, users.ActionCreate: true}},
		{"user on self", policyUser, policyUser, want{users.ActionRead: true, users.ActionUpdate: true, users.ActionRevokeSessions: true}},
		{"user on self, another copy", policyUser, policyUser.Clone(), want{users.ActionRead: true, users.ActionUpdate: true, users.ActionRevokeSessions: true}},
		{"user on other", policyUser, policyOther, want{}},
		{"user on admin", policyUser, policyAdmin, want{}},
		{"user without target", policyUser, nil, want{}},
		{"disabled admin", policyDisabledAdmin, policyOther, want{}},
		{"disabled admin on self", policyDisabledAdmin, policyDisabledAdmin, want{}},
		{"pending admin", policyPendingAdmin, policyOther, want{}},
		{"disabled user on self", policyDisabledUser, policyDisabledUser, want{}},
		{"nil actor", nil, policyOther, want{}},
		{"nil actor, nil target", nil, nil, want{}},
	}
	for _, tt := range tests {
		for _, action := range allActions {
			t.Run(tt.name+"/"+string(action), func(t *testing.T) {
				err := users.Authorize(tt.actor, action, tt.target)
				if tt.allowed[action] {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, users.ErrForbidden)
				}
			})
		}
	}
	t.Run("unknown action", func(t *testing.T) {
		assert.ErrorIs(t, users.Authorize(policyUser, "impersonate", policyUser), users.ErrForbidden)
	})
}

func TestAuthorizeUpdate(t *testing.T) {
	str := func(s string) *string { return &s }
	scope := func(roles ...string) *[]string { return &roles }
	status := func(s users.Status) *users.Status { return &s }
	yes := true
	meta := map[string]any{"k": "v"}
	tests := []struct {
		name   string
		actor  *users.User
		target *users.User
		p      users.Update
		field  string // "" when allowed; "-" for ErrForbidden without a field
	}{
		// A user on themself.
		{"self: nothing", policyUser, policyUser, users.Update{}, ""},
		{"self: username", policyUser, policyUser, users.Update{Username: str("new@example.com")}, ""},
		{"self: email", policyUser, policyUser, users.Update{Email: str("new@example.com")}, ""},
		{"self: name", policyUser, policyUser, users.Update{Name: str("New")}, ""},
		{"self: metadata", policyUser, policyUser, users.Update{Metadata: &meta}, ""},
		{"self: drop a role", policyUser, policyUser, users.Update{Scope: scope("user")}, ""},
		{"self: same roles", policyUser, policyUser, users.Update{Scope: scope("editor", "user")}, ""},
		{"self: raise to admin", policyUser, policyUser, users.Update{Scope: scope("user", "admin")}, "scope"},
		{"self: swap a role", policyUser, policyUser, users.Update{Scope: scope("user", "owner")}, "scope"},
		{"self: disable", policyUser, policyUser, users.Update{Status: status(users.StatusDisabled)}, ""},
		{"self: same status", policyUser, policyUser, users.Update{Status: status(users.StatusActive)}, ""},
		{"self: to pending", policyUser, policyUser, users.Update{Status: status(users.StatusPending)}, "status"},
		{"self: password", policyUser, policyUser, users.Update{Password: str("a new password")}, "password"},
		{"self: plan", policyUser, policyUser, users.Update{Plan: str("gold")}, "plan"},
		{"self: vendor", policyUser, policyUser, users.Update{Vendor: scope("v")}, "vendor"},
		{"self: components", policyUser, policyUser, users.Update{AllowedPrivateComponents: scope("c")}, "allowedPrivateComponents"},
		{"self: organization", policyUser, policyUser, users.Update{OrgID: str("org")}, "orgId"},
		{"self: verification", policyUser, policyUser, users.Update{EmailVerified: &yes}, "emailVerified"},
		{"self: allowed with forbidden", policyUser, policyUser, users.Update{Name: str("New"), Plan: str("gold")}, "plan"},
		// An administrator on themself.
		{"admin self: plan", policyAdmin, policyAdmin, users.Update{Plan: str("gold")}, ""},
		{"admin self: password", policyAdmin, policyAdmin, users.Update{Password: str("a new password")}, ""},
		{"admin self: verification", policyAdmin, policyAdmin, users.Update{EmailVerified: &yes}, ""},
		{"admin self: drop admin", policyAdmin, policyAdmin, users.Update{Scope: scope("user")}, ""},
		{"admin self: add a role", policyAdmin, policyAdmin, users.Update{Scope: scope("user", "admin", "owner")}, "scope"},
		{"admin self: to pending", policyAdmin, policyAdmin, users.Update{Status: status(users.StatusPending)}, "status"},
		// An administrator on someone else.
		{"admin: raise to admin", policyAdmin, policyOther, users.Update{Scope: scope("admin")}, ""},
		{"admin: status", policyAdmin, policyOther, users.Update{Status: status(users.StatusPending)}, ""},
		{"admin: re-enable", policyAdmin, policyDisabledUser, users.Update{Status: status(users.StatusActive)}, ""},
		{"admin: password", policyAdmin, policyOther, users.Update{Password: str("a new password")}, ""},
		{"admin: everything", policyAdmin, policyOtherAdmin, users.Update{Plan: str("p"), Vendor: scope("v"), OrgID: str("o"), EmailVerified: &yes, Scope: scope("user")}, ""},
		// Nobody else.
		{"user on other: name", policyUser, policyOther, users.Update{Name: str("x")}, "-"},
		{"user on other: nothing", policyUser, policyOther, users.Update{}, "-"},
		{"disabled admin", policyDisabledAdmin, policyOther, users.Update{Name: str("x")}, "-"},
		{"disabled user on self", policyDisabledUser, policyDisabledUser, users.Update{Name: str("x")}, "-"},
		{"nil actor", nil, policyOther, users.Update{Name: str("x")}, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := users.AuthorizeUpdate(tt.actor, tt.target, tt.p)
			switch tt.field {
			case "":
				assert.NoError(t, err)
			case "-":
				assert.ErrorIs(t, err, users.ErrForbidden)
			default:
				assert.ErrorIs(t, err, users.ErrForbidden)
				assertCode(t, err, users.CodeForbidden, tt.field)
			}
		})
	}
}

func TestNormalizePermissions(t *testing.T) {
	many := func(n int) map[string]users.Permission {
		m := make(map[string]users.Permission, n)
		for i := range n {
			m[fmt.Sprintf("resource%03d", i)] = users.PermissionRead
		}
		return m
	}
	tests := []struct {
		name  string
		perms map[string]users.Permission
		want  map[string]users.Permission
		ok    bool
	}{
		{"nil", nil, nil, true},
		{"empty is nil", map[string]users.Permission{}, nil, true},
		{"every level", map[string]users.Permission{"users": "read", "billing": "write", "reports": "admin"},
			map[string]users.Permission{"users": "read", "billing": "write", "reports": "admin"}, true},
		{"as many as allowed", many(users.MaxListLength), many(users.MaxListLength), true},
		{"longest resource", map[string]users.Permission{strings.Repeat("r", users.MaxRoleLength): "read"},
			map[string]users.Permission{strings.Repeat("r", users.MaxRoleLength): "read"}, true},
		{"too many", many(users.MaxListLength + 1), nil, false},
		{"unknown level", map[string]users.Permission{"users": "owner"}, nil, false},
		{"empty level", map[string]users.Permission{"users": ""}, nil, false},
		{"level in capitals", map[string]users.Permission{"users": "READ"}, nil, false},
		{"empty resource", map[string]users.Permission{"": "read"}, nil, false},
		{"resource with spaces around", map[string]users.Permission{" users": "read"}, nil, false},
		{"resource too long", map[string]users.Permission{strings.Repeat("r", users.MaxRoleLength+1): "read"}, nil, false},
		{"control character", map[string]users.Permission{"us\x00ers": "read"}, nil, false},
		{"invalid UTF-8", map[string]users.Permission{"us\xffers": "read"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &users.User{Username: alice, Permissions: tt.perms}
			err := u.Normalize()
			if !tt.ok {
				assert.ErrorIs(t, err, users.ErrInvalid)
				assertCode(t, err, users.CodeInvalid, "permissions")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, u.Permissions)
		})
	}

	t.Run("through the Service", func(t *testing.T) {
		h := newHarness(t)
		ctx := context.Background()
		_, err := h.svc.Create(ctx, users.NewUser{Username: alice, Permissions: map[string]users.Permission{"users": "owner"}})
		assertCode(t, err, users.CodeInvalid, "permissions")
		in := map[string]users.Permission{"users": "write"}
		u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Permissions: in})
		require.NoError(t, err)
		in["users"] = "admin"
		assert.Equal(t, map[string]users.Permission{"users": "write"}, u.Permissions, "the caller's map is not kept")
		replace := map[string]users.Permission{"billing": "read"}
		u, err = h.svc.Update(ctx, u.ID, users.Update{Permissions: &replace})
		require.NoError(t, err)
		assert.Equal(t, replace, u.Permissions, "replaced whole")
		bad := map[string]users.Permission{"users": "sudo"}
		_, err = h.svc.Update(ctx, u.ID, users.Update{Permissions: &bad})
		assertCode(t, err, users.CodeInvalid, "permissions")
		none := map[string]users.Permission{}
		u, err = h.svc.Update(ctx, u.ID, users.Update{Permissions: &none})
		require.NoError(t, err)
		assert.Nil(t, u.Permissions)
	})
}

func TestPermissionIncludes(t *testing.T) {
	levels := []users.Permission{"", "owner", users.PermissionRead, users.PermissionWrite, users.PermissionAdmin}
	// want[p] lists the levels p includes.
	want := map[users.Permission][]users.Permission{
		users.PermissionRead:  {users.PermissionRead},
		users.PermissionWrite: {users.PermissionRead, users.PermissionWrite},
		users.PermissionAdmin: {users.PermissionRead, users.PermissionWrite, users.PermissionAdmin},
	}
	for _, p := range levels {
		for _, q := range levels {
			t.Run(fmt.Sprintf("%q includes %q", p, q), func(t *testing.T) {
				assert.Equal(t, slices.Contains(want[p], q), p.Includes(q))
			})
		}
		assert.Equal(t, want[p] != nil, p.Valid(), "%q valid", p)
	}
}

// Actors and targets of delegated administration: permissions on users, and organization
// administrators.
var (
	reader = &users.User{ID: "reader", Scope: []string{"user"}, Status: users.StatusActive,
		Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionRead}}
	writer = &users.User{ID: "writer", Scope: []string{"user", "editor"}, Status: users.StatusActive,
		Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionWrite, "billing": users.PermissionRead}}
	disabledWriter = &users.User{ID: "dwriter", Scope: []string{"user"}, Status: users.StatusDisabled,
		Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionAdmin}}
	orgAdmin         = &users.User{ID: "orgadmin", Scope: []string{"user", users.RoleOrgAdmin}, OrgID: "acme", Status: users.StatusActive}
	orgAdminNoOrg    = &users.User{ID: "orgadmin-noorg", Scope: []string{"user", users.RoleOrgAdmin}, Status: users.StatusActive}
	orgAdminReader   = &users.User{ID: "orgadmin-reader", Scope: []string{"user", users.RoleOrgAdmin}, OrgID: "acme", Status: users.StatusActive, Permissions: reader.Permissions}
	pendingOrgAdmin  = &users.User{ID: "orgadmin-pending", Scope: []string{"user", users.RoleOrgAdmin}, OrgID: "acme", Status: users.StatusPending}
	plainTarget      = &users.User{ID: "plain", Scope: []string{"user"}, Status: users.StatusActive}
	editorTarget     = &users.User{ID: "editor", Scope: []string{"user", "editor"}, Status: users.StatusActive}
	supportTarget    = &users.User{ID: "support", Scope: []string{"user", "support"}, Status: users.StatusActive}
	usersWriteTarget = &users.User{ID: "uw", Scope: []string{"user"}, Status: users.StatusActive,
		Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionWrite}}
	usersAdminTarget = &users.User{ID: "ua", Scope: []string{"user"}, Status: users.StatusActive,
		Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionAdmin}}
	billingTarget = &users.User{ID: "billing", Scope: []string{"user"}, Status: users.StatusActive,
		Permissions: map[string]users.Permission{"billing": users.PermissionWrite}}
	acmeUser     = &users.User{ID: "acme-user", Scope: []string{"user"}, OrgID: "acme", Status: users.StatusActive}
	acmeOrgAdmin = &users.User{ID: "acme-orgadmin", Scope: []string{"user", users.RoleOrgAdmin}, OrgID: "acme", Status: users.StatusActive}
	acmeAdmin    = &users.User{ID: "acme-admin", Scope: []string{"user", users.RoleAdmin}, OrgID: "acme", Status: users.StatusActive}
	acmeReader   = &users.User{ID: "acme-reader", Scope: []string{"user"}, OrgID: "acme", Status: users.StatusActive, Permissions: reader.Permissions}
	globexUser   = &users.User{ID: "globex-user", Scope: []string{"user"}, OrgID: "globex", Status: users.StatusActive}
)

func TestCan(t *testing.T) {
	tests := []struct {
		name     string
		u        *users.User
		resource string
		level    users.Permission
		want     bool
	}{
		{"nil", nil, users.ResourceUsers, users.PermissionRead, false},
		{"admin, any resource", policyAdmin, "anything", users.PermissionAdmin, true},
		{"disabled admin", policyDisabledAdmin, users.ResourceUsers, users.PermissionRead, false},
		{"reader reads", reader, users.ResourceUsers, users.PermissionRead, true},
		{"reader writes", reader, users.ResourceUsers, users.PermissionWrite, false},
		{"writer reads", writer, users.ResourceUsers, users.PermissionRead, true},
		{"writer writes", writer, users.ResourceUsers, users.PermissionWrite, true},
		{"writer administers", writer, users.ResourceUsers, users.PermissionAdmin, false},
		{"writer, another resource", writer, "billing", users.PermissionRead, true},
		{"writer, another resource above", writer, "billing", users.PermissionWrite, false},
		{"writer, a resource not held", writer, "reports", users.PermissionRead, false},
		{"admin, an undefined level", policyAdmin, users.ResourceUsers, "bogus", false},
		{"writer, an undefined level", writer, users.ResourceUsers, "", false},
		{"writer, unknown level", writer, users.ResourceUsers, "owner", false},
		{"inactive with admin permission", disabledWriter, users.ResourceUsers, users.PermissionRead, false},
		{"no permissions", policyUser, users.ResourceUsers, users.PermissionRead, false},
		{"an organization administrator holds no permission", orgAdmin, users.ResourceUsers, users.PermissionRead, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, users.Can(tt.u, tt.resource, tt.level))
		})
	}
}

// outcome is what Authorize answers.
type outcome int

const (
	allowed outcome = iota
	forbidden
	hidden // ErrNotFound: another organization's user
)

func (o outcome) check(t *testing.T, err error) {
	t.Helper()
	switch o {
	case allowed:
		assert.NoError(t, err)
	case forbidden:
		assert.ErrorIs(t, err, users.ErrForbidden)
		assert.NotErrorIs(t, err, users.ErrNotFound)
	case hidden:
		assert.ErrorIs(t, err, users.ErrNotFound)
		assert.NotErrorIs(t, err, users.ErrForbidden)
	}
}

// writeActions are the actions on a user that need write on ResourceUsers.
var writeActions = []users.Action{users.ActionCreate, users.ActionUpdate, users.ActionApprove, users.ActionDelete,
	users.ActionSetPassword, users.ActionRevokeSessions, users.ActionManageKeys, users.ActionSetImage}

func TestAuthorizeDelegated(t *testing.T) {
	tests := []struct {
		name   string
		actor  *users.User
		target *users.User
		read   outcome // ActionRead
		write  outcome // every action of writeActions
		create outcome // ActionCreate, when it differs from write
	}{
		{"reader on a user", reader, plainTarget, allowed, forbidden, forbidden},
		{"reader on an admin", reader, policyAdmin, allowed, forbidden, forbidden},
		{"writer on a user", writer, plainTarget, allowed, allowed, allowed},
		{"writer on a user of another organization", writer, globexUser, allowed, allowed, allowed},
		{"writer on a role they hold", writer, editorTarget, allowed, allowed, allowed},
		{"writer on a role they lack", writer, supportTarget, allowed, forbidden, forbidden},
		{"writer on an admin", writer, policyAdmin, allowed, forbidden, forbidden},
		{"writer on an organization administrator", writer, acmeOrgAdmin, allowed, forbidden, forbidden},
		{"writer on the permission they hold", writer, usersWriteTarget, allowed, allowed, allowed},
		{"writer on a permission above theirs", writer, usersAdminTarget, allowed, forbidden, forbidden},
		{"writer on a permission of another resource above theirs", writer, billingTarget, allowed, forbidden, forbidden},
		{"disabled holder of admin permission", disabledWriter, plainTarget, forbidden, forbidden, forbidden},
		{"organization administrator on their organization's user", orgAdmin, acmeUser, allowed, allowed, allowed},
		{"organization administrator on another one of their organization", orgAdmin, acmeOrgAdmin, allowed, allowed, allowed},
		{"organization administrator on an admin of their organization", orgAdmin, acmeAdmin, allowed, forbidden, forbidden},
		{"organization administrator on a permission holder of their organization", orgAdmin, acmeReader, allowed, forbidden, forbidden},
		{"organization administrator on another organization's user", orgAdmin, globexUser, hidden, hidden, forbidden},
		{"organization administrator on a user of no organization", orgAdmin, plainTarget, hidden, hidden, forbidden},
		{"organization administrator on an admin of another organization", orgAdmin, policyAdmin, hidden, hidden, forbidden},
		{"organization administrator with read, on another organization's user", orgAdminReader, globexUser, allowed, hidden, forbidden},
		{"organization administrator without an organization", orgAdminNoOrg, plainTarget, forbidden, forbidden, forbidden},
		{"pending organization administrator", pendingOrgAdmin, acmeUser, forbidden, forbidden, forbidden},
		{"plain user on another", policyOther, plainTarget, forbidden, forbidden, forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.read.check(t, users.Authorize(tt.actor, users.ActionRead, tt.target))
			for _, action := range writeActions {
				t.Run(string(action), func(t *testing.T) {
					want := tt.write
					if action == users.ActionCreate {
						want = tt.create
					}
					want.check(t, users.Authorize(tt.actor, action, tt.target))
				})
			}
			for _, action := range []users.Action{users.ActionImport, users.ActionExport} {
				assert.ErrorIs(t, users.Authorize(tt.actor, action, nil), users.ErrForbidden, action)
			}
		})
	}
}

func TestAuthorizeWithoutTarget(t *testing.T) {
	tests := []struct {
		name  string
		actor *users.User
		want  map[users.Action]bool // actions allowed with a nil target; the rest are forbidden
	}{
		{"admin", policyAdmin, map[users.Action]bool{users.ActionList: true, users.ActionCreate: true, users.ActionImport: true, users.ActionExport: true}},
		{"reader", reader, map[users.Action]bool{users.ActionList: true}},
		{"writer", writer, map[users.Action]bool{users.ActionList: true, users.ActionCreate: true}},
		{"organization administrator", orgAdmin, map[users.Action]bool{users.ActionList: true, users.ActionCreate: true}},
		{"plain user", policyUser, map[users.Action]bool{}},
		{"disabled admin", policyDisabledAdmin, map[users.Action]bool{}},
	}
	for _, tt := range tests {
		for _, action := range []users.Action{users.ActionList, users.ActionCreate, users.ActionImport, users.ActionExport} {
			t.Run(tt.name+"/"+string(action), func(t *testing.T) {
				err := users.Authorize(tt.actor, action, nil)
				if tt.want[action] {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, users.ErrForbidden)
				}
			})
		}
	}
}

func TestAuthorizeSelf(t *testing.T) {
	selfActions := map[users.Action]bool{users.ActionRead: true, users.ActionUpdate: true, users.ActionRevokeSessions: true,
		users.ActionManageKeys: true, users.ActionSetImage: true}
	for _, actor := range []*users.User{policyUser, writer, orgAdmin} {
		for _, action := range append(writeActions, users.ActionRead, users.ActionList) {
			if action == users.ActionCreate || action == users.ActionList {
				continue
			}
			t.Run(actor.ID+"/"+string(action), func(t *testing.T) {
				err := users.Authorize(actor, action, actor.Clone())
				if selfActions[action] {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, users.ErrForbidden, "not on themself, whatever they may do to others")
				}
			})
		}
	}
	for _, action := range append(writeActions, users.ActionRead) {
		assert.NoError(t, users.Authorize(policyAdmin, action, policyAdmin), "an admin on themself: %s", action)
	}
}

func TestAuthorizeCreate(t *testing.T) {
	tests := []struct {
		name   string
		actor  *users.User
		target *users.User
		want   outcome
	}{
		{"writer, a user", writer, &users.User{Scope: []string{"user"}}, allowed},
		{"writer, a role they hold", writer, &users.User{Scope: []string{"user", "editor"}}, allowed},
		{"writer, an admin", writer, &users.User{Scope: []string{"user", "admin"}}, forbidden},
		{"writer, the permission they hold", writer, &users.User{Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionWrite}}, allowed},
		{"writer, a lower permission", writer, &users.User{Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionRead}}, allowed},
		{"writer, a higher permission", writer, &users.User{Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionAdmin}}, forbidden},
		{"reader, a user", reader, &users.User{Scope: []string{"user"}}, forbidden},
		{"organization administrator, in their organization", orgAdmin, &users.User{Scope: []string{"user"}, OrgID: "acme"}, allowed},
		{"organization administrator, another in their organization", orgAdmin, &users.User{Scope: []string{users.RoleOrgAdmin}, OrgID: "acme"}, allowed},
		{"organization administrator, an admin in their organization", orgAdmin, &users.User{Scope: []string{"admin"}, OrgID: "acme"}, forbidden},
		{"organization administrator, in another organization", orgAdmin, &users.User{Scope: []string{"user"}, OrgID: "globex"}, forbidden},
		{"organization administrator, in no organization", orgAdmin, &users.User{Scope: []string{"user"}}, forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.check(t, users.Authorize(tt.actor, users.ActionCreate, tt.target))
		})
	}
}

func TestAuthorizeUpdateDelegated(t *testing.T) {
	str := func(s string) *string { return &s }
	scope := func(roles ...string) *[]string { return &roles }
	perms := func(kv ...string) *map[string]users.Permission {
		m := map[string]users.Permission{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = users.Permission(kv[i+1])
		}
		return &m
	}
	disabled := users.StatusDisabled
	tests := []struct {
		name   string
		actor  *users.User
		target *users.User
		p      users.Update
		field  string // "" when allowed; "-" for ErrForbidden without a field; "404" for ErrNotFound
	}{
		{"writer: name", writer, plainTarget, users.Update{Name: str("x")}, ""},
		{"writer: password", writer, plainTarget, users.Update{Password: str("a new password")}, ""},
		{"writer: disable", writer, plainTarget, users.Update{Status: &disabled}, ""},
		{"writer: plan", writer, plainTarget, users.Update{Plan: str("gold")}, ""},
		{"writer: move to an organization", writer, plainTarget, users.Update{OrgID: str("acme")}, ""},
		{"writer: grant a role they hold", writer, plainTarget, users.Update{Scope: scope("user", "editor")}, ""},
		{"writer: grant admin", writer, plainTarget, users.Update{Scope: scope("user", "admin")}, "scope"},
		{"writer: grant a role they lack", writer, plainTarget, users.Update{Scope: scope("user", "support")}, "scope"},
		{"writer: grant organization administration", writer, plainTarget, users.Update{Scope: scope("user", users.RoleOrgAdmin)}, "scope"},
		{"writer: grant their permission", writer, plainTarget, users.Update{Permissions: perms("users", "write", "billing", "read")}, ""},
		{"writer: grant a lower permission", writer, plainTarget, users.Update{Permissions: perms("users", "read")}, ""},
		{"writer: grant a permission above theirs", writer, plainTarget, users.Update{Permissions: perms("users", "admin")}, "permissions"},
		{"writer: grant a permission on another resource above theirs", writer, plainTarget, users.Update{Permissions: perms("billing", "write")}, "permissions"},
		{"writer: remove a permission they hold", writer, usersWriteTarget, users.Update{Permissions: perms()}, ""},
		{"writer: on an admin", writer, policyAdmin, users.Update{Name: str("x")}, "-"},
		{"writer: on a permission above theirs", writer, usersAdminTarget, users.Update{Permissions: perms()}, "-"},
		{"reader: name", reader, plainTarget, users.Update{Name: str("x")}, "-"},
		{"organization administrator: name", orgAdmin, acmeUser, users.Update{Name: str("x")}, ""},
		{"organization administrator: password", orgAdmin, acmeUser, users.Update{Password: str("a new password")}, ""},
		{"organization administrator: same organization", orgAdmin, acmeUser, users.Update{OrgID: str("acme")}, ""},
		{"organization administrator: another organization", orgAdmin, acmeUser, users.Update{OrgID: str("globex")}, "orgId"},
		{"organization administrator: no organization", orgAdmin, acmeUser, users.Update{OrgID: str("")}, "orgId"},
		{"organization administrator: grant admin", orgAdmin, acmeUser, users.Update{Scope: scope("user", "admin")}, "scope"},
		{"organization administrator: grant organization administration", orgAdmin, acmeUser, users.Update{Scope: scope("user", users.RoleOrgAdmin)}, ""},
		{"organization administrator: grant a permission", orgAdmin, acmeUser, users.Update{Permissions: perms("users", "read")}, "permissions"},
		{"organization administrator: on an admin of their organization", orgAdmin, acmeAdmin, users.Update{Name: str("x")}, "-"},
		{"organization administrator: on another organization", orgAdmin, globexUser, users.Update{Name: str("x")}, "404"},
		{"organization administrator: bring a user in", orgAdmin, globexUser, users.Update{OrgID: str("acme")}, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := users.AuthorizeUpdate(tt.actor, tt.target, tt.p)
			switch tt.field {
			case "":
				assert.NoError(t, err)
			case "-":
				assert.ErrorIs(t, err, users.ErrForbidden)
			case "404":
				assert.ErrorIs(t, err, users.ErrNotFound)
			default:
				assert.ErrorIs(t, err, users.ErrForbidden)
				assertCode(t, err, users.CodeForbidden, tt.field)
			}
		})
	}
}

func TestListOrg(t *testing.T) {
	tests := []struct {
		name    string
		actor   *users.User
		org     string
		limited bool
	}{
		{"nil", nil, "", false},
		{"admin", policyAdmin, "", false},
		{"admin of an organization", acmeAdmin, "", false},
		{"reader", reader, "", false},
		{"writer", writer, "", false},
		{"plain user", policyUser, "", false},
		{"organization administrator", orgAdmin, "acme", true},
		{"organization administrator with read on users", orgAdminReader, "", false},
		{"organization administrator without an organization", orgAdminNoOrg, "", false},
		{"user of an organization", acmeUser, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org, limited := users.ListOrg(tt.actor)
			assert.Equal(t, tt.org, org)
			assert.Equal(t, tt.limited, limited)
		})
	}
}

func TestAuthorizeUpdateNilTarget(t *testing.T) {
	name := "x"
	for _, actor := range []*users.User{policyAdmin, writer, reader} {
		assert.ErrorIs(t, users.AuthorizeUpdate(actor, nil, users.Update{Name: &name}), users.ErrForbidden, actor.Username)
	}
}
