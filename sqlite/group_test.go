package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
)

func groupUser(id string) *users.User {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &users.User{
		ID: id, Username: id + "@example.com", Email: id + "@example.com", Name: "Name " + id,
		Scope: []string{users.RoleUser}, Status: users.StatusActive, Created: t0, Updated: t0,
		PasswordHash: "hash",
	}
}

// createReq returns a batched write that creates u, counting its runs.
func createReq(ctx context.Context, u *users.User, runs *int) *writeReq {
	vals, err := userValues(u)
	if err != nil {
		panic(err)
	}
	return &writeReq{ctx: ctx, lead: make(chan bool, 1), fn: func(ctx context.Context, q conn) error {
		*runs++
		return insertUsers(ctx, q, [][]any{append([]any{u.ID}, vals...)}, []*users.User{u})
	}}
}

// TestCommitBatch runs batches directly: the writes of a batch answer one by one, a refused
// write fails alone, a write whose context has ended is not run, and a write that fails
// otherwise has the batch run again one write at a time.
func TestCommitBatch(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "users.db"), nil)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.CreateUser(ctx, groupUser("taken")))
	count := func() int {
		n, err := s.CountUsers(ctx, users.Query{})
		require.NoError(t, err)
		return n
	}

	t.Run("Refused", func(t *testing.T) {
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		runs := make([]int, 4)
		clash := groupUser("clash")
		clash.Username = "taken@example.com"
		batch := []*writeReq{
			createReq(ctx, groupUser("a"), &runs[0]),
			createReq(ctx, clash, &runs[1]),
			createReq(canceled, groupUser("late"), &runs[2]),
			createReq(ctx, groupUser("b"), &runs[3]),
		}
		s.db.runBatch(batch)
		assert.NoError(t, batch[0].err)
		assert.ErrorIs(t, batch[1].err, users.ErrConflict)
		assert.ErrorIs(t, batch[2].err, context.Canceled)
		assert.NoError(t, batch[3].err)
		assert.Equal(t, []int{1, 1, 0, 1}, runs)
		for id, want := range map[string]bool{"a": true, "b": true, "clash": false, "late": false} {
			_, err := s.GetUser(ctx, id)
			assert.Equal(t, want, err == nil, "user %s stored", id)
		}
		assert.Equal(t, 3, count())
	})

	t.Run("FailedWhole", func(t *testing.T) {
		runs := make([]int, 3)
		batch := []*writeReq{
			createReq(ctx, groupUser("c"), &runs[0]),
			createReq(ctx, groupUser("d"), &runs[1]),
			createReq(ctx, groupUser("e"), &runs[2]),
		}
		// d fails the first time as a broken disk would, not as a refusal: the batch is
		// undone and each write runs alone.
		inner := batch[1].fn
		batch[1].fn = func(ctx context.Context, q conn) error {
			if runs[1] == 0 {
				runs[1]++
				return errors.New("disk I/O error")
			}
			return inner(ctx, q)
		}
		s.db.runBatch(batch)
		for i, r := range batch {
			assert.NoError(t, r.err, "write %d", i)
		}
		assert.Equal(t, []int{2, 2, 1}, runs, "c ran in the batch and again; e only alone")
		assert.Equal(t, 6, count())
	})
}

// TestWriteQueue sends many writes at once, some of them refused, while a transaction holds
// the write connection: they queue, and each gets its own answer when it ends.
func TestWriteQueue(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "users.db"), nil)
	require.NoError(t, err)
	defer s.Close()

	const writers = 40
	held, release := make(chan struct{}), make(chan struct{})
	atomicDone := make(chan error, 1)
	go func() {
		atomicDone <- s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
			close(held)
			<-release
			return tx.CreateUser(ctx, groupUser("held"))
		})
	}()
	<-held
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			// Pairs of writers want the same username: one of each pair is refused.
			u := groupUser(fmt.Sprint("w", i))
			u.Username = fmt.Sprintf("pair%d@example.com", i/2)
			errs <- s.CreateUser(ctx, u)
		}()
	}
	require.Eventually(t, func() bool {
		s.db.writes.mu.Lock()
		defer s.db.writes.mu.Unlock()
		return len(s.db.writes.queue) >= writers/2
	}, 10*time.Second, time.Millisecond, "the writes did not queue")
	close(release)
	require.NoError(t, <-atomicDone)

	conflicts := 0
	for range writers {
		err := <-errs
		if errors.Is(err, users.ErrConflict) {
			conflicts++
		} else {
			assert.NoError(t, err)
		}
	}
	assert.Equal(t, writers/2, conflicts)
	n, err := s.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 1+writers/2, n)
	for i := range writers / 2 {
		found, err := s.ListUsers(ctx, users.Query{Conditions: []users.Condition{{Field: "username", Op: users.OpEq, Value: fmt.Sprintf("pair%d@example.com", i)}}})
		require.NoError(t, err)
		assert.Len(t, found, 1, "pair %d", i)
	}
}
