package users

import "slices"

// Action is something a caller may want to do to a user.
type Action string

// The actions Authorize decides on. Update is decided by AuthorizeUpdate, which also looks at
// what changes.
const (
	ActionRead           Action = "read"            // read the user's profile and image
	ActionList           Action = "list"            // list and count users (target is nil)
	ActionCreate         Action = "create"          // create a user with a full profile (target: the user to be, or nil)
	ActionUpdate         Action = "update"          // change the profile; see AuthorizeUpdate
	ActionApprove        Action = "approve"         // approve a pending user
	ActionDelete         Action = "delete"          // delete, poll and cancel the deletion
	ActionSetPassword    Action = "set-password"    // set or generate the password without the current one
	ActionRevokeSessions Action = "revoke-sessions" // sign the user out everywhere, and revoke their API keys
	ActionManageKeys     Action = "manage-keys"     // list and revoke the user's API keys
	ActionCreateKey      Action = "create-key"      // create or rotate an API key of the user: mint a credential
	ActionSetImage       Action = "set-image"       // replace or remove the user's profile image
	ActionImport         Action = "import"          // import users with their hashes (target is nil)
	ActionExport         Action = "export"          // export every user with their hash (target is nil)
)

// RoleOrgAdmin is the role of an organization's administrator: they may manage the users of
// their own organization (their OrgID), and see no other.
const RoleOrgAdmin = "orgadmin"

// IsAdmin reports whether u is an administrator: an active user with the admin role.
func IsAdmin(u *User) bool {
	return u != nil && u.Status == StatusActive && u.HasRole(RoleAdmin)
}

// Can reports whether u may act on resource at level: level is a defined level, u is active,
// and u is an administrator or holds a permission on resource that includes level. It is a pure function, safe for
// concurrent use.
func Can(u *User, resource string, level Permission) bool {
	if u == nil || u.Status != StatusActive {
		return false
	}
	return level.Valid() && (u.HasRole(RoleAdmin) || u.Permissions[resource].Includes(level))
}

// errHidden is the answer to an organization administrator acting on a user of another
// organization: as if the user did not exist.
var errHidden = &Error{Code: CodeNotFound, Message: "user not found"}

// Authorize decides whether actor may do action to target (nil for ActionList, ActionImport
// and ActionExport; for ActionCreate, the user as it would be created, or nil to ask whether
// actor may create users at all). It returns nil, ErrForbidden, or ErrNotFound when actor is an
// organization administrator and target belongs to another organization.
//
//   - An administrator may do everything.
//   - A user may read their own profile, sign themself out everywhere, create, rotate, list
//     and revoke their own API keys, manage their image, and update what AuthorizeUpdate
//     allows.
//   - A user holding read on ResourceUsers may also list and read every user; one holding
//     write may also create, update, approve, delete, set passwords and revoke sessions,
//     keys and images of users who hold no role or permission that they do not hold.
//   - An organization administrator (RoleOrgAdmin with an OrgID) may do what write on
//     ResourceUsers allows, within their organization only.
//   - An API key is a credential of its owner: only they and an administrator may mint one
//     (ActionCreateKey); a delegated administrator may list and revoke keys, never mint them.
//   - Importing and exporting are for administrators only.
//
// Authorize decides on roles and permissions only. What needs a session rather than an API
// key, and what a user who must change their password may do, the Service decides for the
// actor of a call (see WithActor).
//
// It is a pure function, safe for concurrent use.
func Authorize(actor *User, action Action, target *User) error {
	switch {
	case actor == nil || actor.Status != StatusActive:
		return ErrForbidden
	case IsAdmin(actor):
		return nil
	case action == ActionImport || action == ActionExport:
		return ErrForbidden
	case target != nil && target.ID == actor.ID && action != ActionCreate:
		switch action {
		case ActionRead, ActionRevokeSessions, ActionUpdate, ActionManageKeys, ActionCreateKey, ActionSetImage:
			return nil
		}
		return ErrForbidden
	case action == ActionCreateKey:
		// Only the owner and an administrator mint keys. Whom a delegated administrator may
		// not manage at all, or does not know of (a nil target), gets the answer of managing
		// keys, so that a hidden or unknown user stays so.
		if err := Authorize(actor, ActionManageKeys, target); err != nil || target == nil {
			return err
		}
		return ErrForbidden
	}
	level := PermissionWrite
	if action == ActionRead || action == ActionList {
		level = PermissionRead
	}
	if Can(actor, ResourceUsers, level) {
		if level == PermissionWrite && target != nil && exceeds(target, actor) {
			return ErrForbidden
		}
		return nil
	}
	if isOrgAdmin(actor) {
		switch {
		case target == nil:
			return nil
		case target.OrgID != actor.OrgID && action == ActionCreate:
			return ErrForbidden // creating in another organization reveals nothing to hide
		case target.OrgID != actor.OrgID:
			return errHidden
		case level == PermissionWrite && exceeds(target, actor):
			return ErrForbidden
		}
		return nil
	}
	return ErrForbidden
}

// isOrgAdmin reports whether u administers an organization.
func isOrgAdmin(u *User) bool { return u.OrgID != "" && u.HasRole(RoleOrgAdmin) }

// ListOrg tells whether actor's lists and counts of users must be limited to one organization,
// and which: true and the actor's OrgID for an organization administrator without read on
// ResourceUsers; false for everyone else (Authorize decides whether they may list at all).
// It is a pure function.
func ListOrg(actor *User) (orgID string, limited bool) {
	if actor == nil || Can(actor, ResourceUsers, PermissionRead) || !isOrgAdmin(actor) {
		return "", false
	}
	return actor.OrgID, true
}

// exceeds reports whether u holds a role (other than RoleUser) or a permission that actor
// does not: what a delegated administrator may neither grant nor act upon.
func exceeds(u, actor *User) bool {
	for _, role := range u.Scope {
		if role != RoleUser && !actor.HasRole(role) {
			return true
		}
	}
	for res, level := range u.Permissions {
		if !actor.Permissions[res].Includes(level) {
			return true
		}
	}
	return false
}

// AuthorizeUpdate decides whether actor may apply p to target.
//
//   - An administrator may change anything of anyone else's, and of their own anything but
//     their status and, beyond dropping roles, their scope.
//   - A user acting on themself may change their username, e-mail, name and metadata, drop
//     roles from their scope and disable their account; never set a password without the
//     current one (see Service.ChangePassword), raise their scope or status, or change plan,
//     vendor, components, organization, verification, permissions or whether they may reset
//     their password.
//   - A delegated administrator (see Authorize) may update the users they may act on, as long
//     as the result holds no role or permission that they do not hold themself; an
//     organization administrator may not move a user to another organization.
//
// It returns nil, an ErrForbidden naming the field at fault (ErrForbidden for a nil target), or
// the ErrNotFound of Authorize. It is a pure function.
func AuthorizeUpdate(actor, target *User, p Update) error {
	if target == nil {
		return ErrForbidden
	}
	if err := Authorize(actor, ActionUpdate, target); err != nil {
		return err
	}
	forbid := func(field string) error {
		return &Error{Code: CodeForbidden, Field: field, Message: "you may not make this change"}
	}
	if target.ID != actor.ID {
		if IsAdmin(actor) {
			return nil
		}
		// A delegated administrator: what they may grant is bounded by what they hold.
		after := &User{Scope: target.Scope, Permissions: target.Permissions}
		if p.Scope != nil {
			after.Scope = *p.Scope
		}
		if p.Permissions != nil {
			after.Permissions = *p.Permissions
		}
		switch {
		case p.Scope != nil && exceeds(&User{Scope: after.Scope}, actor):
			return forbid("scope")
		case p.Permissions != nil && exceeds(&User{Permissions: after.Permissions}, actor):
			return forbid("permissions")
		case p.OrgID != nil && *p.OrgID != target.OrgID && !Can(actor, ResourceUsers, PermissionWrite):
			return forbid("orgId")
		}
		return nil
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
	case p.Permissions != nil:
		return forbid("permissions")
	case p.PasswordResetAllowed != nil:
		return forbid("passwordResetAllowed")
	}
	return nil
}
