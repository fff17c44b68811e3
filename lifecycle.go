package users

import (
	"context"
	"errors"
	"strings"
)

// errNoMailer is the answer of the flows that mail a code, for every address, when mail cannot
// be sent.
var errNoMailer = &Error{Code: CodeInternal, Message: "mail is not configured"}

// registrant returns the user r would create, normalized and validated, with the password
// checked against the policy (not yet hashed): pending when Config.RequireApproval is set,
// active otherwise, and unverified.
func (s *service) registrant(ctx context.Context, r Registration) (*User, error) {
	username, email := strings.TrimSpace(r.Username), strings.TrimSpace(r.Email)
	if username == "" && s.cfg.Usernames == UsernameEmail {
		username = email // and Normalize defaults the e-mail to the username
	}
	status := StatusActive
	if s.cfg.RequireApproval {
		status = StatusPending
	}
	now := s.now()
	u := &User{ID: newID(), Username: username, Email: email, Name: r.Name, Metadata: r.Metadata, Status: status, Created: now, Updated: now}
	if err := u.NormalizeWith(s.NameRules()); err != nil {
		return nil, err
	}
	if r.Password == "" {
		return nil, invalid("password", "is required")
	}
	if err := s.cfg.Passwords.Check(ctx, r.Password, u); err != nil {
		return nil, err
	}
	return u, nil
}

func (s *service) Register(ctx context.Context, r Registration) error {
	u, err := s.registrant(ctx, r)
	if err != nil {
		return err
	}
	if u.Email == "" { // a handle without an address: nowhere to send the code
		return invalid("email", "is required: the verification code is sent there")
	}
	if s.cfg.Mailer == nil {
		return errNoMailer
	}
	// The hash is computed whether or not the account exists, so that the answer takes the
	// same time; everything that depends on the account happens in the background.
	if u.PasswordHash, err = s.hash(ctx, r.Password); err != nil {
		return err
	}
	s.backgroundFor(ctx, func(ctx context.Context) { s.register(ctx, u) })
	return nil
}

func (s *service) SignUp(ctx context.Context, r Registration) (*Session, error) {
	if s.cfg.RequireVerifiedEmail || s.cfg.RequireApproval {
		return nil, s.Register(ctx, r) // no session before verification or approval
	}
	u, err := s.registrant(ctx, r)
	if err != nil {
		return nil, err
	}
	if u.PasswordHash, err = s.hash(ctx, r.Password); err != nil {
		return nil, err
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, s.storeErr(ctx, "create user", err)
	}
	s.emit(ctx, Event{Type: EventUserCreated, UserID: u.ID})
	sess, err := s.issueSession(ctx, u.ID, u.PasswordHash, "")
	if err != nil {
		return nil, s.storeErr(ctx, "new session", err)
	}
	return sess, nil
}

// register creates the user Register validated and mails them a verification code or, when
// the username or e-mail is taken, mails the owner of the address that someone tried.
func (s *service) register(ctx context.Context, u *User) {
	err := s.store.CreateUser(ctx, u)
	if errors.Is(err, ErrConflict) {
		owner, err := s.store.GetUserByEmail(ctx, u.Email)
		if errors.Is(err, ErrNotFound) {
			owner, err = s.store.GetUserByUsername(ctx, u.Username)
		}
		if err != nil {
			if !errors.Is(err, ErrNotFound) { // else deleted in between: nobody to tell
				_ = s.storeErr(ctx, "get user by email", err)
			}
			return
		}
		if owner.Email != "" {
			s.send(ctx, Mail{Kind: MailRegistrationAttempt, To: owner.Email, UserID: owner.ID, Name: mailName(owner)})
		}
		return
	}
	if err != nil {
		_ = s.storeErr(ctx, "create user", err)
		return
	}
	s.emit(ctx, Event{Type: EventUserCreated, UserID: u.ID})
	s.emit(ctx, Event{Type: EventRegistered, UserID: u.ID})
	s.mailCode(ctx, u, TokenVerify, MailVerifyEmail, s.cfg.VerifyCodeTTL, mayVerify)
}

// mayVerify reports whether u may be sent a verification code: their address is unverified
// and they are not disabled.
func mayVerify(u *User) bool { return !u.EmailVerified && u.Status != StatusDisabled }

func (s *service) ResendVerification(ctx context.Context, email string) error {
	email, err := s.NameRules().lookupEmail(email)
	if err != nil {
		return err
	}
	if s.cfg.Mailer == nil {
		return errNoMailer
	}
	s.backgroundFor(ctx, func(ctx context.Context) {
		u, err := s.store.GetUserByEmail(ctx, email)
		if errors.Is(err, ErrNotFound) {
			return
		}
		if err != nil {
			_ = s.storeErr(ctx, "get user by email", err)
			return
		}
		s.mailCode(ctx, u, TokenVerify, MailVerifyEmail, s.cfg.VerifyCodeTTL, mayVerify)
	})
	return nil
}

func (s *service) VerifyEmail(ctx context.Context, code string) (*User, error) {
	if !wellFormed(code) {
		return nil, errBadCode
	}
	var u *User
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		t, err := tx.ConsumeToken(ctx, DigestOf(code), TokenVerify, s.cfg.Now())
		if err != nil {
			return err
		}
		if u, err = tx.GetUser(ctx, t.UserID); err != nil {
			return err
		}
		// Verification proves the address, nothing more: a pending user stays pending until
		// an administrator approves them.
		u.EmailVerified = true
		u.Updated = s.now()
		return tx.UpdateUser(ctx, u)
	})
	if errors.Is(err, ErrNotFound) {
		return nil, errBadCode
	}
	if err != nil {
		return nil, s.storeErr(ctx, "verify e-mail", err)
	}
	s.emit(ctx, Event{Type: EventEmailVerified, UserID: u.ID})
	return u, nil
}

func (s *service) Approve(ctx context.Context, userID string) (*User, error) {
	var u *User
	changed := false
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		changed = false
		var err error
		if u, err = lookup(ctx, tx, ActionApprove, userID); err != nil {
			return err
		}
		switch u.Status {
		case StatusActive:
			return nil
		case StatusDisabled:
			return conflict("status", "the account is disabled; enable it instead")
		}
		u.Status = StatusActive
		u.Updated = s.now()
		changed = true
		return tx.UpdateUser(ctx, u)
	})
	if err != nil {
		return nil, s.storeErr(ctx, "approve user", err)
	}
	if changed {
		s.emit(ctx, Event{Type: EventApproved, UserID: u.ID, ActorID: actorID(ctx, u.ID)})
	}
	return u, nil
}
