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

// Argon2idHasher is the default Hasher: argon2id with fixed parameters.
// It is safe for concurrent use.
type Argon2idHasher struct {
	params argon2id.Params
}

// NewArgon2idHasher returns a Hasher using p for new hashes. It verifies hashes made with any
// parameters, asking for a rehash when they differ from p.
func NewArgon2idHasher(p *argon2id.Params) *Argon2idHasher {
	return &Argon2idHasher{params: *p}
}

// Hash returns the PHC-encoded argon2id hash of password with a fresh random salt.
func (h *Argon2idHasher) Hash(password string) (string, error) {
	return argon2id.CreateHash(password, &h.params)
}

// Verify checks password against an encoded argon2id hash in constant time. A hash whose
// parameters are not usable (see argon2ParamsUsable) is an error, not a match.
func (h *Argon2idHasher) Verify(password, encoded string) (ok, rehash bool, err error) {
	p, _, _, err := argon2id.DecodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	if !argon2ParamsUsable(p) {
		return false, false, errUnusableArgon2
	}
	ok, p, err = argon2id.CheckHash(password, encoded)
	if err != nil {
		return false, false, err
	}
	return ok, ok && *p != h.params, nil
}

var errUnusableArgon2 = errors.New("users: argon2id hash with unusable parameters")

// argon2ParamsUsable reports whether p are argon2id parameters to hash or verify with: memory,
// iterations and parallelism above 0, a salt of 8 bytes or more and a key of 16 or more.
// Below them argon2 panics (no iterations, no parallelism, no key), or a short key matches
// many passwords.
func argon2ParamsUsable(p *argon2id.Params) bool {
	return p.Memory > 0 && p.Iterations > 0 && p.Parallelism > 0 && p.SaltLength >= 8 && p.KeyLength >= 16
}

// hash computes a hash under the bound on concurrent hashes.
func (s *service) hash(ctx context.Context, password string) (string, error) {
	if err := s.acquireHash(ctx); err != nil {
		return "", err
	}
	defer func() { <-s.hashSem }()
	h, err := s.hasher.Hash(password)
	if err != nil {
		return "", internal(err)
	}
	return h, nil
}

// verify checks a password under the bound on concurrent hashes. A hash that cannot be read
// counts as a mismatch, and is logged (without the hash).
func (s *service) verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	if err := s.acquireHash(ctx); err != nil {
		return false, false, err
	}
	defer func() { <-s.hashSem }()
	if isBcrypt(encoded) { // imported from another system; replaced after the first sign-in
		ok, rehash, err = verifyBcrypt(password, encoded)
	} else {
		ok, rehash, err = s.hasher.Verify(password, encoded)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "users: unreadable password hash", "err", err)
		return false, false, nil
	}
	return ok, rehash, nil
}

func (s *service) acquireHash(ctx context.Context) error {
	select {
	case s.hashSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PasswordPolicy decides which passwords are acceptable. Lengths count characters (runes),
// and a password is never truncated. There are no composition rules: length is what makes a
// password strong. A password equal to the username or e-mail (ignoring case) is refused, and
// so is one of the most common passwords unless AllowCommon is set.
type PasswordPolicy struct {
	MinLength   int  // default 8
	MaxLength   int  // default 1024
	AllowCommon bool // accept passwords from the built-in list of the most common ones
}

func (p *PasswordPolicy) setDefaults() error {
	setDefault(&p.MinLength, 8)
	setDefault(&p.MaxLength, 1024)
	if p.MinLength > p.MaxLength {
		return invalid("Passwords", "MinLength is above MaxLength")
	}
	return nil
}

// Check returns nil when password is acceptable for a user with this username and e-mail, and
// an ErrInvalid naming the field "password" otherwise. The message never repeats the password.
func (p PasswordPolicy) Check(password, username, email string) error {
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
	folded := Fold(password)
	if folded == Fold(strings.TrimSpace(username)) || (email != "" && folded == Fold(strings.TrimSpace(email))) {
		return invalid("password", "must not be the username or e-mail address")
	}
	if !p.AllowCommon && commonPasswords[folded] {
		return invalid("password", "is one of the most common passwords")
	}
	return nil
}

// commonPasswords are among the most used passwords of 8 characters or more in public breach
// corpora, folded to lower case.
var commonPasswords = func() map[string]bool {
	m := make(map[string]bool)
	for _, p := range strings.Fields(`
		password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword
		12345678 123456789 1234567890 12345678910 123123123 11111111 00000000 88888888
		87654321 11223344 12341234 987654321 147258369 123456789a 1q2w3e4r 1q2w3e4r5t
		1qaz2wsx qwertyui qwertyuiop qwerty123 qwerty12 asdfghjk asdfghjkl zxcvbnm1
		iloveyou iloveyou1 sunshine princess football baseball superman batman123
		trustno1 letmein1 welcome1 welcome123 abc12345 abcd1234 aa123456 a1b2c3d4
		computer whatever starwars michelle jennifer corvette mercedes 1234qwer
		qazwsxedc zaq12wsx changeme changeme1 admin123 administrator
		dragon123 monkey123 master123 shadow123 football1 baseball1 charlie1
		liverpool chelsea1 arsenal1 pokemon1 minecraft
	`) {
		m[p] = true
	}
	return m
}()

func (s *service) ChangePassword(ctx context.Context, c PasswordChange) error {
	var u *User
	var key Digest
	if c.UserID != "" {
		var err error
		if u, err = s.store.GetUser(ctx, c.UserID); err != nil {
			return s.storeErr(ctx, "get user", err)
		}
		key = throttleKey(u.Username)
	} else {
		email, err := s.NameRules().lookupEmail(c.Email)
		if err != nil {
			return err
		}
		// Keyed by the address given, known or not, so that the throttle tells nothing.
		key = throttleKey(email)
		u, err = s.store.GetUserByEmail(ctx, email)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return s.storeErr(ctx, "get user by email", err)
		}
	}
	if wait := s.throttle.wait(key, s.cfg.Now()); wait > 0 {
		return &Error{Code: CodeThrottled, Message: "too many failed attempts; try again later", RetryAfter: wait}
	}
	hash := s.dummy
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	ok, _, err := s.verify(ctx, c.OldPassword, hash)
	if err != nil {
		return err
	}
	if !ok || hash == s.dummy {
		s.throttle.fail(key, s.cfg.Now())
		return ErrWrongPassword
	}
	s.throttle.reset(key)
	if c.UserID == "" {
		if err := s.signInErr(u); err != nil {
			return err
		}
	}
	if err := s.cfg.Passwords.Check(c.NewPassword, u.Username, u.Email); err != nil {
		return err
	}
	if err := s.setPassword(ctx, u.ID, c.NewPassword, c.KeepToken); err != nil {
		return err
	}
	s.emit(Event{Type: EventPasswordChanged, UserID: u.ID})
	return nil
}

func (s *service) SetPassword(ctx context.Context, userID, password string) error {
	u, err := s.store.GetUser(ctx, userID)
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
	if err != nil {
		return s.storeErr(ctx, "get user by email", err)
	}
	return s.adminSetPassword(ctx, u, password)
}

func (s *service) adminSetPassword(ctx context.Context, u *User, password string) error {
	if err := s.cfg.Passwords.Check(password, u.Username, u.Email); err != nil {
		return err
	}
	if err := s.setPassword(ctx, u.ID, password, ""); err != nil {
		return err
	}
	s.emit(Event{Type: EventPasswordReset, UserID: u.ID})
	return nil
}

func (s *service) GeneratePassword(ctx context.Context, userID string) (string, error) {
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return "", s.storeErr(ctx, "get user", err)
	}
	var password string
	for range 10 { // the policy may refuse one, by bad luck: it contains the username, say
		password = generatePassword()
		if err = s.cfg.Passwords.Check(password, u.Username, u.Email); err == nil {
			break
		}
	}
	if err != nil {
		return "", internal(errors.New("users: no generated password passes the password policy"))
	}
	if err := s.setPasswordWith(ctx, u.ID, password, "", true, nil); err != nil {
		return "", err
	}
	s.emit(Event{Type: EventPasswordReset, UserID: u.ID})
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

// setPassword hashes password, stores it on the user, clears MustChangePassword, revokes the
// user's sessions (but keepToken) and codes, clears the sign-in throttle and mails the user
// that their password changed. The policy has been checked.
func (s *service) setPassword(ctx context.Context, userID, password, keepToken string) error {
	return s.setPasswordWith(ctx, userID, password, keepToken, false, nil)
}

// setPasswordWith is setPassword that sets MustChangePassword to mustChange (and then sends
// no mail: whoever generated the password tells the user), with extra work (such as
// consuming a reset code) done in the same transaction, first.
func (s *service) setPasswordWith(ctx context.Context, userID, password, keepToken string, mustChange bool, first func(ctx context.Context, tx Store) error) error {
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	var user *User
	err = s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		if first != nil {
			if err := first(ctx, tx); err != nil {
				return err
			}
		}
		u, err := tx.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		u.MustChangePassword = mustChange
		u.Updated = s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		user = u
		return revokeSessionsAndCodes.apply(ctx, tx, userID, keepToken)
	})
	if err != nil {
		return s.storeErr(ctx, "set password", err)
	}
	s.throttle.reset(throttleKey(user.Username))
	s.emit(Event{Type: EventSessionsRevoked, UserID: userID})
	if !mustChange {
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
)

// Mail is a message for a user. Code is a secret: Mail's String and LogValue leave it out.
type Mail struct {
	Kind    MailKind
	To      string // the user's e-mail address
	UserID  string
	Name    string // the user's name, possibly empty
	Code    string // the single-use code, when the kind carries one
	Expires time.Time
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
	s.background(func(ctx context.Context) { s.mailResetCode(ctx, email) })
	return nil
}

// mailResetCode issues a reset code to the active user with this e-mail address, if there is
// one who may reset their password, voiding earlier codes, and mails it.
func (s *service) mailResetCode(ctx context.Context, email string) {
	u, err := s.store.GetUserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) || (err == nil && (u.Status != StatusActive || u.PasswordResetDisallowed)) {
		return
	}
	if err != nil {
		_ = s.storeErr(ctx, "get user by email", err)
		return
	}
	if s.mailCode(ctx, u, TokenReset, MailPasswordReset, s.cfg.ResetCodeTTL) {
		s.emit(Event{Type: EventPasswordForgot, UserID: u.ID})
	}
}

// mailCode issues u a single-use code of the kind, voiding their earlier codes of that kind
// (one outstanding code at a time), and mails it to them as a mail of mailKind. It reports
// whether the code was issued; failures are logged, without the code.
func (s *service) mailCode(ctx context.Context, u *User, kind TokenKind, mailKind MailKind, ttl time.Duration) bool {
	var code string
	var exp time.Time
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		if _, err := tx.DeleteUserTokens(ctx, u.ID, kind); err != nil {
			return err
		}
		var err error
		code, exp, err = s.issueToken(ctx, tx, kind, u.ID, ttl)
		return err
	})
	if err != nil {
		_ = s.storeErr(ctx, "put "+string(kind)+" code", err)
		return false
	}
	s.send(ctx, Mail{Kind: mailKind, To: u.Email, UserID: u.ID, Name: u.Name, Code: code, Expires: exp})
	return true
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
	m := Mail{Kind: kind, To: u.Email, UserID: u.ID, Name: u.Name}
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
	if err := s.cfg.Passwords.Check(password, u.Username, u.Email); err != nil {
		return err
	}
	err = s.setPasswordWith(ctx, u.ID, password, "", false, func(ctx context.Context, tx Store) error {
		_, err := tx.ConsumeToken(ctx, digest, TokenReset, s.cfg.Now())
		if errors.Is(err, ErrNotFound) {
			return errBadCode
		}
		return err
	})
	if err != nil {
		return err
	}
	s.emit(Event{Type: EventPasswordReset, UserID: u.ID})
	return nil
}
