package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// throttleChecks are run only on stores that implement users.ThrottleStore.
var throttleChecks = []throttleCheck{
	{"AddFailureCounts", testAddFailureCounts},
	{"LatestFailureNeverMovesBack", testLatestFailure},
	{"FailuresUnknownKey", testFailuresUnknownKey},
	{"ResetFailures", testResetFailures},
	{"ConcurrentAddFailure", testConcurrentAddFailure},
	{"DeleteFailures", testDeleteFailures},
	{"DeleteFailuresLimit", testDeleteFailuresLimit},
}

// throttleCheck is one subtest of a ThrottleStore, run on a fresh store.
type throttleCheck struct {
	name string
	run  func(t *testing.T, s users.ThrottleStore)
}

// runThrottleChecks runs the checks of the optional users.ThrottleStore capability, and skips
// them when the stores newStore returns do not implement it.
func runThrottleChecks(t *testing.T, newStore func(t *testing.T) users.Store) {
	t.Helper()
	if _, ok := newStore(t).(users.ThrottleStore); !ok {
		t.Skip("the store does not implement users.ThrottleStore")
	}
	for _, c := range throttleChecks {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			ts, ok := s.(users.ThrottleStore)
			require.True(t, ok, "newStore returned a store that does not implement users.ThrottleStore, after one that did")
			c.run(t, ts)
		})
	}
}

// addFailure calls AddFailure, requiring success, and returns the count.
func addFailure(t *testing.T, s users.ThrottleStore, key users.Digest, now time.Time) int {
	t.Helper()
	n, err := s.AddFailure(t.Context(), key, now)
	require.NoError(t, err, "AddFailure")
	return n
}

// assertFailures checks the count and the latest failure that Failures returns for key.
func assertFailures(t *testing.T, s users.ThrottleStore, key users.Digest, wantN int, wantLast time.Time, msgAndArgs ...any) {
	t.Helper()
	n, last, err := s.Failures(t.Context(), key)
	if assert.NoError(t, err, msgAndArgs...) {
		assert.Equal(t, wantN, n, msgAndArgs...)
		assert.Equal(t, wantLast, last, msgAndArgs...)
	}
}

func testAddFailureCounts(t *testing.T, s users.ThrottleStore) {
	a, b := digest("key a"), digest("key b")
	for i, at := range []time.Time{day(1), day(1).Add(time.Minute), day(2)} {
		assert.Equal(t, i+1, addFailure(t, s, a, at), "failure %d of a", i+1)
		assertFailures(t, s, a, i+1, at, "after failure %d of a", i+1)
	}
	assert.Equal(t, 1, addFailure(t, s, b, day(3)), "another key counts on its own")
	assertFailures(t, s, a, 3, day(2), "a is untouched by b")
	assertFailures(t, s, b, 1, day(3))

	// A time in another zone, with nanoseconds, comes back canonical.
	at := day(4).Add(789 * time.Nanosecond).In(time.FixedZone("UTC+2", 2*3600))
	assert.Equal(t, 2, addFailure(t, s, b, at))
	assertFailures(t, s, b, 2, day(4), "the latest failure is canonical")
}

func testLatestFailure(t *testing.T, s users.ThrottleStore) {
	key := digest("key")
	addFailure(t, s, key, day(3))
	assert.Equal(t, 2, addFailure(t, s, key, day(2)), "an earlier failure still counts")
	assertFailures(t, s, key, 2, day(3), "the time of the latest failure is kept")
	assert.Equal(t, 3, addFailure(t, s, key, day(3)))
	assertFailures(t, s, key, 3, day(3))
	assert.Equal(t, 4, addFailure(t, s, key, day(3).Add(time.Microsecond)))
	assertFailures(t, s, key, 4, day(3).Add(time.Microsecond))
}

func testFailuresUnknownKey(t *testing.T, s users.ThrottleStore) {
	assertFailures(t, s, digest("unknown"), 0, time.Time{}, "an empty store")
	addFailure(t, s, digest("known"), day(1))
	assertFailures(t, s, digest("unknown"), 0, time.Time{}, "beside a known key")
	assertFailures(t, s, users.Digest{}, 0, time.Time{}, "the zero digest")
}

func testResetFailures(t *testing.T, s users.ThrottleStore) {
	ctx := t.Context()
	a, b := digest("key a"), digest("key b")
	for range 3 {
		addFailure(t, s, a, day(1))
	}
	addFailure(t, s, b, day(2))

	require.NoError(t, s.ResetFailures(ctx, a))
	assertFailures(t, s, a, 0, time.Time{}, "a reset key has no failures")
	assertFailures(t, s, b, 1, day(2), "another key keeps its failures")
	assert.NoError(t, s.ResetFailures(ctx, a), "a second reset")
	assert.NoError(t, s.ResetFailures(ctx, digest("unknown")), "a key never counted")
	assert.Equal(t, 1, addFailure(t, s, a, day(3)), "a reset key counts from 1 again")
	assertFailures(t, s, a, 1, day(3))
}

func testConcurrentAddFailure(t *testing.T, s users.ThrottleStore) {
	key := digest("key")
	const n = 50
	got := make([]int, n)
	errs := make([]error, n)
	concurrently(t, n, func(i int) {
		got[i], errs[i] = s.AddFailure(t.Context(), key, day(1).Add(time.Duration(i)*time.Second))
	})
	for i, err := range errs {
		assert.NoError(t, err, "goroutine %d", i)
	}
	slices.Sort(got)
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	assert.Equal(t, want, got, "each call returns a different count from 1 to n")
	assertFailures(t, s, key, n, day(1).Add((n-1)*time.Second), "every failure is counted, and the latest kept")
}

func testDeleteFailures(t *testing.T, s users.ThrottleStore) {
	ctx := t.Context()
	n, err := s.DeleteFailures(ctx, day(100), 0)
	require.NoError(t, err)
	assert.Zero(t, n, "an empty store")

	keys := map[string]time.Time{
		"a": day(1).Add(-time.Microsecond),
		"b": day(1),
		"c": day(2),
		"d": day(3),
	}
	all := []string{"a", "b", "c", "d"}
	for _, name := range all {
		addFailure(t, s, digest(name), day(0)) // an older failure: only the latest decides
		addFailure(t, s, digest(name), keys[name])
	}
	left := func() []string {
		var out []string
		for _, name := range all {
			n, _, err := s.Failures(ctx, digest(name))
			require.NoError(t, err)
			if n > 0 {
				out = append(out, name)
			}
		}
		return out
	}

	for _, tc := range []struct {
		name   string
		before time.Time
		want   int
		left   []string
	}{
		{"before every failure", day(1).Add(-time.Microsecond), 0, all},
		{"a microsecond after the latest failure", day(1), 1, []string{"b", "c", "d"}},
		{"a latest failure equal to before stays", day(2), 1, []string{"c", "d"}},
		{"a nanosecond after is the same microsecond", day(2).Add(time.Nanosecond), 0, []string{"c", "d"}},
		{"before in another zone", day(2).Add(time.Microsecond).In(time.FixedZone("UTC-5", -5*3600)), 1, []string{"d"}},
		{"after every failure", day(4), 1, nil},
	} {
		n, err := s.DeleteFailures(ctx, tc.before, 0)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, n, tc.name)
		assert.Equal(t, tc.left, left(), tc.name)
	}
	assert.Equal(t, 1, addFailure(t, s, digest("d"), day(5)), "a removed key counts from 1 again")
}

func testDeleteFailuresLimit(t *testing.T, s users.ThrottleStore) {
	ctx := t.Context()
	recent := digest("recent")
	addFailure(t, s, recent, day(0))
	addFailure(t, s, recent, day(10)) // once failed long ago, but lately too

	for _, tc := range boundedDeleteCases {
		t.Run(tc.name, func(t *testing.T) {
			var keys []users.Digest
			for i := range boundedDeleteRows {
				key := digest(fmt.Sprintf("%s %d", tc.name, i))
				keys = append(keys, key)
				addFailure(t, s, key, day(1).Add(time.Duration(i)*time.Hour))
			}
			checkBoundedDelete(t, tc.limit, tc.want, "old keys",
				func(limit int) (int, error) { return s.DeleteFailures(ctx, day(5), limit) },
				func() int {
					counted := 0
					for _, key := range keys {
						n, _, err := s.Failures(ctx, key)
						require.NoError(t, err)
						if n > 0 {
							counted++
						}
					}
					return counted
				},
				func(int) { assertFailures(t, s, recent, 2, day(10), "a key whose latest failure is recent stays") })
		})
	}
}
