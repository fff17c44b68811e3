package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var ticketChecks = []check{
	{"CreateGetTicket", testCreateGetTicket},
	{"CreateTicketConflict", testCreateTicketConflict},
	{"GetTicketNotFound", testGetTicketNotFound},
	{"ListTicketsOldestFirst", testListTickets},
	{"UpdateTicket", testUpdateTicket},
	{"UpdateTicketStaleVersion", testUpdateTicketStale},
	{"UpdateTicketNotFound", testUpdateTicketNotFound},
	{"ClaimTicket", testClaimTicket},
	{"ClaimTicketNoneClaimable", testClaimNone},
	{"ClaimTicketStatus", testClaimStatus},
	{"ClaimTicketLease", testClaimLease},
	{"ClaimTicketNextAttempt", testClaimNextAttempt},
	{"ClaimTicketOldestFirst", testClaimOldestFirst},
	{"CopiesOfTickets", testTicketCopies},
	{"TicketOrgID", testTicketOrgID},
	{"DeleteTickets", testDeleteTickets},
	{"DeleteTicketsLimit", testDeleteTicketsLimit},
	{"ConcurrentClaimOneTicket", testConcurrentClaimOne},
	{"ConcurrentClaimManyTickets", testConcurrentClaimMany},
}

func createTicket(t *testing.T, s users.Store, tk *users.Ticket) {
	t.Helper()
	require.NoError(t, s.CreateTicket(t.Context(), tk), "CreateTicket(%s)", tk.ID)
}

// storedTicket returns want as the store should hold it: a copy with the given version.
func storedTicket(want *users.Ticket, version int64) *users.Ticket {
	c := want.Clone()
	c.Version = version
	return c
}

func assertTicket(t *testing.T, s users.Store, want *users.Ticket) {
	t.Helper()
	got, err := s.GetTicket(t.Context(), want.ID)
	if assert.NoError(t, err, "GetTicket(%s)", want.ID) {
		assert.Equal(t, want, got, "GetTicket(%s)", want.ID)
	}
}

func testCreateGetTicket(t *testing.T, s users.Store) {
	tk := newTicket("t1", "u1", day(1))
	tk.StepsDone = 1
	tk.Attempts = 2
	tk.NextAttempt = day(2)
	tk.PriorStatus = users.StatusPending
	tk.Updated = day(3)
	tk.Version = 42
	want := storedTicket(tk, 1)

	require.NoError(t, s.CreateTicket(t.Context(), tk))
	assert.Equal(t, int64(1), tk.Version, "CreateTicket sets t.Version")
	assertTicket(t, s, want)

	done := newTicket("t2", "u1", day(1))
	done.Status = users.TicketFailed
	done.FailedStep = "app"
	done.Message = "the app said no"
	done.Owner = "worker"
	done.LeaseUntil = day(4)
	createTicket(t, s, done)
	assertTicket(t, s, storedTicket(done, 1))
}

func testCreateTicketConflict(t *testing.T, s users.Store) {
	first := newTicket("t1", "u1", day(1))
	createTicket(t, s, first)
	err := s.CreateTicket(t.Context(), newTicket("t1", "u2", day(2)))
	assert.ErrorIs(t, err, users.ErrConflict)
	assertTicket(t, s, storedTicket(first, 1))
	list, err := s.ListTickets(t.Context(), "u2")
	require.NoError(t, err)
	assert.Empty(t, list, "a conflicting ticket is not stored")
}

func testGetTicketNotFound(t *testing.T, s users.Store) {
	_, err := s.GetTicket(t.Context(), "nothing")
	assert.ErrorIs(t, err, users.ErrNotFound)
	createTicket(t, s, newTicket("t1", "u1", day(1)))
	_, err = s.GetTicket(t.Context(), "t2")
	assert.ErrorIs(t, err, users.ErrNotFound)
}

func testListTickets(t *testing.T, s users.Store) {
	ctx := t.Context()
	// Created out of both ID order and insertion order.
	for _, tk := range []*users.Ticket{
		newTicket("t-a", "u1", day(3)),
		newTicket("t-b", "u2", day(2)),
		newTicket("t-c", "u1", day(1)),
		newTicket("t-d", "u1", day(5)),
		newTicket("t-e", "u1", day(2)),
	} {
		createTicket(t, s, tk)
	}
	done, err := s.GetTicket(ctx, "t-d")
	require.NoError(t, err)
	done.Status = users.TicketCompleted
	require.NoError(t, s.UpdateTicket(ctx, done))

	got, err := s.ListTickets(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, []string{"t-c", "t-e", "t-a", "t-d"}, ticketIDs(got), "oldest first, whatever the status")
	if assert.Len(t, got, 4) {
		assert.Equal(t, storedTicket(done, 2), got[3])
	}

	got, err = s.ListTickets(ctx, "u2")
	require.NoError(t, err)
	assert.Equal(t, []string{"t-b"}, ticketIDs(got))

	got, err = s.ListTickets(ctx, "nobody")
	require.NoError(t, err, "no tickets is not an error")
	assert.Empty(t, got)
}

func ticketIDs(ts []*users.Ticket) []string {
	ids := make([]string, len(ts))
	for i, tk := range ts {
		ids[i] = tk.ID
	}
	return ids
}

func testUpdateTicket(t *testing.T, s users.Store) {
	tk := newTicket("t1", "u1", day(1))
	createTicket(t, s, tk)

	tk.StepsDone = 2
	tk.Attempts = 1
	tk.NextAttempt = day(2)
	tk.Updated = day(2)
	tk.Steps = append(tk.Steps, "extra")
	require.NoError(t, s.UpdateTicket(t.Context(), tk))
	assert.Equal(t, int64(2), tk.Version, "UpdateTicket sets t.Version")
	assertTicket(t, s, storedTicket(tk, 2))

	tk.Status = users.TicketFailed
	tk.FailedStep = "extra"
	tk.Message = "failed"
	require.NoError(t, s.UpdateTicket(t.Context(), tk))
	assert.Equal(t, int64(3), tk.Version)
	assertTicket(t, s, storedTicket(tk, 3))
}

func testUpdateTicketStale(t *testing.T, s users.Store) {
	tk := newTicket("t1", "u1", day(1))
	createTicket(t, s, tk)
	fresh := tk.Clone()
	fresh.StepsDone = 1
	require.NoError(t, s.UpdateTicket(t.Context(), fresh))

	for _, version := range []int64{0, 1, 3} {
		stale := fresh.Clone()
		stale.Status = users.TicketCancelled
		stale.Version = version
		assert.ErrorIs(t, s.UpdateTicket(t.Context(), stale), users.ErrConflict, "version %d against stored 2", version)
	}
	assertTicket(t, s, storedTicket(fresh, 2))
}

func testUpdateTicketNotFound(t *testing.T, s users.Store) {
	tk := newTicket("t1", "u1", day(1))
	tk.Version = 1
	assert.ErrorIs(t, s.UpdateTicket(t.Context(), tk), users.ErrNotFound)
	_, err := s.GetTicket(t.Context(), "t1")
	assert.ErrorIs(t, err, users.ErrNotFound, "an update creates nothing")
}

func testClaimTicket(t *testing.T, s users.Store) {
	tk := newTicket("t1", "u1", day(1))
	tk.StepsDone = 1
	tk.Attempts = 2
	createTicket(t, s, tk)
	now, until := day(2), day(2).Add(time.Minute)

	got, err := s.ClaimTicket(t.Context(), "worker-1", now, until)
	require.NoError(t, err)

	want := storedTicket(tk, 2)
	want.Owner = "worker-1"
	want.LeaseUntil = until
	assert.Equal(t, want, got, "only Owner, LeaseUntil and Version change")
	assertTicket(t, s, want)
}

func testClaimNone(t *testing.T, s users.Store) {
	_, err := s.ClaimTicket(t.Context(), "worker", day(1), day(2))
	assert.ErrorIs(t, err, users.ErrNotFound, "an empty store")
}

func testClaimStatus(t *testing.T, s users.Store) {
	for i, status := range []users.TicketStatus{users.TicketCompleted, users.TicketFailed, users.TicketCancelled} {
		tk := newTicket(fmt.Sprintf("t%d", i), "u1", day(1))
		tk.Status = status
		createTicket(t, s, tk)
	}
	now := day(2)
	_, err := s.ClaimTicket(t.Context(), "worker", now, now.Add(time.Minute))
	assert.ErrorIs(t, err, users.ErrNotFound, "a finished ticket is not claimable")

	createTicket(t, s, newTicket("t9", "u1", day(1)))
	got, err := s.ClaimTicket(t.Context(), "worker", now, now.Add(time.Minute))
	if assert.NoError(t, err) {
		assert.Equal(t, "t9", got.ID)
	}
	for i := range 3 {
		tk, err := s.GetTicket(t.Context(), fmt.Sprintf("t%d", i))
		require.NoError(t, err)
		assert.Empty(t, tk.Owner, "a finished ticket is left alone")
		assert.Equal(t, int64(1), tk.Version)
	}
}

func testClaimLease(t *testing.T, s users.Store) {
	ctx := t.Context()
	createTicket(t, s, newTicket("t1", "u1", day(1)))
	now := day(2)
	until := now.Add(time.Minute)

	first, err := s.ClaimTicket(ctx, "worker-1", now, until)
	require.NoError(t, err)
	assert.Equal(t, int64(2), first.Version)

	for _, at := range []time.Time{now, until.Add(-time.Microsecond)} {
		_, err = s.ClaimTicket(ctx, "worker-2", at, at.Add(time.Minute))
		assert.ErrorIs(t, err, users.ErrNotFound, "the lease is held at %v", at)
	}

	second, err := s.ClaimTicket(ctx, "worker-2", until, until.Add(time.Hour))
	require.NoError(t, err, "a lease that ends at now has run out")
	assert.Equal(t, "worker-2", second.Owner)
	assert.Equal(t, until.Add(time.Hour), second.LeaseUntil)
	assert.Equal(t, int64(3), second.Version)

	_, err = s.ClaimTicket(ctx, "worker-1", until.Add(time.Minute), until.Add(2*time.Minute))
	assert.ErrorIs(t, err, users.ErrNotFound, "the new lease is held")

	stale := first.Clone()
	stale.StepsDone = 3
	assert.ErrorIs(t, s.UpdateTicket(ctx, stale), users.ErrConflict, "a worker whose lease was taken over cannot write")

	second.StepsDone = 3
	second.Status = users.TicketCompleted
	require.NoError(t, s.UpdateTicket(ctx, second), "the lease holder can write")
	_, err = s.ClaimTicket(ctx, "worker-3", day(30), day(31))
	assert.ErrorIs(t, err, users.ErrNotFound, "a completed ticket is not claimable")
}

func testClaimNextAttempt(t *testing.T, s users.Store) {
	ctx := t.Context()
	tk := newTicket("t1", "u1", day(1))
	tk.NextAttempt = day(3)
	tk.Attempts = 1
	createTicket(t, s, tk)

	_, err := s.ClaimTicket(ctx, "worker", day(3).Add(-time.Microsecond), day(4))
	assert.ErrorIs(t, err, users.ErrNotFound, "not before NextAttempt")

	got, err := s.ClaimTicket(ctx, "worker", day(3), day(4))
	if assert.NoError(t, err, "claimable at NextAttempt") {
		assert.Equal(t, "t1", got.ID)
		assert.Equal(t, day(3), got.NextAttempt)
	}
}

func testClaimOldestFirst(t *testing.T, s users.Store) {
	ctx := t.Context()
	for _, tk := range []*users.Ticket{
		newTicket("t-a", "u1", day(3)),
		newTicket("t-b", "u2", day(1)),
		newTicket("t-c", "u3", day(2)),
	} {
		createTicket(t, s, tk)
	}
	now := day(5)
	var got []string
	for range 3 {
		tk, err := s.ClaimTicket(ctx, "worker", now, now.Add(time.Minute))
		require.NoError(t, err)
		got = append(got, tk.ID)
	}
	assert.Equal(t, []string{"t-b", "t-c", "t-a"}, got)
	_, err := s.ClaimTicket(ctx, "worker", now, now.Add(time.Minute))
	assert.ErrorIs(t, err, users.ErrNotFound, "every ticket is leased")
}

func testTicketCopies(t *testing.T, s users.Store) {
	ctx := t.Context()
	tk := newTicket("t1", "u1", day(1))
	tk.OrgID = "org1"
	want := storedTicket(tk, 1)

	require.NoError(t, s.CreateTicket(ctx, tk))
	tk.Steps[0] = "mutated"
	tk.OrgID = "mutated"
	tk.Steps = append(tk.Steps, "appended")
	assertTicket(t, s, want)

	got, err := s.GetTicket(ctx, "t1")
	require.NoError(t, err)
	got.Steps[0] = "mutated"
	got.OrgID = "mutated"
	list, err := s.ListTickets(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, list, 1)
	list[0].Steps[1] = "mutated"
	list[0].OrgID = "mutated"
	assertTicket(t, s, want)

	update := want.Clone()
	update.StepsDone = 1
	want = storedTicket(update, 2)
	require.NoError(t, s.UpdateTicket(ctx, update))
	update.Steps[2] = "mutated"
	update.OrgID = "mutated"
	assertTicket(t, s, want)

	claimed, err := s.ClaimTicket(ctx, "worker", day(2), day(3))
	require.NoError(t, err)
	want = storedTicket(want, 3)
	want.Owner, want.LeaseUntil = "worker", day(3)
	claimed.Steps[0] = "mutated"
	claimed.OrgID = "mutated"
	assertTicket(t, s, want)
}

func testTicketOrgID(t *testing.T, s users.Store) {
	ctx := t.Context()
	tk := newTicket("t1", "u1", day(1))
	tk.OrgID = "org1"
	createTicket(t, s, tk)
	none := newTicket("t2", "u1", day(2))
	createTicket(t, s, none)
	assertTicket(t, s, storedTicket(tk, 1))
	assertTicket(t, s, storedTicket(none, 1))
	list, err := s.ListTickets(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, []*users.Ticket{storedTicket(tk, 1), storedTicket(none, 1)}, list, "ListTickets")

	claimed, err := s.ClaimTicket(ctx, "worker", day(3), day(4))
	require.NoError(t, err)
	assert.Equal(t, "org1", claimed.OrgID, "ClaimTicket returns OrgID")

	claimed.OrgID = "org2"
	claimed.Status = users.TicketCompleted
	require.NoError(t, s.UpdateTicket(ctx, claimed))
	assertTicket(t, s, claimed)

	claimed.OrgID = ""
	require.NoError(t, s.UpdateTicket(ctx, claimed))
	assertTicket(t, s, claimed)
}

// finishedTicket returns a ticket of the status, created at day 0 and last changed at updated.
func finishedTicket(id string, status users.TicketStatus, updated time.Time) *users.Ticket {
	tk := newTicket(id, "u-"+id, day(0))
	tk.Status = status
	tk.StepsDone = len(tk.Steps)
	tk.Updated = updated
	return tk
}

// storedTicketIDs returns which of ids GetTicket finds, in order.
func storedTicketIDs(t *testing.T, s users.Store, ids ...string) []string {
	t.Helper()
	found := []string{}
	for _, id := range ids {
		_, err := s.GetTicket(t.Context(), id)
		if err == nil {
			found = append(found, id)
		} else {
			require.ErrorIs(t, err, users.ErrNotFound, "GetTicket(%s)", id)
		}
	}
	return found
}

func testDeleteTickets(t *testing.T, s users.Store) {
	ctx := t.Context()
	n, err := s.DeleteTickets(ctx, day(100), 0)
	require.NoError(t, err)
	assert.Zero(t, n, "an empty store")

	// In progress: never removed, however old, leased or not.
	old := newTicket("open-old", "u1", day(-30))
	leased := newTicket("open-leased", "u2", day(-30))
	leased.Owner, leased.LeaseUntil = "worker", day(-29)
	for _, tk := range []*users.Ticket{
		old, leased,
		finishedTicket("completed-1", users.TicketCompleted, day(1)),
		finishedTicket("failed-1", users.TicketFailed, day(1)),
		finishedTicket("cancelled-1", users.TicketCancelled, day(1).Add(-time.Microsecond)),
		finishedTicket("completed-2", users.TicketCompleted, day(2)),
		finishedTicket("failed-3", users.TicketFailed, day(3)),
	} {
		createTicket(t, s, tk)
	}
	all := []string{"open-old", "open-leased", "completed-1", "failed-1", "cancelled-1", "completed-2", "failed-3"}

	for _, tc := range []struct {
		name   string
		before time.Time
		want   int
		left   []string
	}{
		{"before every ticket", day(1).Add(-time.Microsecond), 0, all},
		{"before: a microsecond after Updated", day(1), 1,
			[]string{"open-old", "open-leased", "completed-1", "failed-1", "completed-2", "failed-3"}},
		{"Updated equal to before stays", day(2), 2,
			[]string{"open-old", "open-leased", "completed-2", "failed-3"}},
		{"a nanosecond after Updated is the same microsecond", day(2).Add(time.Nanosecond), 0,
			[]string{"open-old", "open-leased", "completed-2", "failed-3"}},
		{"before in another zone", day(3).Add(time.Microsecond).In(time.FixedZone("UTC-5", -5*3600)), 2,
			[]string{"open-old", "open-leased"}},
		{"only tickets in progress are left", day(365), 0, []string{"open-old", "open-leased"}},
	} {
		n, err := s.DeleteTickets(ctx, tc.before, 0)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, n, tc.name)
		assert.Equal(t, tc.left, storedTicketIDs(t, s, all...), tc.name)
	}

	// What DeleteTickets left is whole, and a worker can still claim it.
	assertTicket(t, s, storedTicket(old, 1))
	got, err := s.ClaimTicket(ctx, "worker", day(1), day(2))
	require.NoError(t, err)
	assert.Contains(t, []string{"open-old", "open-leased"}, got.ID)
	list, err := s.ListTickets(ctx, "u-completed-1")
	require.NoError(t, err)
	assert.Empty(t, list, "a removed ticket is listed no more")
	createTicket(t, s, finishedTicket("completed-1", users.TicketCompleted, day(1))) // its ID is free
}

func testDeleteTicketsLimit(t *testing.T, s users.Store) {
	ctx := t.Context()
	// A ticket changed after before, and tickets in progress, all older than the rest.
	recent := finishedTicket("recent", users.TicketCompleted, day(10))
	createTicket(t, s, recent)
	for i := range 3 {
		createTicket(t, s, newTicket(fmt.Sprintf("open-%d", i), "u1", day(-10)))
	}
	keep := []string{"recent", "open-0", "open-1", "open-2"}

	statuses := []users.TicketStatus{users.TicketCompleted, users.TicketFailed, users.TicketCancelled}
	for _, tc := range boundedDeleteCases {
		t.Run(tc.name, func(t *testing.T) {
			var ids []string
			for i := range boundedDeleteRows {
				id := fmt.Sprintf("%s %d", tc.name, i)
				ids = append(ids, id)
				createTicket(t, s, finishedTicket(id, statuses[i%3], day(1).Add(time.Duration(i)*time.Hour)))
			}
			checkBoundedDelete(t, tc.limit, tc.want, "finished tickets changed before before",
				func(limit int) (int, error) { return s.DeleteTickets(ctx, day(5), limit) },
				func() int { return len(storedTicketIDs(t, s, ids...)) },
				func(call int) {
					assert.Equal(t, keep, storedTicketIDs(t, s, keep...), "tickets kept after call %d", call)
				})
		})
	}
	assertTicket(t, s, storedTicket(recent, 1))
}

func testConcurrentClaimOne(t *testing.T, s users.Store) {
	createTicket(t, s, newTicket("t1", "u1", day(1)))
	now := day(2)

	const n = 50
	got := make([]*users.Ticket, n)
	errs := make([]error, n)
	concurrently(t, n, func(i int) {
		got[i], errs[i] = s.ClaimTicket(t.Context(), fmt.Sprintf("worker-%d", i), now, now.Add(time.Minute))
	})

	winner := -1
	for i, err := range errs {
		if err == nil {
			assert.Equal(t, -1, winner, "two claimants got the ticket: %d and %d", winner, i)
			winner = i
			continue
		}
		assert.ErrorIs(t, err, users.ErrNotFound, "claimant %d", i)
	}
	require.NotEqual(t, -1, winner, "one claimant gets the ticket")
	held, err := s.GetTicket(t.Context(), "t1")
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("worker-%d", winner), held.Owner)
	assert.Equal(t, int64(2), held.Version)
	assert.Equal(t, got[winner], held)
}

func testConcurrentClaimMany(t *testing.T, s users.Store) {
	const tickets, n = 5, 50
	for i := range tickets {
		createTicket(t, s, newTicket(fmt.Sprintf("t%d", i), "u1", day(1).Add(time.Duration(i)*time.Second)))
	}
	now := day(2)

	got := make([]*users.Ticket, n)
	errs := make([]error, n)
	concurrently(t, n, func(i int) {
		got[i], errs[i] = s.ClaimTicket(t.Context(), fmt.Sprintf("worker-%d", i), now, now.Add(time.Minute))
	})

	owners := map[string]string{}
	for i, err := range errs {
		if err != nil {
			assert.ErrorIs(t, err, users.ErrNotFound, "claimant %d", i)
			continue
		}
		prev, dup := owners[got[i].ID]
		assert.False(t, dup, "ticket %s leased twice: to %s and worker-%d", got[i].ID, prev, i)
		owners[got[i].ID] = fmt.Sprintf("worker-%d", i)
	}
	assert.Len(t, owners, tickets, "every ticket is leased once")
	for id, owner := range owners {
		tk, err := s.GetTicket(t.Context(), id)
		require.NoError(t, err)
		assert.Equal(t, owner, tk.Owner)
		assert.Equal(t, int64(2), tk.Version)
	}
}
