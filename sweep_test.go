package users_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sweepWorld is a Service with a fake clock over a store, sweeping every few milliseconds of
// real time, and its logs.
type sweepWorld struct {
	svc   users.Service
	store users.Store
	clock *testutil.Clock
	logs  *testutil.SyncBuffer
}

func newSweepWorld(t *testing.T, store users.Store, configure ...func(*users.Config)) *sweepWorld {
	t.Helper()
	w := &sweepWorld{store: store, clock: newClock(), logs: new(testutil.SyncBuffer)}
	cfg := users.Config{
		Now:           w.clock.Now,
		Logger:        slog.New(slog.NewTextHandler(w.logs, nil)),
		Argon2:        users.TestArgon2(),
		PollInterval:  5 * time.Millisecond,
		SweepInterval: 5 * time.Millisecond,
	}
	for _, f := range configure {
		f(&cfg)
	}
	svc, err := users.New(store, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	w.svc = svc
	return w
}

// tokens returns how many tokens of the kind the store holds for the user, expired or not.
func (w *sweepWorld) tokens(t *testing.T, userID string, kind users.TokenKind) int {
	t.Helper()
	ts, err := w.store.ListTokens(context.Background(), userID, kind)
	require.NoError(t, err)
	return len(ts)
}

// failures returns the throttle's count for key.
func failures(t *testing.T, ts users.ThrottleStore, key users.Digest) int {
	t.Helper()
	n, _, err := ts.Failures(context.Background(), key)
	require.NoError(t, err)
	return n
}

// mapThrottle adds users.ThrottleStore to the memory store, which keeps no throttle entries
// of its own. It is safe for concurrent use.
type mapThrottle struct {
	*memory.Store
	mu   sync.Mutex
	last map[users.Digest]time.Time
	n    map[users.Digest]int
}

func newMapThrottle() *mapThrottle {
	return &mapThrottle{Store: memory.New(), last: map[users.Digest]time.Time{}, n: map[users.Digest]int{}}
}

func (m *mapThrottle) AddFailure(_ context.Context, key users.Digest, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n[key]++
	m.last[key] = users.CanonicalTime(now)
	return m.n[key], nil
}

func (m *mapThrottle) Failures(_ context.Context, key users.Digest) (int, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[key], m.last[key], nil
}

func (m *mapThrottle) ResetFailures(_ context.Context, key users.Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.n, key)
	delete(m.last, key)
	return nil
}

func (m *mapThrottle) DeleteFailures(_ context.Context, before time.Time, limit int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	removed := 0
	for key, last := range m.last {
		if limit > 0 && removed == limit {
			break
		}
		if last.Before(before) {
			delete(m.n, key)
			delete(m.last, key)
			removed++
		}
	}
	return removed, nil
}

// sweepStores are the stores the sweeper is tested on, each keeping throttle entries.
var sweepStores = []struct {
	name string
	open func(t testing.TB) users.Store
}{
	{"memory", func(testing.TB) users.Store { return newMapThrottle() }},
	{"sqlite", func(t testing.TB) users.Store {
		s, err := sqlite.Open(context.Background(), sqlite.Memory, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

func TestSweeperRemovesWhatRunsOut(t *testing.T) {
	for _, st := range sweepStores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			// Throttle entries are kept while their count lasts (Forget, a day) and their mark of
			// a known address (KnownFor, here an hour): a day.
			w := newSweepWorld(t, st.open(t), func(c *users.Config) { c.Throttle.KnownFor = time.Hour })
			alice, err := w.svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword})
			require.NoError(t, err)
			sess, err := w.svc.SignIn(ctx, alice.Username, alicePassword)
			require.NoError(t, err)
			forever, err := w.svc.CreateAPIKey(ctx, alice.ID, users.NewAPIKey{Name: "forever"})
			require.NoError(t, err)
			_, err = w.svc.CreateAPIKey(ctx, alice.ID, users.NewAPIKey{Name: "a day", Expires: w.clock.Now().Add(24 * time.Hour)})
			require.NoError(t, err)
			bob, err := w.svc.Create(ctx, users.NewUser{Username: bob})
			require.NoError(t, err)
			ticket, err := w.svc.Delete(ctx, bob.ID)
			require.NoError(t, err)
			waitForTicket(t, w.svc, ticket.ID, ticketDone, "completed")
			throttle, ok := w.store.(users.ThrottleStore)
			require.True(t, ok, "the store keeps throttle entries")
			old, recent := users.DigestOf("old"), users.DigestOf("recent")
			_, err = throttle.AddFailure(ctx, old, w.clock.Now())
			require.NoError(t, err)
			_, err = throttle.AddFailure(ctx, recent, w.clock.Now().Add(3*time.Hour))
			require.NoError(t, err)

			// 26.5 hours on: the key of a day has expired; the rest lives. The throttle keeps
			// entries for a day: the old one goes, the recent one, 23.5 hours old, stays.
			// Removing the old one shows a sweep ran.
			w.clock.Advance(26*time.Hour + 30*time.Minute)
			testutil.Eventually(t, func() bool { return failures(t, throttle, old) == 0 }, "the old throttle entry swept")
			testutil.Eventually(t, func() bool { return w.tokens(t, alice.ID, users.TokenAPIKey) == 1 }, "the expired key swept")
			assert.Equal(t, 1, failures(t, throttle, recent), "an entry younger than a day stays")
			keys, err := w.svc.APIKeys(ctx, alice.ID)
			require.NoError(t, err)
			require.Len(t, keys, 1)
			assert.Equal(t, forever.ID, keys[0].ID, "the key that never expires stays")
			assert.Equal(t, 1, w.tokens(t, alice.ID, users.TokenSession), "the live session stays")
			_, err = w.svc.Ticket(ctx, ticket.ID)
			assert.NoError(t, err, "the ticket is kept for 30 days")

			// 31 days after the start: the session has expired, and the ticket is older than
			// its retention.
			w.clock.Advance(31*24*time.Hour - 26*time.Hour - 30*time.Minute)
			testutil.Eventually(t, func() bool { return w.tokens(t, alice.ID, users.TokenSession) == 0 }, "the expired session swept")
			testutil.Eventually(t, func() bool {
				_, err := w.svc.Ticket(ctx, ticket.ID)
				return errors.Is(err, users.ErrNotFound)
			}, "the old ticket swept")
			assert.Equal(t, 1, w.tokens(t, alice.ID, users.TokenAPIKey), "the key that never expires stays")
			assert.False(t, authenticates(t, w.svc, sess.Token))

			logs := w.logs.String()
			assert.Contains(t, logs, "swept the store")
			assert.NotContains(t, logs, sess.Token)
			assert.NotContains(t, logs, forever.Key)
		})
	}
}

func TestSweeperKeepsTicketsForTheirRetention(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name      string
		retention time.Duration
		after     time.Duration // since the ticket completed
		kept      bool
	}{
		{name: "default, before 30 days", after: 30*day - time.Minute, kept: true},
		{name: "default, after 30 days", after: 30*day + time.Minute, kept: false},
		{name: "a week, after 8 days", retention: 7 * day, after: 8 * day, kept: false},
		{name: "negative keeps for ever", retention: -1, after: 10 * 365 * day, kept: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := newSweepWorld(t, memory.New(), func(c *users.Config) {
				c.TicketRetention = tc.retention
				c.SweepInterval = time.Hour // the first sweep only: the test sweeps itself
			})
			u, err := w.svc.Create(ctx, users.NewUser{Username: bob})
			require.NoError(t, err)
			ticket, err := w.svc.Delete(ctx, u.ID)
			require.NoError(t, err)
			waitForTicket(t, w.svc, ticket.ID, ticketDone, "completed")
			w.clock.Advance(tc.after)
			_, tickets, _, err := users.Sweep(ctx, w.svc)
			require.NoError(t, err)
			_, err = w.svc.Ticket(ctx, ticket.ID)
			if tc.kept {
				assert.NoError(t, err)
				assert.Zero(t, tickets)
			} else {
				assert.ErrorIs(t, err, users.ErrNotFound)
				assert.Equal(t, 1, tickets)
			}
		})
	}
}

// batchStore records the calls of DeleteExpiredTokens, and fails them while fail is set.
type batchStore struct {
	*memory.Store
	mu      sync.Mutex
	limits  []int
	removed []int
	fail    error
}

func (s *batchStore) DeleteExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	n, err := s.Store.DeleteExpiredTokens(ctx, now, limit)
	s.limits, s.removed = append(s.limits, limit), append(s.removed, n)
	return n, err
}

func TestSweepDeletesInBatches(t *testing.T) {
	ctx := context.Background()
	store := &batchStore{Store: memory.New()}
	w := newSweepWorld(t, store, func(c *users.Config) { c.NoWorker = true })
	u, err := w.svc.Create(ctx, users.NewUser{Username: alice})
	require.NoError(t, err)
	now := w.clock.Now()
	for i := range 2500 {
		tok := &users.Token{Digest: users.DigestOf(strings.Repeat("x", i+1)), Kind: users.TokenSession,
			UserID: u.ID, Created: now, Expires: now.Add(time.Duration(i+1) * time.Second)}
		require.NoError(t, store.PutToken(ctx, tok))
	}
	w.clock.Advance(time.Hour)

	tokens, _, _, err := users.Sweep(ctx, w.svc)
	require.NoError(t, err)
	assert.Equal(t, 2500, tokens)
	store.mu.Lock()
	defer store.mu.Unlock()
	assert.Equal(t, []int{1000, 1000, 1000}, store.limits, "one short call per batch")
	assert.Equal(t, []int{1000, 1000, 500}, store.removed, "until a call removes fewer than a batch")
	assert.Zero(t, w.tokens(t, u.ID, users.TokenSession))
}

func TestSweepGoesOnAfterAFailure(t *testing.T) {
	ctx := context.Background()
	store := &batchStore{Store: memory.New(), fail: errors.New("disk on fire")}
	w := newSweepWorld(t, store, func(c *users.Config) { c.NoWorker = true })
	u, err := w.svc.Create(ctx, users.NewUser{Username: bob})
	require.NoError(t, err)
	ticket, err := w.svc.Delete(ctx, u.ID)
	require.NoError(t, err)
	// Without a worker the ticket stays in progress: finish it as the worker would.
	got, err := store.GetTicket(ctx, ticket.ID)
	require.NoError(t, err)
	got.Status, got.StepsDone = users.TicketCompleted, len(got.Steps)
	require.NoError(t, store.UpdateTicket(ctx, got))
	w.clock.Advance(31 * 24 * time.Hour)

	tokens, tickets, _, err := users.Sweep(ctx, w.svc)
	assert.ErrorIs(t, err, store.fail)
	assert.Zero(t, tokens)
	assert.Equal(t, 1, tickets, "tickets are swept after tokens failed")
	assert.Contains(t, w.logs.String(), "sweeping failed")
}

func TestSweepOnEveryInstanceAtOnce(t *testing.T) {
	for _, st := range sweepStores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			store := st.open(t)
			first := newSweepWorld(t, store, func(c *users.Config) { c.NoWorker = true })
			u, err := first.svc.Create(ctx, users.NewUser{Username: alice})
			require.NoError(t, err)
			now := first.clock.Now()
			const expired = 3500
			require.NoError(t, store.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
				for i := range expired {
					tok := &users.Token{Digest: users.DigestOf(fmt.Sprint("token ", i)), Kind: users.TokenSession,
						UserID: u.ID, Created: now, Expires: now.Add(time.Minute)}
					if err := tx.PutToken(ctx, tok); err != nil {
						return err
					}
				}
				return nil
			}))
			svcs := []users.Service{first.svc}
			for range 3 {
				w := newSweepWorld(t, store, func(c *users.Config) { c.NoWorker = true })
				w.clock.Advance(time.Hour)
				svcs = append(svcs, w.svc)
			}
			first.clock.Advance(time.Hour)

			var wg sync.WaitGroup
			removed := make([]int, len(svcs))
			errs := make([]error, len(svcs))
			for i, svc := range svcs {
				wg.Go(func() { removed[i], _, _, errs[i] = users.Sweep(ctx, svc) })
			}
			wg.Wait()
			total := 0
			for i := range svcs {
				assert.NoError(t, errs[i], "instance %d", i)
				total += removed[i]
			}
			assert.Equal(t, expired, total, "each token removed once, by one of them")
			assert.Zero(t, first.tokens(t, u.ID, users.TokenSession))
		})
	}
}
