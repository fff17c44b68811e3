package users_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepLog records the runs of the app's deletion steps. Safe for concurrent use.
type stepLog struct {
	mu   sync.Mutex
	runs []stepRun
}

type stepRun struct {
	step   string
	userID string
}

func (l *stepLog) add(step, userID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, stepRun{step, userID})
}

func (l *stepLog) all() []stepRun {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.runs)
}

// count returns how many times step ran for the user.
func (l *stepLog) count(step, userID string) int {
	n := 0
	for _, r := range l.all() {
		if r.step == step && r.userID == userID {
			n++
		}
	}
	return n
}

// recordingStep is a deletion step that records its runs and then returns the error fail
// gives for the attempt (1-based), or nil when fail is nil.
func recordingStep(name string, log *stepLog, fail func(attempt int) error) users.DeletionStep {
	var attempts sync.Map // userID -> *atomic.Int64
	return users.DeletionStep{Name: name, Run: func(_ context.Context, userID string) error {
		log.add(name, userID)
		n, _ := attempts.LoadOrStore(userID, new(atomic.Int64))
		attempt := n.(*atomic.Int64).Add(1)
		if fail != nil {
			return fail(int(attempt))
		}
		return nil
	}}
}

// waitForTicket waits until the ticket satisfies cond and returns it.
func waitForTicket(t *testing.T, svc users.Service, id string, cond func(*users.Ticket) bool, what string) *users.Ticket {
	t.Helper()
	var got *users.Ticket
	testutil.Eventually(t, func() bool {
		var err error
		got, err = svc.Ticket(context.Background(), id)
		require.NoError(t, err)
		return cond(got)
	}, "ticket %s: %s", id, what)
	return got
}

func ticketDone(t *users.Ticket) bool { return t.Status.Done() }

func TestDelete(t *testing.T) {
	log := new(stepLog)
	var h *harness
	var sawToken, sawUser atomic.Bool
	var token users.Digest
	check := users.DeletionStep{Name: "check", Run: func(ctx context.Context, userID string) error {
		_, err := h.store.GetToken(ctx, token, time.Time{})
		sawToken.Store(err == nil)
		_, err = h.store.GetUser(ctx, userID)
		sawUser.Store(err == nil)
		log.add("check", userID)
		return nil
	}}
	blocker := make(chan struct{})
	block := users.DeletionStep{Name: "block", Run: func(ctx context.Context, userID string) error {
		<-blocker
		return nil
	}}
	h = newHarness(t, func(c *users.Config) {
		c.DeletionSteps = []users.DeletionStep{block, recordingStep("forget-orders", log, nil), check, recordingStep("forget-files", log, nil)}
	})
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	other := h.create(t, bob, alicePassword)
	s := h.signIn(t, alice, alicePassword)
	token = users.DigestOf(s.Token)
	code := h.resetCode(t, alice)

	ticket, err := h.svc.Delete(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, users.TicketInProgress, ticket.Status)
	assert.Equal(t, u.ID, ticket.UserID)
	assert.Equal(t, 0, ticket.StepsDone)
	assert.Equal(t, 7, ticket.StepsTotal())
	assert.Equal(t, []string{"revoke-credentials", "remove-image", "block", "forget-orders", "check", "forget-files", "remove-user"}, ticket.Steps)
	id, err := uuid.Parse(ticket.ID)
	require.NoError(t, err)
	assert.Equal(t, uuid.Version(7), id.Version())

	// From now on the user can neither sign in nor authenticate.
	assert.False(t, authenticates(t, h.svc, s.Token))
	_, err = h.svc.SignIn(ctx, alice, alicePassword)
	assert.Error(t, err)
	assert.True(t, errors.Is(err, users.ErrForbidden) || errors.Is(err, users.ErrUnauthorized), "sign-in: %v", err)
	_, err = h.svc.NewSession(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrForbidden)
	assertCode(t, h.svc.ResetPassword(ctx, code, otherPassword), users.CodeInvalid, "code")

	again, err := h.svc.Delete(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, ticket.ID, again.ID, "deleting again returns the ticket in progress")
	close(blocker)

	got := waitForTicket(t, h.svc, ticket.ID, ticketDone, "done")
	assert.Equal(t, users.TicketCompleted, got.Status)
	assert.Equal(t, got.StepsTotal(), got.StepsDone)
	assert.Empty(t, got.FailedStep)
	assert.Empty(t, got.Message)
	_, err = h.svc.Get(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrNotFound)
	_, err = h.svc.SignIn(ctx, alice, alicePassword)
	assert.ErrorIs(t, err, users.ErrUnauthorized)
	_, err = h.svc.Get(ctx, other.ID)
	assert.NoError(t, err, "other users stay")

	assert.Equal(t, []stepRun{{"forget-orders", u.ID}, {"check", u.ID}, {"forget-files", u.ID}}, log.all(), "the app's steps, in order, once")
	assert.False(t, sawToken.Load(), "credentials were revoked before the app's steps")
	assert.True(t, sawUser.Load(), "the user is removed after the app's steps")

	var types []users.EventType
	var steps []string
	for _, e := range h.events.ofTicket(ticket.ID) {
		assert.Equal(t, u.ID, e.UserID)
		types = append(types, e.Type)
		if e.Type == users.EventDeletionStep {
			steps = append(steps, e.Step)
		}
	}
	assert.Equal(t, []users.EventType{users.EventDeletionStarted, users.EventDeletionStep, users.EventDeletionStep, users.EventDeletionStep,
		users.EventDeletionStep, users.EventDeletionStep, users.EventDeletionStep, users.EventDeletionStep, users.EventDeletionCompleted}, types)
	assert.Equal(t, ticket.Steps, steps)

	_, err = h.svc.CancelDeletion(ctx, ticket.ID)
	assert.ErrorIs(t, err, users.ErrConflict, "a completed ticket cannot be cancelled")
	_, err = h.svc.Delete(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrNotFound)
}

func TestDeleteNotFound(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	_, err := h.svc.Delete(ctx, uuid.NewString())
	assert.ErrorIs(t, err, users.ErrNotFound)
	_, err = h.svc.Ticket(ctx, uuid.NewString())
	assert.ErrorIs(t, err, users.ErrNotFound)
	_, err = h.svc.CancelDeletion(ctx, uuid.NewString())
	assert.ErrorIs(t, err, users.ErrNotFound)
}

func TestTicketJSON(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.NoWorker = true })
	u := h.create(t, alice, alicePassword)
	ticket, err := h.svc.Delete(context.Background(), u.ID)
	require.NoError(t, err)
	b, err := json.Marshal(ticket)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, ticket.ID, got["ticket"])
	assert.Equal(t, u.ID, got["userId"])
	assert.Equal(t, "in-progress", got["status"])
	assert.Equal(t, 0.0, got["stepsDone"])
	assert.Equal(t, 3.0, got["stepsTotal"])
	assert.Contains(t, got, "created")
	assert.Contains(t, got, "updated")
	for _, key := range []string{"steps", "Steps", "owner", "Owner", "leaseUntil", "version", "attempts", "priorStatus", "failedStep", "message", "id"} {
		assert.NotContains(t, got, key)
	}
}

func TestDeleteRetriesWithBackoff(t *testing.T) {
	log := new(stepLog)
	store := &claimCountingStore{Store: memory.New()}
	h := newHarness(t, func(c *users.Config) {
		c.DeletionBackoff = 10 * time.Second
		c.DeletionSteps = []users.DeletionStep{recordingStep("flaky", log, func(attempt int) error {
			if attempt <= 2 {
				return fmt.Errorf("flaky: attempt %d", attempt)
			}
			return nil
		})}
		c.NoWorker = true
	})
	ctx := context.Background()
	// Run the deletion on a Service over the counting store, so that the test can tell when
	// the worker has looked for work.
	cfg := h.cfg
	cfg.NoWorker = false
	svc, err := users.New(store, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	u, err := svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword})
	require.NoError(t, err)

	ticket, err := svc.Delete(ctx, u.ID)
	require.NoError(t, err)
	got := waitForTicket(t, svc, ticket.ID, func(t *users.Ticket) bool { return t.Attempts == 1 }, "first failure")
	assert.Equal(t, users.TicketInProgress, got.Status)
	assert.Equal(t, 2, got.StepsDone, "revoke-credentials and remove-image done")
	assert.Equal(t, got.Updated.Add(10*time.Second), got.NextAttempt, "first back-off is DeletionBackoff")

	// Not before the back-off has passed.
	h.clock.Advance(9 * time.Second)
	store.waitForPolls(t, 3)
	assert.Equal(t, 1, log.count("flaky", u.ID))

	h.clock.Advance(time.Second)
	got = waitForTicket(t, svc, ticket.ID, func(t *users.Ticket) bool { return t.Attempts == 2 }, "second failure")
	assert.Equal(t, 2, log.count("flaky", u.ID))
	assert.Equal(t, got.Updated.Add(20*time.Second), got.NextAttempt, "the back-off doubles")

	h.clock.Advance(19 * time.Second)
	store.waitForPolls(t, 3)
	assert.Equal(t, 2, log.count("flaky", u.ID))

	h.clock.Advance(time.Second)
	got = waitForTicket(t, svc, ticket.ID, ticketDone, "done")
	assert.Equal(t, users.TicketCompleted, got.Status)
	assert.Equal(t, 3, log.count("flaky", u.ID))
	_, err = svc.Get(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrNotFound)
}

func TestDeleteFails(t *testing.T) {
	const secret = "connection to db://admin:hunter2@10.0.0.1 refused"
	log := new(stepLog)
	h := newHarness(t, func(c *users.Config) {
		c.DeletionAttempts = 3
		c.DeletionSteps = []users.DeletionStep{
			recordingStep("broken", log, func(int) error { return errors.New(secret) }),
			recordingStep("never", log, nil),
		}
	})
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	ticket, err := h.svc.Delete(ctx, u.ID)
	require.NoError(t, err)
	for attempt := 1; attempt < 3; attempt++ {
		waitForTicket(t, h.svc, ticket.ID, func(t *users.Ticket) bool { return t.Attempts == attempt }, fmt.Sprint("attempt ", attempt))
		h.clock.Advance(time.Hour)
	}
	got := waitForTicket(t, h.svc, ticket.ID, ticketDone, "done")
	assert.Equal(t, users.TicketFailed, got.Status)
	assert.Equal(t, "broken", got.FailedStep)
	assert.Equal(t, 2, got.StepsDone)
	assert.NotEmpty(t, got.Message)
	assert.NotContains(t, got.Message, "hunter2")
	assert.NotContains(t, got.Message, "refused")
	b, err := json.Marshal(got)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "hunter2")
	assert.Equal(t, 3, log.count("broken", u.ID))
	assert.Zero(t, log.count("never", u.ID))

	stored, err := h.svc.Get(ctx, u.ID)
	require.NoError(t, err, "the user stays when the deletion fails")
	assert.Equal(t, users.StatusDisabled, stored.Status)
	_, err = h.svc.CancelDeletion(ctx, ticket.ID)
	assert.ErrorIs(t, err, users.ErrConflict, "a failed ticket cannot be cancelled")

	var failed []users.Event
	for _, e := range h.events.ofTicket(ticket.ID) {
		if e.Type == users.EventDeletionFailed {
			failed = append(failed, e)
		}
	}
	require.Len(t, failed, 1)
	assert.Equal(t, "broken", failed[0].Step)
}

func TestDeletePanickingStep(t *testing.T) {
	h := newHarness(t, func(c *users.Config) {
		c.DeletionAttempts = 1
		c.DeletionSteps = []users.DeletionStep{{Name: "panics", Run: func(context.Context, string) error { panic("boom") }}}
	})
	u := h.create(t, alice, alicePassword)
	ticket, err := h.svc.Delete(context.Background(), u.ID)
	require.NoError(t, err)
	got := waitForTicket(t, h.svc, ticket.ID, ticketDone, "done")
	assert.Equal(t, users.TicketFailed, got.Status)
	assert.Equal(t, "panics", got.FailedStep)
}

func TestCancelDeletion(t *testing.T) {
	ctx := context.Background()
	for _, prior := range []users.Status{users.StatusActive, users.StatusPending} {
		t.Run("before the worker, "+string(prior), func(t *testing.T) {
			h := newHarness(t, func(c *users.Config) { c.NoWorker = true })
			u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword, Status: prior})
			require.NoError(t, err)
			s, err := h.svc.NewSession(ctx, u.ID)
			if prior == users.StatusActive {
				require.NoError(t, err)
			}
			ticket, err := h.svc.Delete(ctx, u.ID)
			require.NoError(t, err)
			h.clock.Advance(time.Minute)

			got, err := h.svc.CancelDeletion(ctx, ticket.ID)
			require.NoError(t, err)
			assert.Equal(t, users.TicketCancelled, got.Status)
			stored, err := h.svc.Ticket(ctx, ticket.ID)
			require.NoError(t, err)
			assert.Equal(t, users.TicketCancelled, stored.Status)
			back, err := h.svc.Get(ctx, u.ID)
			require.NoError(t, err)
			assert.Equal(t, prior, back.Status, "the user's status before deletion")
			if prior == users.StatusActive {
				h.signIn(t, alice, alicePassword)
				assert.False(t, authenticates(t, h.svc, s.Token), "revoked credentials stay revoked")
			}
			_, err = h.svc.CancelDeletion(ctx, ticket.ID)
			assert.ErrorIs(t, err, users.ErrConflict, "cancelled already")
			assert.Equal(t, 1, h.events.count(users.EventDeletionCancelled))

			// And the user may be deleted again later.
			again, err := h.svc.Delete(ctx, u.ID)
			require.NoError(t, err)
			assert.NotEqual(t, ticket.ID, again.ID)
		})
	}

	t.Run("while a step runs", func(t *testing.T) {
		log := new(stepLog)
		entered, release := make(chan struct{}), make(chan struct{})
		h := newHarness(t, func(c *users.Config) {
			c.DeletionSteps = []users.DeletionStep{
				{Name: "slow", Run: func(context.Context, string) error {
					close(entered)
					<-release
					return nil
				}},
				recordingStep("after", log, nil),
			}
		})
		u := h.create(t, alice, alicePassword)
		ticket, err := h.svc.Delete(ctx, u.ID)
		require.NoError(t, err)
		<-entered
		got, err := h.svc.CancelDeletion(ctx, ticket.ID)
		require.NoError(t, err)
		assert.Equal(t, users.TicketCancelled, got.Status)
		close(release)
		require.NoError(t, h.svc.Close()) // waits for the worker to give up the ticket

		final, err := h.svc.Ticket(ctx, ticket.ID)
		require.NoError(t, err)
		assert.Equal(t, users.TicketCancelled, final.Status)
		assert.Empty(t, log.all(), "no step after the cancellation")
		back, err := h.svc.Get(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, users.StatusActive, back.Status)
		h.signIn(t, alice, alicePassword)
		assert.Zero(t, h.events.count(users.EventDeletionCompleted))
	})
}

// TestDeleteResumesAfterRestart: a ticket started by a Service without a worker is completed
// by a later Service on the same store.
func TestDeleteResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	log := new(stepLog)
	h := newHarness(t, func(c *users.Config) {
		c.NoWorker = true
		c.DeletionSteps = []users.DeletionStep{recordingStep("app", log, nil)}
	})
	u := h.create(t, alice, alicePassword)
	ticket, err := h.svc.Delete(ctx, u.ID)
	require.NoError(t, err)
	require.NoError(t, h.svc.Close())
	require.NoError(t, h.svc.Close(), "Close is idempotent")
	_, err = h.svc.Get(ctx, u.ID)
	require.NoError(t, err, "methods keep working after Close")

	svc := h.another(t, func(c *users.Config) { c.NoWorker = false })
	got := waitForTicket(t, svc, ticket.ID, ticketDone, "done")
	assert.Equal(t, users.TicketCompleted, got.Status)
	assert.Equal(t, []stepRun{{"app", u.ID}}, log.all())
	_, err = svc.Get(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrNotFound)
}

// TestDeleteTwoServices: two Services sharing a store run every step of every ticket once.
func TestDeleteTwoServices(t *testing.T) {
	ctx := context.Background()
	log := new(stepLog)
	steps := []users.DeletionStep{recordingStep("one", log, nil), recordingStep("two", log, nil)}
	h := newHarness(t, func(c *users.Config) { c.DeletionSteps = steps })
	svc2 := h.another(t)
	services := []users.Service{h.svc, svc2}

	const n = 40
	var tickets []*users.Ticket
	var ids []string
	for i := range n {
		u := h.create(t, fmt.Sprintf("user%02d@example.com", i), alicePassword)
		ticket, err := services[i%2].Delete(ctx, u.ID)
		require.NoError(t, err)
		tickets = append(tickets, ticket)
		ids = append(ids, u.ID)
	}
	for i, ticket := range tickets {
		got := waitForTicket(t, services[(i+1)%2], ticket.ID, ticketDone, "done")
		assert.Equal(t, users.TicketCompleted, got.Status)
	}
	for _, id := range ids {
		assert.Equal(t, 1, log.count("one", id), "step one for %s", id)
		assert.Equal(t, 1, log.count("two", id), "step two for %s", id)
	}
	assert.Len(t, log.all(), 2*n)
	assert.Equal(t, n, h.events.count(users.EventDeletionCompleted))
}

// TestDeleteTakesOverExpiredLease: a ticket leased by a worker that died is taken over once the
// lease runs out, and not before.
func TestDeleteTakesOverExpiredLease(t *testing.T) {
	ctx := context.Background()
	log := new(stepLog)
	h := newHarness(t, func(c *users.Config) {
		c.NoWorker = true
		c.TicketLease = time.Minute
		c.DeletionSteps = []users.DeletionStep{recordingStep("app", log, nil)}
	})
	u := h.create(t, alice, alicePassword)
	ticket, err := h.svc.Delete(ctx, u.ID)
	require.NoError(t, err)
	now := h.clock.Now()
	claimed, err := h.store.ClaimTicket(ctx, "dead-worker", now, now.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, ticket.ID, claimed.ID)

	store := &claimCountingStore{Store: h.store}
	cfg := h.cfg
	cfg.NoWorker = false
	svc, err := users.New(store, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })

	store.waitForPolls(t, 3)
	h.clock.Advance(59 * time.Second)
	store.waitForPolls(t, 3)
	got, err := svc.Ticket(ctx, ticket.ID)
	require.NoError(t, err)
	assert.Equal(t, 0, got.StepsDone, "the lease still holds")
	assert.Empty(t, log.all())

	h.clock.Advance(time.Second)
	got = waitForTicket(t, svc, ticket.ID, ticketDone, "done")
	assert.Equal(t, users.TicketCompleted, got.Status)
	assert.Equal(t, []stepRun{{"app", u.ID}}, log.all())
}

// TestDeleteUnregisteredStep: a ticket naming a step this process does not know fails rather
// than skipping it.
func TestDeleteUnregisteredStep(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(c *users.Config) {
		c.NoWorker = true
		c.DeletionSteps = []users.DeletionStep{{Name: "gone-in-this-version", Run: noopStep}}
	})
	u := h.create(t, alice, alicePassword)
	ticket, err := h.svc.Delete(ctx, u.ID)
	require.NoError(t, err)
	svc := h.another(t, func(c *users.Config) {
		c.NoWorker = false
		c.DeletionSteps = nil
		c.DeletionAttempts = 1
	})
	got := waitForTicket(t, svc, ticket.ID, ticketDone, "done")
	assert.Equal(t, users.TicketFailed, got.Status)
	assert.Equal(t, "gone-in-this-version", got.FailedStep)
	_, err = svc.Get(ctx, u.ID)
	assert.NoError(t, err, "the user was not removed")
}
