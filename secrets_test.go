package users_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flowRecord is what a run of every flow handed out and got back.
type flowRecord struct {
	secrets []string // passwords, tokens, codes and hashes
	errs    []error  // every error the Service returned
	userIDs map[string]string
}

func (r *flowRecord) secret(s string) string {
	r.secrets = append(r.secrets, s)
	return s
}

func (r *flowRecord) err(err error) error {
	if err != nil {
		r.errs = append(r.errs, err)
	}
	return err
}

// runAllFlows exercises every flow of the Service, including its failure paths, and returns
// the secrets it used or obtained. It closes the Services it ran before returning.
func runAllFlows(t *testing.T, h *harness) *flowRecord {
	t.Helper()
	ctx := context.Background()
	r := &flowRecord{userIDs: map[string]string{}}
	pw1 := r.secret("first Secret password 1")
	pw2 := r.secret("second Secret password 2")
	pw3 := r.secret("third Secret password 3")
	pw4 := r.secret("fourth Secret password 4")
	pw5 := r.secret("fifth Secret password 5")
	wrong := r.secret("wrong Secret password 6")
	short := r.secret("Sh0rt!")
	common := r.secret("qwertyuiop")
	typedAsUsername := r.secret("mistyped-Secret-password-7")

	// Create, with and without passwords, and refused ones.
	u, err := h.svc.Create(ctx, users.NewUser{Username: alice, Password: pw1, Name: "Alice"})
	require.NoError(t, err)
	r.userIDs["alice"] = u.ID
	_ = r.err(firstErr(h.svc.Create(ctx, users.NewUser{Username: "carol@example.com", Password: short})))
	_ = r.err(firstErr(h.svc.Create(ctx, users.NewUser{Username: "carol@example.com", Password: common})))
	_ = r.err(firstErr(h.svc.Create(ctx, users.NewUser{Username: alice, Password: pw2})))
	b, err := h.svc.Create(ctx, users.NewUser{Username: bob})
	require.NoError(t, err)
	r.userIDs["bob"] = b.ID
	require.NoError(t, h.svc.SetPassword(ctx, b.ID, pw2))
	_ = r.err(h.svc.SetPassword(ctx, b.ID, short))
	require.NoError(t, h.svc.SetPasswordByEmail(ctx, bob, pw2))

	// Sign-in, tokens, failures and the throttle.
	s1, err := h.svc.SignIn(ctx, alice, pw1)
	require.NoError(t, err)
	r.secret(s1.Token)
	s2, err := h.svc.SignIn(ctx, alice, pw1)
	require.NoError(t, err)
	r.secret(s2.Token)
	_, err = h.svc.Authenticate(ctx, s1.Token)
	require.NoError(t, err)
	_ = r.err(firstErr(h.svc.Authenticate(ctx, s1.Token[:40]+"xyz")))
	_ = r.err(firstErr(h.svc.SignIn(ctx, alice, wrong)))
	_ = r.err(firstErr(h.svc.SignIn(ctx, typedAsUsername, pw1)))
	for range 15 {
		_ = r.err(firstErr(h.svc.SignIn(ctx, "mallory@example.com", wrong)))
	}
	ns, err := h.svc.NewSession(ctx, b.ID)
	require.NoError(t, err)
	r.secret(ns.Token)
	require.NoError(t, h.svc.SignOut(ctx, ns.Token))
	_ = r.err(h.svc.SignOut(ctx, ns.Token))

	// Rehash by a Service with other parameters; an unreadable stored hash.
	r.secret(h.storedHash(t, u.ID))
	svc2 := h.another(t, func(c *users.Config) {
		c.Argon2 = users.Argon2Params{Memory: 128, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	})
	s3, err := svc2.SignIn(ctx, alice, pw1)
	require.NoError(t, err)
	r.secret(s3.Token)
	r.secret(h.storedHash(t, u.ID))
	broken := &users.User{ID: "0190a6d2-0000-7000-8000-000000000001", Username: "broken@example.com", Email: "broken@example.com",
		Scope: []string{"user"}, Status: users.StatusActive, PasswordHash: r.secret("$argon2id$v=19$m=64,t=1,p=1$SECRETSALT$SECRETKEY!!")}
	require.NoError(t, h.store.CreateUser(ctx, broken))
	_ = r.err(firstErr(h.svc.SignIn(ctx, "broken@example.com", pw1)))

	// Change, forgot and reset.
	_ = r.err(h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: wrong, NewPassword: pw3}))
	_ = r.err(h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: pw1, NewPassword: short}))
	require.NoError(t, h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: pw1, NewPassword: pw3, KeepToken: s1.Token}))
	r.secret(h.storedHash(t, u.ID))
	n := len(h.mail.to(alice, users.MailPasswordReset))
	require.NoError(t, h.svc.ForgotPassword(ctx, alice))
	code := r.secret(h.mail.waitFor(t, alice, users.MailPasswordReset, n+1).Code)
	require.NoError(t, h.svc.ForgotPassword(ctx, "nobody@example.com"))
	_ = r.err(h.svc.ResetPassword(ctx, code, short))
	_ = r.err(h.svc.ResetPassword(ctx, code[:42]+"!", pw4))
	require.NoError(t, h.svc.ResetPassword(ctx, code, pw4))
	_ = r.err(h.svc.ResetPassword(ctx, code, pw4))
	r.secret(h.storedHash(t, u.ID))

	// Update with a password, list, count.
	_, err = h.svc.Update(ctx, u.ID, users.Update{Password: &pw5})
	require.NoError(t, err)
	r.secret(h.storedHash(t, u.ID))
	r.secret(h.storedHash(t, b.ID))
	_ = r.err(firstErr(h.svc.Update(ctx, u.ID, users.Update{Password: &short})))
	_, _, err = h.svc.List(ctx, users.Query{Pattern: "example"})
	require.NoError(t, err)
	_ = r.err(secondErr(h.svc.List(ctx, users.Query{Limit: -1})))
	s4, err := h.svc.SignIn(ctx, alice, pw5)
	require.NoError(t, err)
	r.secret(s4.Token)
	require.NoError(t, h.svc.RevokeSessions(ctx, u.ID))

	// Deletion with a step that fails once, and one cancelled.
	ticket, err := h.svc.Delete(ctx, b.ID)
	require.NoError(t, err)
	waitForTicket(t, h.svc, ticket.ID, func(t *users.Ticket) bool { return t.Attempts == 1 || t.Status.Done() }, "first attempt")
	h.clock.Advance(time.Hour)
	waitForTicket(t, h.svc, ticket.ID, ticketDone, "done")
	t2, err := svc2.Delete(ctx, u.ID)
	require.NoError(t, err)
	_, err = svc2.CancelDeletion(ctx, t2.ID)
	if err != nil { // the worker may have finished first
		_ = r.err(err)
	}

	require.NoError(t, svc2.Close())
	require.NoError(t, h.svc.Close())
	return r
}

// firstErr and secondErr pick the error of a two- or three-value call.
func firstErr[T any](_ T, err error) error          { return err }
func secondErr[T, U any](_ T, _ U, err error) error { return err }

// flakyOnce is a deletion step that fails on its first run for each user.
func flakyOnce() users.DeletionStep {
	var mu sync.Mutex
	seen := map[string]bool{}
	return users.DeletionStep{Name: "flaky-once", Run: func(_ context.Context, userID string) error {
		mu.Lock()
		defer mu.Unlock()
		if !seen[userID] {
			seen[userID] = true
			return errors.New("flaky-once: first attempt fails")
		}
		return nil
	}}
}

// TestNoSecretLeaks runs every flow with a Debug logger and checks that no password, token,
// code or hash appears in the log, in an event, or in an error message.
func TestNoSecretLeaks(t *testing.T) {
	logs := new(testutil.SyncBuffer)
	h := newHarness(t, func(c *users.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.DeletionSteps = []users.DeletionStep{flakyOnce()}
	})
	h.mail.err = errors.New("smtp: 550 mailbox unavailable")
	r := runAllFlows(t, h)

	log := logs.String()
	require.NotEmpty(t, log, "the flows log something (failed mail, failed step, unreadable hash)")
	assert.Contains(t, log, "mail not sent")
	assert.Contains(t, log, "deletion step failed")
	assert.Contains(t, log, "unreadable password hash")

	r.assertNoLeaks(t, log, h.events.all(), "", "Secret password", "Secret-password", "$argon2id$", "SECRETSALT", "Sh0rt!", "qwertyuiop")
}

// assertNoLeaks checks that no secret r recorded, nor any of the fragments, appears in the log,
// in the events, or in the errors r recorded or the text more (other results of the flows).
func (r *flowRecord) assertNoLeaks(t *testing.T, log string, all []users.Event, more string, fragments ...string) {
	t.Helper()
	var events strings.Builder
	for _, e := range all {
		fmt.Fprintf(&events, "%+v\n", e)
	}
	var errs strings.Builder
	for _, err := range r.errs {
		fmt.Fprintf(&errs, "%v | %+v | %q\n", err, err, err.Error())
	}
	errs.WriteString(more)
	require.NotEmpty(t, r.errs)
	for _, secret := range r.secrets {
		require.NotEmpty(t, secret)
		assert.NotContains(t, log, secret, "log")
		assert.NotContains(t, events.String(), secret, "events")
		assert.NotContains(t, errs.String(), secret, "errors")
	}
	for _, fragment := range fragments {
		assert.NotContains(t, log, fragment)
		assert.NotContains(t, events.String(), fragment)
		assert.NotContains(t, errs.String(), fragment)
	}
}

// TestEvents checks that a run of every flow reports the documented events.
func TestEvents(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.DeletionSteps = []users.DeletionStep{flakyOnce()} })
	r := runAllFlows(t, h)
	alice := r.userIDs["alice"]

	got := map[users.EventType]map[string]int{} // type -> user ID -> count
	for _, e := range h.events.all() {
		if got[e.Type] == nil {
			got[e.Type] = map[string]int{}
		}
		got[e.Type][e.UserID]++
		assert.False(t, e.Time.IsZero(), "%+v", e)
		switch e.Type {
		case users.EventDeletionStarted, users.EventDeletionStep, users.EventDeletionCompleted, users.EventDeletionCancelled, users.EventDeletionFailed:
			assert.NotEmpty(t, e.TicketID, "%+v", e)
		}
		if e.Type == users.EventDeletionStep {
			assert.NotEmpty(t, e.Step, "%+v", e)
		}
	}
	tests := []struct {
		typ     users.EventType
		user    string // "alice", "bob", or "" for no account
		atLeast int
	}{
		{users.EventUserCreated, "alice", 1},
		{users.EventUserCreated, "bob", 1},
		{users.EventSignedIn, "alice", 4},
		{users.EventSignInFailed, "alice", 1},
		{users.EventSignInFailed, "", 11},   // ten for mallory, then one typed as a username
		{users.EventSignInThrottled, "", 5}, // mallory's last five
		{users.EventSignedOut, "bob", 1},
		{users.EventPasswordChanged, "alice", 1},
		{users.EventPasswordForgot, "alice", 1},
		{users.EventPasswordReset, "alice", 2}, // ResetPassword and Update
		{users.EventPasswordReset, "bob", 2},   // SetPassword and SetPasswordByEmail
		{users.EventUserUpdated, "alice", 1},
		{users.EventSessionsRevoked, "alice", 1},
		{users.EventDeletionStarted, "bob", 1},
		{users.EventDeletionStep, "bob", 3},
		{users.EventDeletionCompleted, "bob", 1},
		{users.EventDeletionStarted, "alice", 1},
	}
	for _, tt := range tests {
		name := tt.user
		if name == "" {
			name = "no account"
		}
		t.Run(fmt.Sprintf("%s/%s", tt.typ, name), func(t *testing.T) {
			assert.GreaterOrEqual(t, got[tt.typ][r.userIDs[tt.user]], tt.atLeast)
		})
	}
	assert.Equal(t, 1, got[users.EventDeletionCancelled][alice]+got[users.EventDeletionCompleted][alice],
		"alice's deletion was cancelled, or completed first")
	assert.Zero(t, len(got[users.EventDeletionFailed]))
}
