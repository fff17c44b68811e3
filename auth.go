package users

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
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
		case CodeUnauthorized, CodeForbidden, CodeThrottled:
			s.emit(failedSignIn(u))
		}
		return nil, s.storeErr(ctx, "sign in", err)
	}
	s.emit(Event{Type: EventSignedIn, UserID: u.ID, Username: u.Username})
	return sess, nil
}

// failedSignIn is the event of a failed sign-in. It names the account only when there is one:
// what was typed for an unknown username may be a password typed into the wrong box.
func failedSignIn(u *User) Event {
	if u == nil {
		return Event{Type: EventSignInFailed}
	}
	return Event{Type: EventSignInFailed, UserID: u.ID, Username: u.Username}
}

// checkPassword verifies a username and password under the throttle, and returns the user
// whatever their status, with a new hash of the password when the stored one has outdated
// parameters. Failure is errSignIn (with the user, when there is one, for events),
// ErrThrottled, or a context or internal error. It computes exactly one hash whether or not
// the user exists (and one more to upgrade an outdated one).
func (s *service) checkPassword(ctx context.Context, username, password string) (u *User, rehash string, err error) {
	username = strings.TrimSpace(username)
	key := throttleKey(username)
	if wait := s.throttle.wait(key, s.cfg.Now()); wait > 0 {
		return nil, "", &Error{Code: CodeThrottled, Message: "too many failed attempts; try again later", RetryAfter: wait}
	}
	u, err = s.store.GetUserByUsername(ctx, username)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", s.storeErr(ctx, "get user by username", err)
	}
	hash := s.dummy
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	ok, outdated, err := s.verify(ctx, password, hash)
	if err != nil {
		return nil, "", err
	}
	if !ok || hash == s.dummy {
		s.throttle.fail(key, s.cfg.Now())
		return u, "", errSignIn
	}
	s.throttle.reset(key)
	if outdated {
		// A failure only costs the upgrade: the next sign-in tries again.
		if rehash, err = s.hash(ctx, password); err != nil {
			s.log.WarnContext(ctx, "users: rehash failed", "user", u.ID, "err", err)
			rehash = ""
		}
	}
	return u, rehash, nil
}

// proveOwnPassword checks that password is the current one of u, under the sign-in throttle
// of u's username, and returns wrong when it is not.
func (s *service) proveOwnPassword(ctx context.Context, u *User, password string, wrong error) error {
	key := throttleKey(u.Username)
	if wait := s.throttle.wait(key, s.cfg.Now()); wait > 0 {
		return &Error{Code: CodeThrottled, Message: "too many failed attempts; try again later", RetryAfter: wait}
	}
	ok, _, err := s.verify(ctx, password, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		s.throttle.fail(key, s.cfg.Now())
		return wrong
	}
	s.throttle.reset(key)
	return nil
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
		s.emit(Event{Type: EventAPIKeyRevoked, UserID: t.UserID})
	} else {
		s.emit(Event{Type: EventSignedOut, UserID: t.UserID})
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
	s.emit(Event{Type: EventSessionsRevoked, UserID: userID, ActorID: actorID(ctx, userID)})
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

// Throttle configures the per-account sign-in throttle. It counts failed password checks per
// username (whether or not the account exists, so it reveals nothing); from the MaxFailures-th
// failure on, each failure locks the username out for a delay that doubles from BaseDelay up
// to MaxDelay. A successful sign-in or a password reset clears the count. Counts live in the
// Service's memory, at most MaxTracked usernames (the least recently failed are forgotten
// first), so they are per process.
type Throttle struct {
	MaxFailures int           // failures allowed before delays start; default 10; negative: no throttle
	BaseDelay   time.Duration // first delay; default 1 second
	MaxDelay    time.Duration // longest delay; default 1 hour
	MaxTracked  int           // usernames remembered; default 100,000
}

func (t *Throttle) setDefaults() {
	if t.MaxFailures == 0 {
		t.MaxFailures = 10
	}
	setDefault(&t.BaseDelay, time.Second)
	setDefault(&t.MaxDelay, time.Hour)
	setDefault(&t.MaxTracked, 100_000)
}

// throttle is the in-memory state of Throttle: a map with least-recently-failed eviction.
type throttle struct {
	cfg     Throttle
	mu      sync.Mutex
	entries map[Digest]*list.Element
	order   *list.List // of *throttleEntry, most recent failure at the front
}

type throttleEntry struct {
	key      Digest
	failures int
	until    time.Time
}

func newThrottle(cfg Throttle) *throttle {
	return &throttle{cfg: cfg, entries: make(map[Digest]*list.Element), order: list.New()}
}

// throttleKey is the key of a username in the throttle: the digest of its folded form, so
// that every entry has the same small size whatever a client sends.
func throttleKey(username string) Digest {
	return DigestOf(Fold(strings.TrimSpace(username)))
}

// wait returns how long key is locked out at now, or 0.
func (t *throttle) wait(key Digest, now time.Time) time.Duration {
	if t.cfg.MaxFailures < 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[key]; ok {
		if d := el.Value.(*throttleEntry).until.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// fail records a failure for key at now.
func (t *throttle) fail(key Digest, now time.Time) {
	if t.cfg.MaxFailures < 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.entries[key]
	if !ok {
		if t.order.Len() >= t.cfg.MaxTracked {
			oldest := t.order.Back()
			t.order.Remove(oldest)
			delete(t.entries, oldest.Value.(*throttleEntry).key)
		}
		el = t.order.PushFront(&throttleEntry{key: key})
		t.entries[key] = el
	} else {
		t.order.MoveToFront(el)
	}
	e := el.Value.(*throttleEntry)
	e.failures++
	if over := e.failures - t.cfg.MaxFailures; over >= 0 {
		delay := t.cfg.MaxDelay
		if over < 32 {
			delay = min(t.cfg.BaseDelay<<over, t.cfg.MaxDelay)
		}
		if delay <= 0 { // overflow
			delay = t.cfg.MaxDelay
		}
		e.until = now.Add(delay)
	}
}

// reset forgets key's failures.
func (t *throttle) reset(key Digest) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[key]; ok {
		t.order.Remove(el)
		delete(t.entries, key)
	}
}

// len returns how many keys are tracked.
func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}
