package users

import (
	"context"
	"encoding/json"
	"time"
)

// Store is the persistence contract. It holds no business rules: the Service normalises,
// validates, hashes and decides; a Store keeps what it is given.
//
// Every method takes ctx first, returns ctx's error once ctx is done, and is atomic on its own;
// Atomic runs several in one transaction. Not found is ErrNotFound; a uniqueness or
// stale-version clash is ErrConflict. Values passed in are copied, and values returned are the
// caller's own copies: mutating either never changes the store. A value comes back as it was
// stored: nil lists and metadata stay nil, times come back canonical (see CanonicalTime) and
// zero times stay zero. Conflicts name the field at fault: "id", "username", "email",
// "version", or "token" for a digest. Every implementation is safe for concurrent use, and must pass storetest.Run,
// which also checks that all implementations answer every Query identically.
type Store interface {
	// CreateUser stores a new user with Version 1 and sets u.Version to 1. Returns ErrInvalid
	// when u has no ID, and ErrConflict (Field "id", "username" or "email") when the ID, the
	// folded username (see Fold) or the folded e-mail is already taken. An empty e-mail is not
	// an address: any number of users may have none.
	CreateUser(ctx context.Context, u *User) error
	// GetUser returns the user with this ID, or ErrNotFound.
	GetUser(ctx context.Context, id string) (*User, error)
	// GetUserByUsername returns the user whose username folds to Fold(username), or ErrNotFound.
	GetUserByUsername(ctx context.Context, username string) (*User, error)
	// GetUserByEmail returns the user whose e-mail folds to Fold(email), or ErrNotFound (always
	// for "").
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser replaces the stored user with u when u.Version equals the stored version,
	// storing Version+1 and setting u.Version to it. Returns ErrNotFound when there is no such
	// user, and ErrConflict with Field "version" when the version is stale, or Field
	// "username" or "email" when the new username or e-mail is taken.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes the user, every token of theirs and their image. Returns ErrNotFound
	// when there is no such user. Tickets stay: they are the record of the deletion.
	DeleteUser(ctx context.Context, id string) error
	// ListUsers returns the page of users that q selects, in q's order (see Query).
	// Returns ErrInvalid for a query that Query.Normalize rejects.
	ListUsers(ctx context.Context, q Query) ([]*User, error)
	// CountUsers returns how many users q's conditions and pattern select, ignoring its sort,
	// limit and offset. Returns ErrInvalid for a query that Query.Normalize rejects.
	CountUsers(ctx context.Context, q Query) (int, error)

	// PutToken stores a new token. Returns ErrNotFound when its user does not exist and
	// ErrConflict when a token with the same digest is stored, expired or not.
	PutToken(ctx context.Context, t *Token) error
	// GetToken returns the token with this digest unless it has expired at now; ErrNotFound
	// otherwise.
	GetToken(ctx context.Context, digest Digest, now time.Time) (*Token, error)
	// ConsumeToken removes and returns the token with this digest and kind unless it has
	// expired at now; ErrNotFound otherwise. Of any number of concurrent calls for one token,
	// exactly one succeeds.
	ConsumeToken(ctx context.Context, digest Digest, kind TokenKind, now time.Time) (*Token, error)
	// DeleteToken removes the token with this digest. Returns ErrNotFound when there is none.
	DeleteToken(ctx context.Context, digest Digest) error
	// DeleteUserTokens removes the user's tokens of the given kinds (every kind when none is
	// given) and returns how many it removed: 0, and no error, for an unknown user.
	DeleteUserTokens(ctx context.Context, userID string, kinds ...TokenKind) (int, error)
	// DeleteExpiredTokens removes at most limit tokens expired at now (every one when limit <=
	// 0) and returns how many it removed; which of the expired tokens go first is the store's
	// choice. Each call is one short transaction, so that a sweeper may call it in a loop, until
	// it returns less than limit, without holding the write lock for long.
	DeleteExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error)
	// ListTokens returns the user's tokens of the kind, expired ones included, oldest first
	// (by Created, then ID, then Digest). It returns an empty list, and no error, for an
	// unknown user.
	ListTokens(ctx context.Context, userID string, kind TokenKind) ([]*Token, error)
	// TouchToken sets the LastUsed time of the token with this digest to at, unless it is
	// already at or after at. Returns ErrNotFound when there is no such token.
	TouchToken(ctx context.Context, digest Digest, at time.Time) error

	// PutImage stores img as its user's profile image, replacing any earlier one. Returns
	// ErrNotFound when the user does not exist.
	PutImage(ctx context.Context, img *Image) error
	// GetImage returns the user's profile image, or ErrNotFound when they have none.
	GetImage(ctx context.Context, userID string) (*Image, error)
	// DeleteImage removes the user's profile image. Returns ErrNotFound when they have none.
	DeleteImage(ctx context.Context, userID string) error

	// CreateTicket stores a new deletion ticket with Version 1 and sets t.Version to 1.
	// Returns ErrInvalid when t has no ID and ErrConflict when the ID is taken.
	CreateTicket(ctx context.Context, t *Ticket) error
	// GetTicket returns the ticket with this ID, or ErrNotFound.
	GetTicket(ctx context.Context, id string) (*Ticket, error)
	// ListTickets returns the user's tickets, oldest first (by Created, then ID).
	ListTickets(ctx context.Context, userID string) ([]*Ticket, error)
	// UpdateTicket replaces the stored ticket with t when t.Version equals the stored version,
	// storing Version+1 and setting t.Version to it. Returns ErrNotFound or ErrConflict.
	UpdateTicket(ctx context.Context, t *Ticket) error
	// ClaimTicket leases the oldest claimable ticket (by Created, then ID) to owner until the
	// time until, and returns it with Owner, LeaseUntil and Version updated. A ticket is
	// claimable when its status is in-progress, its lease has run out (LeaseUntil not after
	// now) and its NextAttempt is not after now. Returns ErrNotFound when none is. Of
	// concurrent claimants, only one gets a given ticket.
	ClaimTicket(ctx context.Context, owner string, now, until time.Time) (*Ticket, error)
	// DeleteTickets removes at most limit tickets (every one when limit <= 0) whose status is
	// final (TicketCompleted, TicketFailed or TicketCancelled) and whose Updated is before
	// before, and returns how many it removed; which of them go first is the store's choice.
	// Tickets in progress are never removed. Each call is one short transaction, as in
	// DeleteExpiredTokens.
	DeleteTickets(ctx context.Context, before time.Time, limit int) (int, error)

	// Atomic runs fn in one transaction: fn's calls on tx see each other's writes, and either
	// all of them take effect or, when fn returns an error, none does and Atomic returns that
	// error; when fn panics, none does and the panic goes on. Calling Atomic on tx runs the
	// inner fn in the same transaction, as a savepoint: when the inner fn fails, its writes
	// are undone and the outer fn may go on. tx must not be used after fn returns.
	//
	// A store may run fn more than once when its transaction fails to serialize with a
	// concurrent one (as the PostgreSQL store does on serialization failures and deadlocks):
	// fn must have no effect outside tx but setting its own results, and must set them afresh
	// on each run. The memory and SQLite stores never retry.
	Atomic(ctx context.Context, fn func(ctx context.Context, tx Store) error) error
}

// ThrottleStore is an optional capability of a Store: keeping the failure counts of the
// sign-in throttle, so that every Service sharing the store (several processes on one
// database) counts the same failures. A Service whose Store implements it keeps no counts of
// its own. Keys are opaque digests that the Service derives; a store keeps them as it keeps
// token digests. Each method is atomic on its own and safe for concurrent use.
type ThrottleStore interface {
	// AddFailure counts one more failure of key at now and returns the key's count, this one
	// included. Of n concurrent calls for a key with no failures, each returns a different
	// count from 1 to n.
	AddFailure(ctx context.Context, key Digest, now time.Time) (int, error)
	// Failures returns key's count and the time of its latest failure (canonical, see
	// CanonicalTime): 0 and the zero time for a key without failures.
	Failures(ctx context.Context, key Digest) (n int, last time.Time, err error)
	// ResetFailures forgets key's failures; forgetting a key without failures is not an error.
	ResetFailures(ctx context.Context, key Digest) error
	// DeleteFailures removes at most limit keys (every one when limit <= 0) whose latest
	// failure is before before, and returns how many it removed.
	DeleteFailures(ctx context.Context, before time.Time, limit int) (int, error)
}

// Digest is the SHA-256 digest of a token: the only form in which a token is stored.
type Digest [32]byte

// TokenKind tells what a token is for.
type TokenKind string

// The token kinds. Every secret the package hands out is a token of one of these kinds.
const (
	TokenSession TokenKind = "session" // a bearer token from sign-in
	TokenReset   TokenKind = "reset"   // a single-use password-reset code
	TokenVerify  TokenKind = "verify"  // a single-use e-mail verification code
	TokenAPIKey  TokenKind = "apikey"  // a long-lived API key
)

// Token is a stored secret: its digest, kind, owner and lifetime. The secret itself is never
// stored. ID, Name, Prefix and LastUsed are set for API keys and empty for other kinds.
type Token struct {
	Digest   Digest
	Kind     TokenKind
	UserID   string
	Created  time.Time
	Expires  time.Time // the zero time means it never expires
	ID       string    // an API key's public identifier (a UUID)
	Name     string    // an API key's name, given by its owner
	Prefix   string    // the first characters of an API key, shown so that its owner can tell keys apart
	LastUsed time.Time // when an API key last authenticated a request, to the minute; zero if never
	// CreatedBy is, for an API key, the ID of the user who created it when that is not its
	// owner (an administrator minting a key for someone); "" otherwise.
	CreatedBy string
}

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// TicketStatus is the state of a deletion ticket.
type TicketStatus string

// The ticket statuses, as the REST API shows them.
const (
	TicketInProgress TicketStatus = "in-progress"
	TicketCompleted  TicketStatus = "completed"
	TicketFailed     TicketStatus = "failed"
	TicketCancelled  TicketStatus = "cancelled"
)

// Done reports whether the status is final.
func (s TicketStatus) Done() bool { return s != TicketInProgress }

// Ticket records the deletion of a user, run as named steps by a worker. Poll it through
// Service.Ticket. Fields after Message are the worker's bookkeeping and are not marshalled.
type Ticket struct {
	ID         string       `json:"ticket"`
	UserID     string       `json:"userId"`
	Status     TicketStatus `json:"status"`
	Steps      []string     `json:"-"`         // the names of the steps, in order
	StepsDone  int          `json:"stepsDone"` // how many steps have completed
	FailedStep string       `json:"failedStep,omitempty"`
	Message    string       `json:"message,omitempty"` // why it failed; safe to show a client
	Created    time.Time    `json:"created"`
	Updated    time.Time    `json:"updated"`

	Attempts    int       `json:"-"` // failed attempts at the current step
	NextAttempt time.Time `json:"-"` // not to be run before this time
	PriorStatus Status    `json:"-"` // the user's status before deletion began; restored on cancel
	OrgID       string    `json:"-"` // the user's organization when deletion began, for the policy once the user is gone
	Owner       string    `json:"-"` // the worker holding the lease
	LeaseUntil  time.Time `json:"-"`
	Version     int64     `json:"-"`
}

// StepsTotal returns the number of steps of the deletion.
func (t *Ticket) StepsTotal() int { return len(t.Steps) }

// MarshalJSON encodes the ticket as the REST API shows it, with stepsTotal.
func (t Ticket) MarshalJSON() ([]byte, error) {
	type plain Ticket
	return json.Marshal(struct {
		plain
		StepsTotal int `json:"stepsTotal"`
	}{plain(t), t.StepsTotal()})
}

// Clone returns a deep copy of t, or nil for nil.
func (t *Ticket) Clone() *Ticket {
	if t == nil {
		return nil
	}
	c := *t
	c.Steps = append([]string(nil), t.Steps...)
	return &c
}

// Image is a user's profile image: a JPEG or PNG of bounded size and dimensions, checked by the
// Service before it is stored.
type Image struct {
	UserID      string
	ContentType string // "image/jpeg" or "image/png", sniffed from Data
	Data        []byte
	Width       int
	Height      int
	ETag        string // a strong entity tag: the quoted, hex-encoded SHA-256 of Data
	Updated     time.Time
}

// Clone returns a deep copy of img, or nil for nil.
func (img *Image) Clone() *Image {
	if img == nil {
		return nil
	}
	c := *img
	c.Data = append([]byte(nil), img.Data...)
	return &c
}
