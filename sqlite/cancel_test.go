package sqlite_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
)

// TestQueryStopsWhenContextEnds: a query whose context is cancelled while SQLite runs it
// returns context.Canceled within 100 ms of the cancel, where it would otherwise run on for
// seconds: a count, a page whose rows come from a walk of the id index (the first user
// matches at once, the rest of the page is searched for), and a page that is sorted.
func TestQueryStopsWhenContextEnds(t *testing.T) {
	s, _ := openFile(t, nil)
	note := strings.Repeat("a", 1000)
	us := make([]*users.User, 2000)
	for i := range us {
		u := &users.User{ID: fmt.Sprintf("u%04d", i), Username: fmt.Sprintf("u%d@example.com", i),
			Name: fmt.Sprintf("User %d", i), Status: users.StatusActive, Metadata: map[string]any{"note": note}}
		if i == 0 {
			u.Metadata["note"] = "first"
		}
		require.NoError(t, u.Normalize())
		us[i] = u
	}
	require.NoError(t, s.CreateUsers(t.Context(), us))

	// 64 like conditions, each run on a kilobyte of metadata text, OR-ed with one that only
	// the first user matches: some milliseconds a user.
	q := users.Query{Or: true}
	for i := range 64 {
		q.Conditions = append(q.Conditions, users.Condition{
			Field: "metadata.note", Op: users.OpLike, Value: "%" + strings.Repeat("a", 150+i) + "b"})
	}
	q.Conditions = append(q.Conditions, users.Condition{Field: "metadata.note", Op: users.OpEq, Value: "first"})
	sorted := q
	sorted.Sort = []users.Sort{{Field: "name", Desc: true}}

	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"CountUsers", func(ctx context.Context) error { _, err := s.CountUsers(ctx, q); return err }},
		{"ListUsers", func(ctx context.Context) error { _, err := s.ListUsers(ctx, q); return err }},
		{"ListUsers sorted", func(ctx context.Context) error { _, err := s.ListUsers(ctx, sorted); return err }},
	}
	first := users.Query{Conditions: []users.Condition{{Field: "metadata.note", Op: users.OpEq, Value: "first"}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// SQLite drops an interrupt that comes before the statement starts running (the
			// driver then sees the end of ctx within 1,000 VM steps, which can be long here): a
			// quick query first opens a connection, so that the slow one starts at once.
			warm := func() {
				page, err := s.ListUsers(t.Context(), first)
				require.NoError(t, err)
				require.Equal(t, []string{"u0000"}, ids(page))
			}
			testutil.StopsPromptly(t, tt.call, 200*time.Millisecond, 100*time.Millisecond, 3, warm)
		})
	}

	// The store answers the next query on the same connections.
	page, err := s.ListUsers(t.Context(), first)
	require.NoError(t, err)
	assert.Equal(t, []string{"u0000"}, ids(page))
}
