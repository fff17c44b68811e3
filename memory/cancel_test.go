package memory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

// slowQuery returns a query that costs a fraction of a millisecond a user: 16 like conditions,
// each run on a kilobyte of metadata text with the automaton, OR-ed with one that only the
// first user matches, so that a page has a row at once and then scans on.
func slowQuery() users.Query {
	q := users.Query{Or: true}
	for i := range 16 {
		q.Conditions = append(q.Conditions, users.Condition{
			Field: "metadata.note", Op: users.OpLike, Value: "%" + strings.Repeat("a", 150+i) + "b"})
	}
	q.Conditions = append(q.Conditions, users.Condition{Field: "metadata.note", Op: users.OpEq, Value: "first"})
	return q
}

// TestQueryStopsWhenContextEnds: a query whose context is cancelled while the store scans
// returns context.Canceled within 100 ms of the cancel, where it would otherwise scan on for
// seconds.
func TestQueryStopsWhenContextEnds(t *testing.T) {
	s := memory.New()
	note := strings.Repeat("a", 1000)
	for i := range 8000 {
		u := newUser(fmt.Sprintf("u%04d", i), fmt.Sprintf("u%d@example.com", i))
		u.Metadata = map[string]any{"note": note}
		if i == 0 {
			u.Metadata["note"] = "first"
		}
		require.NoError(t, s.CreateUser(t.Context(), u))
	}
	q := slowQuery()
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"ListUsers", func(ctx context.Context) error { _, err := s.ListUsers(ctx, q); return err }},
		{"CountUsers", func(ctx context.Context) error { _, err := s.CountUsers(ctx, q); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertStopsPromptly(t, tt.call)
		})
	}
}

// assertStopsPromptly runs call, cancels its context once it has run for 50 ms (a client
// going away), and requires that it returns context.Canceled every time, and within 100 ms of
// the cancel in one of three tries: a loaded machine (the race detector, other test
// binaries) may not schedule the scan for a while.
func assertStopsPromptly(t *testing.T, call func(ctx context.Context) error) {
	t.Helper()
	const tries = 3
	for try := range tries {
		took := stopTime(t, call)
		if took <= 100*time.Millisecond {
			return
		}
		t.Logf("try %d: the query stopped %v after its context was cancelled", try+1, took)
	}
	t.Fatalf("the query was still running 100 ms after its context was cancelled, in %d tries", tries)
}

// stopTime runs call with a context cancelled 50 ms after it starts, and returns how long
// after the cancel it returned, failing the test unless it returns context.Canceled within
// a generous deadline.
func stopTime(t *testing.T, call func(ctx context.Context) error) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- call(ctx) }()
	cancelled := make(chan time.Time, 1)
	time.AfterFunc(50*time.Millisecond, func() {
		cancel()
		cancelled <- time.Now()
	})
	at := <-cancelled
	select {
	case err := <-result:
		require.ErrorIs(t, err, context.Canceled, "the query must still be running when it is cancelled, and then stop")
		return time.Since(at)
	case <-time.After(20 * time.Second):
		require.FailNow(t, "the query did not stop after its context was cancelled")
		return 0
	}
}
