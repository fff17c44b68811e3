package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
)

// The tests of this file run two Services, A and B, each on a Store of its own opened on one
// schema: two instances of an app sharing a database.

// instanceStep is the app's deletion step of the instances.
const instanceStep = "app-data"

// mailbox is a users.Mailer that keeps the mail it is given. Safe for concurrent use.
type mailbox struct {
	mu   sync.Mutex
	mail []users.Mail
}

func (m *mailbox) Send(_ context.Context, mail users.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mail = append(m.mail, mail)
	return nil
}

// await returns the latest mail of the kind, waiting for one (the Service sends some in the
// background) and failing the test when none comes.
func (m *mailbox) await(t *testing.T, kind users.MailKind) users.Mail {
	t.Helper()
	var found users.Mail
	eventually(t, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		for i := len(m.mail) - 1; i >= 0; i-- {
			if m.mail[i].Kind == kind {
				found = m.mail[i]
				return true
			}
		}
		return false
	}, "a "+string(kind)+" mail")
	return found
}

// instance returns a Service on a new Store opened on the schema, closed at the end of the
// test. cfg's Argon2 and Mailer default to cheap parameters and a mailbox of the test's.
func instance(t *testing.T, dsn, schema string, cfg users.Config) users.Service {
	t.Helper()
	if cfg.Argon2 == (users.Argon2Params{}) {
		cfg.Argon2 = users.TestArgon2()
	}
	svc, err := users.New(openStore(t, dsn, schema), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { svc.Close() })
	return svc
}

// TestInstancesRevocation signs a user in on B, changes their credentials or status on A, and
// checks that B refuses the session at once: nothing about a session is kept in a process.
func TestInstancesRevocation(t *testing.T) {
	const password, newPassword = "correct horse battery", "another horse battery"
	for _, c := range []struct {
		name   string
		revoke func(t *testing.T, a users.Service, mail *mailbox, u *users.User, token string)
		// signIn is the password that signs in on B after the change, if any does.
		signIn string
	}{
		{"SignOut", func(t *testing.T, a users.Service, _ *mailbox, _ *users.User, token string) {
			require.NoError(t, a.SignOut(context.Background(), token))
		}, password},
		{"PasswordReset", func(t *testing.T, a users.Service, mail *mailbox, u *users.User, _ string) {
			ctx := context.Background()
			require.NoError(t, a.ForgotPassword(ctx, u.Email))
			code := mail.await(t, users.MailPasswordReset).Code
			require.NoError(t, a.ResetPassword(ctx, code, newPassword))
		}, newPassword},
		{"Disable", func(t *testing.T, a users.Service, _ *mailbox, u *users.User, _ string) {
			disabled := users.StatusDisabled
			_, err := a.Update(context.Background(), u.ID, users.Update{Status: &disabled})
			require.NoError(t, err)
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, dsn, schema := openSchema(t)
			mail := new(mailbox)
			a := instance(t, dsn, schema, users.Config{Mailer: mail, NoWorker: true})
			b := instance(t, dsn, schema, users.Config{Mailer: mail, NoWorker: true})
			u, err := a.Create(ctx, users.NewUser{Username: "ada@example.com", Password: password})
			require.NoError(t, err)
			session, err := b.SignIn(ctx, "ada@example.com", password)
			require.NoError(t, err)
			got, err := a.Authenticate(ctx, session.Token)
			require.NoError(t, err, "a session from B is good on A")
			require.Equal(t, u.ID, got.User.ID)

			c.revoke(t, a, mail, u, session.Token)

			_, err = b.Authenticate(ctx, session.Token)
			assert.ErrorIs(t, err, users.ErrUnauthorized, "B refuses the session at once")
			_, err = a.Authenticate(ctx, session.Token)
			assert.ErrorIs(t, err, users.ErrUnauthorized, "and so does A")
			if c.signIn != password {
				_, err = b.SignIn(ctx, "ada@example.com", password)
				assert.Error(t, err, "the old password no longer signs in on B")
			}
			if c.signIn != "" {
				_, err = b.SignIn(ctx, "ada@example.com", c.signIn)
				assert.NoError(t, err)
			}
		})
	}
}

// TestInstancesCreateRace creates one username from 100 goroutines spread over A and B, three
// times: each time exactly one create wins, and every other fails with ErrConflict.
func TestInstancesCreateRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dsn, schema := openSchema(t)
	svcs := []users.Service{
		instance(t, dsn, schema, users.Config{NoWorker: true}),
		instance(t, dsn, schema, users.Config{NoWorker: true}),
	}
	for round := range 3 {
		username := fmt.Sprintf("race%d@example.com", round)
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 100 {
			wg.Go(func() {
				<-start
				_, err := svcs[i%2].Create(ctx, users.NewUser{Username: username, Password: "a password of some length"})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, users.ErrConflict):
					conflicts.Add(1)
				default:
					t.Errorf("create %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		assert.Equal(t, int32(1), wins.Load(), "round %d: one create wins", round)
		assert.Equal(t, int32(99), conflicts.Load(), "round %d: the others conflict", round)
	}
	n, err := svcs[1].Count(ctx, users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 3, n)
}

// TestInstancesDeletionHandoff deletes a user on A, whose worker stops in the middle of the
// app's step (A is closed, as an instance shutting down or dying would), and checks that B
// leaves the ticket alone while A's lease holds, then, once it has run out on B's clock,
// finishes it: the app step runs once more, the steps before it do not.
func TestInstancesDeletionHandoff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dsn, schema := openSchema(t)

	started := make(chan string, 1)
	var aEvents, bEvents eventLog
	a := instance(t, dsn, schema, users.Config{
		PollInterval: 10 * time.Millisecond,
		OnEvent:      aEvents.add,
		DeletionSteps: []users.DeletionStep{{Name: instanceStep, Run: func(ctx context.Context, userID string) error {
			started <- userID
			<-ctx.Done() // until A closes
			return ctx.Err()
		}}},
	})
	clock := testutil.NewClock(time.Now())
	bStore := &claimCounter{Store: openStore(t, dsn, schema)}
	var bRuns atomic.Int32
	b, err := users.New(bStore, users.Config{
		Argon2:       users.TestArgon2(),
		Now:          clock.Now,
		PollInterval: 10 * time.Millisecond,
		OnEvent:      bEvents.add,
		DeletionSteps: []users.DeletionStep{{Name: instanceStep, Run: func(context.Context, string) error {
			bRuns.Add(1)
			return nil
		}}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })

	u, err := a.Create(ctx, users.NewUser{Username: "leaving@example.com", Password: "a password of some length"})
	require.NoError(t, err)
	ticket, err := a.Delete(ctx, u.ID)
	require.NoError(t, err)
	select {
	case id := <-started:
		require.Equal(t, u.ID, id)
	case <-time.After(time.Minute):
		require.FailNow(t, "A's worker did not reach the app step")
	}
	require.NoError(t, a.Close())
	held, err := b.Ticket(ctx, ticket.ID)
	require.NoError(t, err)
	require.Equal(t, users.TicketInProgress, held.Status)
	require.NotEmpty(t, held.Owner, "A's worker still holds the lease")
	stepsBefore := held.StepsDone
	require.Equal(t, instanceStep, held.Steps[stepsBefore], "A stopped in the app step")

	// While the lease holds, B's worker polls and leaves the ticket alone.
	polls := bStore.claims.Load()
	eventually(t, func() bool { return bStore.claims.Load() >= polls+3 }, "B's worker polls three times")
	got, err := b.Ticket(ctx, ticket.ID)
	require.NoError(t, err)
	assert.Equal(t, held.Version, got.Version, "the ticket is untouched while A's lease holds")
	assert.Zero(t, bRuns.Load())

	clock.Advance(held.LeaseUntil.Sub(clock.Now()) + time.Second)
	eventually(t, func() bool {
		got, err = b.Ticket(ctx, ticket.ID)
		return err == nil && got.Status.Done()
	}, "B finishes the ticket")
	assert.Equal(t, users.TicketCompleted, got.Status)
	assert.Equal(t, got.StepsTotal(), got.StepsDone)
	assert.Equal(t, int32(1), bRuns.Load(), "the app step runs once more, on B")
	_, err = b.Get(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrNotFound)
	var want []string
	for _, step := range held.Steps[stepsBefore:] {
		want = append(want, "deletion.step "+step)
	}
	assert.Equal(t, append(want, "deletion.completed "), bEvents.ofTicket(ticket.ID),
		"B runs the steps from the app step on, and none before it")
	for _, e := range aEvents.ofTicket(ticket.ID) {
		assert.NotEqual(t, "deletion.step "+instanceStep, e, "A never completed the app step")
	}
}

// claimCounter is a Store that counts the worker's calls of ClaimTicket: its polls.
type claimCounter struct {
	users.Store
	claims atomic.Int64
}

func (s *claimCounter) ClaimTicket(ctx context.Context, owner string, now, until time.Time) (*users.Ticket, error) {
	defer s.claims.Add(1) // counted once it has answered
	return s.Store.ClaimTicket(ctx, owner, now, until)
}

// eventLog records a Service's events. Safe for concurrent use.
type eventLog struct {
	mu     sync.Mutex
	events []users.Event
}

func (l *eventLog) add(e users.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// ofTicket returns the events of one deletion ticket, in order, as "type step".
func (l *eventLog) ofTicket(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		if e.TicketID == id {
			out = append(out, string(e.Type)+" "+e.Step)
		}
	}
	return out
}

// eventually fails the test unless cond becomes true within a minute. It polls cond on a
// short ticker: it waits for a condition, never for a guessed time.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			require.FailNow(t, "condition not met in time", what)
		case <-tick.C:
		}
	}
}

// TestInstancesThrottle spreads ten wrong passwords for one account over A and B, from one
// client address: the account is throttled on both, for the right password too, as one
// instance alone would throttle it.
func TestInstancesThrottle(t *testing.T) {
	t.Parallel()
	_, dsn, schema := openSchema(t)
	cfg := users.Config{NoWorker: true, Throttle: users.Throttle{MaxFailures: 10}}
	svcs := []users.Service{instance(t, dsn, schema, cfg), instance(t, dsn, schema, cfg)}
	ctx := users.WithClient(context.Background(), users.Client{Addr: netip.MustParseAddr("203.0.113.7")})
	const password = "correct horse battery staple"
	_, err := svcs[0].Create(ctx, users.NewUser{Username: "ada@example.com", Password: password})
	require.NoError(t, err)
	for i := range 10 {
		_, err := svcs[i%2].SignIn(ctx, "ada@example.com", fmt.Sprintf("wrong guess number %d", i))
		require.ErrorIs(t, err, users.ErrUnauthorized, "guess %d", i)
	}
	for name, svc := range map[string]users.Service{"A": svcs[0], "B": svcs[1]} {
		_, err := svc.SignIn(ctx, "ada@example.com", password)
		assert.ErrorIs(t, err, users.ErrThrottled, "the failures counted on both instances hold on %s", name)
	}
}
