package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/examples/testing/app"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/userstest"
)

const password = "correct horse battery staple"

// env is one test's app on a fresh in-memory store, with the clock and the mailbox of its
// user service.
type env struct {
	app   *app.App
	clock *userstest.Clock
	mail  *userstest.Mailer
}

// newEnv builds the app on a fresh in-memory store with userstest's configuration (cheap
// hashing), a clock that stands still until the test moves it, and a mailer that keeps the
// mails; the app is closed when the test ends. The app's constructor calls users.New itself
// (it registers its deletion step), so it takes userstest.Config rather than
// userstest.NewService.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		clock: userstest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		mail:  new(userstest.Mailer),
	}
	a, err := app.New(memory.New(), userstest.Config(userstest.WithClock(e.clock), userstest.WithMailer(e.mail)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	e.app = a
	return e
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
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ticket, err = userstest.WaitTicket(ctx, e.app.Users, ticket.ID)
	require.NoError(t, err)
	require.Equal(t, users.TicketCompleted, ticket.Status, "failed step %q: %s", ticket.FailedStep, ticket.Message)

	assert.Zero(t, e.app.Notes.Count(ada.ID), "ada's notes")
	assert.Equal(t, 1, e.app.Notes.Count(charles.ID), "charles's notes")
	_, err = e.app.Notes.List(ctx, adaToken)
	assert.ErrorIs(t, err, users.ErrUnauthorized, "ada's token")
	_, err = e.app.Users.Get(ctx, ada.ID)
	assert.ErrorIs(t, err, users.ErrNotFound, "ada")
}

func TestResetPasswordSignsOutEverywhere(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	_, token := e.signUp(t, "ada@example.com")
	require.NoError(t, e.app.Notes.Add(ctx, token, "first program"))

	// The reset code is mailed in the background: wait for the mail, with a deadline.
	require.NoError(t, e.app.Users.ForgotPassword(ctx, "ada@example.com"))
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := e.mail.WaitMail(wctx, "ada@example.com", users.MailPasswordReset)
	require.NoError(t, err)
	require.NoError(t, e.app.Users.ResetPassword(ctx, m.Code, "a brand new password"))

	_, err = e.app.Notes.List(ctx, token)
	require.ErrorIs(t, err, users.ErrUnauthorized, "the old session")
	s, err := e.app.Users.SignIn(ctx, "ada@example.com", "a brand new password")
	require.NoError(t, err)
	got, err := e.app.Notes.List(ctx, s.Token)
	require.NoError(t, err)
	assert.Equal(t, []string{"first program"}, got, "the notes stay")
}

func TestResetCodeExpires(t *testing.T) {
	tests := []struct {
		name    string
		wait    time.Duration
		wantErr error
	}{
		{"a second before expiry", users.DefaultResetCodeTTL - time.Second, nil},
		{"at expiry", users.DefaultResetCodeTTL, users.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := t.Context()
			e.signUp(t, "ada@example.com")
			require.NoError(t, e.app.Users.ForgotPassword(ctx, "ada@example.com"))
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			m, err := e.mail.WaitMail(wctx, "ada@example.com", users.MailPasswordReset)
			require.NoError(t, err)

			e.clock.Advance(tt.wait)
			err = e.app.Users.ResetPassword(ctx, m.Code, "a brand new password")

			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
