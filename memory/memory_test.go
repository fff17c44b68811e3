package memory_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) users.Store { return memory.New() })
}

// The tests below check what storetest cannot see from outside, or checks only in part: the
// undo journal and indexes under every kind of change, the bounded heap of ListUsers against
// a full sort, and single winners under contention.

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newUser(id, username string) *users.User {
	return &users.User{
		ID:       id,
		Username: username,
		Email:    username,
		Scope:    []string{users.RoleUser},
		Status:   users.StatusActive,
		Created:  t0,
		Updated:  t0,
	}
}

func digest(s string) users.Digest { return sha256.Sum256([]byte(s)) }

func newToken(secret, userID string, kind users.TokenKind) *users.Token {
	return &users.Token{Digest: digest(secret), Kind: kind, UserID: userID, Created: t0, Expires: t0.Add(time.Hour)}
}

// newImage returns an image of the user's whose data and ETag are tag.
func newImage(userID, tag string) *users.Image {
	return &users.Image{UserID: userID, ContentType: "image/png", Data: []byte(tag), Width: 1, Height: 1, ETag: `"` + tag + `"`, Updated: t0}
}

// snapshot is what a store answers to a fixed set of questions, for comparing a store before
// and after a transaction that rolled back.
type snapshot struct {
	Users     []*users.User
	Count     int
	ByName    map[string]string // probed username -> ID, or the error code
	ByEmail   map[string]string
	Tokens    map[string]*users.Token   // probed secret -> token, nil when not found
	Lists     map[string][]*users.Token // probed user ID and kind -> ListTokens
	Images    map[string]*users.Image   // probed user ID -> image, nil when not found
	Tickets   map[string][]*users.Ticket
	Claimable string // the ID of the ticket ClaimTicket would pick, or the error code
}

type probes struct {
	names, secrets, ticketUsers []string
}

func takeSnapshot(t *testing.T, s users.Store, p probes) snapshot {
	t.Helper()
	ctx := t.Context()
	var snap snapshot
	var err error
	snap.Users, err = s.ListUsers(ctx, users.Query{Limit: users.MaxLimit})
	require.NoError(t, err)
	snap.Count, err = s.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	idOrCode := func(u *users.User, err error) string {
		if err != nil {
			return string(users.ErrorCode(err))
		}
		return u.ID
	}
	snap.ByName, snap.ByEmail = map[string]string{}, map[string]string{}
	for _, n := range p.names {
		snap.ByName[n] = idOrCode(s.GetUserByUsername(ctx, n))
		snap.ByEmail[n] = idOrCode(s.GetUserByEmail(ctx, n))
	}
	snap.Tokens = map[string]*users.Token{}
	for _, sec := range p.secrets {
		tok, err := s.GetToken(ctx, digest(sec), t0)
		if err != nil {
			require.ErrorIs(t, err, users.ErrNotFound)
		}
		snap.Tokens[sec] = tok
	}
	snap.Lists, snap.Images = map[string][]*users.Token{}, map[string]*users.Image{}
	for _, id := range p.ticketUsers {
		for _, kind := range []users.TokenKind{users.TokenSession, users.TokenReset, users.TokenAPIKey} {
			snap.Lists[id+" "+string(kind)], err = s.ListTokens(ctx, id, kind)
			require.NoError(t, err)
		}
		img, err := s.GetImage(ctx, id)
		if err != nil {
			require.ErrorIs(t, err, users.ErrNotFound)
		}
		snap.Images[id] = img
	}
	snap.Tickets = map[string][]*users.Ticket{}
	for _, id := range p.ticketUsers {
		snap.Tickets[id], err = s.ListTickets(ctx, id)
		require.NoError(t, err)
	}
	// Probe ClaimTicket without keeping the claim.
	errProbe := errors.New("probe")
	_ = s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		tk, err := tx.ClaimTicket(ctx, "probe", t0, t0.Add(time.Minute))
		if err != nil {
			snap.Claimable = string(users.ErrorCode(err))
		} else {
			snap.Claimable = tk.ID
		}
		return errProbe
	})
	return snap
}

// seed fills a store with users a and c (each with tokens and an image) and a ticket for c.
func seed(t *testing.T) (*memory.Store, probes) {
	t.Helper()
	ctx := t.Context()
	s := memory.New()
	require.NoError(t, s.CreateUser(ctx, newUser("a", "a@example.com")))
	require.NoError(t, s.CreateUser(ctx, newUser("c", "c@example.com")))
	require.NoError(t, s.PutToken(ctx, newToken("a-session", "a", users.TokenSession)))
	require.NoError(t, s.PutToken(ctx, newToken("a-reset", "a", users.TokenReset)))
	require.NoError(t, s.PutToken(ctx, newToken("c-session", "c", users.TokenSession)))
	key := newToken("a-key", "a", users.TokenAPIKey)
	key.Expires = time.Time{} // outlives changeEverything's DeleteExpiredTokens
	require.NoError(t, s.PutToken(ctx, key))
	require.NoError(t, s.PutImage(ctx, newImage("a", "a1")))
	require.NoError(t, s.PutImage(ctx, newImage("c", "c1")))
	require.NoError(t, s.CreateTicket(ctx, &users.Ticket{ID: "t1", UserID: "c", Status: users.TicketInProgress, Created: t0}))
	return s, probes{
		names:       []string{"a@example.com", "a2@example.com", "b@example.com", "c@example.com"},
		secrets:     []string{"a-session", "a-reset", "a-key", "b-session", "c-session"},
		ticketUsers: []string{"a", "b", "c"},
	}
}

// changeEverything makes every kind of change, through tx, to a store made by seed.
func changeEverything(t *testing.T, ctx context.Context, tx users.Store) {
	t.Helper()
	require.NoError(t, tx.CreateUser(ctx, newUser("b", "b@example.com")))
	require.NoError(t, tx.PutToken(ctx, newToken("b-session", "b", users.TokenSession)))
	require.NoError(t, tx.PutImage(ctx, newImage("b", "b1")))
	require.NoError(t, tx.PutImage(ctx, newImage("a", "a2")))
	require.NoError(t, tx.TouchToken(ctx, digest("a-key"), t0.Add(time.Minute)))
	require.NoError(t, tx.TouchToken(ctx, digest("a-key"), t0.Add(2*time.Minute)))

	a, err := tx.GetUser(ctx, "a")
	require.NoError(t, err)
	a.Username, a.Email = "a2@example.com", ""
	require.NoError(t, tx.UpdateUser(ctx, a))
	_, err = tx.ConsumeToken(ctx, digest("a-reset"), users.TokenReset, t0)
	require.NoError(t, err)
	require.NoError(t, tx.DeleteToken(ctx, digest("a-session")))

	require.NoError(t, tx.CreateTicket(ctx, &users.Ticket{ID: "t2", UserID: "a", Status: users.TicketInProgress, Created: t0.Add(-time.Hour)}))
	claimed, err := tx.ClaimTicket(ctx, "worker", t0, t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, "t2", claimed.ID)
	t1, err := tx.GetTicket(ctx, "t1")
	require.NoError(t, err)
	t1.Status = users.TicketCompleted
	require.NoError(t, tx.UpdateTicket(ctx, t1))

	require.NoError(t, tx.DeleteUser(ctx, "c"))
	require.NoError(t, tx.DeleteImage(ctx, "b"))
	_, err = tx.DeleteExpiredTokens(ctx, t0.Add(2*time.Hour), 0)
	require.NoError(t, err)
}

func TestAtomicRollsBack(t *testing.T) {
	errFail := errors.New("fail")
	tests := []struct {
		name string
		end  func() error // how fn ends after its changes
	}{
		{"error", func() error { return errFail }},
		{"panic", func() error { panic("boom") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p := seed(t)
			before := takeSnapshot(t, s, p)

			call := func() error {
				return s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
					changeEverything(t, ctx, tx)
					require.NotEqual(t, before, takeSnapshot(t, tx, p), "changes are visible inside the transaction")
					return tt.end()
				})
			}
			if tt.name == "panic" {
				assert.PanicsWithValue(t, "boom", func() { _ = call() })
			} else {
				assert.ErrorIs(t, call(), errFail)
			}

			// The lock is free again, and the store is as it was.
			assert.Equal(t, before, takeSnapshot(t, s, p))
			// The indexes were restored too: the old names are taken, the new ones free.
			err := s.CreateUser(t.Context(), newUser("x", "A@example.com"))
			assert.ErrorIs(t, err, users.ErrConflict)
			require.NoError(t, s.CreateUser(t.Context(), newUser("b", "B@example.com")))
		})
	}
}

func TestAtomicCommits(t *testing.T) {
	s, p := seed(t)
	before := takeSnapshot(t, s, p)
	var inside snapshot
	err := s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
		changeEverything(t, ctx, tx)
		inside = takeSnapshot(t, tx, p)
		return nil
	})
	require.NoError(t, err)
	after := takeSnapshot(t, s, p)
	assert.NotEqual(t, before, after)
	assert.Equal(t, inside, after)
	assert.Equal(t, "a", after.ByName["a2@example.com"])
	assert.Equal(t, "not_found", after.ByEmail["a@example.com"], "an e-mail cleared in the transaction is unindexed")
	assert.Equal(t, "not_found", after.ByName["c@example.com"])
	assert.Equal(t, `"a2"`, after.Images["a"].ETag, "a's image was replaced")
	assert.Nil(t, after.Images["b"], "b's image was put and deleted")
	assert.Nil(t, after.Images["c"], "c's image went with c")
	assert.Equal(t, t0.Add(2*time.Minute), after.Tokens["a-key"].LastUsed)
	assert.Empty(t, after.Lists["a "+string(users.TokenReset)], "a's reset code was consumed")
}

func TestAtomicNested(t *testing.T) {
	errInner := errors.New("inner")
	tests := []struct {
		name       string
		passOn     bool // the outer fn returns the inner error
		wantOuter  bool // the outer fn's user exists afterwards
		wantInnerA bool // the inner fn's user exists afterwards
	}{
		{name: "inner error swallowed", passOn: false, wantOuter: true},
		{name: "inner error returned", passOn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memory.New()
			err := s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
				require.NoError(t, tx.CreateUser(ctx, newUser("outer", "outer@example.com")))
				err := tx.Atomic(ctx, func(ctx context.Context, inner users.Store) error {
					_, err := inner.GetUser(ctx, "outer")
					require.NoError(t, err, "the inner fn sees the outer fn's writes")
					require.NoError(t, inner.CreateUser(ctx, newUser("inner", "inner@example.com")))
					return errInner
				})
				require.ErrorIs(t, err, errInner)
				_, err2 := tx.GetUser(ctx, "inner")
				require.ErrorIs(t, err2, users.ErrNotFound, "the failed inner fn's changes are undone at once")
				if tt.passOn {
					return err
				}
				return nil
			})
			if tt.passOn {
				require.ErrorIs(t, err, errInner)
			} else {
				require.NoError(t, err)
			}
			_, err = s.GetUser(t.Context(), "outer")
			assert.Equal(t, tt.wantOuter, err == nil)
			_, err = s.GetUser(t.Context(), "inner")
			assert.ErrorIs(t, err, users.ErrNotFound)
		})
	}

	t.Run("inner success kept", func(t *testing.T) {
		s := memory.New()
		err := s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
			return tx.Atomic(ctx, func(ctx context.Context, inner users.Store) error {
				return inner.CreateUser(ctx, newUser("inner", "inner@example.com"))
			})
		})
		require.NoError(t, err)
		_, err = s.GetUser(t.Context(), "inner")
		assert.NoError(t, err)
	})
}

func TestTxUnusableAfterAtomic(t *testing.T) {
	s := memory.New()
	var kept users.Store
	require.NoError(t, s.Atomic(t.Context(), func(_ context.Context, tx users.Store) error {
		kept = tx
		return nil
	}))
	_, err := kept.GetUser(t.Context(), "a")
	assert.ErrorIs(t, err, memory.ErrTxDone)
	assert.ErrorIs(t, kept.CreateUser(t.Context(), newUser("a", "a@example.com")), memory.ErrTxDone)
	assert.ErrorIs(t, kept.Atomic(t.Context(), func(context.Context, users.Store) error { return nil }), memory.ErrTxDone)
	_, err = s.GetUser(t.Context(), "a")
	assert.ErrorIs(t, err, users.ErrNotFound)
}

func TestContextDone(t *testing.T) {
	s, _ := seed(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func(users.Store) error{
		"CreateUser":        func(s users.Store) error { return s.CreateUser(ctx, newUser("b", "b@example.com")) },
		"GetUser":           func(s users.Store) error { _, err := s.GetUser(ctx, "a"); return err },
		"GetUserByUsername": func(s users.Store) error { _, err := s.GetUserByUsername(ctx, "a@example.com"); return err },
		"GetUserByEmail":    func(s users.Store) error { _, err := s.GetUserByEmail(ctx, "a@example.com"); return err },
		"UpdateUser": func(s users.Store) error {
			u := newUser("a", "a@example.com")
			u.Version = 1
			return s.UpdateUser(ctx, u)
		},
		"DeleteUser": func(s users.Store) error { return s.DeleteUser(ctx, "a") },
		"ListUsers":  func(s users.Store) error { _, err := s.ListUsers(ctx, users.Query{}); return err },
		"CountUsers": func(s users.Store) error { _, err := s.CountUsers(ctx, users.Query{}); return err },
		"PutToken":   func(s users.Store) error { return s.PutToken(ctx, newToken("new", "a", users.TokenSession)) },
		"GetToken":   func(s users.Store) error { _, err := s.GetToken(ctx, digest("a-session"), t0); return err },
		"ConsumeToken": func(s users.Store) error {
			_, err := s.ConsumeToken(ctx, digest("a-reset"), users.TokenReset, t0)
			return err
		},
		"DeleteToken":         func(s users.Store) error { return s.DeleteToken(ctx, digest("a-session")) },
		"DeleteUserTokens":    func(s users.Store) error { _, err := s.DeleteUserTokens(ctx, "a"); return err },
		"DeleteExpiredTokens": func(s users.Store) error { _, err := s.DeleteExpiredTokens(ctx, t0.Add(time.Hour), 0); return err },
		"ListTokens":          func(s users.Store) error { _, err := s.ListTokens(ctx, "a", users.TokenSession); return err },
		"TouchToken":          func(s users.Store) error { return s.TouchToken(ctx, digest("a-key"), t0.Add(time.Minute)) },
		"PutImage":            func(s users.Store) error { return s.PutImage(ctx, newImage("a", "new")) },
		"GetImage":            func(s users.Store) error { _, err := s.GetImage(ctx, "a"); return err },
		"DeleteImage":         func(s users.Store) error { return s.DeleteImage(ctx, "a") },
		"CreateTicket":        func(s users.Store) error { return s.CreateTicket(ctx, &users.Ticket{ID: "t9", UserID: "a"}) },
		"GetTicket":           func(s users.Store) error { _, err := s.GetTicket(ctx, "t1"); return err },
		"ListTickets":         func(s users.Store) error { _, err := s.ListTickets(ctx, "c"); return err },
		"UpdateTicket":        func(s users.Store) error { return s.UpdateTicket(ctx, &users.Ticket{ID: "t1", Version: 1}) },
		"ClaimTicket":         func(s users.Store) error { _, err := s.ClaimTicket(ctx, "w", t0, t0.Add(time.Minute)); return err },
		"DeleteTickets":       func(s users.Store) error { _, err := s.DeleteTickets(ctx, t0.Add(time.Hour), 0); return err },
		"Atomic": func(s users.Store) error {
			return s.Atomic(ctx, func(context.Context, users.Store) error { panic("fn must not run") })
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, call(s), context.Canceled, "on the store")
			require.NoError(t, s.Atomic(t.Context(), func(_ context.Context, tx users.Store) error {
				assert.ErrorIs(t, call(tx), context.Canceled, "on a transaction")
				return nil
			}))
		})
	}
	// Nothing changed.
	n, err := s.CountUsers(t.Context(), users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

func TestValuesAreCopied(t *testing.T) {
	ctx := t.Context()
	s := memory.New()

	in := newUser("a", "a@example.com")
	in.Metadata = map[string]any{"plan": map[string]any{"seats": 3.0}, "tags": []any{"x"}}
	in.Permissions = map[string]users.Permission{users.ResourceUsers: users.PermissionRead}
	require.NoError(t, s.CreateUser(ctx, in))
	in.Permissions[users.ResourceUsers] = users.PermissionAdmin
	in.Scope[0] = "admin"
	in.Metadata["plan"].(map[string]any)["seats"] = 99.0
	in.Metadata["tags"].([]any)[0] = "y"
	in.Username = "changed@example.com"

	out, err := s.GetUser(ctx, "a")
	require.NoError(t, err)
	want := newUser("a", "a@example.com")
	want.Metadata = map[string]any{"plan": map[string]any{"seats": 3.0}, "tags": []any{"x"}}
	want.Permissions = map[string]users.Permission{"users": "read"}
	want.Version = 1
	assert.Equal(t, want, out)

	out.Scope[0] = "admin"
	out.Metadata["plan"].(map[string]any)["seats"] = 99.0
	out.Permissions["billing"] = users.PermissionWrite
	again, err := s.GetUserByUsername(ctx, "a@example.com")
	require.NoError(t, err)
	assert.Equal(t, want, again)

	tok := newToken("secret", "a", users.TokenSession)
	require.NoError(t, s.PutToken(ctx, tok))
	tok.UserID = "b"
	got, err := s.GetToken(ctx, digest("secret"), t0)
	require.NoError(t, err)
	got.Kind = users.TokenAPIKey
	got, err = s.GetToken(ctx, digest("secret"), t0)
	require.NoError(t, err)
	assert.Equal(t, newToken("secret", "a", users.TokenSession), got)

	tk := &users.Ticket{ID: "t1", UserID: "a", Status: users.TicketInProgress, Steps: []string{"revoke", "remove"}}
	require.NoError(t, s.CreateTicket(ctx, tk))
	tk.Steps[0] = "changed"
	gotTk, err := s.GetTicket(ctx, "t1")
	require.NoError(t, err)
	gotTk.Steps[1] = "changed"
	list, err := s.ListTickets(ctx, "a")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, []string{"revoke", "remove"}, list[0].Steps)

	img := newImage("a", "png")
	require.NoError(t, s.PutImage(ctx, img))
	img.Data[0] = 'X'
	gotImg, err := s.GetImage(ctx, "a")
	require.NoError(t, err)
	gotImg.Data[1] = 'X'
	gotImg, err = s.GetImage(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, []byte("png"), gotImg.Data)
}

func TestTimesAreCanonical(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	local := time.FixedZone("X", 3600)
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, local)
	want := time.Date(2026, 5, 6, 6, 8, 9, 123456000, time.UTC)

	u := newUser("a", "a@example.com")
	u.Created, u.Updated = at, at
	require.NoError(t, s.CreateUser(ctx, u))
	got, err := s.GetUser(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, want, got.Created)
	assert.Equal(t, want, got.Updated)

	tok := newToken("secret", "a", users.TokenSession)
	tok.Created, tok.Expires = at, at.Add(time.Hour)
	require.NoError(t, s.PutToken(ctx, tok))
	gotTok, err := s.GetToken(ctx, tok.Digest, at)
	require.NoError(t, err)
	assert.Equal(t, want, gotTok.Created)
	assert.Equal(t, want.Add(time.Hour), gotTok.Expires)
	assert.True(t, gotTok.LastUsed.IsZero(), "a token never used")

	key := newToken("key", "a", users.TokenAPIKey)
	key.LastUsed = at
	require.NoError(t, s.PutToken(ctx, key))
	require.NoError(t, s.PutToken(ctx, newToken("key2", "a", users.TokenAPIKey)))
	require.NoError(t, s.TouchToken(ctx, digest("key2"), at.Add(time.Minute)))
	gotTok, err = s.GetToken(ctx, digest("key"), t0)
	require.NoError(t, err)
	assert.Equal(t, want, gotTok.LastUsed, "LastUsed given to PutToken")
	gotTok, err = s.GetToken(ctx, digest("key2"), t0)
	require.NoError(t, err)
	assert.Equal(t, want.Add(time.Minute), gotTok.LastUsed, "LastUsed set by TouchToken")

	img := newImage("a", "png")
	img.Updated = at
	require.NoError(t, s.PutImage(ctx, img))
	gotImg, err := s.GetImage(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, want, gotImg.Updated)

	require.NoError(t, s.CreateTicket(ctx, &users.Ticket{ID: "t", UserID: "a", Status: users.TicketInProgress, Created: at, Updated: at, NextAttempt: at}))
	claimed, err := s.ClaimTicket(ctx, "w", at, at.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, want, claimed.Created)
	assert.Equal(t, want, claimed.NextAttempt)
	assert.Equal(t, want.Add(time.Minute), claimed.LeaseUntil)
	assert.True(t, claimed.Updated.Equal(want))
}

func TestIndexes(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	a := newUser("a", "Ann@Example.com")
	a.Email = "ann.work@example.com"
	require.NoError(t, s.CreateUser(ctx, a))
	noMail1, noMail2 := newUser("n1", "n1@example.com"), newUser("n2", "n2@example.com")
	noMail1.Email, noMail2.Email = "", ""
	require.NoError(t, s.CreateUser(ctx, noMail1))
	require.NoError(t, s.CreateUser(ctx, noMail2), "the empty e-mail is not unique")
	_, err := s.GetUserByEmail(ctx, "")
	assert.ErrorIs(t, err, users.ErrNotFound)

	conflicts := []struct {
		name      string
		u         *users.User
		wantField string
	}{
		{"id", newUser("a", "other@example.com"), "id"},
		{"username folded", newUser("b", "ANN@example.COM"), "username"},
		{"email folded", func() *users.User { u := newUser("b", "b@example.com"); u.Email = "Ann.Work@example.com"; return u }(), "email"},
	}
	for _, c := range conflicts {
		t.Run(c.name, func(t *testing.T) {
			err := s.CreateUser(ctx, c.u)
			require.ErrorIs(t, err, users.ErrConflict)
			var e *users.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, c.wantField, e.Field)
		})
	}

	// Renaming moves both index entries; the old names become free.
	a.Username, a.Email = "ann2@example.com", "ann2.work@example.com"
	require.NoError(t, s.UpdateUser(ctx, a))
	assert.Equal(t, int64(2), a.Version)
	for _, name := range []string{"ann@example.com", "ann.work@example.com"} {
		_, err := s.GetUserByUsername(ctx, name)
		assert.ErrorIs(t, err, users.ErrNotFound)
		_, err = s.GetUserByEmail(ctx, name)
		assert.ErrorIs(t, err, users.ErrNotFound)
	}
	got, err := s.GetUserByEmail(ctx, "ANN2.work@example.com")
	require.NoError(t, err)
	assert.Equal(t, "a", got.ID)
	b := newUser("b", "ann@example.com")
	b.Email = "ann.work@example.com"
	require.NoError(t, s.CreateUser(ctx, b))

	// Stale version, and taking another user's name, are conflicts.
	a.Version = 1
	assert.ErrorIs(t, s.UpdateUser(ctx, a), users.ErrConflict)
	a.Version = 2
	a.Username = "ANN@example.com"
	assert.ErrorIs(t, s.UpdateUser(ctx, a), users.ErrConflict)

	// Deleting frees the names and removes the tokens.
	require.NoError(t, s.PutToken(ctx, newToken("b1", "b", users.TokenSession)))
	require.NoError(t, s.DeleteUser(ctx, "b"))
	_, err = s.GetToken(ctx, digest("b1"), t0)
	assert.ErrorIs(t, err, users.ErrNotFound)
	require.NoError(t, s.CreateUser(ctx, newUser("c", "ann.work@example.com")))
}

func TestDeleteUserTokensByKind(t *testing.T) {
	tests := []struct {
		name      string
		kinds     []users.TokenKind
		wantN     int
		wantLeft  []string
		wantOther bool
	}{
		{"every kind", nil, 3, nil, true},
		{"one kind", []users.TokenKind{users.TokenSession}, 2, []string{"reset"}, true},
		{"two kinds", []users.TokenKind{users.TokenReset, users.TokenVerify}, 1, []string{"s1", "s2"}, true},
		{"absent kind", []users.TokenKind{users.TokenAPIKey}, 0, []string{"reset", "s1", "s2"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s := memory.New()
			require.NoError(t, s.CreateUser(ctx, newUser("a", "a@example.com")))
			require.NoError(t, s.CreateUser(ctx, newUser("b", "b@example.com")))
			for _, tok := range []*users.Token{
				newToken("s1", "a", users.TokenSession), newToken("s2", "a", users.TokenSession),
				newToken("reset", "a", users.TokenReset), newToken("other", "b", users.TokenSession),
			} {
				require.NoError(t, s.PutToken(ctx, tok))
			}
			n, err := s.DeleteUserTokens(ctx, "a", tt.kinds...)
			require.NoError(t, err)
			assert.Equal(t, tt.wantN, n)
			var left []string
			for _, sec := range []string{"reset", "s1", "s2"} {
				if _, err := s.GetToken(ctx, digest(sec), t0); err == nil {
					left = append(left, sec)
				}
			}
			assert.Equal(t, tt.wantLeft, left)
			_, err = s.GetToken(ctx, digest("other"), t0)
			assert.NoError(t, err, "another user's token stays")
		})
	}
}

// TestListUsersAgreesWithSorting checks the bounded heap of ListUsers against filtering and
// sorting everything.
func TestListUsersAgreesWithSorting(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	rng := rand.New(rand.NewPCG(1, 2))
	var all []*users.User
	for i := range 500 {
		u := newUser(fmt.Sprintf("id-%04d", rng.IntN(10000)*1000+i), fmt.Sprintf("user%d@example.com", rng.IntN(50)*1000+i))
		u.Created = t0.Add(time.Duration(rng.IntN(20)) * time.Hour) // many ties
		u.Plan = []string{"free", "pro", ""}[rng.IntN(3)]
		u.EmailVerified = rng.IntN(2) == 0
		if rng.IntN(2) == 0 {
			u.Scope = append(u.Scope, "acme1")
		}
		require.NoError(t, s.CreateUser(ctx, u))
		all = append(all, u)
	}
	// Delete some users and rename others, directly and in a transaction that rolls back, so
	// that the scan runs over a store that has been changed every way.
	var kept []*users.User
	for i, u := range all {
		switch i % 7 {
		case 0:
			require.NoError(t, s.DeleteUser(ctx, u.ID))
			continue
		case 1:
			u.Username = "renamed." + u.Username
			require.NoError(t, s.UpdateUser(ctx, u))
		}
		kept = append(kept, u)
	}
	all = kept
	errUndo := errors.New("undo")
	require.ErrorIs(t, s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		for i, u := range all {
			if i%3 == 0 {
				require.NoError(t, tx.DeleteUser(ctx, u.ID))
			}
		}
		for i := range 50 {
			require.NoError(t, tx.CreateUser(ctx, newUser(fmt.Sprint("tx-", i), fmt.Sprintf("tx%d@example.com", i))))
		}
		return errUndo
	}), errUndo)
	queries := []users.Query{
		{},
		{Limit: users.MaxLimit},
		{Limit: 1},
		{Offset: 490, Limit: 30},
		{Offset: 600},
		{Offset: math.MaxInt, Limit: users.MaxLimit},
		{Sort: []users.Sort{{Field: "created", Desc: true}}, Limit: 30},
		{Conditions: []users.Condition{{Field: "scope", Op: users.OpEq, Value: "acme1"}}, Sort: []users.Sort{{Field: "created", Desc: true}}, Limit: 30, Offset: 7},
		{Conditions: []users.Condition{{Field: "plan", Op: users.OpEq, Value: "pro"}, {Field: "emailVerified", Op: users.OpEq, Value: true}}, Or: true, Sort: []users.Sort{{Field: "plan"}, {Field: "emailVerified", Desc: true}, {Field: "created"}}, Limit: 100, Offset: 50},
		{Pattern: "USER1", Sort: []users.Sort{{Field: "username", Desc: true}}, Limit: 13},
	}
	for i, q := range queries {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := s.ListUsers(ctx, q)
			require.NoError(t, err)
			n, err := s.CountUsers(ctx, q)
			require.NoError(t, err)

			nq, err := q.Normalize()
			require.NoError(t, err)
			var want []*users.User
			for _, u := range all {
				if nq.Match(u) {
					want = append(want, u)
				}
			}
			assert.Equal(t, len(want), n)
			slices.SortFunc(want, nq.Compare)
			want = want[min(nq.Offset, len(want)):]
			want = want[:min(nq.Limit, len(want))]
			assert.Equal(t, ids(want), ids(got))
		})
	}

	_, err := s.ListUsers(ctx, users.Query{Limit: -1})
	assert.ErrorIs(t, err, users.ErrInvalid)
	_, err = s.CountUsers(ctx, users.Query{Conditions: []users.Condition{{Field: "nope", Op: users.OpEq, Value: "x"}}})
	assert.ErrorIs(t, err, users.ErrInvalid)
}

func ids(us []*users.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func TestTicketOrder(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	tickets := []*users.Ticket{
		{ID: "c", UserID: "u", Status: users.TicketInProgress, Created: t0},
		{ID: "b", UserID: "u", Status: users.TicketInProgress, Created: t0},
		{ID: "a", UserID: "u", Status: users.TicketInProgress, Created: t0.Add(time.Second)},
		{ID: "d", UserID: "u", Status: users.TicketCompleted, Created: t0.Add(-time.Hour)},
		{ID: "e", UserID: "v", Status: users.TicketInProgress, Created: t0.Add(-time.Minute), NextAttempt: t0.Add(time.Hour)},
	}
	for _, tk := range tickets {
		require.NoError(t, s.CreateTicket(ctx, tk))
	}
	list, err := s.ListTickets(ctx, "u")
	require.NoError(t, err)
	assert.Equal(t, []string{"d", "b", "c", "a"}, ticketIDs(list))

	var claimed []string
	for {
		tk, err := s.ClaimTicket(ctx, "w", t0.Add(time.Second), t0.Add(time.Minute))
		if errors.Is(err, users.ErrNotFound) {
			break
		}
		require.NoError(t, err)
		assert.Equal(t, "w", tk.Owner)
		assert.Equal(t, int64(2), tk.Version)
		claimed = append(claimed, tk.ID)
	}
	assert.Equal(t, []string{"b", "c", "a"}, claimed, "oldest first; completed and not-yet-due tickets are skipped")

	// When the lease runs out, the ticket is claimable again.
	tk, err := s.ClaimTicket(ctx, "w2", t0.Add(time.Minute), t0.Add(2*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, "b", tk.ID)
	assert.Equal(t, int64(3), tk.Version)
}

func ticketIDs(ts []*users.Ticket) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func TestConcurrentSingleWinners(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	require.NoError(t, s.CreateUser(ctx, newUser("a", "a@example.com")))
	require.NoError(t, s.PutToken(ctx, newToken("code", "a", users.TokenReset)))
	const tickets = 5
	for i := range tickets {
		require.NoError(t, s.CreateTicket(ctx, &users.Ticket{ID: fmt.Sprint(i), UserID: "a", Status: users.TicketInProgress, Created: t0}))
	}

	const workers = 32
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		consumed  int
		claims    = map[string]int{}
		readsSeen int
	)
	for i := range workers {
		wg.Go(func() {
			_, err := s.ConsumeToken(ctx, digest("code"), users.TokenReset, t0)
			tk, cerr := s.ClaimTicket(ctx, fmt.Sprint("w", i), t0, t0.Add(time.Minute))
			_, rerr := s.ListUsers(ctx, users.Query{})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				consumed++
			}
			if cerr == nil {
				claims[tk.ID]++
			}
			if rerr == nil {
				readsSeen++
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, consumed, "exactly one ConsumeToken succeeds")
	assert.Len(t, claims, tickets)
	for id, n := range claims {
		assert.Equal(t, 1, n, "ticket %s claimed once", id)
	}
	assert.Equal(t, workers, readsSeen)
}
