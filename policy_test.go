package users_test

import (
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
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
