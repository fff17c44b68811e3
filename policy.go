package users

import "slices"

// Action is something a caller may want to do to a user.
type Action string

// The actions Authorize decides on. Update is decided by AuthorizeUpdate, which also looks at
// what changes.
const (
	ActionRead           Action = "read"            // read the user's profile
	ActionList           Action = "list"            // list and count users (target is nil)
	ActionCreate         Action = "create"          // create a user with a full profile (target is nil)
	ActionUpdate         Action = "update"          // change the profile; see AuthorizeUpdate
	ActionDelete         Action = "delete"          // delete, poll and cancel the deletion
	ActionSetPassword    Action = "set-password"    // set the password without the current one
	ActionRevokeSessions Action = "revoke-sessions" // sign the user out everywhere
)

// IsAdmin reports whether u is an administrator: an active user with the admin role.
func IsAdmin(u *User) bool {
	return u != nil && u.Status == StatusActive && u.HasRole(RoleAdmin)
}

// Authorize decides whether actor may do action to target (nil for ActionList and
// ActionCreate). An administrator may do everything; a user may read their own profile and
// sign themself out everywhere, and nothing else. It returns nil or ErrForbidden.
// It is a pure function, safe for concurrent use.
func Authorize(actor *User, action Action, target *User) error {
	switch {
	case actor == nil || actor.Status != StatusActive:
		return ErrForbidden
	case IsAdmin(actor):
		return nil
	case target == nil || target.ID != actor.ID:
		return ErrForbidden
	}
	switch action {
	case ActionRead, ActionRevokeSessions, ActionUpdate:
		return nil
	}
	return ErrForbidden
}

// AuthorizeUpdate decides whether actor may apply p to target. An administrator may change
// anything of anyone else's, and of their own anything but their status and, beyond dropping
// roles, their scope. A user acting on themself may change their username, e-mail, name and
// metadata, drop roles from their scope and disable their account; never set a password
// without the current one (see Service.ChangePassword), raise their scope or status, or
// change plan, vendor, components, organization or verification. Nobody else may update.
// It returns nil or an ErrForbidden naming the field at fault. It is a pure function.
func AuthorizeUpdate(actor, target *User, p Update) error {
	if err := Authorize(actor, ActionUpdate, target); err != nil {
		return err
	}
	self := target.ID == actor.ID
	if !self {
		return nil // an administrator acting on someone else
	}
	forbid := func(field string) error {
		return &Error{Code: CodeForbidden, Field: field, Message: "you may not change this of your own account"}
	}
	if p.Scope != nil {
		for _, role := range *p.Scope {
			if !slices.Contains(target.Scope, role) {
				return forbid("scope")
			}
		}
	}
	if p.Status != nil && *p.Status != target.Status && *p.Status != StatusDisabled {
		return forbid("status")
	}
	if IsAdmin(actor) {
		return nil
	}
	switch {
	case p.Password != nil:
		return forbid("password")
	case p.Plan != nil:
		return forbid("plan")
	case p.Vendor != nil:
		return forbid("vendor")
	case p.AllowedPrivateComponents != nil:
		return forbid("allowedPrivateComponents")
	case p.OrgID != nil:
		return forbid("orgId")
	case p.EmailVerified != nil:
		return forbid("emailVerified")
	}
	return nil
}
