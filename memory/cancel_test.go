package memory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
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
			testutil.StopsPromptly(t, tt.call, 50*time.Millisecond, 100*time.Millisecond, 3, nil)
		})
	}
}
