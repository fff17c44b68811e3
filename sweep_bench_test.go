package users_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/sqlite"
)

// timedStore times each call of DeleteExpiredTokens: how long one batch of a sweep holds the
// write lock.
type timedStore struct {
	*sqlite.Store
	mu      sync.Mutex
	longest time.Duration
	batches int
}

func (s *timedStore) DeleteExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	start := time.Now()
	n, err := s.Store.DeleteExpiredTokens(ctx, now, limit)
	d := time.Since(start)
	s.mu.Lock()
	s.longest = max(s.longest, d)
	s.batches++
	s.mu.Unlock()
	return n, err
}

// BenchmarkSweepExpiredTokens measures one sweep of 100,000 expired tokens (beside 10,000 live
// ones) on a SQLite file, through the Service's sweeper: ms/sweep is the whole sweep,
// ms/longest-batch the longest single call of DeleteExpiredTokens, which is as long as the
// sweep holds the write lock at once.
//
//	go test -run '^$' -bench SweepExpiredTokens -benchmem .
func BenchmarkSweepExpiredTokens(b *testing.B) {
	const expired, live = 100_000, 10_000
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "users.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	store := &timedStore{Store: db}
	clock := newClock()
	svc, err := users.New(store, users.Config{Now: clock.Now, NoWorker: true}) // real hashing defaults
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	u, err := svc.Create(ctx, users.NewUser{Username: alice})
	if err != nil {
		b.Fatal(err)
	}
	var seq uint64
	put := func(n int, expires time.Time) {
		err := store.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
			for range n {
				seq++
				var secret [8]byte
				binary.BigEndian.PutUint64(secret[:], seq)
				tok := &users.Token{Digest: sha256.Sum256(secret[:]), Kind: users.TokenSession,
					UserID: u.ID, Created: clock.Now(), Expires: expires}
				if err := tx.PutToken(ctx, tok); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	put(live, clock.Now().Add(100*365*24*time.Hour))
	var total time.Duration
	sweeps := 0
	for b.Loop() {
		b.StopTimer()
		put(expired, clock.Now().Add(time.Minute))
		clock.Advance(time.Hour)
		b.StartTimer()
		start := time.Now()
		n, _, _, err := users.Sweep(ctx, svc)
		total += time.Since(start)
		sweeps++
		if err != nil || n != expired {
			b.Fatalf("swept %d tokens, %v", n, err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(sweeps), "ms/sweep")
	b.ReportMetric(float64(store.longest.Microseconds())/1000, "ms/longest-batch")
	b.ReportMetric(float64(store.batches)/float64(sweeps), "batches/sweep")
}

// BenchmarkNewSessionAtMaxSessions measures issuing a session to a user who has
// Config.MaxSessions live ones already, on a SQLite file: each call reads the user's sessions,
// revokes the oldest and stores the new one, in one transaction.
//
//	go test -run '^$' -bench NewSessionAtMaxSessions -benchmem .
func BenchmarkNewSessionAtMaxSessions(b *testing.B) {
	for _, limit := range []int{1, users.DefaultMaxSessions} {
		b.Run(fmt.Sprintf("MaxSessions=%d", limit), func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "users.db"), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			svc, err := users.New(db, users.Config{MaxSessions: limit, NoWorker: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = svc.Close() })
			u, err := svc.Create(ctx, users.NewUser{Username: alice})
			if err != nil {
				b.Fatal(err)
			}
			for range limit {
				if _, err := svc.NewSession(ctx, u.ID); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if _, err := svc.NewSession(ctx, u.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
