package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/sqlite"
)

func init() {
	childRoles["blocking-worker"] = blockingWorkerChild
	childRoles["gated-worker"] = gatedWorkerChild
}

// procStep is the name of the app's deletion step in the multi-process tests. Every Service
// on a file registers a step of this name: a ticket records the names of its steps when it is
// created, and a worker runs them by name.
const procStep = "app-data"

// procPoll is the worker's poll interval in the multi-process tests: short, for speed.
const procPoll = 10 * time.Millisecond

// TestProcessResumesTicket proves that a deletion ticket in progress when its process dies
// (SIGKILL, in the middle of an app step) is resumed from the step it was at and completed by
// a Service in another process on the same file — but only once the dead worker's lease has
// run out.
//
// The lease: the child runs with the default lease (1 minute), as a production process would.
// ClaimTicket takes a ticket only when its lease_until is not after the claimant's now, and a
// Service's now is its Config.Now. So rather than wait a minute, the parent's Service runs on
// a clock the test moves: first at real time, where the test watches the worker poll several
// times and leave the ticket alone (for all it can tell the holder is alive, only slow), then
// past the dead worker's lease, as if the restart came a minute later. Moving the claimant's
// clock is exactly equivalent to waiting, and keeps the test fast and deterministic.
func TestProcessResumesTicket(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "users.db")
	u, ticket, steps := procStartDeletions(t, path, 1)

	// The child claims the ticket, runs the built-in steps before the app step (revoking the
	// credentials first), starts the app step and blocks in it; the line proves the ticket is
	// in progress in the child.
	c := startChild(t, "worker", "blocking-worker", path)
	started := c.waitFor(t, "step-started", procTimeout)
	require.Equal(t, []string{"step-started", u[0]}, started)
	c.kill(t)
	c.rest(t)
	requireKilled(t, c)

	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	dead, err := st.GetTicket(ctx, ticket[0])
	require.NoError(t, err)
	require.Equal(t, users.TicketInProgress, dead.Status)
	require.Equal(t, slices.Index(steps, procStep), dead.StepsDone, "the dead worker had run the steps before the app step")
	require.NotEmpty(t, dead.Owner, "the dead worker holds the lease")
	require.True(t, dead.LeaseUntil.After(time.Now()), "the dead worker's lease runs for a minute")

	clock := new(offsetClock)
	store := &claimCounter{Store: st}
	var ran stepRecorder
	var events eventRecorder
	svc, err := users.New(store, users.Config{
		Argon2:        users.TestArgon2(),
		Now:           clock.Now,
		OnEvent:       events.add,
		PollInterval:  procPoll,
		DeletionSteps: []users.DeletionStep{{Name: procStep, Run: ran.step("parent")}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { svc.Close() })

	// While the lease holds, polls find nothing to claim and the ticket stays as it was.
	polls := store.claims.Load()
	procEventually(t, func() bool { return store.claims.Load() >= polls+3 }, "the worker polls three times")
	got, err := svc.Ticket(ctx, ticket[0])
	require.NoError(t, err)
	assert.Equal(t, dead.Version, got.Version, "the ticket is untouched while the lease holds")
	assert.Equal(t, dead.Owner, got.Owner)
	assert.Empty(t, ran.all(), "no step runs while the lease holds")

	// Past the lease, the worker takes the ticket over and finishes it.
	clock.Set(time.Until(dead.LeaseUntil) + time.Second)
	procEventually(t, func() bool {
		got, err = svc.Ticket(ctx, ticket[0])
		require.NoError(t, err)
		return got.Status.Done()
	}, "ticket %s done", ticket[0])
	assert.Equal(t, users.TicketCompleted, got.Status)
	assert.Equal(t, len(steps), got.StepsDone)
	assert.Equal(t, len(steps), got.StepsTotal())
	assert.Empty(t, got.Owner, "the lease is released")
	_, err = svc.Get(ctx, u[0])
	assert.ErrorIs(t, err, users.ErrNotFound, "the user is removed")
	assert.Equal(t, []stepRun{{"parent", u[0]}}, ran.all(), "the app step ran once in the parent")
	// Resumed where the dead worker stopped: revoking the credentials is not run again.
	var gotEvents, wantEvents []string
	for _, e := range events.ofTicket(ticket[0]) {
		gotEvents = append(gotEvents, string(e.Type)+" "+e.Step)
	}
	for _, step := range steps[dead.StepsDone:] {
		wantEvents = append(wantEvents, "deletion.step "+step)
	}
	assert.Equal(t, append(wantEvents, "deletion.completed "), gotEvents)
}

// TestProcessTwoWorkers proves that two processes whose Services share one database file
// share the deletion tickets and never run one twice: of 40 tickets started up front, every
// one completes and its app step runs exactly once across both processes, and both processes
// do some of the work.
//
// The lease is 10 minutes, far beyond the test, so no ticket can be taken over after a lease
// expiry (which would legitimately re-run an idempotent step): every step must run exactly
// once. To make sure both processes take part, each child's app step waits at a gate until
// the parent has seen both children inside a step — then each holds a different ticket — and
// opens the gates; from then on the two race for the remaining tickets.
func TestProcessTwoWorkers(t *testing.T) {
	const n = 40
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "users.db")
	userIDs, ticketIDs, steps := procStartDeletions(t, path, n)
	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })

	workers := []*child{
		startChild(t, "worker A", "gated-worker", path),
		startChild(t, "worker B", "gated-worker", path),
	}
	ranBy := map[string][]string{} // user ID → the workers that ran its app step
	record := func(w *child, f []string) {
		require.Len(t, f, 2, "line %q from %s", f, w.name)
		require.Equal(t, "step", f[0], "line %q from %s", f, w.name)
		ranBy[f[1]] = append(ranBy[f[1]], w.name)
	}
	for _, w := range workers {
		record(w, w.waitFor(t, "step", procTimeout))
	}
	require.Len(t, ranBy, 2, "the two workers hold two different tickets: %v", ranBy)
	for _, w := range workers {
		_, err := io.WriteString(w.stdin, "go\n")
		require.NoError(t, err)
	}

	pending := map[string]bool{}
	for _, id := range ticketIDs {
		pending[id] = true
	}
	procEventually(t, func() bool {
		for id := range pending {
			got, err := st.GetTicket(ctx, id)
			require.NoError(t, err)
			if !got.Status.Done() {
				return false
			}
			delete(pending, id)
		}
		return true
	}, "every ticket done")

	// Closing stdin shuts a worker down cleanly (Service.Close, Store.Close, exit 0); a race
	// the race detector found would make the exit status 66.
	for _, w := range workers {
		require.NoError(t, w.stdin.Close())
	}
	for _, w := range workers {
		for _, line := range w.rest(t) {
			record(w, strings.Fields(line))
		}
		require.NoError(t, w.wait(), "%s exits cleanly", w.name)
	}
	split := map[string]int{}
	for _, names := range ranBy {
		for _, name := range names {
			split[name]++
		}
	}
	t.Logf("app steps run by each worker: %v", split)

	for i, id := range ticketIDs {
		got, err := st.GetTicket(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, users.TicketCompleted, got.Status, "ticket %s", id)
		assert.Equal(t, len(steps), got.StepsDone, "ticket %s", id)
		_, err = st.GetUser(ctx, userIDs[i])
		assert.ErrorIs(t, err, users.ErrNotFound, "user %s is removed", userIDs[i])
		assert.Len(t, ranBy[userIDs[i]], 1, "the app step of user %s ran once: by %v", userIDs[i], ranBy[userIDs[i]])
	}
	assert.Len(t, ranBy, n, "app steps ran for exactly the users being deleted")
	for _, w := range workers {
		assert.Positive(t, split[w.name], "%s did some of the work", w.name)
	}
}

// procStartDeletions creates n users in the database file at path and starts deleting each,
// through a Service without a worker; it returns the users' IDs, their tickets' IDs and the
// steps of the tickets: the Service's built-in steps around procStep, revoking the credentials
// first and removing the user last. The file is closed again when it returns, and no step has
// run.
func procStartDeletions(t *testing.T, path string, n int) (userIDs, ticketIDs, steps []string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	svc, err := users.New(st, users.Config{
		Argon2:   users.TestArgon2(),
		NoWorker: true,
		DeletionSteps: []users.DeletionStep{{Name: procStep, Run: func(context.Context, string) error {
			return errors.New("a Service without a worker runs no step")
		}}},
	})
	require.NoError(t, err)
	defer svc.Close()
	for i := range n {
		u, err := svc.Create(ctx, users.NewUser{Username: fmt.Sprintf("user%02d@example.com", i)})
		require.NoError(t, err)
		ticket, err := svc.Delete(ctx, u.ID)
		require.NoError(t, err)
		if steps == nil {
			steps = ticket.Steps
			require.Equal(t, "revoke-credentials", steps[0], "steps %q", steps)
			require.Equal(t, "remove-user", steps[len(steps)-1], "steps %q", steps)
			require.Positive(t, slices.Index(steps, procStep), "steps %q", steps)
		}
		require.Equal(t, steps, ticket.Steps)
		userIDs = append(userIDs, u.ID)
		ticketIDs = append(ticketIDs, ticket.ID)
	}
	require.NoError(t, svc.Close())
	require.NoError(t, st.Close())
	return userIDs, ticketIDs, steps
}

// blockingWorkerChild is the child of TestProcessResumesTicket: a Service with the default
// lease whose app step reports that it started and then blocks until the process is killed.
func blockingWorkerChild(dbPath string) {
	st, err := sqlite.Open(context.Background(), dbPath, nil)
	if err != nil {
		childFail("open: %v", err)
	}
	_, err = users.New(st, users.Config{
		Argon2:       users.TestArgon2(),
		TicketLease:  users.DefaultTicketLease,
		PollInterval: procPoll,
		DeletionSteps: []users.DeletionStep{{Name: procStep, Run: func(ctx context.Context, userID string) error {
			say("step-started %s", userID)
			<-ctx.Done() // only when the Service closes, which it does not before SIGKILL
			return ctx.Err()
		}}},
	})
	if err != nil {
		childFail("new service: %v", err)
	}
	childReadStdin(func(string) {}) // until killed
}

// gatedWorkerChild is a child of TestProcessTwoWorkers: a Service with a long lease whose app
// step reports each run on stdout and waits until the parent writes "go" to stdin. At the end
// of stdin it closes the Service and the Store and exits.
func gatedWorkerChild(dbPath string) {
	st, err := sqlite.Open(context.Background(), dbPath, nil)
	if err != nil {
		childFail("open: %v", err)
	}
	gate := make(chan struct{})
	var open sync.Once
	svc, err := users.New(st, users.Config{
		Argon2:       users.TestArgon2(),
		TicketLease:  10 * time.Minute,
		PollInterval: procPoll,
		DeletionSteps: []users.DeletionStep{{Name: procStep, Run: func(ctx context.Context, userID string) error {
			say("step %s", userID)
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}},
	})
	if err != nil {
		childFail("new service: %v", err)
	}
	childReadStdin(func(line string) {
		if line == "go" {
			open.Do(func() { close(gate) })
		}
	})
	if err := svc.Close(); err != nil {
		childFail("close service: %v", err)
	}
	if err := st.Close(); err != nil {
		childFail("close store: %v", err)
	}
}

// childReadStdin calls onLine for each line of stdin, until its end. Blocking in a read keeps
// the child alive without busy work.
func childReadStdin(onLine func(string)) {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		onLine(sc.Text())
	}
}

// offsetClock is a clock for Config.Now: real time plus an offset the test sets. Safe for
// concurrent use.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time      { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) Set(d time.Duration) { c.offset.Store(int64(d)) }

// claimCounter is a Store that counts the worker's calls of ClaimTicket: its polls.
type claimCounter struct {
	users.Store
	claims atomic.Int64
}

func (s *claimCounter) ClaimTicket(ctx context.Context, owner string, now, until time.Time) (*users.Ticket, error) {
	defer s.claims.Add(1) // counted once it has answered
	return s.Store.ClaimTicket(ctx, owner, now, until)
}

// stepRun is one run of an app deletion step: where it ran, and for which user.
type stepRun struct {
	where, userID string
}

// stepRecorder records the runs of app deletion steps. Safe for concurrent use.
type stepRecorder struct {
	mu   sync.Mutex
	runs []stepRun
}

// step returns a step function that records its runs as having run in where, and succeeds.
func (r *stepRecorder) step(where string) func(context.Context, string) error {
	return func(_ context.Context, userID string) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.runs = append(r.runs, stepRun{where, userID})
		return nil
	}
}

func (r *stepRecorder) all() []stepRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stepRun(nil), r.runs...)
}

// eventRecorder records a Service's events. Safe for concurrent use.
type eventRecorder struct {
	mu     sync.Mutex
	events []users.Event
}

func (r *eventRecorder) add(e users.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// ofTicket returns the events of one deletion ticket, in order.
func (r *eventRecorder) ofTicket(id string) []users.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []users.Event
	for _, e := range r.events {
		if e.TicketID == id {
			out = append(out, e)
		}
	}
	return out
}
