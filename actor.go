package users

import (
	"context"
	"errors"
)

// Principal is who makes a request: the user a credential belongs to, and the kind of
// credential it was. Authenticate returns one for a bearer token or API key; WithActor puts it
// in a context, and every Service call made with that context is then decided for it.
//
// A Principal is read-only once made; it is safe to share between goroutines.
type Principal struct {
	// User is the principal's account, as it was when the credential was checked.
	User *User
	// Kind is TokenSession for a session (from SignIn, SignUp or NewSession) and TokenAPIKey
	// for an API key. An app that authenticates users its own way and wants the Service's
	// rules builds a Principal with Kind TokenSession.
	Kind TokenKind
	// KeyID is the API key's ID when Kind is TokenAPIKey.
	KeyID string

	digest Digest // the credential's digest, when Authenticate made the Principal
}

// IsSession reports whether the principal proved who they are with a session rather than an
// API key: what minting keys, changing a password, e-mail address or username, and acting on
// another user's credentials need.
func (p *Principal) IsSession() bool { return p.Kind == TokenSession }

type actorKey struct{}

// WithActor returns a copy of ctx carrying p as the actor: every Service method called with it
// decides whether p may do what it is asked, against the target as it is read in the
// transaction that changes it (see Authorize and AuthorizeUpdate), and answers ErrForbidden,
// ErrNotFound (a user hidden from p), ErrSessionRequired or ErrPasswordChangeRequired when p
// may not. A call without an actor comes from trusted code and is not restricted. The HTTP
// adapter sets the actor of every authenticated request. A nil p returns ctx unchanged.
func WithActor(ctx context.Context, p *Principal) context.Context {
	if p == nil || p.User == nil {
		return ctx
	}
	return context.WithValue(ctx, actorKey{}, p)
}

// ActorFrom returns the actor WithActor put in ctx, and false when there is none.
func ActorFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(actorKey{}).(*Principal)
	return p, ok
}

// actorOf returns the actor of ctx, or nil for a trusted caller.
func actorOf(ctx context.Context) *Principal {
	p, _ := ActorFrom(ctx)
	return p
}

// acting returns the user to decide on as the actor p when it acts on target: target itself
// when it is p's own account, as read in the transaction (fresher than p.User, read when the
// credential was checked), and p.User otherwise.
func acting(p *Principal, target *User) *User {
	if target != nil && target.ID == p.User.ID {
		return target
	}
	return p.User
}

// authorize decides whether the actor of ctx may do action to target (nil for an action
// without one): nil for a trusted caller; else ErrPasswordChangeRequired for a user who must
// change their password (but to read themself), the policy's answer (see Authorize), and
// ErrSessionRequired for an API key doing what needsSession names.
func authorize(ctx context.Context, action Action, target *User) error {
	p := actorOf(ctx)
	if p == nil {
		return nil
	}
	actor := acting(p, target)
	self := target != nil && target.ID == actor.ID
	if err := mustChangeFirst(actor, action, self); err != nil {
		return err
	}
	if err := Authorize(actor, action, target); err != nil {
		return err
	}
	if !p.IsSession() && needsSession(action, self) {
		return ErrSessionRequired
	}
	return nil
}

// mustChangeFirst returns ErrPasswordChangeRequired when actor must change their password and
// action is anything but reading themself.
func mustChangeFirst(actor *User, action Action, self bool) error {
	if actor.MustChangePassword && !(self && action == ActionRead) {
		return ErrPasswordChangeRequired
	}
	return nil
}

// needsSession reports whether action, on the actor's own account (self) or another's, needs
// a session: minting keys and setting passwords always, deleting one's own account, and
// whatever touches another user's credentials.
func needsSession(action Action, self bool) bool {
	switch action {
	case ActionCreateKey, ActionSetPassword:
		return true
	case ActionDelete:
		return self
	case ActionRevokeSessions, ActionManageKeys:
		return !self
	}
	return false
}

// lookup reads the user id in st for the actor of ctx to do action to, and authorizes it. A
// user who does not exist is ErrNotFound to an actor the policy lets act on users it does not
// know (an administrator), and the policy's ErrForbidden to any other, who so learns nothing
// about who exists.
func lookup(ctx context.Context, st Store, action Action, id string) (*User, error) {
	u, err := st.GetUser(ctx, id)
	return authorizeFound(ctx, action, u, err)
}

// authorizeFound authorizes the actor of ctx to do action to the user a look-up returned (u,
// err), as lookup does.
func authorizeFound(ctx context.Context, action Action, u *User, err error) (*User, error) {
	if errors.Is(err, ErrNotFound) {
		if p := actorOf(ctx); p != nil {
			if err := mustChangeFirst(p.User, action, false); err != nil {
				return nil, err
			}
			if err := Authorize(p.User, action, nil); err != nil {
				return nil, err
			}
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, action, u); err != nil {
		return nil, err
	}
	return u, nil
}
