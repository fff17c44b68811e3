// Package memory is a users.Store kept in memory: the reference store, and the one test suites
// use. Nothing is persisted; the data lives as long as the Store.
//
// A Store is safe for concurrent use. Each method takes a lock for its own duration (a read
// lock for look-ups, the write lock for changes), so every method is atomic. Atomic holds the
// write lock for the whole of its function and undoes every change the function made when it
// returns an error or panics.
//
// Look-ups by ID, username, e-mail, token digest and image owner take constant time;
// ListTokens and DeleteUserTokens cost in proportion to the user's own tokens; ListUsers and
// CountUsers scan every user, and ListUsers keeps only the best offset+limit of them while it
// scans, so a page of 30 out of 100,000 users costs one pass and no full sort.
package memory

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gousers/users"
)

var _ users.Store = (*Store)(nil)

// ErrTxDone is returned by every method of a transaction's Store used after its Atomic call
// has returned.
var ErrTxDone = errors.New("memory: transaction used after Atomic returned")

// Store is a users.Store kept in memory. Create one with New; the zero value is not usable.
//
// A Store is safe for concurrent use by any number of goroutines. Values passed in are copied
// and values returned are the caller's own copies: mutating either never changes the store.
// Times are kept in canonical form (see users.CanonicalTime). Every method first returns
// ctx.Err() if ctx is done, and then does nothing.
//
// Inside Atomic, the function receives a transaction Store that works without taking the lock
// (Atomic already holds it). Calling the outer Store, rather than the transaction, from inside
// that function deadlocks.
type Store struct {
	mu *sync.RWMutex // shared by the store and its transactions
	db *db
	tx *txn // nil outside Atomic
}

// txn is the state of one Atomic call: the undo journal and whether the call has returned.
type txn struct {
	undo []func() // inverse operations, applied last first on rollback
	done atomic.Bool
}

// db is the data and its indexes. A stored value is never changed in place: a change stores a
// new copy in its place, so an undo step only has to put the old pointer back.
type db struct {
	// users holds every user densely, roughly in the order they were created, and thus of
	// their allocation: ListUsers and CountUsers scan it several times faster than a map,
	// because the scan is memory-bound. position finds a user in it by ID.
	users      []*users.User
	position   map[string]int         // ID -> index in users
	byUsername map[string]*users.User // by Fold(Username)
	byEmail    map[string]*users.User // by Fold(Email); "" is not indexed

	tokens     map[users.Digest]*users.Token
	userTokens map[string]map[users.Digest]struct{} // user ID -> digests of their tokens

	images map[string]*users.Image // by user ID

	tickets     map[string]*users.Ticket       // by ID
	userTickets map[string]map[string]struct{} // user ID -> IDs of their tickets
	openTickets map[string]*users.Ticket       // in-progress tickets, by ID: ClaimTicket's candidates
}

// New returns an empty Store, safe for concurrent use.
func New() *Store {
	return &Store{
		mu: new(sync.RWMutex),
		db: &db{
			position:    make(map[string]int),
			byUsername:  make(map[string]*users.User),
			byEmail:     make(map[string]*users.User),
			tokens:      make(map[users.Digest]*users.Token),
			userTokens:  make(map[string]map[users.Digest]struct{}),
			images:      make(map[string]*users.Image),
			tickets:     make(map[string]*users.Ticket),
			userTickets: make(map[string]map[string]struct{}),
			openTickets: make(map[string]*users.Ticket),
		},
	}
}

// check returns ctx's error, or ErrTxDone for a transaction whose Atomic call has returned.
func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.tx != nil && s.tx.done.Load() {
		return ErrTxDone
	}
	return nil
}

// Inside a transaction the write lock is already held, so these do nothing.

func (s *Store) rlock() {
	if s.tx == nil {
		s.mu.RLock()
	}
}

func (s *Store) runlock() {
	if s.tx == nil {
		s.mu.RUnlock()
	}
}

func (s *Store) lock() {
	if s.tx == nil {
		s.mu.Lock()
	}
}

func (s *Store) unlock() {
	if s.tx == nil {
		s.mu.Unlock()
	}
}

// Users

// CreateUser stores a copy of u with Version 1 and sets u.Version to 1. It returns ErrInvalid
// when u has no ID, and ErrConflict (Field "id", "username" or "email") when the ID, the folded
// username or the folded non-empty e-mail is taken.
func (s *Store) CreateUser(ctx context.Context, u *users.User) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if u.ID == "" {
		return &users.Error{Code: users.CodeInvalid, Field: "id", Message: "is required"}
	}
	s.lock()
	defer s.unlock()
	if s.db.user(u.ID) != nil {
		return users.ConflictError("id", "a user with this ID exists")
	}
	if err := s.db.checkUnique(u); err != nil {
		return err
	}
	c := storedUser(u)
	c.Version = 1
	s.setUser(c.ID, c)
	u.Version = 1
	return nil
}

// GetUser returns a copy of the user with this ID, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (*users.User, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.rlock()
	defer s.runlock()
	return found(s.db.user(id))
}

// GetUserByUsername returns a copy of the user whose username folds to users.Fold(username),
// or ErrNotFound.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (*users.User, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.rlock()
	defer s.runlock()
	return found(s.db.byUsername[users.Fold(username)])
}

// GetUserByEmail returns a copy of the user whose e-mail folds to users.Fold(email), or
// ErrNotFound. The empty e-mail finds no one.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*users.User, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.rlock()
	defer s.runlock()
	if email == "" {
		return nil, users.NotFoundError("user")
	}
	return found(s.db.byEmail[users.Fold(email)])
}

// found returns a copy of u, or ErrNotFound for nil.
func found(u *users.User) (*users.User, error) {
	if u == nil {
		return nil, users.NotFoundError("user")
	}
	return u.Clone(), nil
}

// UpdateUser replaces the stored user with a copy of u when u.Version equals the stored
// version, storing Version+1 and setting u.Version to it. It returns ErrNotFound when there is
// no user with u.ID, and ErrConflict when the version is stale (Field "version") or the new
// username or e-mail is another user's (Field "username" or "email").
func (s *Store) UpdateUser(ctx context.Context, u *users.User) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.lock()
	defer s.unlock()
	old := s.db.user(u.ID)
	if old == nil {
		return users.NotFoundError("user")
	}
	if u.Version != old.Version {
		return users.ConflictError("version", "the user was changed by someone else")
	}
	if err := s.db.checkUnique(u); err != nil {
		return err
	}
	c := storedUser(u)
	c.Version = old.Version + 1
	s.setUser(c.ID, c)
	u.Version = c.Version
	return nil
}

// checkUnique returns ErrConflict when u's folded username or e-mail belongs to another user.
func (d *db) checkUnique(u *users.User) error {
	if o := d.byUsername[users.Fold(u.Username)]; o != nil && o.ID != u.ID {
		return users.ConflictError("username", "the username is taken")
	}
	if u.Email == "" {
		return nil
	}
	if o := d.byEmail[users.Fold(u.Email)]; o != nil && o.ID != u.ID {
		return users.ConflictError("email", "the e-mail address is taken")
	}
	return nil
}

// storedUser returns the copy of u the store keeps: times in canonical form.
func storedUser(u *users.User) *users.User {
	c := u.Clone()
	c.Created = users.CanonicalTime(c.Created)
	c.Updated = users.CanonicalTime(c.Updated)
	return c
}

// DeleteUser removes the user, every token of theirs and their image, and returns ErrNotFound
// when there is no such user. The user's tickets stay.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.lock()
	defer s.unlock()
	if s.db.user(id) == nil {
		return users.NotFoundError("user")
	}
	for d := range s.db.userTokens[id] {
		s.setToken(d, nil)
	}
	if s.db.images[id] != nil {
		s.setImage(id, nil)
	}
	s.setUser(id, nil)
	return nil
}

// ListUsers returns copies of the page of users that q selects, in q's order (see
// users.Query). It returns ErrInvalid for a query that Query.Normalize rejects.
//
// It scans every user once and keeps the best Offset+Limit in a bounded heap, so its cost is
// O(n log(Offset+Limit)), not that of sorting every match.
func (s *Store) ListUsers(ctx context.Context, q users.Query) ([]*users.User, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	s.rlock()
	defer s.runlock()
	// The page is the last Limit of the first Offset+Limit; an Offset past every user
	// is cut down first, so that the sum cannot overflow.
	best := newTopK(min(q.Offset, len(s.db.users))+q.Limit, len(s.db.users), q.Compare)
	for _, u := range s.db.users {
		if q.Match(u) {
			best.add(u)
		}
	}
	page := best.sorted()
	page = page[min(q.Offset, len(page)):]
	out := make([]*users.User, len(page))
	for i, u := range page {
		out[i] = u.Clone()
	}
	return out, nil
}

// CountUsers returns how many users q's conditions and pattern select, ignoring its sort,
// limit and offset. It returns ErrInvalid for a query that Query.Normalize rejects.
func (s *Store) CountUsers(ctx context.Context, q users.Query) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	q, err := q.Normalize()
	if err != nil {
		return 0, err
	}
	s.rlock()
	defer s.runlock()
	n := 0
	for _, u := range s.db.users {
		if q.Match(u) {
			n++
		}
	}
	return n, nil
}

// Tokens

// PutToken stores a copy of t. It returns ErrNotFound when t's user does not exist and
// ErrConflict (Field "token") when a token with the same digest exists, expired or not.
func (s *Store) PutToken(ctx context.Context, t *users.Token) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.lock()
	defer s.unlock()
	if s.db.user(t.UserID) == nil {
		return users.NotFoundError("user")
	}
	if s.db.tokens[t.Digest] != nil {
		return users.ConflictError("token", "a token with this digest exists")
	}
	c := *t
	c.Created = users.CanonicalTime(c.Created)
	c.Expires = users.CanonicalTime(c.Expires)
	c.LastUsed = users.CanonicalTime(c.LastUsed)
	s.setToken(c.Digest, &c)
	return nil
}

// GetToken returns a copy of the token with this digest unless it has expired at now;
// ErrNotFound otherwise.
func (s *Store) GetToken(ctx context.Context, digest users.Digest, now time.Time) (*users.Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.rlock()
	defer s.runlock()
	t := s.db.tokens[digest]
	if t == nil || t.Expired(now) {
		return nil, users.NotFoundError("token")
	}
	c := *t
	return &c, nil
}

// ConsumeToken removes and returns the token with this digest and kind unless it has expired
// at now; ErrNotFound otherwise (and then nothing is removed). Of any number of concurrent
// calls for one token, exactly one succeeds.
func (s *Store) ConsumeToken(ctx context.Context, digest users.Digest, kind users.TokenKind, now time.Time) (*users.Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	t := s.db.tokens[digest]
	if t == nil || t.Kind != kind || t.Expired(now) {
		return nil, users.NotFoundError("token")
	}
	s.setToken(digest, nil)
	c := *t
	return &c, nil
}

// DeleteToken removes the token with this digest, expired or not, and returns ErrNotFound when
// there is none.
func (s *Store) DeleteToken(ctx context.Context, digest users.Digest) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.lock()
	defer s.unlock()
	if s.db.tokens[digest] == nil {
		return users.NotFoundError("token")
	}
	s.setToken(digest, nil)
	return nil
}

// DeleteUserTokens removes the user's tokens of the given kinds (every kind when none is
// given) and returns how many it removed: 0, and no error, for an unknown user. Its cost is
// proportional to the number of the user's tokens.
func (s *Store) DeleteUserTokens(ctx context.Context, userID string, kinds ...users.TokenKind) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	s.lock()
	defer s.unlock()
	n := 0
	for d := range s.db.userTokens[userID] {
		if len(kinds) == 0 || slices.Contains(kinds, s.db.tokens[d].Kind) {
			s.setToken(d, nil)
			n++
		}
	}
	return n, nil
}

// DeleteExpiredTokens removes at most limit tokens expired at now (every one when limit <= 0)
// and returns how many it removed. It scans the tokens in no particular order and stops at the
// limit, so which expired tokens it removes first is left to chance; a call that finds fewer
// than limit has scanned every token.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	s.lock()
	defer s.unlock()
	n := 0
	for d, t := range s.db.tokens {
		if limit > 0 && n == limit {
			break
		}
		if t.Expired(now) {
			s.setToken(d, nil)
			n++
		}
	}
	return n, nil
}

// ListTokens returns copies of the user's tokens of the kind, expired ones included, oldest
// first (by Created, then ID, then Digest); an empty list, and no error, when there are none
// or no such user. Its cost is that of sorting the user's tokens.
func (s *Store) ListTokens(ctx context.Context, userID string, kind users.TokenKind) ([]*users.Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.rlock()
	defer s.runlock()
	digests := s.db.userTokens[userID]
	out := make([]*users.Token, 0, len(digests))
	for d := range digests {
		if t := s.db.tokens[d]; t.Kind == kind {
			c := *t
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, olderToken)
	return out, nil
}

// olderToken orders tokens oldest first: by Created, then ID, then Digest.
func olderToken(a, b *users.Token) int {
	if r := a.Created.Compare(b.Created); r != 0 {
		return r
	}
	if r := strings.Compare(a.ID, b.ID); r != 0 {
		return r
	}
	return bytes.Compare(a.Digest[:], b.Digest[:])
}

// TouchToken sets the LastUsed time of the token with this digest to at, in canonical form,
// unless it is already at or after it; expiry does not matter. It returns ErrNotFound when
// there is no such token.
func (s *Store) TouchToken(ctx context.Context, digest users.Digest, at time.Time) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	at = users.CanonicalTime(at)
	s.lock()
	defer s.unlock()
	t := s.db.tokens[digest]
	if t == nil {
		return users.NotFoundError("token")
	}
	if !t.LastUsed.Before(at) {
		return nil
	}
	c := *t
	c.LastUsed = at
	s.setToken(digest, &c)
	return nil
}

// Images

// PutImage stores a copy of img as its user's profile image, replacing any earlier one. It
// returns ErrNotFound when the user does not exist.
func (s *Store) PutImage(ctx context.Context, img *users.Image) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.lock()
	defer s.unlock()
	if s.db.user(img.UserID) == nil {
		return users.NotFoundError("user")
	}
	c := img.Clone()
	c.Updated = users.CanonicalTime(c.Updated)
	s.setImage(c.UserID, c)
	return nil
}

// GetImage returns a copy of the user's profile image, or ErrNotFound when they have none.
func (s *Store) GetImage(ctx context.Context, userID string) (*users.Image, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.rlock()
	defer s.runlock()
	img := s.db.images[userID]
	if img == nil {
		return nil, users.NotFoundError("image")
	}
	return img.Clone(), nil
}

// DeleteImage removes the user's profile image, and returns ErrNotFound when they have none.
func (s *Store) DeleteImage(ctx context.Context, userID string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.lock()
	defer s.unlock()
	if s.db.images[userID] == nil {
		return users.NotFoundError("image")
	}
	s.setImage(userID, nil)
	return nil
}

// Tickets

// CreateTicket stores a copy of t with Version 1 and sets t.Version to 1. It returns
// ErrInvalid when t has no ID and ErrConflict (Field "id") when the ID is taken. The ticket's
// user need not exist.
func (s *Store) CreateTicket(ctx context.Context, t *users.Ticket) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if t.ID == "" {
		return &users.Error{Code: users.CodeInvalid, Field: "id", Message: "is required"}
	}
	s.lock()
	defer s.unlock()
	if s.db.tickets[t.ID] != nil {
		return users.ConflictError("id", "a ticket with this ID exists")
	}
	c := storedTicket(t)
	c.Version = 1
	s.setTicket(c.ID, c)
	t.Version = 1
	return nil
}

// GetTicket returns a copy of the ticket with this ID, or ErrNotFound.
func (s *Store) GetTicket(ctx context.Context, id string) (*users.Ticket, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.rlock()
	defer s.runlock()
	t := s.db.tickets[id]
	if t == nil {
		return nil, users.NotFoundError("ticket")
	}
	return t.Clone(), nil
}

// ListTickets returns copies of the user's tickets, oldest first (by Created, then ID); an
// empty list, and no error, when there are none.
func (s *Store) ListTickets(ctx context.Context, userID string) ([]*users.Ticket, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.rlock()
	defer s.runlock()
	ids := s.db.userTickets[userID]
	out := make([]*users.Ticket, 0, len(ids))
	for id := range ids {
		out = append(out, s.db.tickets[id].Clone())
	}
	slices.SortFunc(out, olderTicket)
	return out, nil
}

// UpdateTicket replaces the stored ticket with a copy of t when t.Version equals the stored
// version, storing Version+1 and setting t.Version to it. It returns ErrNotFound when there is
// no ticket with t.ID and ErrConflict (Field "version") when the version is stale.
func (s *Store) UpdateTicket(ctx context.Context, t *users.Ticket) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.lock()
	defer s.unlock()
	old := s.db.tickets[t.ID]
	if old == nil {
		return users.NotFoundError("ticket")
	}
	if t.Version != old.Version {
		return users.ConflictError("version", "the ticket was changed by someone else")
	}
	c := storedTicket(t)
	c.Version = old.Version + 1
	s.setTicket(c.ID, c)
	t.Version = c.Version
	return nil
}

// ClaimTicket leases the oldest claimable ticket (by Created, then ID) to owner until the
// time until, and returns a copy with Owner, LeaseUntil and Version updated. A ticket is
// claimable when its status is in-progress, LeaseUntil is not after now and NextAttempt is not
// after now. It returns ErrNotFound when none is. Of concurrent claimants, only one gets a
// given ticket. It looks only at in-progress tickets.
func (s *Store) ClaimTicket(ctx context.Context, owner string, now, until time.Time) (*users.Ticket, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	var oldest *users.Ticket
	for _, t := range s.db.openTickets {
		if t.LeaseUntil.After(now) || t.NextAttempt.After(now) {
			continue
		}
		if oldest == nil || olderTicket(t, oldest) < 0 {
			oldest = t
		}
	}
	if oldest == nil {
		return nil, users.NotFoundError("claimable ticket")
	}
	c := oldest.Clone()
	c.Owner = owner
	c.LeaseUntil = users.CanonicalTime(until)
	c.Version++
	s.setTicket(c.ID, c)
	return c.Clone(), nil
}

// DeleteTickets removes at most limit tickets (every one when limit <= 0) whose status is
// completed, failed or cancelled and whose Updated is before before, and returns how many it
// removed. Tickets in progress are never removed. It scans the tickets in no particular order
// and stops at the limit, so which of them it removes first is left to chance.
func (s *Store) DeleteTickets(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	before = users.CanonicalTime(before)
	s.lock()
	defer s.unlock()
	n := 0
	for id, t := range s.db.tickets {
		if limit > 0 && n == limit {
			break
		}
		if finalTicket(t.Status) && t.Updated.Before(before) {
			s.setTicket(id, nil)
			n++
		}
	}
	return n, nil
}

// finalTicket reports whether a ticket of this status is finished, and so may be removed.
func finalTicket(s users.TicketStatus) bool {
	return s == users.TicketCompleted || s == users.TicketFailed || s == users.TicketCancelled
}

// olderTicket orders tickets oldest first: by Created, then ID.
func olderTicket(a, b *users.Ticket) int {
	if r := a.Created.Compare(b.Created); r != 0 {
		return r
	}
	return strings.Compare(a.ID, b.ID)
}

// storedTicket returns the copy of t the store keeps: times in canonical form.
func storedTicket(t *users.Ticket) *users.Ticket {
	c := t.Clone()
	c.Created = users.CanonicalTime(c.Created)
	c.Updated = users.CanonicalTime(c.Updated)
	c.NextAttempt = users.CanonicalTime(c.NextAttempt)
	c.LeaseUntil = users.CanonicalTime(c.LeaseUntil)
	return c
}

// Transactions

// Atomic runs fn in one transaction, holding the store's write lock throughout: no other
// call on the store runs until fn returns. fn's calls on tx see each other's writes; when fn
// returns an error or panics, every change it made is undone before Atomic returns fn's error
// or the panic continues. Atomic returns ctx.Err() without calling fn if ctx is done.
//
// Calling Atomic on tx runs the inner fn inline, in the same transaction; when the inner fn
// fails, only its own changes are undone (like a savepoint), and the outer fn decides what
// to do with its error. Like a *sql.Tx, tx is for fn's goroutine only, not for concurrent use,
// and must not be used after fn returns: its methods then return ErrTxDone.
//
// fn must use tx, never the outer Store: a call on the outer Store from inside fn waits for
// the lock Atomic holds, and so deadlocks. Atomic runs fn once: holding the lock, it never has
// to retry.
func (s *Store) Atomic(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if s.tx != nil {
		return s.run(ctx, fn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &Store{mu: s.mu, db: s.db, tx: new(txn)}
	defer tx.tx.done.Store(true)
	return tx.run(ctx, fn)
}

// run calls fn with s, a transaction, and undoes fn's changes unless it returns nil. The undo
// runs from a deferred call, so it also runs when fn panics (or calls runtime.Goexit), and the
// panic then goes on.
func (s *Store) run(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) (err error) {
	mark := len(s.tx.undo)
	ok := false
	defer func() {
		if !ok {
			s.rollback(mark)
		}
	}()
	err = fn(ctx, s)
	ok = err == nil
	return err
}

// rollback applies the undo journal back to mark, newest step first, and truncates it.
func (s *Store) rollback(mark int) {
	for i := len(s.tx.undo) - 1; i >= mark; i-- {
		s.tx.undo[i]()
		s.tx.undo[i] = nil
	}
	s.tx.undo = s.tx.undo[:mark]
}

// The four setters below are the only writes to db. Each maintains its indexes and, inside a
// transaction, journals the step that undoes it. A nil value removes the entry.

func (s *Store) setUser(id string, u *users.User) {
	old := s.db.setUser(id, u)
	if s.tx != nil {
		s.tx.undo = append(s.tx.undo, func() { s.db.setUser(id, old) })
	}
}

func (s *Store) setToken(d users.Digest, t *users.Token) {
	old := s.db.setToken(d, t)
	if s.tx != nil {
		s.tx.undo = append(s.tx.undo, func() { s.db.setToken(d, old) })
	}
}

func (s *Store) setImage(userID string, img *users.Image) {
	old := s.db.setImage(userID, img)
	if s.tx != nil {
		s.tx.undo = append(s.tx.undo, func() { s.db.setImage(userID, old) })
	}
}

func (s *Store) setTicket(id string, t *users.Ticket) {
	old := s.db.setTicket(id, t)
	if s.tx != nil {
		s.tx.undo = append(s.tx.undo, func() { s.db.setTicket(id, old) })
	}
}

// user returns the user with this ID, or nil.
func (d *db) user(id string) *users.User {
	if i, ok := d.position[id]; ok {
		return d.users[i]
	}
	return nil
}

// setUser stores u under id, or removes the user for nil, keeping the username and e-mail
// indexes, and returns the user it replaced. A replaced user keeps its place in d.users; a
// removed one's place goes to the last user.
func (d *db) setUser(id string, u *users.User) *users.User {
	i, ok := d.position[id]
	var old *users.User
	if ok {
		old = d.users[i]
		delete(d.byUsername, users.Fold(old.Username))
		if old.Email != "" {
			delete(d.byEmail, users.Fold(old.Email))
		}
	}
	switch {
	case u == nil && !ok:
		return nil
	case u == nil:
		last := len(d.users) - 1
		d.users[i] = d.users[last]
		d.position[d.users[i].ID] = i
		d.users[last] = nil
		d.users = d.users[:last]
		delete(d.position, id)
		return old
	case ok:
		d.users[i] = u
	default:
		d.position[id] = len(d.users)
		d.users = append(d.users, u)
	}
	d.byUsername[users.Fold(u.Username)] = u
	if u.Email != "" {
		d.byEmail[users.Fold(u.Email)] = u
	}
	return old
}

// setToken stores t under digest dg, or removes the token for nil, keeping the per-user index,
// and returns the token it replaced.
func (d *db) setToken(dg users.Digest, t *users.Token) *users.Token {
	old := d.tokens[dg]
	if old != nil {
		removeFromSet(d.userTokens, old.UserID, dg)
	}
	if t == nil {
		delete(d.tokens, dg)
		return old
	}
	d.tokens[dg] = t
	addToSet(d.userTokens, t.UserID, dg)
	return old
}

// setImage stores img as the user's image, or removes it for nil, and returns the image it
// replaced.
func (d *db) setImage(userID string, img *users.Image) *users.Image {
	old := d.images[userID]
	if img == nil {
		delete(d.images, userID)
	} else {
		d.images[userID] = img
	}
	return old
}

// setTicket stores t under id, or removes the ticket for nil, keeping the per-user and
// in-progress indexes, and returns the ticket it replaced.
func (d *db) setTicket(id string, t *users.Ticket) *users.Ticket {
	old := d.tickets[id]
	if old != nil {
		removeFromSet(d.userTickets, old.UserID, id)
		delete(d.openTickets, id)
	}
	if t == nil {
		delete(d.tickets, id)
		return old
	}
	d.tickets[id] = t
	addToSet(d.userTickets, t.UserID, id)
	if t.Status == users.TicketInProgress {
		d.openTickets[id] = t
	}
	return old
}

func addToSet[K comparable](sets map[string]map[K]struct{}, owner string, k K) {
	set := sets[owner]
	if set == nil {
		set = make(map[K]struct{})
		sets[owner] = set
	}
	set[k] = struct{}{}
}

func removeFromSet[K comparable](sets map[string]map[K]struct{}, owner string, k K) {
	set := sets[owner]
	delete(set, k)
	if len(set) == 0 {
		delete(sets, owner)
	}
}
