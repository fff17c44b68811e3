package users

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
)

// Hasher hashes and verifies passwords. Implementations must be safe for concurrent use and
// compare in constant time.
type Hasher interface {
	// Hash returns the encoded hash of password.
	Hash(password string) (string, error)
	// Verify reports whether password matches the encoded hash, and whether the hash should
	// be replaced by a new one (its parameters are not the current ones). An error means the
	// hash could not be read.
	Verify(password, encoded string) (ok, rehash bool, err error)
}

// Argon2Params are the parameters of argon2id hashes. The zero value means DefaultArgon2.
type Argon2Params struct {
	Memory      uint32 // memory in KiB
	Iterations  uint32 // passes over the memory
	Parallelism uint8  // lanes, computed in parallel
	SaltLength  uint32 // bytes of random salt
	KeyLength   uint32 // bytes of derived key
}

// TestArgon2 returns argon2id parameters so cheap that a hash takes microseconds: 64 KiB, one
// iteration, parallelism 1, a 16-byte salt and a 32-byte key. For tests only: a hash made
// with them is easy to crack.
func TestArgon2() Argon2Params {
	return Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// orDefault returns p, or DefaultArgon2 when p is the zero value.
func (p Argon2Params) orDefault() Argon2Params {
	if p == (Argon2Params{}) {
		return DefaultArgon2()
	}
	return p
}

// Argon2idHasher is the default Hasher: argon2id with fixed parameters.
// It is safe for concurrent use.
type Argon2idHasher struct {
	params argon2id.Params
}

// NewArgon2idHasher returns a Hasher using p for new hashes (the zero value: DefaultArgon2).
// It verifies hashes made with any parameters up to the larger of p and the ceilings of
// imported hashes (MaxImportedArgon2Memory and the others), asking for a rehash when they
// differ from p. Returns ErrInvalid (field "Argon2") for parameters argon2id cannot use: no
// memory, iterations or parallelism, a salt under 8 bytes or a key under 16.
func NewArgon2idHasher(p Argon2Params) (*Argon2idHasher, error) {
	p = p.orDefault()
	ap := argon2id.Params(p)
	if !argon2ParamsUsable(&ap) {
		return nil, invalid("Argon2", "needs memory, iterations and parallelism above 0, a salt of 8 bytes or more and a key of 16 or more")
	}
	return &Argon2idHasher{params: ap}, nil
}

// Hash returns the PHC-encoded argon2id hash of password with a fresh random salt.
func (h *Argon2idHasher) Hash(password string) (string, error) {
	return argon2id.CreateHash(password, &h.params)
}

// Verify checks password against an encoded argon2id hash in constant time. A hash whose
// parameters are not usable (see argon2ParamsUsable), or cost more than both the hasher's own
// and the ceilings of imported hashes, is an error, not a match: it is never computed.
func (h *Argon2idHasher) Verify(password, encoded string) (ok, rehash bool, err error) {
	p, _, _, err := argon2id.DecodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	if !argon2ParamsUsable(p) {
		return false, false, errUnusableArgon2
	}
	if !argon2ParamsAffordable(p, &h.params) {
		return false, false, errCostlyHash
	}
	ok, p, err = argon2id.CheckHash(password, encoded)
	if err != nil {
		return false, false, err
	}
	return ok, ok && *p != h.params, nil
}

var (
	errUnusableArgon2 = errors.New("users: argon2id hash with unusable parameters")
	errCostlyHash     = errors.New("users: password hash above the cost ceiling")
)

// argon2ParamsUsable reports whether p are argon2id parameters to hash or verify with: memory,
// iterations and parallelism above 0, a salt of 8 bytes or more and a key of 16 or more.
// Below them argon2 panics (no iterations, no parallelism, no key), or a short key matches
// many passwords.
func argon2ParamsUsable(p *argon2id.Params) bool {
	return p.Memory > 0 && p.Iterations > 0 && p.Parallelism > 0 && p.SaltLength >= 8 && p.KeyLength >= 16
}

// argon2ParamsAffordable reports whether a hash with parameters p costs no more to verify
// than the ceilings of imported hashes allow, or than own (the parameters of new hashes, when
// not nil) when they are higher: the bound that keeps one sign-in's memory and time in check.
func argon2ParamsAffordable(p, own *argon2id.Params) bool {
	maxMemory, maxIterations, maxParallelism := uint32(MaxImportedArgon2Memory), uint32(MaxImportedArgon2Iterations), uint8(MaxImportedArgon2Parallelism)
	if own != nil {
		maxMemory, maxIterations, maxParallelism = max(maxMemory, own.Memory), max(maxIterations, own.Iterations), max(maxParallelism, own.Parallelism)
	}
	return p.Memory <= maxMemory && p.Iterations <= maxIterations && p.Parallelism <= maxParallelism
}

// hash computes a hash once admitted (see hashGate): it returns ErrOverloaded when it is not
// admitted within Config.MaxHashWait, and the context's error when ctx ends first.
func (s *service) hash(ctx context.Context, password string) (string, error) {
	release, err := s.gate.admit(ctx, s.ownCost)
	if err != nil {
		return "", err
	}
	defer release()
	h, err := s.hasher.Hash(password)
	if err != nil {
		return "", internal(err)
	}
	return h, nil
}

// verify checks a password once admitted (see hashGate), with the errors of hash. A hash that
// cannot be read, or costs more than the ceilings allow, counts as a mismatch, and is logged
// (without the hash). A mismatch is answered no sooner than the slowest kind of hash in use
// would be (see failureTiming).
func (s *service) verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	cost := costOf(encoded)
	release, err := s.gate.admit(ctx, cost)
	if err != nil {
		return false, false, err
	}
	start := time.Now()
	ok, rehash, err = func() (bool, bool, error) {
		// Released even if the hasher panics, and before the pad: a sleep takes no place.
		defer release()
		if isBcrypt(encoded) { // imported from another system; replaced after the first sign-in
			return verifyBcrypt(password, encoded)
		}
		return s.hasher.Verify(password, encoded)
	}()
	if err == nil {
		s.gate.timing.observe(cost.class, time.Since(start))
	} else {
		s.log.ErrorContext(ctx, "users: unreadable password hash", "err", err)
		ok, rehash = false, false
	}
	if !ok {
		s.gate.pad(ctx, start)
	}
	return ok, rehash, nil
}

// PasswordPolicy decides which passwords are acceptable. Lengths count characters (runes),
// and a password is never truncated. There are no composition rules: length and
// unpredictability are what make a password strong. A password equal to the username or
// e-mail address (ignoring case) is refused; so is one the zxcvbn estimator scores below
// MinScore, for it is made of common passwords, words, names, keyboard patterns, repeats,
// sequences or dates, or of the user's own username, e-mail address or name. Only the first
// MaxScoredPasswordLength characters are scored. Then the Checker, when set, has its say.
type PasswordPolicy struct {
	MinLength int // default 8
	MaxLength int // default 256
	// MinScore is the lowest zxcvbn score accepted, from 1 to 4: a password scores 1 from
	// an estimated 10^3 guesses, 2 from 10^6, 3 from 10^8 and 4 from 10^10. Default 3
	// (DefaultMinPasswordScore). Negative: no estimate, any score is accepted. Above 4, New
	// returns ErrInvalid naming "Passwords".
	MinScore int
	// Checker, when set, is asked about every password the policy accepts, such as a
	// breached-password service; see PasswordChecker.
	Checker PasswordChecker
	// CheckerTimeout bounds each call of Checker; default 3 seconds.
	CheckerTimeout time.Duration
}

// The defaults of PasswordPolicy.
const (
	DefaultMinPasswordScore       = 3
	DefaultPasswordCheckerTimeout = 3 * time.Second
)

func (p *PasswordPolicy) setDefaults() error {
	setDefault(&p.MinLength, 8)
	setDefault(&p.MaxLength, 256)
	setDefault(&p.CheckerTimeout, DefaultPasswordCheckerTimeout)
	if p.MinScore == 0 {
		p.MinScore = DefaultMinPasswordScore
	}
	switch {
	case p.MinLength > p.MaxLength:
		return invalid("Passwords", "MinLength is above MaxLength")
	case p.MinScore > 4:
		return invalid("Passwords", "MinScore is above 4, the highest score")
	}
	return nil
}

// Check returns nil when password is acceptable for the user u (nil when there is none: then
// no word of theirs is looked for), as it will be once the password is set. Otherwise it
// returns an ErrInvalid naming the field "password" whose message says why in words a person
// can act on, and never repeats the password; or the error of Checker (see PasswordChecker);
// or ctx's error when ctx ends while Checker is asked. It is safe for concurrent use.
func (p PasswordPolicy) Check(ctx context.Context, password string, u *User) error {
	if err := p.checkRules(password, u); err != nil {
		return err
	}
	if p.Checker == nil {
		return nil
	}
	cu := User{}
	if u != nil {
		cu = *u
		cu.PasswordHash = ""
	}
	cctx, cancel := context.WithTimeout(ctx, p.CheckerTimeout)
	defer cancel()
	err := p.Checker.CheckPassword(cctx, password, &cu)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err() // the caller gave up: the password is not at fault
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: CodeInvalid, Field: "password", Message: checkerRefusal, Cause: err}
}

// checkRules is Check without the Checker: the lengths, the username and e-mail address, and
// the estimated strength.
func (p PasswordPolicy) checkRules(password string, u *User) error {
	_ = p.setDefaults()
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return invalid("password", "must be valid UTF-8")
	case n < p.MinLength:
		return invalid("password", "must have at least %d characters", p.MinLength)
	case n > p.MaxLength:
		return invalid("password", "must have at most %d characters", p.MaxLength)
	}
	if u != nil {
		folded := Fold(password)
		if folded == Fold(strings.TrimSpace(u.Username)) || (u.Email != "" && folded == Fold(strings.TrimSpace(u.Email))) {
			return invalid("password", "must not be the username or e-mail address")
		}
	}
	if p.MinScore < 0 {
		return nil
	}
	if score, reason := passwordStrength(password, u); score < p.MinScore {
		return weakPassword(reason)
	}
	return nil
}

func (s *service) ChangePassword(ctx context.Context, c PasswordChange) error {
	a := actorOf(ctx)
	if a != nil {
		switch {
		case c.UserID == "" || c.UserID != a.User.ID:
			return ErrForbidden // an actor changes only their own password
		case !a.IsSession():
			return ErrSessionRequired
		}
	}
	var u *User
	var account Digest
	if c.UserID != "" {
		var err error
		if u, err = s.store.GetUser(ctx, c.UserID); err != nil {
			return s.storeErr(ctx, "get user", err)
		}
		account = accountKey(u.ID)
	} else {
		email, err := s.NameRules().lookupEmail(c.Email)
		if err != nil {
			return err
		}
		u, err = s.store.GetUserByEmail(ctx, email)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return s.storeErr(ctx, "get user by email", err)
		}
		// An unknown address is counted by itself, so that the throttle tells nothing.
		account = nameKey(email)
		if u != nil {
			account = accountKey(u.ID)
		}
	}
	hash := s.dummy
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	if err := s.provePassword(ctx, account, u, c.OldPassword, hash, ErrWrongPassword); err != nil {
		return err
	}
	if c.UserID == "" {
		if err := s.signInErr(u); err != nil {
			return err
		}
	}
	if err := s.cfg.Passwords.Check(ctx, c.NewPassword, u); err != nil {
		return err
	}
	set := passwordSet{userID: u.ID, password: c.NewPassword, proven: hash}
	if a != nil {
		set.keep = a.digest
	} else if wellFormed(c.KeepToken) {
		set.keep = DigestOf(c.KeepToken)
	}
	if err := s.setPassword(ctx, set); err != nil {
		return err
	}
	s.emit(ctx, Event{Type: EventPasswordChanged, UserID: u.ID})
	return nil
}

func (s *service) SetPassword(ctx context.Context, userID, password string) error {
	u, err := lookup(ctx, s.store, ActionSetPassword, userID)
	if err != nil {
		return s.storeErr(ctx, "get user", err)
	}
	return s.adminSetPassword(ctx, u, password)
}

func (s *service) SetPasswordByEmail(ctx context.Context, email, password string) error {
	email, err := s.NameRules().lookupEmail(email)
	if err != nil {
		return err
	}
	u, err := s.store.GetUserByEmail(ctx, email)
	if u, err = authorizeFound(ctx, ActionSetPassword, u, err); err != nil {
		return s.storeErr(ctx, "get user by email", err)
	}
	return s.adminSetPassword(ctx, u, password)
}

func (s *service) adminSetPassword(ctx context.Context, u *User, password string) error {
	if err := s.cfg.Passwords.Check(ctx, password, u); err != nil {
		return err
	}
	if err := s.setPassword(ctx, passwordSet{userID: u.ID, password: password, action: ActionSetPassword}); err != nil {
		return err
	}
	s.emit(ctx, Event{Type: EventPasswordReset, UserID: u.ID, ActorID: actorID(ctx, u.ID)})
	return nil
}

func (s *service) GeneratePassword(ctx context.Context, userID string) (string, error) {
	u, err := lookup(ctx, s.store, ActionSetPassword, userID)
	if err != nil {
		return "", s.storeErr(ctx, "get user", err)
	}
	var password string
	for range 10 { // the policy may refuse one, by bad luck: it contains the username, say
		password = generatePassword()
		if err = s.cfg.Passwords.checkRules(password, u); err == nil {
			break
		}
	}
	if err != nil {
		return "", internal(errors.New("users: no generated password passes the password policy"))
	}
	set := passwordSet{userID: u.ID, password: password, action: ActionSetPassword, mustChange: true}
	if err := s.setPassword(ctx, set); err != nil {
		return "", err
	}
	s.emit(ctx, Event{Type: EventPasswordReset, UserID: u.ID, ActorID: actorID(ctx, u.ID)})
	return password, nil
}

// passwordAlphabet is what generated passwords are made of: letters and digits without the
// ones easily mistaken for each other (0 O o, 1 l I).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// generatePassword returns four groups of five random characters of passwordAlphabet joined by
// hyphens: 23 characters and about 115 bits of entropy, easy to read out and type.
func generatePassword() string {
	const unbiased = 256 - 256%len(passwordAlphabet) // bytes at or above it would favour some characters
	var out [23]byte
	var buf [64]byte
	n := len(buf)
	for i := range out {
		if i%6 == 5 {
			out[i] = '-'
			continue
		}
		for {
			if n == len(buf) {
				_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails
				n = 0
			}
			c := buf[n]
			n++
			if int(c) < unbiased {
				out[i] = passwordAlphabet[int(c)%len(passwordAlphabet)]
				break
			}
		}
	}
	return string(out[:])
}

// passwordSet is a change of a user's password, made in one transaction by setPassword. The
// password policy has been checked.
type passwordSet struct {
	userID   string
	password string
	// action, when set, is what the actor of the call must be allowed to do to the user as
	// read in the transaction.
	action Action
	// proven, when set, is the hash the user's current password was proven against: the
	// change fails with ErrWrongPassword if it changed meanwhile.
	proven string
	// keep is the digest of the session that stays: the caller's own, for a user changing
	// their password.
	keep Digest
	// mustChange sets MustChangePassword (a generated password); no mail is then sent:
	// whoever generated the password tells the user.
	mustChange bool
	// first, when set, is done first in the transaction (such as consuming a reset code).
	first func(ctx context.Context, tx Store) error
}

// setPassword hashes the password of set, and stores it on the user in a transaction that
// also clears or sets MustChangePassword and revokes every session (but set.keep), code and
// API key of the user. Then it clears the sign-in throttle and mails the user that their
// password changed.
func (s *service) setPassword(ctx context.Context, set passwordSet) error {
	hash, err := s.hash(ctx, set.password)
	if err != nil {
		return err
	}
	var user *User
	err = s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		if set.first != nil {
			if err := set.first(ctx, tx); err != nil {
				return err
			}
		}
		var u *User
		var err error
		if set.action != "" {
			u, err = lookup(ctx, tx, set.action, set.userID)
		} else {
			u, err = tx.GetUser(ctx, set.userID)
		}
		if err != nil {
			return err
		}
		if set.proven != "" && u.PasswordHash != set.proven {
			return ErrWrongPassword // changed since it was proven: prove the new one
		}
		u.PasswordHash = hash
		u.MustChangePassword = set.mustChange
		u.Updated = s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		user = u
		return revokeAll.apply(ctx, tx, u.ID, set.keep)
	})
	if err != nil {
		return s.storeErr(ctx, "set password", err)
	}
	s.clearThrottle(ctx, user.ID)
	s.emit(ctx, Event{Type: EventSessionsRevoked, UserID: user.ID, ActorID: actorID(ctx, user.ID)})
	if !set.mustChange {
		s.mailNotice(user, MailPasswordChanged)
	}
	return nil
}

// Mailer delivers the mails of the package. Send is called after the answer to the request
// that caused it has been decided, from a goroutine of the Service; it must be safe for
// concurrent use. An error is logged (without the code) and not retried.
type Mailer interface {
	// Send delivers m, giving up when ctx ends. The error is only logged.
	Send(ctx context.Context, m Mail) error
}

// MailKind names the purpose of a Mail.
type MailKind string

// The mail kinds.
const (
	MailPasswordReset       MailKind = "password-reset"       // carries a reset code for ResetPassword
	MailVerifyEmail         MailKind = "verify-email"         // carries a verification code for VerifyEmail
	MailPasswordChanged     MailKind = "password-changed"     // tells the user their password changed; no code
	MailRegistrationAttempt MailKind = "registration-attempt" // someone tried to register with the user's address; no code
	MailEmailChanged        MailKind = "email-changed"        // tells the old address that the account's address changed; no code
	MailUsernameChanged     MailKind = "username-changed"     // tells the user their username changed; no code
	MailAPIKeyCreated       MailKind = "apikey-created"       // an administrator created an API key for the user (KeyName); no code
)

// Mail is a message for a user. Code is a secret: Mail's String and LogValue leave it out.
//
// A mail carries nothing an attacker chose: the name a user gave is left out of every mail
// to an address that has not been verified (anyone may register someone else's address with
// a name that reads like a message or a link), and in a mail to a verified address it is
// passed through MailName: no line breaks or other control or format characters, nothing
// that looks like a link or an address, at most MaxMailNameLength characters. Templates must
// still escape it for their format (HTML).
type Mail struct {
	Kind    MailKind
	To      string // the user's e-mail address
	UserID  string
	Name    string // the user's name as MailName gives it; empty when To is not verified
	Code    string // the single-use code, when the kind carries one
	Expires time.Time
	KeyName string // the name of the API key, for MailAPIKeyCreated
}

// String describes the mail without its code.
func (m Mail) String() string { return string(m.Kind) + " mail to " + m.To }

// GoString describes the mail without its code, for %#v.
func (m Mail) GoString() string { return "users.Mail{" + m.String() + "}" }

// LogValue logs the mail without its code.
func (m Mail) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", string(m.Kind)), slog.String("to", m.To), slog.String("user", m.UserID))
}

// maxBackgroundJobs bounds the background jobs (such as mails) run at once by one Service.
const maxBackgroundJobs = 64

func (s *service) ForgotPassword(ctx context.Context, email string) error {
	email, err := s.NameRules().lookupEmail(email)
	if err != nil {
		return err
	}
	if s.cfg.Mailer == nil {
		return errNoMailer
	}
	// Everything that depends on whether the address is known happens in the background, so
	// that neither the answer nor its timing tells.
	s.backgroundFor(ctx, func(ctx context.Context) { s.mailResetCode(ctx, email) })
	return nil
}

// mailResetCode issues a reset code to the active user with this e-mail address, if there is
// one who may reset their password, voiding earlier codes, and mails it.
func (s *service) mailResetCode(ctx context.Context, email string) {
	u, err := s.store.GetUserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return
	}
	if err != nil {
		_ = s.storeErr(ctx, "get user by email", err)
		return
	}
	mayReset := func(u *User) bool { return u.Status == StatusActive && !u.PasswordResetDisallowed }
	if s.mailCode(ctx, u, TokenReset, MailPasswordReset, s.cfg.ResetCodeTTL, mayReset) {
		s.emit(ctx, Event{Type: EventPasswordForgot, UserID: u.ID})
	}
}

// liveResetCodes is how many password-reset codes of a user stay valid at once: a new one voids
// all but the newest of the earlier ones, so that requests by someone else cannot keep the owner
// from using the code they were just mailed.
const liveResetCodes = 3

// mailCode issues u a single-use code of the kind and mails it to them as a mail of mailKind.
// A verification code voids the user's earlier ones (one outstanding code at a time); a reset
// code voids all but the newest liveResetCodes-1 earlier ones. The user is
// read again in the transaction that issues the code, which issues none unless eligible
// holds for them there, so that no code outlives a change that revokes codes. It reports
// whether the code was issued; failures are logged, without the code.
func (s *service) mailCode(ctx context.Context, u *User, kind TokenKind, mailKind MailKind, ttl time.Duration, eligible func(*User) bool) bool {
	var code string
	var exp time.Time
	var to *User
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		to = nil
		cur, err := tx.GetUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if !eligible(cur) || Fold(cur.Email) != Fold(u.Email) {
			return nil // changed meanwhile: no longer theirs to have
		}
		if err := voidEarlierCodes(ctx, tx, u.ID, kind, s.cfg.Now()); err != nil {
			return err
		}
		if code, exp, err = s.issueToken(ctx, tx, kind, u.ID, ttl); err != nil {
			return err
		}
		to = cur
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return false // deleted meanwhile
	}
	if err != nil {
		_ = s.storeErr(ctx, "put "+string(kind)+" code", err)
		return false
	}
	if to == nil {
		return false
	}
	s.send(ctx, Mail{Kind: mailKind, To: to.Email, UserID: to.ID, Name: mailName(to), Code: code, Expires: exp})
	return true
}

// voidEarlierCodes removes the user's codes of the kind that a new one voids at now: all of
// them for a verification code; for a reset code, the expired ones and all but the newest
// liveResetCodes-1 of the others.
func voidEarlierCodes(ctx context.Context, tx Store, userID string, kind TokenKind, now time.Time) error {
	if kind != TokenReset {
		_, err := tx.DeleteUserTokens(ctx, userID, kind)
		return err
	}
	codes, err := tx.ListTokens(ctx, userID, kind) // oldest first
	if err != nil {
		return err
	}
	keep := liveResetCodes - 1
	for i := len(codes) - 1; i >= 0; i-- {
		if !codes[i].Expired(now) && keep > 0 {
			keep--
			continue
		}
		if err := tx.DeleteToken(ctx, codes[i].Digest); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// send hands m to the Mailer, logging a failure without the code.
func (s *service) send(ctx context.Context, m Mail) {
	if err := s.cfg.Mailer.Send(ctx, m); err != nil {
		s.log.ErrorContext(ctx, "users: mail not sent", "mail", m, "err", err)
	}
}

// mailNotice mails u a notice without a code, such as MailPasswordChanged, in the background,
// when a Mailer is configured and u has an address.
func (s *service) mailNotice(u *User, kind MailKind) {
	if s.cfg.Mailer == nil || u.Email == "" {
		return
	}
	m := Mail{Kind: kind, To: u.Email, UserID: u.ID, Name: mailName(u)}
	s.background(func(ctx context.Context) { s.send(ctx, m) })
}

// backgroundTimeout bounds each background job, such as sending one mail.
const backgroundTimeout = time.Minute

// background runs job in a goroutine, at most maxBackgroundJobs at once, so that the caller's
// answer and its timing do not depend on it. Close waits for every job it accepted; after
// Close, jobs are refused (and logged).
func (s *service) background(job func(ctx context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		s.log.Warn("users: background work refused: the service is closed")
		return
	default:
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.jobSem <- struct{}{} // not abandoned on Close: Close waits for accepted jobs
		defer func() { <-s.jobSem }()
		ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
		defer cancel()
		job(ctx)
	}()
}

// errBadCode is the answer for an unknown, used or expired code.
var errBadCode = &Error{Code: CodeInvalid, Field: "code", Message: "is invalid or has expired"}

func (s *service) ResetPassword(ctx context.Context, code, password string) error {
	if !wellFormed(code) {
		return errBadCode
	}
	digest := DigestOf(code)
	t, err := s.store.GetToken(ctx, digest, s.cfg.Now())
	if errors.Is(err, ErrNotFound) || (err == nil && t.Kind != TokenReset) {
		return errBadCode
	}
	if err != nil {
		return s.storeErr(ctx, "get token", err)
	}
	u, err := s.store.GetUser(ctx, t.UserID)
	if errors.Is(err, ErrNotFound) {
		return errBadCode
	}
	if err != nil {
		return s.storeErr(ctx, "get user", err)
	}
	if u.PasswordResetDisallowed {
		return errBadCode
	}
	if err := s.cfg.Passwords.Check(ctx, password, u); err != nil {
		return err
	}
	err = s.setPassword(ctx, passwordSet{userID: u.ID, password: password, first: func(ctx context.Context, tx Store) error {
		t, err := tx.ConsumeToken(ctx, digest, TokenReset, s.cfg.Now())
		if errors.Is(err, ErrNotFound) || (err == nil && t.UserID != u.ID) {
			return errBadCode
		}
		return err
	}})
	if err != nil {
		return err
	}
	s.emit(ctx, Event{Type: EventPasswordReset, UserID: u.ID})
	return nil
}
