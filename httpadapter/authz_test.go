package httpadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/require"
)

// The callers of the authorization matrix.
const (
	anonymous = iota // no token
	self             // alice, the user most routes act on
	other            // bob, another user
	admin            // an administrator
)

var callers = [...]string{anonymous: "anonymous", self: "user", other: "other user", admin: "admin"}

// matrix is every route × every caller → the status expected, with a body valid for the
// route. In paths, {alice} is alice's ID, and {carol} and {ticket} are the ID of carol and the
// ticket of her deletion, in progress (the worker is off). What a signed-in user may do to
// another is the policy's decision (users.Authorize): a user may read, update and sign out
// themself, and an administrator anyone.
var matrix = []struct {
	method, path string
	body         func(t testing.TB, f *matrixFixture, caller account) string
	want         [4]int // by caller
}{
	{"POST", "/user/auth", bodyOf(`{"username":"alice@example.com","password":%q}`, alicePassword), [4]int{200, 200, 200, 200}},
	{"POST", "/user", bodyOf(`{"username":"dave@example.com","password":%q}`, newPassword), [4]int{201, 201, 201, 201}},
	{"GET", "/user", nil, [4]int{401, 200, 200, 200}},
	{"POST", "/user/change-password", changePasswordBody, [4]int{401, 200, 200, 200}},
	{"POST", "/user/reset-password", bodyOf(`{"email":"alice@example.com","password":%q}`, newPassword), [4]int{401, 403, 403, 200}},
	{"POST", "/user/forgot-password", bodyOf(`{"email":"alice@example.com"}`), [4]int{200, 200, 200, 200}},
	{"POST", "/user/forgot-password/reset", resetForgottenBody, [4]int{200, 200, 200, 200}},
	{"POST", "/user/sign-out", nil, [4]int{401, 204, 204, 204}},
	{"GET", "/users", nil, [4]int{401, 403, 403, 200}},
	{"GET", "/users/count", nil, [4]int{401, 403, 403, 200}},
	{"POST", "/users", bodyOf(`{"username":"erin@example.com","scope":["admin"]}`), [4]int{401, 403, 403, 201}},
	{"GET", "/users/{alice}", nil, [4]int{401, 200, 403, 200}},
	{"PUT", "/users/{alice}", bodyOf(`{"name":"Alice L."}`), [4]int{401, 200, 403, 200}},
	{"DELETE", "/users/{alice}", nil, [4]int{401, 403, 403, 200}},
	{"GET", "/users/{carol}/delete-status/{ticket}", nil, [4]int{401, 403, 403, 200}},
	{"POST", "/users/{carol}/delete-status/{ticket}/cancel", nil, [4]int{401, 403, 403, 200}},
	{"POST", "/users/{alice}/sessions/revoke", nil, [4]int{401, 204, 403, 204}},
	{"GET", "/openapi.json", nil, [4]int{200, 200, 200, 200}},
}

// matrixFixture is a fixture with carol's deletion in progress.
type matrixFixture struct {
	*fixture
	carol  *users.User
	ticket *users.Ticket
}

func bodyOf(format string, args ...any) func(testing.TB, *matrixFixture, account) string {
	return func(testing.TB, *matrixFixture, account) string { return fmt.Sprintf(format, args...) }
}

func changePasswordBody(_ testing.TB, _ *matrixFixture, caller account) string {
	return fmt.Sprintf(`{"oldPassword":%q,"newPassword":%q}`, caller.password, newPassword)
}

func resetForgottenBody(t testing.TB, f *matrixFixture, _ account) string {
	return fmt.Sprintf(`{"code":%q,"password":%q}`, f.resetCode(t, "alice@example.com"), newPassword)
}

func TestAuthorizationMatrix(t *testing.T) {
	for _, row := range matrix {
		for caller, want := range row.want {
			t.Run(fmt.Sprintf("%s %s as %s", row.method, row.path, callers[caller]), func(t *testing.T) {
				f := newMatrixFixture(t)
				as := [...]account{anonymous: {}, self: f.alice, other: f.bob, admin: f.admin}[caller]
				req := request{method: row.method, path: f.expand(row.path), token: as.token}
				if row.body != nil {
					req.body = row.body(t, f, as)
				}
				f.do(t, req).want(t, want)
			})
		}
	}
}

func newMatrixFixture(t *testing.T) *matrixFixture {
	f := &matrixFixture{fixture: newFixture(t, func(s *setup) { s.cfg.NoWorker = true })}
	ctx := context.Background()
	var err error
	f.carol, err = f.svc.Create(ctx, users.NewUser{Username: "carol@example.com"})
	require.NoError(t, err)
	f.ticket, err = f.svc.Delete(ctx, f.carol.ID)
	require.NoError(t, err)
	return f
}

// expand fills in the placeholders of a matrix path.
func (f *matrixFixture) expand(path string) string {
	return strings.NewReplacer("{alice}", f.alice.ID, "{carol}", f.carol.ID, "{ticket}", f.ticket.ID).Replace(path)
}

// A caller who may not act on a user gets 403 whether or not the user exists, and so learns
// nothing about who exists; an administrator gets 404 for one who does not.
func TestUnknownTargets(t *testing.T) {
	f := newFixture(t)
	for _, req := range []request{
		{method: "GET", path: "/users/nobody"},
		{method: "PUT", path: "/users/nobody", body: `{"name":"X"}`},
		{method: "DELETE", path: "/users/nobody"},
		{method: "POST", path: "/users/nobody/sessions/revoke"},
		{method: "GET", path: "/users/nobody/delete-status/none"},
		{method: "POST", path: "/users/nobody/delete-status/none/cancel"},
		{method: "POST", path: "/user/reset-password", body: fmt.Sprintf(`{"email":"nobody@example.com","password":%q}`, newPassword)},
	} {
		t.Run(req.method+" "+req.path, func(t *testing.T) {
			req.token = f.alice.token
			f.do(t, req).want(t, http.StatusForbidden)
			req.token = f.admin.token
			f.do(t, req).want(t, http.StatusNotFound)
		})
	}
}
