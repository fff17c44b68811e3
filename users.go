// Package users is an embeddable user-management library: sign-up and registration with e-mail
// verification, approval, sign-in with bearer tokens and API keys, password change,
// administrator reset and forgot-and-reset, permissions and organization administrators,
// profile images, listing with filters, import and export with password hashes, and deletion
// through a pollable ticket.
//
// An app builds a Service with New over a Store (the memory subpackage, or sqlite for a durable
// one) and calls it: every business rule lives there. EnsureAdmin gives a new installation its
// first administrator. A trusted Go caller uses the Service directly; the pure functions of the
// policy (Authorize, AuthorizeUpdate, Can) decide who may do what when the caller is not
// trusted, for any transport (the httpadapter subpackage applies them to a REST API). Errors
// are *Error values carrying a Code, matched with errors.Is against ErrInvalid, ErrNotFound,
// ErrConflict and the other sentinels. An app's own tests build the Service with the
// userstest subpackage.
//
// Secrets never leave the package: the password hash is not marshalled (but by MarshalRecord,
// which writes it for Export on purpose), and no error message, log line or event carries a
// password, hash, token or code.
//
// # Usernames and e-mail addresses
//
// A username is an e-mail address or, with Config.Usernames set to UsernameHandle, a handle
// such as "alice_92" beside an optional e-mail address. Names are prepared before they are
// stored, so that no two users' names look alike (see NameRules for every rule):
//
//   - the local part of an address and a handle follow the PRECIS username profiles of
//     RFC 8265: fullwidth letters become plain ones, accents are composed, and invisible or
//     formatting characters (zero-width space, soft hyphen, byte-order mark, right-to-left
//     override), spaces and emoji are refused; a handle is lower-cased;
//   - their letters must be of one script, so a Cyrillic "а" among Latin letters is refused,
//     unless Config.AllowMixedScripts;
//   - a domain is lower-cased, and an internationalized one stored in its ASCII ("xn--") form.
//
// Uniqueness and look-ups then go by Fold, which every Store keys users by: NFKC with full
// case folding, invisible characters dropped, so that names differing only in case (beyond
// ASCII too: "ß" and "ss"), width or composition are one user. A refused name is an
// ErrInvalid naming the field, with a message that says what to change.
//
// # Who acts
//
// A call whose context carries an actor (WithActor, with the Principal that Authenticate
// returns; the HTTP adapter sets it on every authenticated request) is decided for that actor
// by the policy, against the target as it is read in the transaction that changes it: a
// concurrent change of the target between the check and the write makes the call fail, never
// land on a user the actor may not act on. A call without an actor comes from trusted code.
//
// # Credentials
//
// Sessions, API keys, password-reset codes and e-mail verification codes are credentials.
// These rules hold for every way to issue, use or change one:
//
//  1. An API key is a credential of its owner, and no one else mints it. A user creates (and
//     rotates) their own keys; only a full administrator may create one for another user,
//     who is mailed at once (MailAPIKeyCreated), and the key records who created it
//     (APIKey.CreatedBy). A delegated administrator may list and revoke the keys of the users
//     they manage, never mint them.
//  2. Recovering or resetting a password revokes every credential. A forgot-password reset,
//     an administrator's set or generated password, and a status other than active revoke
//     every session, code and API key of the user. A change of password with the current one
//     revokes every other session, every code and every API key: the caller's own session
//     stays. A change of scope, permissions or organization revokes the user's API keys: a
//     key never gains power it did not have when it was made. A new e-mail address voids the
//     codes mailed to the old one.
//  3. A key is not a session. Principal.Kind tells them apart; minting or rotating keys,
//     changing the password, e-mail address or username, and acting on another user's
//     credentials need a session (ErrSessionRequired). Signing out with an API key revokes
//     the key.
//  4. Changing one's own e-mail address, username or password needs the current password
//     (Update.CurrentPassword, PasswordChange.OldPassword), throttled as sign-in is, and the
//     old address is mailed about it (MailEmailChanged, MailUsernameChanged,
//     MailPasswordChanged). A user without a password sets one first.
//  5. Sign-up never bypasses the rules: SignUp registers (no session) when
//     Config.RequireVerifiedEmail or Config.RequireApproval is set; Register, ForgotPassword,
//     ResendVerification, SignIn and ChangePassword by e-mail answer alike whether or not an
//     account exists.
//  6. Check and act on the same version: see Who acts. A version given in an Update narrows
//     this, never widens it.
//  7. No session outlives a revocation: a session is issued in the transaction that reads
//     the user again, so a sign-in whose password check raced a reset, a disabling or a
//     deletion fails instead.
//  8. A user marked MustChangePassword may read themself, change their password and sign
//     out; anything else they ask is ErrPasswordChangeRequired.
//  9. Pending means pending: verification proves an address and never activates; only
//     Approve or an update of the status does.
//  10. The last active administrator cannot be deleted, disabled or demoted (ErrConflict).
//  11. A deletion ticket remembers the user's organization, so that who may read it is still
//     decided once the user is gone.
//
// # Writing a Store
//
// A Store keeps what the Service gives it and decides nothing; its contract is in the doc
// comments of Store and Query, and the storetest subpackage checks an implementation against
// it. These names are for store authors, and an app does not need them:
//
//   - [Fold]: the case-folded key under which usernames and e-mail addresses are unique.
//   - [CanonicalTime]: times as every store keeps and compares them.
//   - [Query.Normalize], [FieldKindOf] and [MetadataPrefix]: a query checked and in canonical form,
//     and the kind of each field, for a store that translates queries.
//   - [Query.Match], [Condition.Match], [Query.Compare] and [Like]: the query semantics in Go, for a
//     store that filters in memory; a store that translates queries must answer identically.
//   - [NotFoundError] and [ConflictError]: the errors a Store returns.
//   - [User.Clone], [Ticket.Clone], [Image.Clone] and [Token.Expired]: copies in and out, and expiry.
package users

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Status is the state of an account.
type Status string

// The account statuses. Only an active user can sign in.
const (
	StatusPending  Status = "pending"  // created, awaiting an administrator's approval
	StatusActive   Status = "active"   // may sign in
	StatusDisabled Status = "disabled" // may not sign in; sessions were revoked
)

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	return s == StatusPending || s == StatusActive || s == StatusDisabled
}

// The built-in roles of the Scope field.
const (
	RoleUser  = "user"  // every user unless told otherwise
	RoleAdmin = "admin" // may manage every user
)

// Limits on the fields of a User, enforced by Validate.
const (
	MaxUsernameLength = 254 // the longest e-mail address SMTP carries
	MaxNameLength     = 256
	MaxRoleLength     = 64
	MaxListLength     = 100      // scope, vendor and allowedPrivateComponents entries
	MaxMetadataBytes  = 64 << 10 // metadata, marshalled as JSON
	MaxMetadataDepth  = 32       // nested objects and arrays of metadata, itself the first
)

// User is an account. Username has e-mail form, or is a handle (see Config.Usernames), and is
// unique under Fold; so is Email when set. Both are prepared by NameRules so that no two users'
// names look alike. The password hash is never marshalled to JSON.
//
// A User returned by a Store or the Service is the caller's own copy.
type User struct {
	ID                       string         `json:"id"`
	Username                 string         `json:"username"`
	Email                    string         `json:"email,omitempty"`
	Name                     string         `json:"name,omitempty"`
	Scope                    []string       `json:"scope"`
	Plan                     string         `json:"plan,omitempty"`
	Vendor                   []string       `json:"vendor,omitempty"`
	AllowedPrivateComponents []string       `json:"allowedPrivateComponents,omitempty"`
	OrgID                    string         `json:"orgId,omitempty"`
	Status                   Status         `json:"status"`
	EmailVerified            bool           `json:"emailVerified"`
	Metadata                 map[string]any `json:"metadata"`
	// Permissions grant levels of access to named resources, beside the roles of Scope: see
	// Can. The adapter reads ResourceUsers; apps may define their own resources.
	Permissions map[string]Permission `json:"permissions,omitempty"`
	// MustChangePassword is set when an administrator generated the user's password (see
	// Service.GeneratePassword), and cleared by the user's next password change.
	MustChangePassword bool      `json:"mustChangePassword"`
	Created            time.Time `json:"created"`
	Updated            time.Time `json:"updated"`
	Version            int64     `json:"version"`

	// PasswordResetDisallowed turns off ForgotPassword for this user: no code is mailed,
	// though the answer is the same. JSON shows its negation, passwordResetAllowed.
	PasswordResetDisallowed bool `json:"-"`
	// PasswordHash is the encoded password hash (argon2id by default), or "" for a user who
	// has no password and so cannot sign in with one. It is never marshalled.
	PasswordHash string `json:"-"`
}

// Permission is a level of access to a resource. Each level includes the ones below it:
// admin includes write, which includes read.
type Permission string

// The permission levels, lowest first.
const (
	PermissionRead  Permission = "read"
	PermissionWrite Permission = "write"
	PermissionAdmin Permission = "admin"
)

// ResourceUsers is the resource of the users API: a user holding read on it may list and read
// users, and write may manage them (see Authorize).
const ResourceUsers = "users"

// rank orders the levels; 0 for an unknown one.
func (p Permission) rank() int {
	switch p {
	case PermissionRead:
		return 1
	case PermissionWrite:
		return 2
	case PermissionAdmin:
		return 3
	}
	return 0
}

// Valid reports whether p is one of the defined levels.
func (p Permission) Valid() bool { return p.rank() > 0 }

// Includes reports whether p grants at least the level q. An unknown level includes nothing
// and is included by nothing.
func (p Permission) Includes(q Permission) bool { return q.rank() > 0 && p.rank() >= q.rank() }

// IsActive reports whether the user's status is active.
func (u *User) IsActive() bool { return u.Status == StatusActive }

// HasRole reports whether the user's scope contains role.
func (u *User) HasRole(role string) bool { return slices.Contains(u.Scope, role) }

// MarshalJSON encodes the user in the camelCase shape of the REST API, adding the derived
// isActive, hasPassword and passwordResetAllowed, and leaving out the password hash. A nil Metadata is written as {}.
func (u User) MarshalJSON() ([]byte, error) {
	type plain User // no methods: avoids recursion
	meta := u.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	p := plain(u)
	p.Metadata = meta
	return json.Marshal(struct {
		plain
		IsActive             bool `json:"isActive"`
		HasPassword          bool `json:"hasPassword"`
		PasswordResetAllowed bool `json:"passwordResetAllowed"`
	}{p, u.IsActive(), u.PasswordHash != "", !u.PasswordResetDisallowed})
}

// Clone returns a deep copy of u: mutating the copy, its slices or its metadata never changes u.
// It returns nil for nil.
func (u *User) Clone() *User {
	if u == nil {
		return nil
	}
	// The common case, a scope of one or two roles, is copied in the same allocation as the
	// user. Capacity equals length, so an append by the caller copies instead of sharing.
	var c *User
	if n := len(u.Scope); n > 0 && n <= 2 {
		b := &struct {
			u     User
			scope [2]string
		}{u: *u}
		copy(b.scope[:], u.Scope)
		b.u.Scope = b.scope[:n:n]
		c = &b.u
	} else {
		c = new(User)
		*c = *u
		c.Scope = slices.Clone(u.Scope)
	}
	c.Vendor = slices.Clone(u.Vendor)
	c.AllowedPrivateComponents = slices.Clone(u.AllowedPrivateComponents)
	c.Metadata = cloneJSONObject(u.Metadata)
	c.Permissions = maps.Clone(u.Permissions)
	return c
}

// cloneJSONObject deep-copies an object made of the types encoding/json decodes into.
func cloneJSONObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = cloneJSONValue(v)
	}
	return c
}

func cloneJSONValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneJSONObject(v)
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cloneJSONValue(e)
		}
		return c
	default:
		return v // string, float64, bool, nil, json.Number: immutable
	}
}

// NormalizeUsername prepares and checks a username under the default NameRules: an e-mail
// address. It returns ErrInvalid naming the field "username" otherwise.
func NormalizeUsername(s string) (string, error) {
	return NameRules{}.Username(s)
}

// NormalizeEmail prepares and checks an e-mail address under the default NameRules.
// It returns ErrInvalid naming the field "email" otherwise.
func NormalizeEmail(s string) (string, error) {
	return NameRules{}.Email(s)
}

// Normalize is NormalizeWith under the default NameRules.
func (u *User) Normalize() error { return u.NormalizeWith(NameRules{}) }

// NormalizeWith brings u into canonical form in place and validates it: it prepares and checks
// the username and e-mail by r (under UsernameEmail the e-mail defaults to the username; under
// UsernameHandle it is optional), trims the name, defaults the scope to [user] and the status
// to active, removes duplicate and blank list entries, and makes the metadata a plain JSON
// object (numbers as float64). It returns an ErrInvalid *Error naming the first field at
// fault. It does not touch ID, times, version or the hash.
func (u *User) NormalizeWith(r NameRules) error { return u.normalize(r, nil) }

// normalize is NormalizeWith; when cur is not nil, u is an update of cur, and a username or
// e-mail address equal to cur's is kept as stored, so that a user made under older or other
// rules stays editable.
func (u *User) normalize(r NameRules, cur *User) error {
	var err error
	keepUsername := cur != nil && u.Username == cur.Username
	keepEmail := cur != nil && u.Email == cur.Email && u.Email != ""
	if !keepUsername {
		if u.Username, err = r.Username(u.Username); err != nil {
			return err
		}
	}
	switch {
	case keepEmail:
	case strings.TrimSpace(u.Email) == "" && r.Usernames == UsernameEmail:
		u.Email = u.Username
	case strings.TrimSpace(u.Email) == "":
		u.Email = ""
	default:
		if u.Email, err = r.Email(u.Email); err != nil {
			return err
		}
	}
	u.Name = strings.TrimSpace(u.Name)
	u.Plan = strings.TrimSpace(u.Plan)
	u.OrgID = strings.TrimSpace(u.OrgID)
	if u.Scope, err = normalizeList("scope", u.Scope); err != nil {
		return err
	}
	if len(u.Scope) == 0 { // after normalizeList: a scope of blank entries is no scope
		u.Scope = []string{RoleUser}
	}
	if u.Status == "" {
		u.Status = StatusActive
	}
	if u.Vendor, err = normalizeList("vendor", u.Vendor); err != nil {
		return err
	}
	if u.AllowedPrivateComponents, err = normalizeList("allowedPrivateComponents", u.AllowedPrivateComponents); err != nil {
		return err
	}
	if u.Metadata, err = NormalizeMetadata(u.Metadata); err != nil {
		return err
	}
	if len(u.Permissions) == 0 {
		u.Permissions = nil
	}
	return u.validate(r, keepUsername, keepEmail)
}

// Validate is ValidateWith under the default NameRules.
func (u *User) Validate() error { return u.ValidateWith(NameRules{}) }

// ValidateWith checks a user already in canonical form (see NormalizeWith) and returns an
// ErrInvalid *Error naming the first field at fault, or nil.
func (u *User) ValidateWith(r NameRules) error { return u.validate(r, false, false) }

func (u *User) validate(r NameRules, keepUsername, keepEmail bool) error {
	if !keepUsername {
		if _, err := r.Username(u.Username); err != nil {
			return err
		}
	}
	if u.Email != "" && !keepEmail {
		if _, err := r.Email(u.Email); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, value string }{{"name", u.Name}, {"plan", u.Plan}, {"orgId", u.OrgID}} {
		if err := checkText(f.name, f.value); err != nil {
			return err
		}
	}
	if !u.Status.Valid() {
		return invalid("status", "must be one of pending, active, disabled")
	}
	return validatePermissions(u.Permissions)
}

// checkText returns an ErrInvalid naming field unless s is printable text of at most
// MaxNameLength characters.
func checkText(field, s string) error {
	if utf8.RuneCountInString(s) > MaxNameLength || !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return invalid(field, "must be printable text of at most %d characters", MaxNameLength)
	}
	return nil
}

// validatePermissions checks the resources and levels of a permissions object.
func validatePermissions(perms map[string]Permission) error {
	if len(perms) > MaxListLength {
		return invalid("permissions", "has more than %d entries", MaxListLength)
	}
	for res, level := range perms {
		if res == "" || res != strings.TrimSpace(res) || len(res) > MaxRoleLength || !utf8.ValidString(res) || strings.IndexFunc(res, unicode.IsControl) >= 0 {
			return invalid("permissions", "resources must be printable text of at most %d bytes", MaxRoleLength)
		}
		if !level.Valid() {
			return invalid("permissions", "levels must be one of read, write, admin")
		}
	}
	return nil
}

// normalizeList trims entries, drops blanks and duplicates (keeping first occurrences) and checks
// each entry's length and the list's.
func normalizeList(field string, in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > MaxListLength {
		return nil, invalid(field, "has more than %d entries", MaxListLength)
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || slices.Contains(out, s) {
			continue
		}
		if len(s) > MaxRoleLength || !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
			return nil, invalid(field, "entries must be printable text of at most %d bytes", MaxRoleLength)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// NormalizeMetadata returns metadata as a plain JSON object: nested values become the types
// encoding/json decodes into (map[string]any, []any, string, float64, bool, nil), so that every
// Store compares them alike. It returns ErrInvalid naming "metadata" for a value JSON cannot
// encode, an object over MaxMetadataBytes, or one nested more than MaxMetadataDepth levels
// deep (the object itself is the first level, each object or array in it one more), which
// every Store can keep. An empty object becomes nil.
func NormalizeMetadata(m map[string]any) (map[string]any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	// The depth is checked before encoding, which a value deep enough would crash, and again
	// after, for what a json.Marshaler inside made of itself.
	if tooDeep(reflect.ValueOf(m), 0) {
		return nil, errMetadataTooDeep
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, &Error{Code: CodeInvalid, Field: "metadata", Message: "must be a JSON object", Cause: err}
	}
	if len(b) > MaxMetadataBytes {
		return nil, invalid("metadata", "is larger than %d bytes", MaxMetadataBytes)
	}
	if jsonDepth(b) > MaxMetadataDepth {
		return nil, errMetadataTooDeep
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, &Error{Code: CodeInvalid, Field: "metadata", Message: "must be a JSON object", Cause: err}
	}
	if _, ok := out[""]; ok {
		return nil, invalid("metadata", "keys must not be empty")
	}
	return out, nil
}

// errMetadataTooDeep is the answer to metadata nested more than MaxMetadataDepth levels deep.
var errMetadataTooDeep = invalid("metadata", "is nested more than %d levels deep", MaxMetadataDepth)

// tooDeep reports whether v, found at depth levels of objects and arrays, nests deeper than
// MaxMetadataDepth once encoded as JSON: maps, structs, slices and arrays (but byte slices,
// which encode as strings) count one level each. It stops at the first level too deep, so a
// cycle is too deep.
func tooDeep(v reflect.Value, depth int) bool {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Map, reflect.Struct, reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return false
		}
		if depth++; depth > MaxMetadataDepth {
			return true
		}
	default:
		return false
	}
	switch x := v.Interface().(type) { // the types JSON decodes into, without reflection
	case map[string]any:
		for _, e := range x {
			if tooDeep(reflect.ValueOf(e), depth) {
				return true
			}
		}
		return false
	case []any:
		for _, e := range x {
			if tooDeep(reflect.ValueOf(e), depth) {
				return true
			}
		}
		return false
	}
	switch v.Kind() {
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if tooDeep(it.Value(), depth) {
				return true
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && tooDeep(v.Field(i), depth) {
				return true
			}
		}
	default: // slice or array
		for i := range v.Len() {
			if tooDeep(v.Index(i), depth) {
				return true
			}
		}
	}
	return false
}

// jsonDepth returns how deeply the objects and arrays of the JSON text b nest: 0 for a scalar,
// 1 for an object or array holding none.
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
