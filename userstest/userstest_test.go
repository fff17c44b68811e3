package userstest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/userstest"
)

const password = "correct horse battery staple"

// recordingTB is a testing.TB whose Cleanup and Fatalf are recorded instead of acted on, to
// test what NewService asks of its test. Fatalf panics with errFatal, as t.Fatalf would stop
// the test.
type recordingTB struct {
	testing.TB
	cleanups []func()
	fatal    string
}

var errFatal = errors.New("Fatalf called")

func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	panic(errFatal)
}

func TestNewService(t *testing.T) {
	svc := userstest.NewService(t)
	ctx := t.Context()

	u, err := svc.Create(ctx, users.NewUser{Username: "ada@example.com", Password: password})
	require.NoError(t, err)
	s, err := svc.SignIn(ctx, "ada@example.com", password)
	require.NoError(t, err)
	assert.Equal(t, u.ID, s.User.ID)

	var hash string
	require.NoError(t, svc.Export(ctx, func(u *users.User) error { hash = u.PasswordHash; return nil }))
	assert.Contains(t, hash, "$m=64,t=1,p=1$", "cheap argon2id parameters")
}

func TestNewServiceStoresAreSeparate(t *testing.T) {
	a, b := userstest.NewService(t), userstest.NewService(t)
	_, err := a.Create(t.Context(), users.NewUser{Username: "ada@example.com", Password: password})
	require.NoError(t, err)

	n, err := b.Count(t.Context(), users.Query{})
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestNewServiceClosesAtCleanup(t *testing.T) {
	rt := &recordingTB{TB: t}

	svc := userstest.NewService(rt)

	require.NotNil(t, svc)
	require.Len(t, rt.cleanups, 1)
	rt.cleanups[0]()
	assert.NoError(t, svc.Close(), "Close is idempotent: the cleanup closed it already")
}

func TestNewServiceFailsTheTestOnABadConfig(t *testing.T) {
	rt := &recordingTB{TB: t}
	noName := func(c *users.Config) {
		c.DeletionSteps = []users.DeletionStep{{Run: func(context.Context, string) error { return nil }}}
	}

	assert.PanicsWithValue(t, errFatal, func() { userstest.NewService(rt, noName) })

	assert.Contains(t, rt.fatal, "userstest.NewService")
	assert.Empty(t, rt.cleanups)
}

func TestConfig(t *testing.T) {
	clock := userstest.NewClock(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC))
	mail := new(userstest.Mailer)
	tests := []struct {
		name  string
		opts  []userstest.Option
		check func(t *testing.T, c users.Config)
	}{
		{"no options", nil, func(t *testing.T, c users.Config) {
			require.NotNil(t, c.Argon2)
			assert.Equal(t, uint32(64), c.Argon2.Memory, "KiB")
			assert.Equal(t, uint32(1), c.Argon2.Iterations)
			assert.Nil(t, c.Now)
			assert.Nil(t, c.Mailer)
			assert.Positive(t, c.PollInterval)
			assert.Less(t, c.PollInterval, users.DefaultPollInterval)
		}},
		{"clock", []userstest.Option{userstest.WithClock(clock)}, func(t *testing.T, c users.Config) {
			require.NotNil(t, c.Now)
			assert.Equal(t, clock.Now(), c.Now())
		}},
		{"mailer", []userstest.Option{userstest.WithMailer(mail)}, func(t *testing.T, c users.Config) {
			assert.Same(t, mail, c.Mailer)
		}},
		{"own option after the defaults", []userstest.Option{func(c *users.Config) { c.PollInterval = time.Hour }}, func(t *testing.T, c users.Config) {
			assert.Equal(t, time.Hour, c.PollInterval)
		}},
		{"options in order", []userstest.Option{
			func(c *users.Config) { c.SessionTTL = time.Minute },
			func(c *users.Config) { c.SessionTTL = 2 * time.Minute },
		}, func(t *testing.T, c users.Config) {
			assert.Equal(t, 2*time.Minute, c.SessionTTL)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, userstest.Config(tt.opts...))
		})
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	defaultStart := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		clock func() *userstest.Clock
		move  func(c *userstest.Clock)
		want  time.Time
	}{
		{"zero Clock", func() *userstest.Clock { return new(userstest.Clock) }, func(*userstest.Clock) {}, defaultStart},
		{"NewClock of the zero time", func() *userstest.Clock { return userstest.NewClock(time.Time{}) }, func(*userstest.Clock) {}, defaultStart},
		{"NewClock", func() *userstest.Clock { return userstest.NewClock(start) }, func(*userstest.Clock) {}, start},
		{"Advance", func() *userstest.Clock { return userstest.NewClock(start) }, func(c *userstest.Clock) { c.Advance(time.Hour) }, start.Add(time.Hour)},
		{"Advance back", func() *userstest.Clock { return userstest.NewClock(start) }, func(c *userstest.Clock) { c.Advance(-time.Second) }, start.Add(-time.Second)},
		{"Advance the zero Clock", func() *userstest.Clock { return new(userstest.Clock) }, func(c *userstest.Clock) { c.Advance(time.Minute) }, defaultStart.Add(time.Minute)},
		{"Set", func() *userstest.Clock { return new(userstest.Clock) }, func(c *userstest.Clock) { c.Set(start) }, start},
		{"Set back", func() *userstest.Clock { return userstest.NewClock(start) }, func(c *userstest.Clock) { c.Set(start.AddDate(-1, 0, 0)) }, start.AddDate(-1, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.clock()
			tt.move(c)
			assert.Equal(t, tt.want, c.Now())
			assert.Equal(t, tt.want, c.Now(), "it stands still")
		})
	}
}

func TestClockAdvanceReturnsTheNewTime(t *testing.T) {
	c := userstest.NewClock(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC))
	got := c.Advance(time.Hour)
	assert.Equal(t, c.Now(), got)
}

func TestClockConcurrentUse(t *testing.T) {
	c := new(userstest.Clock)
	start := c.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, start.Add(800*time.Second), c.Now())
}

// The clock drives the Service's expiry.
func TestClockExpiresSessions(t *testing.T) {
	clock := userstest.NewClock(time.Time{})
	svc := userstest.NewService(t, userstest.WithClock(clock))
	_, err := svc.Create(t.Context(), users.NewUser{Username: "ada@example.com", Password: password})
	require.NoError(t, err)
	s, err := svc.SignIn(t.Context(), "ada@example.com", password)
	require.NoError(t, err)
	assert.Equal(t, clock.Now().Add(users.DefaultSessionTTL), s.Expires)

	clock.Advance(users.DefaultSessionTTL - time.Second)
	_, err = svc.Authenticate(t.Context(), s.Token)
	require.NoError(t, err, "a second before expiry")
	clock.Advance(time.Second)
	_, err = svc.Authenticate(t.Context(), s.Token)
	assert.ErrorIs(t, err, users.ErrUnauthorized, "at expiry")
}

func TestMailerKeepsEveryMail(t *testing.T) {
	var m userstest.Mailer
	sent := []users.Mail{
		{Kind: users.MailVerifyEmail, To: "ada@example.com", Code: "code-1"},
		{Kind: users.MailPasswordChanged, To: "ada@example.com"},
		{Kind: users.MailPasswordReset, To: "bob@example.com", Code: "code-2"},
	}
	for _, mail := range sent {
		require.NoError(t, m.Send(t.Context(), mail))
	}

	got := m.Mails()
	assert.Equal(t, sent, got)
	got[0].To = "changed@example.com"
	assert.Equal(t, sent, m.Mails(), "the slice is the caller's own")
}

func TestMailerLastCode(t *testing.T) {
	var m userstest.Mailer
	for _, mail := range []users.Mail{
		{Kind: users.MailVerifyEmail, To: "ada@example.com", Code: "first"},
		{Kind: users.MailPasswordReset, To: "Ada@Example.com", Code: "second"},
		{Kind: users.MailPasswordChanged, To: "ada@example.com"},
		{Kind: users.MailPasswordReset, To: "bob@example.com", Code: "bob's"},
	} {
		require.NoError(t, m.Send(t.Context(), mail))
	}
	tests := []struct {
		name string
		to   string
		want string
	}{
		{"newest with a code, whatever its kind", "ada@example.com", "second"},
		{"address in other case", "ADA@example.com", "second"},
		{"another address", "bob@example.com", "bob's"},
		{"no mail", "carol@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, m.LastCode(tt.to))
		})
	}
}

func TestMailerWaitMailReturnsEachMailOnce(t *testing.T) {
	var m userstest.Mailer
	ctx := t.Context()
	for _, mail := range []users.Mail{
		{Kind: users.MailPasswordReset, To: "ada@example.com", Code: "first"},
		{Kind: users.MailVerifyEmail, To: "ada@example.com", Code: "verify"},
		{Kind: users.MailPasswordReset, To: "bob@example.com", Code: "bob's"},
		{Kind: users.MailPasswordReset, To: "ADA@example.com", Code: "second"},
	} {
		require.NoError(t, m.Send(ctx, mail))
	}

	for _, want := range []string{"first", "second"} {
		got, err := m.WaitMail(ctx, "ada@example.com", users.MailPasswordReset)
		require.NoError(t, err)
		assert.Equal(t, want, got.Code)
	}
	got, err := m.WaitMail(ctx, "Ada@Example.com", users.MailVerifyEmail)
	require.NoError(t, err)
	assert.Equal(t, "verify", got.Code)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.WaitMail(cancelled, "ada@example.com", users.MailPasswordReset)
	require.ErrorIs(t, err, context.Canceled, "every reset mail to ada was returned")
	assert.Contains(t, err.Error(), "password-reset mail to ada@example.com")
	for _, code := range []string{"first", "second", "verify", "bob's"} {
		assert.NotContains(t, err.Error(), code)
	}
	assert.Len(t, m.Mails(), 4, "WaitMail takes nothing away from Mails")
	assert.Equal(t, "second", m.LastCode("ada@example.com"))
}

func TestMailerWaitMailHonoursTheDeadline(t *testing.T) {
	var m userstest.Mailer
	require.NoError(t, m.Send(t.Context(), users.Mail{Kind: users.MailPasswordReset, To: "bob@example.com", Code: "bob's"}))
	ctx, cancel := context.WithDeadline(t.Context(), time.Now()) // already past
	defer cancel()

	_, err := m.WaitMail(ctx, "ada@example.com", users.MailPasswordReset)

	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// The Service mails in the background; WaitMail waits for it.
func TestMailerWithTheService(t *testing.T) {
	mail := new(userstest.Mailer)
	svc := userstest.NewService(t, userstest.WithMailer(mail))
	ctx := t.Context()
	_, err := svc.Create(ctx, users.NewUser{Username: "ada@example.com", Password: password})
	require.NoError(t, err)

	require.NoError(t, svc.ForgotPassword(ctx, "ada@example.com"))
	first, err := mail.WaitMail(ctx, "ada@example.com", users.MailPasswordReset)
	require.NoError(t, err)
	require.NoError(t, svc.ForgotPassword(ctx, "ada@example.com"))
	second, err := mail.WaitMail(ctx, "ada@example.com", users.MailPasswordReset)
	require.NoError(t, err)

	assert.NotEqual(t, first.Code, second.Code)
	assert.Equal(t, second.Code, mail.LastCode("ada@example.com"))
	require.NoError(t, svc.ResetPassword(ctx, second.Code, "another long pass phrase"))
	err = svc.ResetPassword(ctx, first.Code, "another long pass phrase")
	assert.ErrorIs(t, err, users.ErrInvalid, "using a code voids the others")
}

// deletion returns a Service whose deletions run step, and a user of it to delete.
func deletion(t *testing.T, step func(ctx context.Context, userID string) error, opts ...userstest.Option) (users.Service, *users.User) {
	t.Helper()
	opts = append(opts, func(c *users.Config) {
		c.DeletionSteps = []users.DeletionStep{{Name: "app-step", Run: step}}
	})
	svc := userstest.NewService(t, opts...)
	u, err := svc.Create(t.Context(), users.NewUser{Username: "ada@example.com", Password: password})
	require.NoError(t, err)
	return svc, u
}

func TestWaitTicket(t *testing.T) {
	ok := func(context.Context, string) error { return nil }
	failing := func(context.Context, string) error { return errors.New("the app's database is down") }
	tests := []struct {
		name       string
		step       func(context.Context, string) error
		wantStatus users.TicketStatus
		wantDone   int
	}{
		{"completed", ok, users.TicketCompleted, 4},
		{"failed", failing, users.TicketFailed, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, u := deletion(t, tt.step, func(c *users.Config) { c.DeletionAttempts = 1 })
			ticket, err := svc.Delete(t.Context(), u.ID)
			require.NoError(t, err)

			got, err := userstest.WaitTicket(t.Context(), svc, ticket.ID)

			require.NoError(t, err)
			assert.Equal(t, ticket.ID, got.ID)
			assert.Equal(t, tt.wantStatus, got.Status)
			assert.Equal(t, tt.wantDone, got.StepsDone)
		})
	}
}

func TestWaitTicketAfterAdvancingTheClock(t *testing.T) {
	clock := new(userstest.Clock)
	var mu sync.Mutex
	failures := 1
	step := func(context.Context, string) error {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			return errors.New("not yet")
		}
		return nil
	}
	svc, u := deletion(t, step, userstest.WithClock(clock))
	ticket, err := svc.Delete(t.Context(), u.ID)
	require.NoError(t, err)
	// Wait for the first failure: the ticket then waits for its back-off on the clock.
	require.Eventually(t, func() bool {
		got, err := svc.Ticket(t.Context(), ticket.ID)
		return err == nil && got.Attempts == 1
	}, userstest.WaitTimeout, time.Millisecond)

	clock.Advance(users.DefaultDeletionBackoff)
	got, err := userstest.WaitTicket(t.Context(), svc, ticket.ID)

	require.NoError(t, err)
	assert.Equal(t, users.TicketCompleted, got.Status)
}

func TestWaitTicketUnknown(t *testing.T) {
	svc := userstest.NewService(t)

	got, err := userstest.WaitTicket(t.Context(), svc, "no-such-ticket")

	assert.Nil(t, got)
	assert.ErrorIs(t, err, users.ErrNotFound)
}

// cancellingService cancels a context after each Ticket it answers: the first answer of a
// WaitTicket is its last.
type cancellingService struct {
	users.Service
	cancel context.CancelFunc
}

func (s cancellingService) Ticket(ctx context.Context, id string) (*users.Ticket, error) {
	defer s.cancel()
	return s.Service.Ticket(ctx, id)
}

func TestWaitTicketStopsWithTheContext(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	svc, u := deletion(t, func(ctx context.Context, _ string) error {
		once.Do(func() { close(started) })
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	t.Cleanup(func() { close(release) }) // before the Service is closed
	ticket, err := svc.Delete(t.Context(), u.ID)
	require.NoError(t, err)
	select {
	case <-started:
	case <-time.After(userstest.WaitTimeout):
		require.FailNow(t, "the step did not start")
	}
	ctx, cancel := context.WithCancel(t.Context())

	got, err := userstest.WaitTicket(ctx, cancellingService{svc, cancel}, ticket.ID)

	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, got, "the ticket as last seen")
	assert.Equal(t, users.TicketInProgress, got.Status)
	assert.Equal(t, 2, got.StepsDone, "the built-in steps before the app's")
	assert.True(t, strings.HasPrefix(err.Error(), "userstest: ticket "+ticket.ID+" still in-progress after 2 of 4 steps"), err.Error())
}
