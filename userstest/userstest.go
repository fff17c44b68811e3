// Package userstest helps an app test its own code against package users: a Service on the
// in-memory store with cheap password hashing, closed when the test ends (NewService); a
// Mailer that keeps every mail so that a test can read the codes (Mailer.LastCode,
// Mailer.WaitMail); a Clock the test sets and advances; and WaitTicket, which waits for a
// deletion to end without a fixed sleep.
//
// A typical test:
//
//	clock := userstest.NewClock(time.Time{})
//	mail := new(userstest.Mailer)
//	svc := userstest.NewService(t, userstest.WithClock(clock), userstest.WithMailer(mail))
//
// An app whose constructor calls users.New itself (to register its deletion steps, say)
// takes Config instead, with the same options, and closes what it built.
//
// The hashing parameters of NewService and Config make a password hash cost microseconds
// instead of the tens of milliseconds the defaults cost on purpose: never use them outside
// tests. Nothing in this package is meant for production code.
package userstest

import (
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

// WaitTimeout bounds WaitMail and WaitTicket when their context has no deadline, so that a
// test which forgot one fails instead of hanging. It is generous, because the race detector
// slows everything down.
const WaitTimeout = 10 * time.Second

// pollInterval is the Service's PollInterval in NewService and Config, and how often
// WaitTicket looks at a ticket: short, so that a test waits milliseconds, not seconds, for a
// retry it made due by advancing the clock.
const pollInterval = 5 * time.Millisecond

// Option changes the users.Config that NewService and Config build. Any function of this type
// will do, for settings that have no option of their own:
//
//	userstest.NewService(t, func(c *users.Config) { c.RequireVerifiedEmail = true })
type Option func(*users.Config)

// WithClock makes c the Service's clock (users.Config.Now), so that the test decides when
// sessions, codes and deletion back-offs expire.
func WithClock(c *Clock) Option {
	return func(cfg *users.Config) { cfg.Now = c.Now }
}

// WithMailer makes m the Service's users.Mailer, so that the test reads the mails it sends.
func WithMailer(m *Mailer) Option {
	return func(cfg *users.Config) { cfg.Mailer = m }
}

// Config returns a users.Config for tests: cheap password hashing, a deletion worker that
// looks for due work every few milliseconds, and the changes opts make, applied in order.
// Every other field has the users default, so the Service behaves as in production but for
// the cost of a hash. It is for an app whose own constructor calls users.New; NewService
// builds the Service directly. It is safe for concurrent use when the options are.
func Config(opts ...Option) users.Config {
	cfg := users.Config{
		Argon2:       users.TestArgon2(), // a hash costs microseconds
		PollInterval: pollInterval,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	return cfg
}

// NewService returns a users.Service on a new, empty in-memory store, configured by
// Config(opts...), and closes it when the test and its subtests end (t.Cleanup), waiting for
// its deletion worker and the mails being sent. It ends the test with t.Fatal when users.New
// refuses the configuration (an option that set a bad value). It is safe to call from
// parallel tests: each call has its own store.
func NewService(t testing.TB, opts ...Option) users.Service {
	t.Helper()
	svc, err := users.New(memory.New(), Config(opts...))
	if err != nil {
		t.Fatalf("userstest.NewService: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}
