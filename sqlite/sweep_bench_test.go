package sqlite_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gousers/users"
)

// The sweeps and the sign-in throttle, each on a fresh database file of its own (not the
// million-user file of the other benchmarks: they touch neither users nor the search index):
//
//	go test -run '^$' -bench 'Sweep|Failure' -benchmem -count 5 ./sqlite/

// BenchmarkSweepExpiredTokens measures one call of a sweeper's loop, DeleteExpiredTokens with
// a limit of 1,000, among as many live tokens as expired ones: how long the call holds the
// write lock. ns/token is the cost of each token removed.
func BenchmarkSweepExpiredTokens(b *testing.B) {
	ctx := context.Background()
	s, _ := openFile(b, nil)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreateUser(ctx, &users.User{ID: "u1", Username: "bench@example.com", Created: now}); err != nil {
		b.Fatal(err)
	}
	const limit, batch = 1000, 50_000
	var seq atomic.Int64
	// fill stores batch expired and batch live tokens.
	fill := func() {
		err := s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
			for range batch {
				for _, expires := range []time.Time{now.Add(-time.Hour), now.Add(time.Hour)} {
					var secret [8]byte
					binary.BigEndian.PutUint64(secret[:], uint64(seq.Add(1)))
					tok := &users.Token{Digest: sha256.Sum256(secret[:]), Kind: users.TokenSession,
						UserID: "u1", Created: now.Add(-2 * time.Hour), Expires: expires}
					if err := tx.PutToken(ctx, tok); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	fill()
	left := batch
	removed := 0
	for b.Loop() {
		if left < limit {
			b.StopTimer()
			fill()
			left += batch
			b.StartTimer()
		}
		n, err := s.DeleteExpiredTokens(ctx, now, limit)
		if err != nil || n != limit {
			b.Fatalf("removed %d, %v", n, err)
		}
		left -= n
		removed += n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(removed), "ns/token")
}

// BenchmarkAddFailure counts failures of 64 keys from parallel goroutines (parallelism times
// GOMAXPROCS of them): the upsert of every failed sign-in, through the write queue.
func BenchmarkAddFailure(b *testing.B) {
	for _, procs := range []int{1, 8} {
		b.Run("parallelism="+strconv.Itoa(procs), func(b *testing.B) {
			ctx := context.Background()
			s, _ := openFile(b, nil)
			var throttle users.ThrottleStore = s
			var keys [64]users.Digest
			for i := range keys {
				keys[i] = sha256.Sum256([]byte(strconv.Itoa(i)))
			}
			now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
			var next atomic.Int64
			b.SetParallelism(procs)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					if _, err := throttle.AddFailure(ctx, keys[i%int64(len(keys))], now.Add(time.Duration(i))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
