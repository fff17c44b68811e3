package codegentest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/codegentest/client"
	"github.com/gousers/users/userstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Passwords of the test's accounts: long enough for the default policy and not common ones.
const (
	adminPassword = "admin pass phrase one"
	alicePassword = "correct horse battery staple"
	newPassword   = "a brand new pass phrase"
)

// The generated client drives the API served by the adapter on the memory store, in open
// sign-up mode: sign-up, sign-in, the current user, the list, an update, a forgotten
// password reset with the mailed code, and a deletion whose ticket is polled to its end.
// Every answer is read through the client's typed responses.
func TestClientDrivesTheAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	mail := new(userstest.Mailer)
	svc := userstest.NewService(t, userstest.WithMailer(mail))
	srv := httptest.NewServer(httpadapter.New(svc, httpadapter.Options{SignUp: httpadapter.SignUpOpen}))
	t.Cleanup(srv.Close)
	c, err := client.NewClientWithResponses(srv.URL)
	require.NoError(t, err)

	// The app makes its administrator itself; the administrator signs in through the API.
	_, err = svc.Create(ctx, users.NewUser{
		Username: "admin@example.com", Password: adminPassword, Scope: []string{users.RoleUser, users.RoleAdmin},
	})
	require.NoError(t, err)
	adminIn, err := c.SignInWithResponse(ctx, client.SignInJSONRequestBody{Username: "admin@example.com", Password: adminPassword})
	require.NoError(t, err)
	wantStatus(t, http.StatusOK, adminIn)
	require.NotNil(t, adminIn.JSON200)
	admin := bearer(adminIn.JSON200.Token)

	// Sign-up: open mode answers 201 with a session.
	up, err := c.SignUpWithResponse(ctx, client.SignUpJSONRequestBody{Username: "alice@example.com", Password: alicePassword})
	require.NoError(t, err)
	wantStatus(t, http.StatusCreated, up)
	require.NotNil(t, up.JSON201)
	alice := up.JSON201.User
	assert.Equal(t, "alice@example.com", alice.Username)
	assert.Equal(t, client.Active, alice.Status)
	assert.True(t, alice.IsActive)
	assert.NotEmpty(t, up.JSON201.Token)

	// Sign-in, then the current user with the new session.
	in, err := c.SignInWithResponse(ctx, client.SignInJSONRequestBody{Username: "alice@example.com", Password: alicePassword})
	require.NoError(t, err)
	wantStatus(t, http.StatusOK, in)
	require.NotNil(t, in.JSON200)
	assert.Equal(t, alice.Id, in.JSON200.User.Id)
	aliceSession := bearer(in.JSON200.Token)

	me, err := c.GetCurrentUserWithResponse(ctx, aliceSession)
	require.NoError(t, err)
	wantStatus(t, http.StatusOK, me)
	require.NotNil(t, me.JSON200)
	assert.Equal(t, alice.Id, me.JSON200.Id)
	assert.Equal(t, []string{users.RoleUser}, me.JSON200.Scope)

	anonymous, err := c.GetCurrentUserWithResponse(ctx)
	require.NoError(t, err)
	wantStatus(t, http.StatusUnauthorized, anonymous)
	require.NotNil(t, anonymous.ApplicationproblemJSON401)
	assert.Equal(t, client.ProblemCodeUnauthorized, anonymous.ApplicationproblemJSON401.Code)

	// The list, with a condition in Axway's form (field, op, value) and a sort.
	list, err := c.ListUsersWithResponse(ctx, &client.ListUsersParams{
		Field: &client.Field{"username"}, Op: &client.Op{client.Like}, Value: &client.Value{"%@example.com"},
		Sort: &client.Sort{"username:-1"},
	}, admin)
	require.NoError(t, err)
	wantStatus(t, http.StatusOK, list)
	require.NotNil(t, list.JSON200)
	var names []string
	for _, u := range *list.JSON200 {
		names = append(names, u.Username)
	}
	assert.Equal(t, []string{"alice@example.com", "admin@example.com"}, names)
	require.NotNil(t, list.Headers200)
	assert.Equal(t, 2, list.Headers200.XTotalCount)

	forbidden, err := c.ListUsersWithResponse(ctx, nil, aliceSession)
	require.NoError(t, err)
	wantStatus(t, http.StatusForbidden, forbidden)
	require.NotNil(t, forbidden.ApplicationproblemJSON403)
	assert.Equal(t, client.ProblemCodeForbidden, forbidden.ApplicationproblemJSON403.Code)

	// An update of her own name, at the version she read; the same version again is stale.
	name := "Alice Liddell"
	upd, err := c.UpdateUserWithResponse(ctx, alice.Id, client.UpdateUserJSONRequestBody{Name: &name, Version: &me.JSON200.Version}, aliceSession)
	require.NoError(t, err)
	wantStatus(t, http.StatusOK, upd)
	require.NotNil(t, upd.JSON200)
	require.NotNil(t, upd.JSON200.Name)
	assert.Equal(t, name, *upd.JSON200.Name)
	assert.Greater(t, upd.JSON200.Version, me.JSON200.Version)

	stale, err := c.UpdateUserWithResponse(ctx, alice.Id, client.UpdateUserJSONRequestBody{Name: &name, Version: &me.JSON200.Version}, aliceSession)
	require.NoError(t, err)
	wantStatus(t, http.StatusConflict, stale)
	require.NotNil(t, stale.ApplicationproblemJSON409)
	assert.Equal(t, client.ProblemCodeConflict, stale.ApplicationproblemJSON409.Code)

	// A forgotten password: the code comes by mail, resets the password once, and every
	// session of hers ends.
	forgot, err := c.ForgotPasswordWithResponse(ctx, client.ForgotPasswordJSONRequestBody{Email: "alice@example.com"})
	require.NoError(t, err)
	wantStatus(t, http.StatusOK, forgot)
	m, err := mail.WaitMail(ctx, "alice@example.com", users.MailPasswordReset)
	require.NoError(t, err)

	reset, err := c.ResetForgottenPasswordWithResponse(ctx, client.ResetForgottenPasswordJSONRequestBody{Code: m.Code, Password: newPassword})
	require.NoError(t, err)
	wantStatus(t, http.StatusOK, reset)

	again, err := c.ResetForgottenPasswordWithResponse(ctx, client.ResetForgottenPasswordJSONRequestBody{Code: m.Code, Password: "yet another pass phrase"})
	require.NoError(t, err)
	wantStatus(t, http.StatusBadRequest, again)
	require.NotNil(t, again.ApplicationproblemJSON400)
	require.NotNil(t, again.ApplicationproblemJSON400.Field)
	assert.Equal(t, "code", *again.ApplicationproblemJSON400.Field)

	revoked, err := c.GetCurrentUserWithResponse(ctx, aliceSession)
	require.NoError(t, err)
	wantStatus(t, http.StatusUnauthorized, revoked)

	old, err := c.SignInWithResponse(ctx, client.SignInJSONRequestBody{Username: "alice@example.com", Password: alicePassword})
	require.NoError(t, err)
	wantStatus(t, http.StatusUnauthorized, old)
	renewed, err := c.SignInWithResponse(ctx, client.SignInJSONRequestBody{Username: "alice@example.com", Password: newPassword})
	require.NoError(t, err)
	wantStatus(t, http.StatusOK, renewed)

	// The deletion: a ticket at once, polled until it completes; then the user is gone.
	del, err := c.DeleteUserWithResponse(ctx, alice.Id, admin)
	require.NoError(t, err)
	wantStatus(t, http.StatusOK, del)
	require.NotNil(t, del.JSON200)
	assert.Equal(t, alice.Id, del.JSON200.UserId)

	ticket := del.JSON200
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for ticket.Status == client.InProgress {
		select {
		case <-ctx.Done():
			require.FailNow(t, "the deletion did not end in time", "ticket status %s, %d of %d steps", ticket.Status, ticket.StepsDone, ticket.StepsTotal)
		case <-poll.C:
		}
		st, err := c.GetDeletionStatusWithResponse(ctx, alice.Id, del.JSON200.Ticket, admin)
		require.NoError(t, err)
		wantStatus(t, http.StatusOK, st)
		require.NotNil(t, st.JSON200)
		ticket = st.JSON200
	}
	assert.Equal(t, client.Completed, ticket.Status)
	assert.Equal(t, ticket.StepsTotal, ticket.StepsDone)

	gone, err := c.GetUserWithResponse(ctx, alice.Id, admin)
	require.NoError(t, err)
	wantStatus(t, http.StatusNotFound, gone)
	require.NotNil(t, gone.ApplicationproblemJSON404)
	assert.Equal(t, client.ProblemCodeNotFound, gone.ApplicationproblemJSON404.Code)

	after, err := c.SignInWithResponse(ctx, client.SignInJSONRequestBody{Username: "alice@example.com", Password: newPassword})
	require.NoError(t, err)
	wantStatus(t, http.StatusUnauthorized, after)
}

// bearer returns a request editor that sends token as the bearer token.
func bearer(token string) client.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// wantStatus stops the test unless res, a typed response of the client, has the status. It
// shows the body of a problem, never of a success, which may hold a token.
func wantStatus(t *testing.T, want int, res any) {
	t.Helper()
	v := reflect.ValueOf(res).Elem()
	hr := v.FieldByName("HTTPResponse").Interface().(*http.Response)
	if hr.StatusCode == want {
		return
	}
	body := "(a body that is not a problem)"
	if hr.Header.Get("Content-Type") == "application/problem+json" {
		body = string(v.FieldByName("Body").Bytes())
	}
	require.FailNow(t, "unexpected status", "%s %s: got %d, want %d: %s", hr.Request.Method, hr.Request.URL.Path, hr.StatusCode, want, body)
}
