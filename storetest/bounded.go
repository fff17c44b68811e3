package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// boundedDeleteRows is how many rows each case of boundedDeleteCases gives a bounded delete
// to remove.
const boundedDeleteRows = 5

// boundedDeleteCases are the limits every bounded delete of the contract (DeleteExpiredTokens,
// DeleteTickets, ThrottleStore.DeleteFailures) is called with, over boundedDeleteRows rows it
// may remove: what each call returns, until one returns less than the limit, as a sweeper's
// loop calls it.
var boundedDeleteCases = []struct {
	name  string
	limit int
	want  []int
}{
	{"a sweeper's loop", 2, []int{2, 2, 1}},
	{"limit 1", 1, []int{1, 1, 1, 1, 1, 0}},
	{"limit equal to the rows", boundedDeleteRows, []int{5, 0}},
	{"limit above the rows", 100, []int{5}},
	{"no limit", 0, []int{5}},
	{"a negative limit is no limit", -1, []int{5}},
}

// checkBoundedDelete calls del with limit once for each count in want, requiring that count,
// that remaining then reports the rows still to remove (of what, for the messages), and that
// kept holds after each call; at the end every row is removed.
func checkBoundedDelete(t *testing.T, limit int, want []int, what string, del func(limit int) (int, error), remaining func() int, kept func(call int)) {
	t.Helper()
	left := boundedDeleteRows
	for i, w := range want {
		n, err := del(limit)
		require.NoError(t, err, "call %d", i+1)
		assert.Equal(t, w, n, "call %d", i+1)
		left -= n
		assert.Equal(t, left, remaining(), "%s left after call %d", what, i+1)
		kept(i + 1)
	}
	assert.Zero(t, left, "every one of the %s is removed", what)
}
