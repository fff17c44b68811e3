package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"
)

// secretLen is the length of every token, code and key the package hands out: 256 random bits
// in unpadded base64url.
const secretLen = 43

// randomSecret returns 256 random bits as unpadded base64url.
func randomSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// DigestOf returns the digest under which a token is stored: its SHA-256.
func DigestOf(token string) Digest {
	var buf [64]byte // tokens fit: hashing from the stack saves an allocation per request
	if len(token) <= len(buf) {
		n := copy(buf[:], token)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(token))
}

// wellFormed reports whether s could be a secret the package handed out, without allocating.
func wellFormed(s string) bool {
	if len(s) != secretLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// issueToken stores a new token of the kind for the user and returns the secret.
func (s *service) issueToken(ctx context.Context, st Store, kind TokenKind, userID string, ttl time.Duration) (string, time.Time, error) {
	secret := randomSecret()
	now := s.now()
	t := &Token{Digest: DigestOf(secret), Kind: kind, UserID: userID, Created: now, Expires: now.Add(ttl)}
	if err := st.PutToken(ctx, t); err != nil {
		return "", time.Time{}, err
	}
	return secret, t.Expires, nil
}

func (s *service) NewSession(ctx context.Context, userID string) (*Session, error) {
	if p := actorOf(ctx); p != nil && p.User.ID != userID && !(IsAdmin(p.User) && p.IsSession()) {
		return nil, ErrForbidden
	}
	sess, err := s.issueSession(ctx, userID, "", "")
	if err != nil {
		return nil, s.storeErr(ctx, "new session", err)
	}
	return sess, nil
}

// issueSession issues a session for the user userID in the transaction that reads them again,
// so that no session outlives a revocation that raced the checks made before it: it fails
// with the ErrForbidden of signInErr for a user who may not sign in, and with errSignIn when
// the password hash is no longer proven (a change of password committed after it was
// checked), or the user is gone. rehash, when set, replaces proven in the same transaction,
// and so is the revocation of the user's oldest sessions beyond Config.MaxSessions.
func (s *service) issueSession(ctx context.Context, userID, proven, rehash string) (*Session, error) {
	var sess *Session
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		u, err := tx.GetUser(ctx, userID)
		switch {
		case errors.Is(err, ErrNotFound) && proven != "":
			return errSignIn
		case err != nil:
			return err
		case proven != "" && u.PasswordHash != proven:
			return errSignIn
		}
		if err := s.signInErr(u); err != nil {
			return err
		}
		if rehash != "" {
			u.PasswordHash = rehash
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
		}
		if err := s.makeRoomForSession(ctx, tx, u.ID); err != nil {
			return err
		}
		token, exp, err := s.issueToken(ctx, tx, TokenSession, u.ID, s.cfg.SessionTTL)
		if err != nil {
			return err
		}
		sess = &Session{Token: token, User: u, Expires: exp}
		return nil
	})
	return sess, err
}

// makeRoomForSession revokes, in tx, the user's oldest live sessions beyond
// Config.MaxSessions-1, so that the session about to be issued is at most the MaxSessions-th.
func (s *service) makeRoomForSession(ctx context.Context, tx Store, userID string) error {
	sessions, err := tx.ListTokens(ctx, userID, TokenSession) // oldest first
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	live := sessions[:0]
	for _, t := range sessions {
		if !t.Expired(now) {
			live = append(live, t)
		}
	}
	for _, t := range live[:max(0, len(live)-(s.cfg.MaxSessions-1))] {
		if err := tx.DeleteToken(ctx, t.Digest); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// errSignIn is the one answer for an unknown user, a user without a password and a wrong
// password.
var errSignIn = &Error{Code: CodeUnauthorized, Message: "wrong username or password"}

// signInErr returns the ErrForbidden a user who may not sign in gets after proving the
// password, naming the field that stands in the way, or nil when they may.
func (s *service) signInErr(u *User) error {
	switch {
	case u.Status == StatusDisabled:
		return &Error{Code: CodeForbidden, Field: "status", Message: "the account is disabled"}
	case s.cfg.RequireVerifiedEmail && !u.EmailVerified:
		return &Error{Code: CodeForbidden, Field: "emailVerified", Message: "the e-mail address is not verified yet"}
	case u.Status == StatusPending:
		return &Error{Code: CodeForbidden, Field: "status", Message: "the account awaits approval"}
	}
	return nil
}

func (s *service) SignIn(ctx context.Context, username, password string) (*Session, error) {
	u, rehash, err := s.checkPassword(ctx, username, password)
	if err == nil {
		err = s.signInErr(u)
	}
	var sess *Session
	if err == nil {
		sess, err = s.issueSession(ctx, u.ID, u.PasswordHash, rehash)
	}
	if err != nil {
		switch ErrorCode(err) {
		case CodeUnauthorized, CodeForbidden:
			s.emit(ctx, failedSignIn(EventSignInFailed, u))
		case CodeThrottled:
			s.emit(ctx, failedSignIn(EventSignInThrottled, u))
		}
		return nil, s.storeErr(ctx, "sign in", err)
	}
	s.emit(ctx, Event{Type: EventSignedIn, UserID: u.ID, Username: u.Username})
	return sess, nil
}

// failedSignIn is the event of the type for a failed or throttled password check. It names
// the account only when there is one: what was typed for an unknown username may be a
// password typed into the wrong box.
func failedSignIn(typ EventType, u *User) Event {
	if u == nil {
		return Event{Type: typ}
	}
	return Event{Type: typ, UserID: u.ID, Username: u.Username}
}

// checkPassword verifies a username and password under the throttle, and returns the user
// whatever their status, with a new hash of the password when the stored one has outdated
// parameters. Failure is errSignIn or ErrThrottled (with the user, when there is one, for
// events), or a context or internal error. It computes exactly one hash whether or not the
// user exists (and one more to upgrade an outdated one).
func (s *service) checkPassword(ctx context.Context, username, password string) (u *User, rehash string, err error) {
	username = s.NameRules().lookupName(username)
	u, err = s.store.GetUserByUsername(ctx, username)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", s.storeErr(ctx, "get user by username", err)
	}
	account := nameKey(username)
	hash := s.dummy
	if u != nil {
		account = accountKey(u.ID)
		if u.PasswordHash != "" {
			hash = u.PasswordHash
		}
	}
	ok, outdated, err := s.verifyThrottled(ctx, account, password, hash)
	switch {
	case err != nil:
		return u, "", err
	case !ok:
		return u, "", errSignIn
	}
	if outdated {
		// A failure only costs the upgrade: the next sign-in tries again.
		if rehash, err = s.hash(ctx, password); err != nil {
			s.log.WarnContext(ctx, "users: rehash failed", "user", u.ID, "err", err)
			rehash = ""
		}
	}
	return u, rehash, nil
}

// provePassword checks password against hash under the throttle of key, as a user proving
// who they are before a change (u, when there is one, is named in the events of a failure),
// and returns wrong when it does not match.
func (s *service) provePassword(ctx context.Context, key Digest, u *User, password, hash string, wrong error) error {
	ok, _, err := s.verifyThrottled(ctx, key, password, hash)
	switch {
	case ErrorCode(err) == CodeThrottled:
		s.emit(ctx, failedSignIn(EventSignInThrottled, u))
		return err
	case err != nil:
		return err
	case !ok:
		s.emit(ctx, failedSignIn(EventSignInFailed, u))
		return wrong
	}
	return nil
}

// verifyThrottled verifies password against hash under the throttle of the account key and
// the client of ctx (see Throttle). While either is locked out it returns ErrThrottled, with
// RetryAfter, and verifies nothing. A wrong password, or hash s.dummy, is counted and reported
// as false; a right one clears the count of the account from the client's address (not the
// account's own) and makes the address known. A throttle whose counts cannot be read or
// written fails closed: the error is logged and ErrInternal returned, so that no guess is
// answered without its failure being counted.
func (s *service) verifyThrottled(ctx context.Context, account Digest, password, hash string) (ok, outdated bool, err error) {
	k := s.throttle.keys(account, clientOf(ctx).Addr)
	now := s.now()
	st, err := s.throttle.check(ctx, k, now)
	if err != nil {
		return false, false, s.storeErr(ctx, "read sign-in failures", err)
	}
	if st.wait > 0 {
		return false, false, &Error{Code: CodeThrottled, Message: "too many failed attempts; try again later", RetryAfter: st.wait}
	}
	ok, outdated, err = s.verify(ctx, password, hash)
	if err != nil {
		return false, false, err
	}
	if !ok || hash == s.dummy {
		if err := s.throttle.fail(ctx, k, st, now); err != nil {
			return false, false, s.storeErr(ctx, "count sign-in failure", err)
		}
		return false, false, nil
	}
	if err := s.throttle.succeed(ctx, k, st, now); err != nil {
		// Only the owner pays: their address keeps its count, or is not known.
		s.log.WarnContext(ctx, "users: sign-in success not recorded by the throttle", "err", err)
	}
	return true, outdated, nil
}

// clearThrottle forgets the failures of the user's account, and of the account from the
// client of ctx, after their password was set: guesses at the old one count no more.
func (s *service) clearThrottle(ctx context.Context, userID string) {
	account := accountKey(userID)
	if err := s.throttle.clear(ctx, s.throttle.keys(account, clientOf(ctx).Addr)); err != nil {
		s.log.WarnContext(ctx, "users: sign-in failures not cleared", "user", userID, "err", err)
	}
}

func (s *service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if !wellFormed(token) {
		return nil, ErrUnauthorized
	}
	t, err := s.store.GetToken(ctx, DigestOf(token), s.cfg.Now())
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrUnauthorized
		}
		return nil, s.storeErr(ctx, "get token", err)
	}
	if t.Kind != TokenSession && t.Kind != TokenAPIKey {
		return nil, ErrUnauthorized
	}
	u, err := s.store.GetUser(ctx, t.UserID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrUnauthorized
		}
		return nil, s.storeErr(ctx, "get user", err)
	}
	if u.Status != StatusActive || (s.cfg.RequireVerifiedEmail && !u.EmailVerified) {
		return nil, ErrUnauthorized
	}
	if t.Kind == TokenAPIKey {
		s.touch(ctx, t)
	}
	return &Principal{User: u, Kind: t.Kind, KeyID: t.ID, digest: t.Digest}, nil
}

// lastUsedResolution is how precisely an API key's LastUsed is kept: at most one write per key
// per this time, so that authenticating with a key is a read, like with a session.
const lastUsedResolution = time.Minute

// touch records that the API key t was used now, when its LastUsed is older than
// lastUsedResolution. A failure only costs the record, so it is logged and not returned.
func (s *service) touch(ctx context.Context, t *Token) {
	now := s.cfg.Now().Truncate(lastUsedResolution)
	if now.Before(t.LastUsed.Add(lastUsedResolution)) {
		return
	}
	if err := s.store.TouchToken(ctx, t.Digest, now); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.WarnContext(ctx, "users: API key use not recorded", "user", t.UserID, "key", t.ID, "err", err)
	}
}

func (s *service) SignOut(ctx context.Context, token string) error {
	if !wellFormed(token) {
		return ErrUnauthorized
	}
	var t *Token
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		var err error
		if t, err = tx.GetToken(ctx, DigestOf(token), s.cfg.Now()); err != nil {
			return err
		}
		if t.Kind != TokenSession && t.Kind != TokenAPIKey {
			return ErrNotFound
		}
		return tx.DeleteToken(ctx, t.Digest)
	})
	if errors.Is(err, ErrNotFound) {
		return ErrUnauthorized
	}
	if err != nil {
		return s.storeErr(ctx, "delete token", err)
	}
	if t.Kind == TokenAPIKey {
		s.emit(ctx, Event{Type: EventAPIKeyRevoked, UserID: t.UserID})
	} else {
		s.emit(ctx, Event{Type: EventSignedOut, UserID: t.UserID})
	}
	return nil
}

func (s *service) RevokeSessions(ctx context.Context, userID string) error {
	return s.revoke(ctx, userID, revokeSessions)
}

func (s *service) RevokeCredentials(ctx context.Context, userID string) error {
	return s.revoke(ctx, userID, revokeAll)
}

// revoke revokes the credentials r names of the user, who must exist, and whom the actor of
// ctx must be allowed to sign out.
func (s *service) revoke(ctx context.Context, userID string, r revocation) error {
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		if _, err := lookup(ctx, tx, ActionRevokeSessions, userID); err != nil {
			return err
		}
		return r.apply(ctx, tx, userID, Digest{})
	})
	if err != nil {
		return s.storeErr(ctx, "revoke credentials", err)
	}
	s.emit(ctx, Event{Type: EventSessionsRevoked, UserID: userID, ActorID: actorID(ctx, userID)})
	return nil
}

// revocation is a set of the kinds of a user's credentials that a change revokes.
type revocation uint8

const (
	revokeSessions revocation = 1 << iota
	revokeResetCodes
	revokeVerifyCodes
	revokeAPIKeys

	revokeAll = revokeSessions | revokeResetCodes | revokeVerifyCodes | revokeAPIKeys
)

// apply revokes the user's credentials of the kinds r holds, but the session whose digest is
// keep, when it is one of theirs.
func (r revocation) apply(ctx context.Context, tx Store, userID string, keep Digest) error {
	if r == 0 {
		return nil
	}
	var kinds []TokenKind
	for _, k := range []struct {
		bit  revocation
		kind TokenKind
	}{{revokeSessions, TokenSession}, {revokeResetCodes, TokenReset}, {revokeVerifyCodes, TokenVerify}, {revokeAPIKeys, TokenAPIKey}} {
		if r&k.bit != 0 {
			kinds = append(kinds, k.kind)
		}
	}
	var kept *Token
	if r&revokeSessions != 0 && keep != (Digest{}) {
		t, err := tx.GetToken(ctx, keep, time.Time{})
		if err == nil && t.UserID == userID && t.Kind == TokenSession {
			kept = t
		}
	}
	if _, err := tx.DeleteUserTokens(ctx, userID, kinds...); err != nil {
		return err
	}
	if kept != nil {
		return tx.PutToken(ctx, kept)
	}
	return nil
}
