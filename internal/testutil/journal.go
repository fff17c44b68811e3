package testutil

import (
	"context"
	"slices"
	"sync"

	"github.com/gousers/users"
)

// Journal is a users.Store that passes every call to the Store it wraps and records the
// writes that change a user (UpdateUser, DeleteUserTokens, PutImage), in the order in which
// they commit: the writes of a transaction are recorded when its function succeeds, while
// the wrapped store still holds the transaction (its lock, or SQLite's write lock), so that
// no other transaction's writes come between. Tests of races read it to tell whether a write
// landed after another. It is safe for concurrent use.
type Journal struct {
	users.Store
	mu      sync.Mutex
	entries []JournalEntry
}

// JournalEntry is one recorded write.
type JournalEntry struct {
	Op     string // "UpdateUser", "DeleteUserTokens" or "PutImage"
	UserID string
	User   *users.User       // the user as written, for UpdateUser
	Kinds  []users.TokenKind // the kinds deleted, for DeleteUserTokens (nil: every kind)
}

// NewJournal returns a Journal over s.
func NewJournal(s users.Store) *Journal { return &Journal{Store: s} }

// Entries returns a copy of the entries so far, oldest first.
func (j *Journal) Entries() []JournalEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

func (j *Journal) add(es ...JournalEntry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, es...)
}

// UpdateUser records the write once it succeeds.
func (j *Journal) UpdateUser(ctx context.Context, u *users.User) error {
	return record(j.add, j.Store.UpdateUser(ctx, u), JournalEntry{Op: "UpdateUser", UserID: u.ID, User: u.Clone()})
}

// DeleteUserTokens records the write once it succeeds.
func (j *Journal) DeleteUserTokens(ctx context.Context, userID string, kinds ...users.TokenKind) (int, error) {
	n, err := j.Store.DeleteUserTokens(ctx, userID, kinds...)
	return n, record(j.add, err, JournalEntry{Op: "DeleteUserTokens", UserID: userID, Kinds: slices.Clone(kinds)})
}

// PutImage records the write once it succeeds.
func (j *Journal) PutImage(ctx context.Context, img *users.Image) error {
	return record(j.add, j.Store.PutImage(ctx, img), JournalEntry{Op: "PutImage", UserID: img.UserID})
}

func record(add func(...JournalEntry), err error, e JournalEntry) error {
	if err == nil {
		add(e)
	}
	return err
}

// Atomic runs fn in a transaction of the wrapped store, recording its writes if fn succeeds.
func (j *Journal) Atomic(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) error {
	return j.Store.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		jt := &journalTx{Store: tx, j: j}
		if err := fn(ctx, jt); err != nil {
			return err
		}
		j.add(jt.pending...)
		return nil
	})
}

// journalTx is a transaction of a Journal: it keeps its writes until the transaction's
// function succeeds.
type journalTx struct {
	users.Store
	j       *Journal
	pending []JournalEntry
}

func (t *journalTx) add(es ...JournalEntry) { t.pending = append(t.pending, es...) }

func (t *journalTx) UpdateUser(ctx context.Context, u *users.User) error {
	return record(t.add, t.Store.UpdateUser(ctx, u), JournalEntry{Op: "UpdateUser", UserID: u.ID, User: u.Clone()})
}

func (t *journalTx) DeleteUserTokens(ctx context.Context, userID string, kinds ...users.TokenKind) (int, error) {
	n, err := t.Store.DeleteUserTokens(ctx, userID, kinds...)
	return n, record(t.add, err, JournalEntry{Op: "DeleteUserTokens", UserID: userID, Kinds: slices.Clone(kinds)})
}

func (t *journalTx) PutImage(ctx context.Context, img *users.Image) error {
	return record(t.add, t.Store.PutImage(ctx, img), JournalEntry{Op: "PutImage", UserID: img.UserID})
}

// Atomic runs fn as a savepoint of t, keeping its writes with t's when fn succeeds.
func (t *journalTx) Atomic(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) error {
	return t.Store.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		inner := &journalTx{Store: tx, j: t.j}
		if err := fn(ctx, inner); err != nil {
			return err
		}
		t.pending = append(t.pending, inner.pending...)
		return nil
	})
}

// Since returns the entries for userID recorded after the first entry for them that matches
// from, and whether one did.
func Since(entries []JournalEntry, userID string, from func(JournalEntry) bool) ([]JournalEntry, bool) {
	for i, e := range entries {
		if e.UserID == userID && from(e) {
			var after []JournalEntry
			for _, e := range entries[i+1:] {
				if e.UserID == userID {
					after = append(after, e)
				}
			}
			return after, true
		}
	}
	return nil, false
}
