package users

import (
	"context"
	"errors"
)

// EnsureAdmin gives a new installation its first administrator. When svc has no active user
// holding the admin role, it creates one, active, named "Administrator", with the roles user
// and admin, whose verified e-mail address is email, whose username is email too (or the
// handle "admin", when svc's usernames are handles: see Config.Usernames) and whose password
// is password, and returns it with created true. When svc has an active administrator it
// changes nothing and returns the oldest one with created false; password is then neither
// used nor checked, so an administrator who has since changed their password keeps it.
//
// It is idempotent: call it at every start. It is safe for concurrent use, also by several
// processes sharing one store: when they create the same address at once, one creates the
// administrator and the others return it with created false. (Processes given different
// addresses at the same first start may each create one.)
//
// It never promotes an existing user. When there is no active administrator and email
// belongs to a user (someone signed up with the address before the first start, say), it
// returns an ErrConflict naming "username" and changes nothing.
//
// Other errors: ErrInvalid naming "username" for a string that is not an e-mail address
// (checked at every call, by svc's rules: see NameRules), ErrInvalid naming "password" for an empty password or one the
// Service's policy refuses (checked only when the administrator is created), and the errors
// of Service.List and Service.Create. No error carries the password.
//
// Call it as a trusted caller, with the Service the app itself uses.
func EnsureAdmin(ctx context.Context, svc Service, email, password string) (admin *User, created bool, err error) {
	rules := NameRulesOf(svc)
	if email, err = rules.Email(email); err != nil {
		return nil, false, renamed(err, "username")
	}
	username := email
	if rules.Usernames == UsernameHandle {
		username = "admin"
	}
	if admin, err := oldestAdmin(ctx, svc); admin != nil || err != nil {
		return admin, false, err
	}
	if password == "" {
		return nil, false, invalid("password", "is required")
	}
	u, err := svc.Create(ctx, NewUser{
		Username:      username,
		Email:         email,
		Password:      password,
		Name:          "Administrator",
		Scope:         []string{RoleUser, RoleAdmin},
		Status:        StatusActive,
		EmailVerified: true,
	})
	if err == nil {
		return u, true, nil
	}
	if !errors.Is(err, ErrConflict) {
		return nil, false, err
	}
	// The address is taken: by the administrator another process created a moment ago, or by
	// a user who must not become one.
	if admin, aerr := oldestAdmin(ctx, svc); admin != nil || aerr != nil {
		return admin, false, aerr
	}
	return nil, false, &Error{
		Code:    CodeConflict,
		Field:   "username",
		Message: "belongs to a user who is not an active administrator; EnsureAdmin promotes no one",
		Cause:   err,
	}
}

// oldestAdmin returns the first-created active administrator of svc, or nil when there is none.
func oldestAdmin(ctx context.Context, svc Service) (*User, error) {
	page, _, err := svc.List(ctx, Query{
		Conditions: []Condition{
			{Field: "scope", Op: OpEq, Value: RoleAdmin},
			{Field: "status", Op: OpEq, Value: string(StatusActive)},
		},
		Sort:  []Sort{{Field: "created"}},
		Limit: 1,
	})
	if err != nil || len(page) == 0 {
		return nil, err
	}
	return page[0], nil
}

// renamed returns err with its field renamed to field when it is an *Error naming another.
func renamed(err error, field string) error {
	var e *Error
	if !errors.As(err, &e) || e.Field == field {
		return err
	}
	c := *e
	c.Field = field
	return &c
}
