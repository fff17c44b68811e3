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

func (s *service) newSession(ctx context.Context, u *User) (*Session, error) {
	token, exp, err := s.issueToken(ctx, s.store, TokenSession, u.ID, s.cfg.SessionTTL)
	if err != nil {
		return nil, s.storeErr(ctx, "put token", err)
	}
	return &Session{Token: token, User: u, Expires: exp}, nil
}

func (s *service) NewSession(ctx context.Context, userID string) (*Session, error) {
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return nil, s.storeErr(ctx, "get user", err)
	}
	if err := s.signInErr(u); err != nil {
		return nil, err
	}
	return s.newSession(ctx, u)
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
	u, err := s.checkPassword(ctx, username, password)
	if err != nil {
		s.emit(failedSignIn(u))
		return nil, err
	}
	if err := s.signInErr(u); err != nil {
		s.emit(failedSignIn(u))
		return nil, err
	}
	sess, err := s.newSession(ctx, u)
	if err != nil {
		return nil, err
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
// whatever their status. Failure is errSignIn (with the user, when there is one, for events),
// ErrThrottled, or a context or internal error. It computes exactly one hash whether or not
// the user exists, and rehashes a hash with outdated parameters on success.
func (s *service) checkPassword(ctx context.Context, username, password string) (*User, error) {
	username = s.NameRules().lookupName(username)
	key := throttleKey(username)
	if wait := s.throttle.wait(key, s.cfg.Now()); wait > 0 {
		return nil, &Error{Code: CodeThrottled, Message: "too many failed attempts; try again later", RetryAfter: wait}
	}
	u, err := s.store.GetUserByUsername(ctx, username)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, s.storeErr(ctx, "get user by username", err)
	}
	hash := s.dummy
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	ok, rehash, err := s.verify(ctx, password, hash)
	if err != nil {
		return nil, err
	}
	if !ok || hash == s.dummy {
		s.throttle.fail(key, s.cfg.Now())
		return u, errSignIn
	}
	s.throttle.reset(key)
	if rehash {
		s.rehash(ctx, u, password)
	}
	return u, nil
}

// rehash replaces u's hash with one at the current parameters. A failure only costs the
// upgrade, so it is logged and not returned.
func (s *service) rehash(ctx context.Context, u *User, password string) {
	hash, err := s.hash(ctx, password)
	if err != nil {
		s.log.WarnContext(ctx, "users: rehash failed", "user", u.ID, "err", err)
		return
	}
	updated := u.Clone()
	updated.PasswordHash = hash
	if err := s.store.UpdateUser(ctx, updated); err != nil {
		// A concurrent update wins; the next sign-in tries again.
		s.log.InfoContext(ctx, "users: rehash skipped", "user", u.ID, "err", err)
		return
	}
	*u = *updated
}

func (s *service) Authenticate(ctx context.Context, token string) (*User, error) {
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
	return u, nil
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
	var userID string
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		t, err := tx.GetToken(ctx, DigestOf(token), s.cfg.Now())
		if err != nil {
			return err
		}
		if t.Kind != TokenSession {
			return ErrNotFound
		}
		userID = t.UserID
		return tx.DeleteToken(ctx, t.Digest)
	})
	if errors.Is(err, ErrNotFound) {
		return ErrUnauthorized
	}
	if err != nil {
		return s.storeErr(ctx, "delete token", err)
	}
	s.emit(Event{Type: EventSignedOut, UserID: userID})
	return nil
}

func (s *service) RevokeSessions(ctx context.Context, userID string) error {
	return s.revoke(ctx, userID, revokeSessions)
}

func (s *service) RevokeCredentials(ctx context.Context, userID string) error {
	return s.revoke(ctx, userID, revokeAll)
}

// revoke revokes the credentials r names of the user, who must exist.
func (s *service) revoke(ctx context.Context, userID string, r revocation) error {
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		if _, err := tx.GetUser(ctx, userID); err != nil {
			return err
		}
		return r.apply(ctx, tx, userID, "")
	})
	if err != nil {
		return s.storeErr(ctx, "revoke credentials", err)
	}
	s.emit(Event{Type: EventSessionsRevoked, UserID: userID})
	return nil
}

// revocation says which of a user's credentials a change revokes.
type revocation int

const (
	revokeNone revocation = iota
	revokeSessions
	revokeSessionsAndCodes
	revokeAll // sessions, codes and API keys
)

// apply revokes the credentials r names, keeping the session keepToken if it is the user's.
func (r revocation) apply(ctx context.Context, tx Store, userID, keepToken string) error {
	var kinds []TokenKind
	switch r {
	case revokeNone:
		return nil
	case revokeSessions:
		kinds = []TokenKind{TokenSession}
	case revokeSessionsAndCodes:
		kinds = []TokenKind{TokenSession, TokenReset, TokenVerify}
	case revokeAll:
		kinds = nil // every kind
	}
	var keep *Token
	if wellFormed(keepToken) {
		t, err := tx.GetToken(ctx, DigestOf(keepToken), time.Time{})
		if err == nil && t.UserID == userID && t.Kind == TokenSession {
			keep = t
		}
	}
	if _, err := tx.DeleteUserTokens(ctx, userID, kinds...); err != nil {
		return err
	}
	if keep != nil {
		return tx.PutToken(ctx, keep)
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
