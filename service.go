package users

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Service is the user-management API. Every business rule lives behind it: normalisation,
// validation, hashing, tokens, throttling, revocation, deletion, and who may do what.
//
// A call whose context carries an actor (see WithActor; the HTTP adapter sets one on every
// authenticated request) is decided for that actor by the policy (Authorize, AuthorizeUpdate)
// against the target as it is read in the transaction that changes it, so that a concurrent
// change of the target cannot slip between the check and the write; it fails with
// ErrForbidden, ErrNotFound (for a user hidden from the actor), ErrSessionRequired (an API key
// doing what needs a session) or ErrPasswordChangeRequired (a user who must change their
// password doing anything but reading themself and changing it). A call without an actor
// comes from trusted code and is not restricted.
//
// Errors are *Error values matching the sentinels with errors.Is; their messages never
// contain a secret. An implementation is safe for concurrent use.
//
// A method that checks or hashes a password (SignIn, ChangePassword, Create and Update with a
// password, SetPassword, SetPasswordByEmail, GeneratePassword, ResetPassword, Register)
// returns ErrOverloaded, with RetryAfter, when its hash cannot be admitted within
// Config.MaxHashWait, and the context's error when ctx ends first; it has then changed nothing.
type Service interface {
	// Create creates a user from in. in.Password may be empty: the user then has no password
	// and cannot sign in until one is set. Returns ErrInvalid naming the field at fault, or
	// ErrConflict when the username or e-mail is taken.
	Create(ctx context.Context, in NewUser) (*User, error)
	// NewSession issues a bearer token for the user without asking for a password (as after
	// Create). Returns ErrNotFound for an unknown user, and for one who may not sign in (not
	// active, or unverified under Config.RequireVerifiedEmail) the ErrForbidden of SignIn. An
	// actor may ask only for themself, or be an administrator with a session.
	NewSession(ctx context.Context, userID string) (*Session, error)
	// SignIn checks the username and password and issues a bearer token. An unknown username,
	// a user without a password and a wrong password all return the same ErrUnauthorized after
	// the same work. After too many failures for one account (or name that is none) from the
	// client's address, or from all addresses (see Throttle), it returns ErrThrottled with
	// RetryAfter set, whether or not the account exists. A correct password for a user who is
	// not active returns ErrForbidden. The session is issued in the transaction that reads
	// the user again: a sign-in whose password check raced a change of password, a disabling
	// or a deletion fails with ErrUnauthorized rather than outlive it.
	SignIn(ctx context.Context, username, password string) (*Session, error)
	// Authenticate returns who a bearer token or API key belongs to, and which of the two it
	// is. Returns ErrUnauthorized for a malformed, unknown, expired or revoked token, or a
	// user who is no longer active or, under Config.RequireVerifiedEmail, no longer verified
	// (after a change of e-mail address, say).
	Authenticate(ctx context.Context, token string) (*Principal, error)
	// SignOut revokes one bearer token, or the API key it is given: a key signed out with is
	// deleted. Returns ErrUnauthorized when it is not a live token.
	SignOut(ctx context.Context, token string) error
	// RevokeSessions revokes every session of the user. Returns ErrNotFound for an unknown user.
	RevokeSessions(ctx context.Context, userID string) error
	// RevokeCredentials revokes every session, outstanding code and API key of the user at
	// once. Returns ErrNotFound for an unknown user.
	RevokeCredentials(ctx context.Context, userID string) error

	// Get returns the user with this ID, or ErrNotFound.
	Get(ctx context.Context, id string) (*User, error)
	// GetByUsername returns the user with this username (case-insensitively), or ErrNotFound.
	GetByUsername(ctx context.Context, username string) (*User, error)
	// GetByEmail returns the user with this e-mail address (case-insensitively), or
	// ErrNotFound. Returns ErrInvalid for a string that is not an e-mail address.
	GetByEmail(ctx context.Context, email string) (*User, error)
	// List returns the page of users q selects and the total number q's conditions select.
	// Returns ErrInvalid for a bad query (see Query).
	List(ctx context.Context, q Query) (page []*User, total int, err error)
	// Count returns how many users q's conditions select. Returns ErrInvalid for a bad query.
	Count(ctx context.Context, q Query) (int, error)
	// Update applies the fields p sets and leaves the rest. A password in p is checked against
	// the password policy and hashed. What a change revokes: a new password, or a status
	// other than active, every session, code and API key of the user (a user changing their
	// own password keeps the session they act with); a change of scope, permissions or
	// organization, the user's API keys (a key never gains power it did not have when it was
	// made); a new e-mail address, the codes mailed to the old one. A new e-mail address or
	// username is told to the old address by mail.
	//
	// An actor changing their own username, e-mail address or password must prove their
	// current password in p.CurrentPassword (ErrWrongPassword otherwise, throttled as sign-in
	// is; ErrForbidden naming "currentPassword" for a user who has none yet), and any actor
	// changing those needs a session. The last active administrator cannot be disabled or
	// lose the admin role: ErrConflict.
	//
	// Returns ErrNotFound, ErrInvalid naming the field, or ErrConflict for a taken username or
	// e-mail, for p.Version not matching, or while the user is being deleted.
	Update(ctx context.Context, id string, p Update) (*User, error)

	// ChangePassword sets a new password after checking the current one, clears
	// MustChangePassword, and revokes every session, outstanding code and API key of the
	// user except the session c.KeepToken (or the actor's own session). The user is c.UserID
	// or, when that is empty, the user with the address c.Email: that form proves nothing but
	// the password, so an unknown address answers ErrWrongPassword after the same work as a
	// wrong password, and a user who is not active gets the ErrForbidden of SignIn. An actor
	// may change only their own password, with a session. Returns ErrWrongPassword for a wrong
	// current password (or one changed while it was checked), ErrInvalid for a new password
	// the policy refuses, ErrThrottled after repeated failures, ErrNotFound for an unknown
	// c.UserID.
	ChangePassword(ctx context.Context, c PasswordChange) error
	// SetPassword sets the user's password without the current one (an administrator's
	// reset), clears MustChangePassword, and revokes every session, code and API key of the
	// user. Returns ErrNotFound or ErrInvalid.
	SetPassword(ctx context.Context, userID, password string) error
	// GeneratePassword sets a strong generated password for the user, as SetPassword does,
	// marks them MustChangePassword, and returns the password: the only time it is shown.
	// Returns ErrNotFound.
	GeneratePassword(ctx context.Context, userID string) (string, error)
	// SetPasswordByEmail is SetPassword for the user with this e-mail address.
	SetPasswordByEmail(ctx context.Context, email, password string) error
	// ForgotPassword mails a single-use reset code to the user with this e-mail address, when
	// there is an active one whose PasswordResetDisallowed is not set. At most three codes of a
	// user are valid at once: a new one voids all but the two newest earlier ones, so that
	// requests by someone else do not void the code the owner is about to use. It answers the
	// same, in the same time, whether or not there is: nil, or ErrInvalid for an address that is not an
	// e-mail address, or ErrInternal when no Mailer is configured. The look-up, the code and
	// the mail happen in the background; Close waits for them.
	ForgotPassword(ctx context.Context, email string) error
	// ResetPassword sets a new password with a code from ForgotPassword, consuming the code,
	// and revokes every session, other code and API key of the user. Returns ErrInvalid
	// (field "code") for an unknown, used or expired code and ErrInvalid (field "password")
	// for a password the policy refuses, in which case the code stays usable.
	ResetPassword(ctx context.Context, code, password string) error

	// Register signs up a user who must prove their e-mail address: it creates the user,
	// pending when Config.RequireApproval is set and active otherwise, with EmailVerified
	// false, and mails them a single-use verification code (valid Config.VerifyCodeTTL) for
	// VerifyEmail. When the username or e-mail is taken it creates nothing and mails the
	// owner of the address that someone tried to register with it. It answers the same, in
	// the same time, either way: nil, or ErrInvalid for input that is malformed or a password
	// the policy refuses, or ErrInternal when no Mailer is configured. The look-up, the user
	// and the mail happen in the background; Close waits for them.
	Register(ctx context.Context, r Registration) error
	// SignUp is the open sign-up of Appmixer's API: it creates an active user and returns a
	// session at once, unless Config.RequireVerifiedEmail or Config.RequireApproval is set,
	// in which case it registers the user exactly as Register does and returns a nil Session
	// (and a nil error). Unlike Register, a taken username or e-mail is ErrConflict when it
	// creates the user: this form tells anyone which addresses have accounts, so offer it
	// only by choice. Returns ErrInvalid as Register does.
	SignUp(ctx context.Context, r Registration) (*Session, error)
	// ResendVerification mails a new verification code, voiding earlier ones, to the user
	// with this e-mail address when there is one whose address is unverified and who is not
	// disabled. It answers as ForgotPassword does, whether or not there is.
	ResendVerification(ctx context.Context, email string) error
	// VerifyEmail consumes a code from Register or ResendVerification and marks the user's
	// e-mail verified. It never changes the status: a pending user stays pending until
	// Approve or an update of the status. Returns the user, or ErrInvalid (field "code") for
	// an unknown, used or expired code.
	VerifyEmail(ctx context.Context, code string) (*User, error)
	// Approve makes a pending user active. Approving an active user changes nothing and
	// returns them. Returns ErrNotFound, or ErrConflict for a disabled user (enable them with
	// Update instead).
	Approve(ctx context.Context, userID string) (*User, error)

	// CreateAPIKey issues a named API key for the user. The key, in the result's Key, is
	// shown this once: only its digest is stored. It authenticates as a bearer token does
	// (see Authenticate) until it expires, is deleted or rotated, or its user's password,
	// status, scope, permissions or organization changes. An actor mints keys only for
	// themself, with a session; an administrator may mint one for another user, who is then
	// mailed about it, and the key records who made it (APIKey.CreatedBy). Returns
	// ErrNotFound for an unknown user, ErrInvalid for a bad name or an expiry not in the
	// future, and ErrConflict for a name the user already has, a user with Config.MaxAPIKeys
	// keys, or a disabled user.
	CreateAPIKey(ctx context.Context, userID string, in NewAPIKey) (*APIKey, error)
	// APIKeys lists the user's API keys, oldest first, without their keys. Returns ErrNotFound
	// for an unknown user.
	APIKeys(ctx context.Context, userID string) ([]*APIKey, error)
	// RotateAPIKey replaces the key of the user's API key keyID by a new one, keeping its ID,
	// name and expiry, and returns it with the new key shown this once. Rotating mints a key:
	// the rules of CreateAPIKey apply. Returns ErrNotFound, or ErrConflict (field "expires")
	// for a key that has expired.
	RotateAPIKey(ctx context.Context, userID, keyID string) (*APIKey, error)
	// DeleteAPIKey revokes the user's API key keyID. Returns ErrNotFound.
	DeleteAPIKey(ctx context.Context, userID, keyID string) error

	// SetImage stores data as the user's profile image. The type is sniffed from the bytes,
	// never taken from a caller: it returns ErrUnsupportedMedia for anything but a JPEG or a
	// PNG, ErrTooLarge for more than Config.MaxImageBytes, ErrInvalid (field "image") for
	// dimensions over Config.MaxImageSide or a header it cannot read (only the header is
	// read, so a decompression bomb is refused without being decoded), and ErrNotFound for
	// an unknown user.
	SetImage(ctx context.Context, userID string, data []byte) (*Image, error)
	// Image returns the user's profile image, or ErrNotFound when there is none.
	Image(ctx context.Context, userID string) (*Image, error)
	// DeleteImage removes the user's profile image. Returns ErrNotFound when there is none.
	DeleteImage(ctx context.Context, userID string) error

	// Import creates users that come with a password hash from another system: argon2id, or
	// bcrypt ($2a$, $2b$, $2y$), which sign-in verifies and replaces with argon2id after the
	// first successful sign-in. Each user keeps the ID, times, status and hash given (an empty
	// ID is generated, zero times are now). It returns one result per user, in order: created,
	// skipped when the ID, username or e-mail is taken, or rejected with the reason; the
	// created users are stored in one transaction. Every user is checked before it; a user
	// the store still refuses (for another reason than a clash) is tried again alone, and
	// when the store refuses it again it is rejected and the others are stored without it,
	// for up to 8 such users a call. It returns an error only when the store fails (or
	// refuses more users than that), and then creates nothing.
	Import(ctx context.Context, us []*User) ([]ImportResult, error)
	// Export calls fn with every user, with their password hash, in ID order, a page at a
	// time; it stops at fn's first error and returns it.
	Export(ctx context.Context, fn func(*User) error) error

	// Delete starts deleting the user and returns the ticket at once. In the same transaction
	// the user is disabled and every token, code and API key of theirs revoked, so from then on
	// they can neither sign in nor authenticate. A worker runs the deletion steps (see Config).
	// Deleting a user already being deleted returns the ticket in progress. Returns
	// ErrNotFound, or ErrConflict for the last active administrator.
	Delete(ctx context.Context, userID string) (*Ticket, error)
	// Ticket returns a deletion ticket, or ErrNotFound.
	Ticket(ctx context.Context, ticketID string) (*Ticket, error)
	// CancelDeletion stops a deletion before its next step and gives the user back the status
	// they had; steps already done are not undone, and revoked credentials stay revoked (the
	// user signs in again). Returns ErrNotFound, or ErrConflict once the ticket is completed,
	// failed or cancelled.
	CancelDeletion(ctx context.Context, ticketID string) (*Ticket, error)

	// Close stops the deletion worker and the sweeper, waits for them and for mail being
	// sent, and returns nil.
	// Unfinished tickets are resumed by the next Service on the same store. Close is
	// idempotent; other methods keep working after it, but no deletion advances.
	Close() error
}

// NewUser is the input of Service.Create. Empty fields take the defaults of User.Normalize.
type NewUser struct {
	Username                 string
	Email                    string
	Password                 string
	Name                     string
	Scope                    []string
	Plan                     string
	Vendor                   []string
	AllowedPrivateComponents []string
	OrgID                    string
	Status                   Status
	EmailVerified            bool
	Metadata                 map[string]any
	Permissions              map[string]Permission
	PasswordResetDisallowed  bool
}

// Update is a patch for Service.Update: a nil field is left as it is. Metadata replaces the
// whole object. Version, when set, must equal the user's current version (optimistic
// concurrency); without it, concurrent updates are applied one after the other.
// CurrentPassword is not a field of the user: it proves the actor's password when they change
// their own username, e-mail address or password.
type Update struct {
	Username                 *string
	Email                    *string
	Password                 *string
	Name                     *string
	Scope                    *[]string
	Plan                     *string
	Vendor                   *[]string
	AllowedPrivateComponents *[]string
	OrgID                    *string
	Status                   *Status
	EmailVerified            *bool
	Metadata                 *map[string]any
	Permissions              *map[string]Permission // replaces the whole object
	PasswordResetAllowed     *bool
	Version                  *int64
	CurrentPassword          string
}

// PasswordChange is the input of Service.ChangePassword.
type PasswordChange struct {
	UserID      string
	Email       string // names the user when UserID is empty
	OldPassword string
	NewPassword string
	KeepToken   string // the session to keep, usually the caller's own; "" revokes every session
}

// Session is a signed-in user and their bearer token. The token is shown this once: only its
// digest is stored.
type Session struct {
	Token   string    `json:"token"`
	User    *User     `json:"user"`
	Expires time.Time `json:"expires"`
}

// Registration is the input of Service.Register and Service.SignUp. Username and Email
// default to each other; one of them is required.
type Registration struct {
	Username string
	Email    string
	Name     string
	Password string
	Metadata map[string]any
}

// NewAPIKey is the input of Service.CreateAPIKey.
type NewAPIKey struct {
	Name    string    // required: printable text of at most MaxNameLength characters, unique per user
	Expires time.Time // when the key stops working; the zero time means never
}

// APIKey describes an API key. Key is set only in the answer of CreateAPIKey and
// RotateAPIKey: it is the secret, shown once.
type APIKey struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Prefix   string    `json:"prefix"` // the first characters of the key, to tell keys apart
	Key      string    `json:"key,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`
	LastUsed time.Time `json:"lastUsed,omitzero"` // to the minute
	// CreatedBy is the ID of the administrator who created the key for its owner; empty
	// when the owner did.
	CreatedBy string `json:"createdBy,omitempty"`
}

// ImportStatus is the outcome of importing one user.
type ImportStatus string

// The outcomes of Import.
const (
	ImportCreated  ImportStatus = "created"
	ImportSkipped  ImportStatus = "skipped"  // the ID, username or e-mail is taken
	ImportRejected ImportStatus = "rejected" // the user or their hash is invalid
)

// ImportResult is the outcome of importing one user: ID is the user's, and Err says why a user
// was skipped or rejected (an *Error naming the field at fault).
type ImportResult struct {
	Status ImportStatus
	ID     string
	Err    error
}

// Config configures a Service. The zero Config means safe defaults; every field is optional.
type Config struct {
	// Now is the clock; default time.Now. Tests set it to control expiry, throttling and
	// back-off.
	Now func() time.Time
	// Logger receives operational logs, never a secret. Default: silent.
	Logger *slog.Logger
	// OnEvent, when set, is called synchronously for each Event; it must be quick and safe
	// for concurrent use.
	OnEvent func(Event)
	// Mailer delivers password-reset and verification codes and notices. Without one,
	// ForgotPassword, Register and ResendVerification return ErrInternal.
	Mailer Mailer

	// RequireVerifiedEmail keeps a user whose e-mail address is not verified from signing
	// in (they get ErrForbidden naming "emailVerified" after proving the password) and their
	// tokens and API keys from authenticating, and makes SignUp register rather than create.
	RequireVerifiedEmail bool
	// RequireApproval makes Register and SignUp create pending users who stay pending,
	// verified or not, until Approve.
	RequireApproval bool
	// VerifyCodeTTL is the lifetime of an e-mail verification code; default 24 hours.
	VerifyCodeTTL time.Duration
	// MaxAPIKeys bounds the API keys of one user; default 100.
	MaxAPIKeys int
	// MaxImageBytes bounds a profile image; default 1 MiB. MaxImageSide bounds its width and
	// height in pixels; default 4096.
	MaxImageBytes int
	MaxImageSide  int

	// Usernames is the form of usernames: UsernameEmail (the default), an e-mail address to
	// which the user's e-mail defaults, or UsernameHandle, a handle such as "alice_92" of 3 to
	// 64 characters beside an optional e-mail address. AllowMixedScripts lets the letters of
	// a handle or of an address's local part mix scripts (a Cyrillic "а" among Latin letters),
	// which by default is refused. See NameRules for how names are prepared.
	Usernames         UsernameForm
	AllowMixedScripts bool

	// Argon2 sets the argon2id parameters of new hashes. The zero value means DefaultArgon2:
	// OWASP's m=19 MiB, t=2, p=1, 16-byte salt, 32-byte key. A stored hash with other
	// parameters is rehashed after the next successful sign-in.
	Argon2 Argon2Params
	// Hasher replaces the argon2id hasher (Argon2 is then ignored). For tests and migration.
	Hasher Hasher
	// MaxConcurrentHashes bounds the threads computing hashes at once, so that hashes do not
	// share the cores and all slow down together: a hash takes one for each of its lanes
	// (argon2id's p; bcrypt has one), and one of more lanes than this runs alone. Default:
	// GOMAXPROCS.
	MaxConcurrentHashes int
	// MaxHashMemory bounds, in bytes, the memory of the hashes computed at once: a hash weighs
	// the memory of its parameters (argon2id: m KiB; bcrypt: 16 KiB), whatever hashes the
	// store holds. Default: 4 × Argon2.Memory (76 MiB with the default parameters), and never
	// less than the largest hash it must admit, MaxImportedArgon2Memory or Argon2.Memory; New
	// returns ErrInvalid for a smaller value.
	MaxHashMemory int64
	// MaxHashWait bounds how long a sign-in or a change of password waits for its hash to be
	// admitted under MaxConcurrentHashes and MaxHashMemory; past it, the call fails with
	// ErrOverloaded (RetryAfter set) rather than queueing. A context that ends sooner ends
	// the wait with its own error. Default: 2 seconds (DefaultMaxHashWait); negative: no
	// waiting at all.
	MaxHashWait time.Duration
	// Passwords is the password policy.
	Passwords PasswordPolicy
	// Throttle is the sign-in throttle, counted per account and client address, and kept in
	// the Store when it implements ThrottleStore.
	Throttle Throttle

	// SessionTTL is the lifetime of a bearer token; default 30 days.
	SessionTTL time.Duration
	// ResetCodeTTL is the lifetime of a password-reset code; default 1 hour.
	ResetCodeTTL time.Duration
	// MaxSessions bounds the live sessions of one user; default 100 (DefaultMaxSessions).
	// Issuing one more (SignIn, SignUp, NewSession) revokes the user's oldest live sessions,
	// in the transaction that issues the new one, which always survives. API keys are not
	// sessions and never count.
	MaxSessions int

	// DeletionSteps are the app's own steps, run in order after the user's credentials are
	// revoked and before the user record is removed. Each must be idempotent: after a crash or
	// a failure it runs again. Names must be unique and stable across restarts: a ticket
	// records the names it will run.
	DeletionSteps []DeletionStep
	// DeletionAttempts is how many times a failing step is tried before the ticket fails;
	// default 5. Between attempts the worker waits DeletionBackoff, doubling each time up to
	// one hour; default 1 second.
	DeletionAttempts int
	DeletionBackoff  time.Duration
	// TicketLease is how long a worker holds a ticket before another may take it over;
	// default 1 minute. A step must finish well within it.
	TicketLease time.Duration
	// PollInterval is how often the worker looks for tickets it was not told about (retries
	// coming due, tickets of other processes, expired leases); default 1 second.
	PollInterval time.Duration
	// NoWorker disables this Service's deletion worker and its sweeper: tickets are then run,
	// and the store swept, by another process sharing the store.
	NoWorker bool
	// SweepInterval is how often the sweeper, which runs beside the deletion worker (first
	// when New starts it), removes from the store what has run out: tokens, codes and API
	// keys expired at the time of the sweep (an expired key then leaves its owner's list, and
	// rotating it is ErrNotFound rather than ErrConflict); finished deletion tickets last
	// changed more than TicketRetention ago; and, when the store implements ThrottleStore,
	// the sign-in throttle's entries no longer needed: older than both Throttle.Forget (their
	// count is forgotten) and Throttle.KnownFor (their mark of an address the owner signed in
	// from has run out), 30 days by default. Default 10 minutes (DefaultSweepInterval). It deletes in
	// batches of 1,000 rows, each a short transaction, and pauses after each as long as it
	// took, so that it never holds a store's write lock for long nor most of the time; its
	// deletes are idempotent, so every process sharing a store may sweep it. It logs how
	// many rows it removed, and nothing else about them.
	SweepInterval time.Duration
	// TicketRetention is how long a completed, failed or cancelled deletion ticket is kept
	// after its last change, for Ticket to answer; default 30 days (DefaultTicketRetention).
	// Negative: finished tickets are kept for ever.
	TicketRetention time.Duration
}

// DeletionStep is one of the app's steps in deleting a user: for example removing the user's
// data from the app's own tables. Run must be idempotent.
type DeletionStep struct {
	Name string
	Run  func(ctx context.Context, userID string) error
}

// Event reports something that happened, for auditing and metrics. It carries no secret.
type Event struct {
	Type     EventType
	Time     time.Time
	UserID   string // empty when there is no such user (e.g. a failed sign-in for no account)
	Username string // the account's username, for sign-in events of an existing account
	ActorID  string // who acted, when the call carried an actor other than the user (see WithActor)
	TicketID string // for deletion events
	Step     string // for deletion step events
	// Client is where the request that caused the event came from (see WithClient): the
	// zero Client for a call without one, and for the deletion worker's events.
	Client Client
}

// EventType names an Event.
type EventType string

// The event types.
const (
	EventUserCreated       EventType = "user.created"
	EventUserUpdated       EventType = "user.updated"
	EventSignedIn          EventType = "user.signed-in"
	EventSignInFailed      EventType = "user.sign-in-failed"    // a wrong password at sign-in, change of password or re-authentication, or a sign-in refused
	EventSignInThrottled   EventType = "user.sign-in-throttled" // a password check refused by the Throttle before it was made
	EventSignedOut         EventType = "user.signed-out"
	EventPasswordChanged   EventType = "password.changed"
	EventPasswordReset     EventType = "password.reset"
	EventPasswordForgot    EventType = "password.forgot"
	EventEmailChanged      EventType = "user.email-changed"
	EventUsernameChanged   EventType = "user.username-changed"
	EventSessionsRevoked   EventType = "sessions.revoked"
	EventRegistered        EventType = "user.registered"
	EventEmailVerified     EventType = "user.email-verified"
	EventApproved          EventType = "user.approved"
	EventAPIKeyCreated     EventType = "apikey.created"
	EventAPIKeyRevoked     EventType = "apikey.revoked"
	EventUsersImported     EventType = "users.imported"
	EventDeletionStarted   EventType = "deletion.started"
	EventDeletionStep      EventType = "deletion.step"
	EventDeletionCompleted EventType = "deletion.completed"
	EventDeletionFailed    EventType = "deletion.failed"
	EventDeletionCancelled EventType = "deletion.cancelled"
)

// Defaults of Config.
const (
	DefaultSessionTTL       = 30 * 24 * time.Hour
	DefaultResetCodeTTL     = time.Hour
	DefaultVerifyCodeTTL    = 24 * time.Hour
	DefaultMaxAPIKeys       = 100
	DefaultMaxImageBytes    = 1 << 20
	DefaultMaxImageSide     = 4096
	DefaultDeletionAttempts = 5
	DefaultDeletionBackoff  = time.Second
	DefaultTicketLease      = time.Minute
	DefaultPollInterval     = time.Second
	DefaultMaxHashWait      = 2 * time.Second
	DefaultMaxSessions      = 100
	DefaultSweepInterval    = 10 * time.Minute
	DefaultTicketRetention  = 30 * 24 * time.Hour
)

// DefaultArgon2 returns OWASP's recommended argon2id parameters: 19 MiB, 2 iterations,
// parallelism 1, a 16-byte salt and a 32-byte key.
func DefaultArgon2() Argon2Params {
	return Argon2Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// service implements Service.
type service struct {
	store    Store
	cfg      Config
	log      *slog.Logger
	hasher   Hasher
	gate     *hashGate // admits hashes by memory and CPU, and pads failed verifications
	ownCost  hashCost  // what computing a new hash takes
	dummy    string    // a hash of a random password, verified when there is no user to verify
	throttle *throttle
	workerID string

	wake      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex    // orders background's wg.Add before Close's wg.Wait
	jobSem    chan struct{} // bounds background jobs
	stopWork  context.CancelFunc
	workCtx   context.Context
	wg        sync.WaitGroup
}

var _ Service = (*service)(nil)

// New returns a Service over store, configured by cfg, and starts its deletion worker and
// its sweeper (unless cfg.NoWorker): the worker resumes any unfinished ticket in the store.
// Call Close to stop them.
// Returns ErrInvalid for a configuration it cannot use.
func New(store Store, cfg Config) (Service, error) {
	if store == nil {
		return nil, invalid("store", "is required")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &service{
		store:    store,
		cfg:      cfg,
		log:      cfg.Logger,
		hasher:   cfg.Hasher,
		gate:     newHashGate(&cfg),
		throttle: newThrottle(cfg.Throttle, store),
		workerID: uuid.NewString(),
		wake:     make(chan struct{}, 1),
		jobSem:   make(chan struct{}, maxBackgroundJobs),
		done:     make(chan struct{}),
	}
	start := time.Now()
	dummy, err := s.hasher.Hash(randomSecret())
	if err != nil {
		return nil, internal(err)
	}
	s.dummy = dummy
	s.ownCost = costOf(dummy)
	s.gate.timing.observe(s.ownCost.class, time.Since(start)) // a hash costs what verifying it does
	s.workCtx, s.stopWork = context.WithCancel(context.Background())
	if !cfg.NoWorker {
		s.wg.Add(2)
		go s.work()
		go s.sweepEvery(cfg.SweepInterval)
	}
	return s, nil
}

func (c *Config) setDefaults() error {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Hasher == nil {
		h, err := NewArgon2idHasher(c.Argon2)
		if err != nil {
			return err
		}
		c.Hasher = h
	}
	if err := (NameRules{Usernames: c.Usernames}).check(); err != nil {
		return err
	}
	if c.MaxConcurrentHashes <= 0 {
		c.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	if err := c.setHashMemoryDefault(); err != nil {
		return err
	}
	if c.MaxHashWait == 0 {
		c.MaxHashWait = DefaultMaxHashWait
	}
	if err := c.Passwords.setDefaults(); err != nil {
		return err
	}
	c.Throttle.setDefaults()
	setDefault(&c.SessionTTL, DefaultSessionTTL)
	setDefault(&c.ResetCodeTTL, DefaultResetCodeTTL)
	setDefault(&c.VerifyCodeTTL, DefaultVerifyCodeTTL)
	setDefault(&c.MaxAPIKeys, DefaultMaxAPIKeys)
	setDefault(&c.MaxImageBytes, DefaultMaxImageBytes)
	setDefault(&c.MaxImageSide, DefaultMaxImageSide)
	setDefault(&c.DeletionAttempts, DefaultDeletionAttempts)
	setDefault(&c.DeletionBackoff, DefaultDeletionBackoff)
	setDefault(&c.TicketLease, DefaultTicketLease)
	setDefault(&c.PollInterval, DefaultPollInterval)
	setDefault(&c.MaxSessions, DefaultMaxSessions)
	setDefault(&c.SweepInterval, DefaultSweepInterval)
	if c.TicketRetention == 0 {
		c.TicketRetention = DefaultTicketRetention
	}
	seen := map[string]bool{stepRevokeCredentials: true, stepRemoveImage: true, stepRemoveUser: true}
	for _, st := range c.DeletionSteps {
		if st.Name == "" || st.Run == nil || seen[st.Name] {
			return invalid("DeletionSteps", "each step needs a unique name (not a built-in one) and a Run function")
		}
		seen[st.Name] = true
	}
	return nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// now returns the configured clock's time in canonical form.
func (s *service) now() time.Time { return CanonicalTime(s.cfg.Now()) }

// emit hands e to Config.OnEvent, with the time and the client of ctx.
func (s *service) emit(ctx context.Context, e Event) {
	if s.cfg.OnEvent == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Client = clientOf(ctx)
	s.cfg.OnEvent(e)
}

// storeErr passes on the package's own errors and wraps anything else as internal, logging it.
func (s *service) storeErr(ctx context.Context, op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	s.log.ErrorContext(ctx, "users: store failed", "op", op, "err", err)
	return internal(err)
}

func (s *service) Create(ctx context.Context, in NewUser) (*User, error) {
	now := s.now()
	u := &User{
		ID:                       newID(),
		Username:                 in.Username,
		Email:                    in.Email,
		Name:                     in.Name,
		Scope:                    in.Scope,
		Plan:                     in.Plan,
		Vendor:                   in.Vendor,
		AllowedPrivateComponents: in.AllowedPrivateComponents,
		OrgID:                    in.OrgID,
		Status:                   in.Status,
		EmailVerified:            in.EmailVerified,
		Metadata:                 in.Metadata,
		Permissions:              maps.Clone(in.Permissions),
		PasswordResetDisallowed:  in.PasswordResetDisallowed,
		Created:                  now,
		Updated:                  now,
	}
	if p := actorOf(ctx); p != nil {
		if err := authorize(ctx, ActionCreate, nil); err != nil {
			return nil, err
		}
		// An organization administrator's users are in their organization unless they say.
		if org, limited := ListOrg(p.User); limited && strings.TrimSpace(u.OrgID) == "" {
			u.OrgID = org
		}
	}
	if err := u.NormalizeWith(s.NameRules()); err != nil {
		return nil, err
	}
	// The policy decides on the user as it would be created: no role, permission or
	// organization the actor could not grant.
	if err := authorize(ctx, ActionCreate, u); err != nil {
		return nil, err
	}
	if in.Password != "" {
		if err := s.cfg.Passwords.Check(ctx, in.Password, u); err != nil {
			return nil, err
		}
		hash, err := s.hash(ctx, in.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = hash
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, s.storeErr(ctx, "create user", err)
	}
	s.emit(ctx, Event{Type: EventUserCreated, UserID: u.ID, ActorID: actorID(ctx, u.ID), Time: now})
	return u, nil
}

// actorID returns the ID of the actor of ctx when there is one other than the user userID,
// for events.
func actorID(ctx context.Context, userID string) string {
	if p := actorOf(ctx); p != nil && p.User.ID != userID {
		return p.User.ID
	}
	return ""
}

func (s *service) Get(ctx context.Context, id string) (*User, error) {
	u, err := lookup(ctx, s.store, ActionRead, id)
	if err != nil {
		return nil, s.storeErr(ctx, "get user", err)
	}
	return u, nil
}

func (s *service) GetByEmail(ctx context.Context, email string) (*User, error) {
	email, err := s.NameRules().lookupEmail(email)
	if err != nil {
		return nil, err
	}
	u, err := s.store.GetUserByEmail(ctx, email)
	if u, err = authorizeFound(ctx, ActionRead, u, err); err != nil {
		return nil, s.storeErr(ctx, "get user by email", err)
	}
	return u, nil
}

func (s *service) GetByUsername(ctx context.Context, username string) (*User, error) {
	u, err := s.store.GetUserByUsername(ctx, s.NameRules().lookupName(username))
	if u, err = authorizeFound(ctx, ActionRead, u, err); err != nil {
		return nil, s.storeErr(ctx, "get user by username", err)
	}
	return u, nil
}

// listQuery normalizes q and limits it to what the actor of ctx may list: an organization
// administrator's queries get the condition orgId eq <their organization>, ANDed. Query has no
// nesting, so a query of several conditions joined by OR cannot be so limited: it is
// ErrInvalid naming "or" for such an actor.
func listQuery(ctx context.Context, q Query) (Query, error) {
	if p := actorOf(ctx); p != nil {
		if err := authorize(ctx, ActionList, nil); err != nil {
			return q, err
		}
		if org, limited := ListOrg(p.User); limited {
			if q.Or && len(q.Conditions) > 1 {
				return q, invalid("or", "OR is not available to an organization administrator, whose queries are limited to their organization")
			}
			q.Or = false
			q.Conditions = append(slices.Clone(q.Conditions), Condition{Field: "orgId", Op: OpEq, Value: org})
		}
	}
	return q.Normalize()
}

func (s *service) List(ctx context.Context, q Query) ([]*User, int, error) {
	q, err := listQuery(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	page, err := s.store.ListUsers(ctx, q)
	if err != nil {
		return nil, 0, s.storeErr(ctx, "list users", err)
	}
	// A short first page is the whole result: no need to count.
	if q.Offset == 0 && len(page) < q.Limit {
		return page, len(page), nil
	}
	total, err := s.store.CountUsers(ctx, q)
	if err != nil {
		return nil, 0, s.storeErr(ctx, "count users", err)
	}
	return page, total, nil
}

func (s *service) Count(ctx context.Context, q Query) (int, error) {
	q, err := listQuery(ctx, q)
	if err != nil {
		return 0, err
	}
	n, err := s.store.CountUsers(ctx, q)
	if err != nil {
		return 0, s.storeErr(ctx, "count users", err)
	}
	return n, nil
}

// errPasswordChanged is the answer to a change whose current password was proven against a
// hash that changed before the change was made.
var errPasswordChanged = conflict("currentPassword", "the password changed while it was being checked; try again")

// errNoPasswordYet is the answer to a user without a password changing their username or
// e-mail address: there is nothing to prove who they are.
var errNoPasswordYet = &Error{Code: CodeForbidden, Field: "currentPassword", Message: "set a password before changing your username, e-mail address or password"}

// errWrongCurrentPassword is ErrWrongPassword naming the field of Update.
var errWrongCurrentPassword = &Error{Code: CodeInvalid, Field: "currentPassword", Message: ErrWrongPassword.Message, Cause: ErrWrongPassword}

// changesSignIn reports whether the change of cur into u touches how the user signs in: their
// username, e-mail address or password.
func changesSignIn(cur, u *User, p *Update) bool {
	return p.Password != nil || u.Username != cur.Username || u.Email != cur.Email
}

func (s *service) Update(ctx context.Context, id string, p Update) (*User, error) {
	a := actorOf(ctx)
	// The slow parts happen before the transaction, which may hold the store's write lock:
	// proving the actor's current password, and hashing a new one. The policy is checked here
	// and again in the transaction, on the user as it is there (its Checker only here: it may
	// call a remote service).
	var hash, proven string
	var checked *User // the user the new password was checked against, before the transaction
	if p.Password != nil || (a != nil && (p.Username != nil || p.Email != nil)) {
		cur, err := lookup(ctx, s.store, ActionUpdate, id)
		if err != nil {
			return nil, s.storeErr(ctx, "get user", err)
		}
		u, err := p.patched(cur, s.NameRules())
		if err != nil {
			return nil, err
		}
		if a != nil {
			if err := AuthorizeUpdate(acting(a, cur), cur, p); err != nil {
				return nil, err
			}
			if changesSignIn(cur, u, &p) {
				if !a.IsSession() {
					return nil, ErrSessionRequired
				}
				if a.User.ID == cur.ID {
					if cur.PasswordHash == "" {
						return nil, errNoPasswordYet
					}
					if err := s.provePassword(ctx, accountKey(cur.ID), cur, p.CurrentPassword, cur.PasswordHash, errWrongCurrentPassword); err != nil {
						return nil, err
					}
					proven = cur.PasswordHash
				}
			}
		}
		if p.Password != nil {
			if err := s.cfg.Passwords.Check(ctx, *p.Password, u); err != nil {
				return nil, err
			}
			if hash, err = s.hash(ctx, *p.Password); err != nil {
				return nil, err
			}
			checked = u
		}
	}
	var cur, u *User
	var revoke revocation
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		var err error
		if cur, err = lookup(ctx, tx, ActionUpdate, id); err != nil {
			return err
		}
		if p.Version != nil && *p.Version != cur.Version {
			return conflict("version", "the user has changed since it was read")
		}
		if cur.Status == StatusDisabled { // as every user being deleted is
			if t, err := inProgressTicket(ctx, tx, id); err != nil {
				return err
			} else if t != nil {
				return conflict("", "the user is being deleted")
			}
		}
		if u, err = p.patched(cur, s.NameRules()); err != nil {
			return err
		}
		if a != nil {
			if err := AuthorizeUpdate(acting(a, cur), cur, p); err != nil {
				return err
			}
			if changesSignIn(cur, u, &p) {
				switch {
				case !a.IsSession():
					return ErrSessionRequired
				case a.User.ID == cur.ID && (proven == "" || cur.PasswordHash != proven):
					return errPasswordChanged
				}
			}
		}
		if p.Password != nil {
			// The password was checked against the user's words before the transaction; only
			// a concurrent change of them (rare) makes it score again here, where the store may
			// hold its write lock.
			if u.Username != checked.Username || u.Email != checked.Email || u.Name != checked.Name {
				if err := s.cfg.Passwords.checkRules(*p.Password, u); err != nil {
					return err
				}
			}
			u.PasswordHash = hash
			u.MustChangePassword = false
		}
		if IsAdmin(cur) && !IsAdmin(u) {
			if err := keepAnAdmin(ctx, tx); err != nil {
				return err
			}
		}
		u.Updated = s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		revoke = revocationOf(cur, u, &p)
		var keep Digest
		if a != nil && a.User.ID == u.ID && a.IsSession() {
			keep = a.digest // a user changing their own password stays signed in
		}
		return revoke.apply(ctx, tx, u.ID, keep)
	})
	if err != nil {
		return nil, s.storeErr(ctx, "update user", err)
	}
	by := actorID(ctx, u.ID)
	s.emit(ctx, Event{Type: EventUserUpdated, UserID: u.ID, ActorID: by})
	if p.Password != nil {
		s.clearThrottle(ctx, u.ID)
		s.emit(ctx, Event{Type: EventPasswordReset, UserID: u.ID, ActorID: by})
		s.mailNotice(u, MailPasswordChanged)
	}
	switch {
	case Fold(u.Email) != Fold(cur.Email):
		s.emit(ctx, Event{Type: EventEmailChanged, UserID: u.ID, ActorID: by})
		s.mailNotice(cur, MailEmailChanged) // to the old address
	case u.Username != cur.Username:
		s.emit(ctx, Event{Type: EventUsernameChanged, UserID: u.ID, ActorID: by})
		s.mailNotice(cur, MailUsernameChanged)
	}
	if revoke&revokeSessions != 0 {
		s.emit(ctx, Event{Type: EventSessionsRevoked, UserID: u.ID, ActorID: by})
	}
	return u, nil
}

// revocationOf returns the credentials that the change of cur into u by p revokes.
func revocationOf(cur, u *User, p *Update) revocation {
	var r revocation
	if p.Password != nil || (u.Status != cur.Status && u.Status != StatusActive) {
		r |= revokeAll
	}
	if !slices.Equal(u.Scope, cur.Scope) || !maps.Equal(u.Permissions, cur.Permissions) || u.OrgID != cur.OrgID {
		r |= revokeAPIKeys // a key never gains power it did not have when it was made
	}
	if Fold(u.Email) != Fold(cur.Email) {
		r |= revokeVerifyCodes | revokeResetCodes // mailed to the old address
	}
	if u.PasswordResetDisallowed && !cur.PasswordResetDisallowed {
		r |= revokeResetCodes // must not work again once resets are allowed again
	}
	return r
}

// keepAnAdmin returns ErrConflict unless there are at least two active administrators in st:
// what a change that removes one must find, so that one stays.
func keepAnAdmin(ctx context.Context, st Store) error {
	q, err := Query{Conditions: []Condition{
		{Field: "scope", Op: OpEq, Value: RoleAdmin},
		{Field: "status", Op: OpEq, Value: string(StatusActive)},
	}}.Normalize()
	if err != nil {
		return err
	}
	n, err := st.CountUsers(ctx, q)
	if err != nil {
		return err
	}
	if n < 2 {
		return errLastAdmin
	}
	return nil
}

// errLastAdmin is the answer to deleting, disabling or demoting the last active administrator.
var errLastAdmin = conflict("", "this is the last active administrator: make another one first")

// patched returns a copy of cur with p applied, normalised and validated. A new e-mail
// address is unverified unless p says otherwise.
func (p *Update) patched(cur *User, r NameRules) (*User, error) {
	u := cur.Clone()
	if err := p.apply(u); err != nil {
		return nil, err
	}
	if err := u.normalize(r, cur); err != nil {
		return nil, err
	}
	if Fold(u.Email) != Fold(cur.Email) && p.EmailVerified == nil {
		u.EmailVerified = false
	}
	return u, nil
}

// apply sets the fields p carries on u.
func (p *Update) apply(u *User) error {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&u.Username, p.Username)
	set(&u.Email, p.Email)
	set(&u.Name, p.Name)
	set(&u.Plan, p.Plan)
	set(&u.OrgID, p.OrgID)
	if p.Email != nil && *p.Email == "" {
		return invalid("email", "must not be empty")
	}
	if p.Scope != nil {
		u.Scope = append([]string(nil), (*p.Scope)...)
		if !slices.ContainsFunc(u.Scope, func(r string) bool { return strings.TrimSpace(r) != "" }) {
			return invalid("scope", "must have at least one role")
		}
	}
	if p.Vendor != nil {
		u.Vendor = append([]string(nil), (*p.Vendor)...)
	}
	if p.AllowedPrivateComponents != nil {
		u.AllowedPrivateComponents = append([]string(nil), (*p.AllowedPrivateComponents)...)
	}
	if p.Status != nil {
		if !p.Status.Valid() {
			return invalid("status", "must be one of pending, active, disabled")
		}
		u.Status = *p.Status
	}
	if p.EmailVerified != nil {
		u.EmailVerified = *p.EmailVerified
	}
	if p.Metadata != nil {
		u.Metadata = *p.Metadata
	}
	if p.Permissions != nil {
		u.Permissions = maps.Clone(*p.Permissions)
	}
	if p.PasswordResetAllowed != nil {
		u.PasswordResetDisallowed = !*p.PasswordResetAllowed
	}
	return nil
}

// newID returns a time-ordered UUID (version 7).
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		panic("users: no randomness for a UUID: " + err.Error())
	}
	return id.String()
}
