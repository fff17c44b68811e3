package app_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/examples/testing/app"
	"github.com/gousers/users/memory"
)

// cheapArgon2 makes hashing a password take microseconds rather than the tens of milliseconds
// the defaults cost on purpose. Never use it outside tests.
var cheapArgon2 = users.TestArgon2()

const password = "correct horse battery staple"

// clock is a fake clock: it stands still until the test moves it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time; it is the users.Config.Now of the test's service.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one test's app on a fresh in-memory store, with its clock.
type env struct {
	app   *app.App
	clock *clock
}

// newEnv builds the app on a fresh in-memory store and closes it when the test ends.
func newEnv(t *testing.T) *env {
	t.Helper()
	c := newClock()
	a, err := app.New(memory.New(), users.Config{Now: c.Now, Argon2: cheapArgon2})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return &env{app: a, clock: c}
}

// signUp creates a user and signs them in, as the app's sign-up page would, and returns the
// user and their bearer token.
func (e *env) signUp(t *testing.T, username string) (*users.User, string) {
	t.Helper()
	u, err := e.app.Users.Create(t.Context(), users.NewUser{Username: username, Password: password})
	require.NoError(t, err)
	s, err := e.app.Users.SignIn(t.Context(), username, password)
	require.NoError(t, err)
	return u, s.Token
}

// signedIn signs up ada@example.com and returns her token.
func signedIn(t *testing.T, e *env) string {
	_, token := e.signUp(t, "ada@example.com")
	return token
}

func TestNotesAdd(t *testing.T) {
	tests := []struct {
		name    string
		token   func(t *testing.T, e *env) string // signs up and returns the token to call with
		text    string
		wantErr error
	}{
		{
			name:  "signed-in user",
			token: signedIn,
			text:  "buy milk",
		},
		{
			name:    "blank note",
			token:   signedIn,
			text:    "  ",
			wantErr: app.ErrEmptyNote,
		},
		{
			name:    "no token",
			token:   func(t *testing.T, e *env) string { return "" },
			text:    "buy milk",
			wantErr: users.ErrUnauthorized,
		},
		{
			name:    "made-up token",
			token:   func(t *testing.T, e *env) string { return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
			text:    "buy milk",
			wantErr: users.ErrUnauthorized,
		},
		{
			name: "expired session",
			token: func(t *testing.T, e *env) string {
				_, tok := e.signUp(t, "ada@example.com")
				e.clock.Advance(users.DefaultSessionTTL)
				return tok
			},
			text:    "buy milk",
			wantErr: users.ErrUnauthorized,
		},
		{
			name: "session one second before expiry",
			token: func(t *testing.T, e *env) string {
				_, tok := e.signUp(t, "ada@example.com")
				e.clock.Advance(users.DefaultSessionTTL - time.Second)
				return tok
			},
			text: "buy milk",
		},
		{
			name: "signed out",
			token: func(t *testing.T, e *env) string {
				_, tok := e.signUp(t, "ada@example.com")
				require.NoError(t, e.app.Users.SignOut(t.Context(), tok))
				return tok
			},
			text:    "buy milk",
			wantErr: users.ErrUnauthorized,
		},
		{
			name: "disabled user",
			token: func(t *testing.T, e *env) string {
				u, tok := e.signUp(t, "ada@example.com")
				disabled := users.StatusDisabled
				_, err := e.app.Users.Update(t.Context(), u.ID, users.Update{Status: &disabled})
				require.NoError(t, err)
				return tok
			},
			text:    "buy milk",
			wantErr: users.ErrUnauthorized,
		},
		{
			name: "password set by an administrator since",
			token: func(t *testing.T, e *env) string {
				u, tok := e.signUp(t, "ada@example.com")
				require.NoError(t, e.app.Users.SetPassword(t.Context(), u.ID, "a brand new password"))
				return tok
			},
			text:    "buy milk",
			wantErr: users.ErrUnauthorized,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			token := tt.token(t, e)

			err := e.app.Notes.Add(t.Context(), token, tt.text)

			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			got, err := e.app.Notes.List(t.Context(), token)
			require.NoError(t, err)
			assert.Equal(t, []string{tt.text}, got)
		})
	}
}

func TestNotesAreKeptPerUser(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	_, ada := e.signUp(t, "ada@example.com")
	_, charles := e.signUp(t, "charles@example.com")
	require.NoError(t, e.app.Notes.Add(ctx, ada, "first program"))
	require.NoError(t, e.app.Notes.Add(ctx, ada, "letter to Charles"))
	require.NoError(t, e.app.Notes.Add(ctx, charles, "difference engine"))

	tests := []struct {
		name  string
		token string
		want  []string
	}{
		{"ada", ada, []string{"first program", "letter to Charles"}},
		{"charles", charles, []string{"difference engine"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.app.Notes.List(t.Context(), tt.token)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDeletingAUserRemovesTheirNotes(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ada, adaToken := e.signUp(t, "ada@example.com")
	charles, charlesToken := e.signUp(t, "charles@example.com")
	require.NoError(t, e.app.Notes.Add(ctx, adaToken, "first program"))
	require.NoError(t, e.app.Notes.Add(ctx, adaToken, "letter to Charles"))
	require.NoError(t, e.app.Notes.Add(ctx, charlesToken, "difference engine"))

	ticket, err := e.app.Users.Delete(ctx, ada.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"revoke-credentials", "remove-image", app.DeletionStepName, "remove-user"}, ticket.Steps)

	// The deletion runs in the background: wait for the ticket, with a deadline.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got, err := e.app.Users.Ticket(ctx, ticket.ID)
		require.NoError(c, err)
		assert.Equal(c, users.TicketCompleted, got.Status, "failed step %q: %s", got.FailedStep, got.Message)
	}, 5*time.Second, 5*time.Millisecond)

	assert.Zero(t, e.app.Notes.Count(ada.ID), "ada's notes")
	assert.Equal(t, 1, e.app.Notes.Count(charles.ID), "charles's notes")
	_, err = e.app.Notes.List(ctx, adaToken)
	assert.ErrorIs(t, err, users.ErrUnauthorized, "ada's token")
	_, err = e.app.Users.Get(ctx, ada.ID)
	assert.ErrorIs(t, err, users.ErrNotFound, "ada")
}
