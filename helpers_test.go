package users_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secrets and names the tests use. The passwords are long enough for the default policy and
// not among the common ones.
const (
	alice         = "alice@example.com"
	bob           = "bob@example.com"
	alicePassword = "correct horse battery staple"
	otherPassword = "tr0ub4dor and three"
	wrongPassword = "not the password at all"
)

// newClock returns a fake clock at the tests' start time.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC))
}

// eventLog records the Service's events. Safe for concurrent use.
type eventLog struct {
	mu     sync.Mutex
	events []users.Event
}

func (l *eventLog) add(e users.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// all returns a copy of the events so far.
func (l *eventLog) all() []users.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// count returns how many events of the type were recorded.
func (l *eventLog) count(typ users.EventType) int {
	n := 0
	for _, e := range l.all() {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// ofTicket returns the events of one deletion ticket, in order.
func (l *eventLog) ofTicket(id string) []users.Event {
	var out []users.Event
	for _, e := range l.all() {
		if e.TicketID == id {
			out = append(out, e)
		}
	}
	return out
}

// mailbox is a Mailer that keeps what it is sent. Safe for concurrent use.
type mailbox struct {
	mu    sync.Mutex
	mails []users.Mail
	err   error // returned by every Send when set
}

func (m *mailbox) Send(_ context.Context, mail users.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mails = append(m.mails, mail)
	return m.err
}

// all returns a copy of the mails so far.
func (m *mailbox) all() []users.Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.mails)
}

// to returns the mails of the kind sent to an address so far.
func (m *mailbox) to(addr string, kind users.MailKind) []users.Mail {
	var out []users.Mail
	for _, mail := range m.all() {
		if mail.To == addr && mail.Kind == kind {
			out = append(out, mail)
		}
	}
	return out
}

// waitFor waits until n mails of the kind have been sent to addr and returns the last.
func (m *mailbox) waitFor(t *testing.T, addr string, kind users.MailKind, n int) users.Mail {
	t.Helper()
	testutil.Eventually(t, func() bool { return len(m.to(addr, kind)) >= n }, "%d %s mails to %s", n, kind, addr)
	mails := m.to(addr, kind)
	require.Len(t, mails, n, "mails to %s", addr)
	return mails[n-1]
}

// harness is a Service over a memory store with a fake clock, an event log and a mailbox.
type harness struct {
	svc    users.Service
	store  *memory.Store
	clock  *testutil.Clock
	events *eventLog
	mail   *mailbox
	cfg    users.Config
}

// newHarness builds a Service for a test with cheap hashing, a fake clock, an event log, a
// mailbox and a fast-polling worker; configure may change the Config before New. The Service
// is closed when the test ends.
func newHarness(t testing.TB, configure ...func(*users.Config)) *harness {
	t.Helper()
	h := &harness{store: memory.New(), clock: newClock(), events: new(eventLog), mail: new(mailbox)}
	h.cfg = users.Config{
		Now:          h.clock.Now,
		OnEvent:      h.events.add,
		Mailer:       h.mail,
		Argon2:       users.TestArgon2(),
		PollInterval: 5 * time.Millisecond,
	}
	for _, f := range configure {
		f(&h.cfg)
	}
	svc, err := users.New(h.store, h.cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	h.svc = svc
	return h
}

// another returns a second Service on the same store and clock, configured like h unless
// configure changes it. It is closed when the test ends.
func (h *harness) another(t testing.TB, configure ...func(*users.Config)) users.Service {
	t.Helper()
	cfg := h.cfg
	for _, f := range configure {
		f(&cfg)
	}
	svc, err := users.New(h.store, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

// create creates a user with a password, failing the test on error.
func (h *harness) create(t testing.TB, username, password string) *users.User {
	t.Helper()
	u, err := h.svc.Create(context.Background(), users.NewUser{Username: username, Password: password})
	require.NoError(t, err)
	return u
}

// signIn signs in, failing the test on error.
func (h *harness) signIn(t testing.TB, username, password string) *users.Session {
	t.Helper()
	s, err := h.svc.SignIn(context.Background(), username, password)
	require.NoError(t, err)
	return s
}

// resetCode asks for a reset code for email and returns it once mailed.
func (h *harness) resetCode(t *testing.T, email string) string {
	t.Helper()
	n := len(h.mail.to(email, users.MailPasswordReset))
	require.NoError(t, h.svc.ForgotPassword(context.Background(), email))
	m := h.mail.waitFor(t, email, users.MailPasswordReset, n+1)
	require.Equal(t, users.MailPasswordReset, m.Kind)
	require.NotEmpty(t, m.Code)
	return m.Code
}

// storedHash returns the password hash the store keeps for the user.
func (h *harness) storedHash(t testing.TB, id string) string {
	t.Helper()
	u, err := h.store.GetUser(context.Background(), id)
	require.NoError(t, err)
	return u.PasswordHash
}

// authenticates reports whether the token authenticates; any error but ErrUnauthorized fails
// the test.
func authenticates(t testing.TB, svc users.Service, token string) bool {
	t.Helper()
	_, err := svc.Authenticate(context.Background(), token)
	if err != nil {
		require.ErrorIs(t, err, users.ErrUnauthorized)
		return false
	}
	return true
}

// assertCode checks that err is an *Error with the code and, when field is not "", the field.
func assertCode(t testing.TB, err error, code users.Code, field string) {
	t.Helper()
	var e *users.Error
	if !assert.ErrorAs(t, err, &e) {
		return
	}
	assert.Equal(t, code, e.Code, "code of %v", err)
	if field != "" {
		assert.Equal(t, field, e.Field, "field of %v", err)
	}
}

// countingHasher wraps the argon2id hasher and counts the hashes it computes.
type countingHasher struct {
	inner  users.Hasher
	hashes atomic.Int64
	checks atomic.Int64
}

func newCountingHasher(t testing.TB, p users.Argon2Params) *countingHasher {
	t.Helper()
	inner, err := users.NewArgon2idHasher(p)
	require.NoError(t, err)
	return &countingHasher{inner: inner}
}

func (c *countingHasher) Hash(password string) (string, error) {
	c.hashes.Add(1)
	return c.inner.Hash(password)
}

func (c *countingHasher) Verify(password, encoded string) (bool, bool, error) {
	c.checks.Add(1)
	return c.inner.Verify(password, encoded)
}

// total returns the hashes and verifications so far.
func (c *countingHasher) total() int64 { return c.hashes.Load() + c.checks.Load() }

// claimCountingStore counts ClaimTicket calls, so a test can tell that a worker has looked
// for work, and so that it did not find any.
type claimCountingStore struct {
	*memory.Store
	claims atomic.Int64
}

func (s *claimCountingStore) ClaimTicket(ctx context.Context, owner string, now, until time.Time) (*users.Ticket, error) {
	s.claims.Add(1)
	return s.Store.ClaimTicket(ctx, owner, now, until)
}

// waitForPolls waits until the worker has called ClaimTicket n more times: it has looked for
// work at least n-1 times after the call.
func (s *claimCountingStore) waitForPolls(t testing.TB, n int64) {
	t.Helper()
	start := s.claims.Load()
	testutil.Eventually(t, func() bool { return s.claims.Load() >= start+n }, "worker polls")
}
