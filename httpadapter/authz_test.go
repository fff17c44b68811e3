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
	anonymous     = iota // no token
	self                 // alice, of the organization acme: the user most routes act on
	other                // bob, another user, of no organization
	orgAdmin             // olga, administrator of acme (role orgadmin)
	otherOrgAdmin        // oscar, administrator of globex
	reader               // rita, holding {"users": "read"}
	writer               // walt, holding {"users": "write"}
	admin                // an administrator (role admin)
	numCallers
)

var callers = [numCallers]string{
	anonymous: "anonymous", self: "user", other: "other user", orgAdmin: "orgadmin of the same org",
	otherOrgAdmin: "orgadmin of another org", reader: "users:read", writer: "users:write", admin: "admin",
}

// byCaller is the status a row expects of each caller, in the order of the constants above.
type byCaller = [numCallers]int

// Statuses by caller that recur in the matrix.
var (
	anyoneOK = func(status int) byCaller {
		return byCaller{status, status, status, status, status, status, status, status}
	}
	signedInOK = func(status int) byCaller {
		return byCaller{401, status, status, status, status, status, status, status}
	}
	// Reading alice: herself, her organization's administrator, read or write on users, an
	// administrator. Another organization's administrator is told she does not exist.
	readsAlice = func(status int) byCaller {
		return byCaller{401, status, 403, status, 404, status, status, status}
	}
	// Managing alice (update, keys, image) as herself, or as those who may write: her
	// organization's administrator, write on users, an administrator.
	managesAlice = func(status int) byCaller {
		return byCaller{401, status, 403, status, 404, 403, status, status}
	}
	// Minting alice's API keys: herself and an administrator only; a delegated administrator
	// may list and revoke them, never mint them.
	mintsForAlice = func(status int) byCaller {
		return byCaller{401, status, 403, 403, 404, 403, 403, status}
	}
	// Administering alice: as managesAlice, but not alice herself (approve, delete, set or
	// generate her password).
	administersAlice = func(status int) byCaller {
		return byCaller{401, 403, 403, status, 404, 403, status, status}
	}
)

// matrix is every route × every caller → the status expected, with a body valid for the
// route, written by hand from the rules of users.Authorize and users.AuthorizeUpdate. In
// paths, {alice} is alice's ID and {alicekey} the ID of her API key; {ownkey} is the ID of
// the caller's own API key; {carol} and {ticket} are the ID of carol (of acme) and the ticket
// of her deletion, in progress (the worker is off). Every signed-in caller has an API key
// and a profile image.
var matrix = []struct {
	method, path string
	body         func(t testing.TB, f *matrixFixture, caller account) string
	header       http.Header
	want         byCaller
}{
	{"POST", "/user/auth", bodyOf(`{"username":"alice@example.com","password":%q}`, alicePassword), nil, anyoneOK(200)},
	{"POST", "/user", bodyOf(`{"username":"dave@example.com","password":%q}`, newPassword), nil, anyoneOK(201)},
	{"GET", "/user", nil, nil, signedInOK(200)},
	{"POST", "/user/register", bodyOf(`{"email":"dave@example.com","name":"Dave","password":%q}`, newPassword), nil, anyoneOK(202)},
	{"POST", "/user/register/resend", bodyOf(`{"email":"alice@example.com"}`), nil, anyoneOK(202)},
	{"POST", "/user/verify", verifyBody, nil, anyoneOK(200)},
	// Without a token, change-password names the user by e-mail (alice's).
	{"POST", "/user/change-password", changePasswordBody, nil, anyoneOK(200)},
	{"POST", "/user/reset-password", bodyOf(`{"email":"alice@example.com","password":%q}`, newPassword), nil, administersAlice(200)},
	{"POST", "/user/forgot-password", bodyOf(`{"email":"alice@example.com"}`), nil, anyoneOK(200)},
	{"POST", "/user/forgot-password/reset", resetForgottenBody, nil, anyoneOK(200)},
	{"POST", "/user/sign-out", nil, nil, signedInOK(204)},
	{"GET", "/user/keys", nil, nil, signedInOK(200)},
	{"POST", "/user/keys", bodyOf(`{"name":"ci"}`), nil, signedInOK(201)},
	{"DELETE", "/user/keys/{ownkey}", nil, nil, signedInOK(204)},
	{"POST", "/user/keys/{ownkey}/rotate", nil, nil, signedInOK(200)},
	{"GET", "/user/image", nil, nil, signedInOK(200)},
	{"PUT", "/user/image", pngBody, imageHeader("image/png"), signedInOK(200)},
	{"DELETE", "/user/image", nil, nil, signedInOK(204)},
	// Lists: an organization administrator's are limited to their organization.
	{"GET", "/users", nil, nil, byCaller{401, 403, 403, 200, 200, 200, 200, 200}},
	{"GET", "/users/count", nil, nil, byCaller{401, 403, 403, 200, 200, 200, 200, 200}},
	// Import and export (with every hash): administrators only.
	{"POST", "/users/import", bodyOf(`{"username":"erin@example.com"}`), ndjsonHeader, byCaller{401, 403, 403, 403, 403, 403, 403, 200}},
	{"GET", "/users/export", nil, nil, byCaller{401, 403, 403, 403, 403, 403, 403, 200}},
	// Nobody but an administrator grants the role admin, which no one else holds.
	{"POST", "/users", bodyOf(`{"username":"erin@example.com","scope":["admin"]}`), nil, byCaller{401, 403, 403, 403, 403, 403, 403, 201}},
	// A user of acme: its administrator may create them, globex's may not.
	{"POST", "/users", bodyOf(`{"username":"erin@example.com","orgId":"acme"}`), nil, byCaller{401, 403, 403, 201, 403, 403, 201, 201}},
	// A user with read on users: write includes read, an organization administrator holds none.
	{"POST", "/users", bodyOf(`{"username":"erin@example.com","permissions":{"users":"read"}}`), nil, byCaller{401, 403, 403, 403, 403, 403, 201, 201}},
	{"GET", "/users/{alice}", nil, nil, readsAlice(200)},
	{"PUT", "/users/{alice}", bodyOf(`{"name":"Alice L."}`), nil, managesAlice(200)},
	{"DELETE", "/users/{alice}", nil, nil, administersAlice(200)},
	{"POST", "/users/{alice}/approve", nil, nil, administersAlice(200)},
	{"PUT", "/users/{alice}/password", bodyOf(`{"password":%q}`, newPassword), nil, administersAlice(200)},
	{"POST", "/users/{alice}/reset-password", nil, nil, administersAlice(200)},
	{"GET", "/users/{carol}/delete-status/{ticket}", nil, nil, byCaller{401, 403, 403, 200, 404, 403, 200, 200}},
	{"POST", "/users/{carol}/delete-status/{ticket}/cancel", nil, nil, byCaller{401, 403, 403, 200, 404, 403, 200, 200}},
	{"POST", "/users/{alice}/sessions/revoke", nil, nil, managesAlice(204)},
	{"POST", "/users/{alice}/sessions/revoke?keys=true", nil, nil, managesAlice(204)},
	{"GET", "/users/{alice}/keys", nil, nil, managesAlice(200)},
	// A key is its owner's credential: only alice and an administrator mint one.
	{"POST", "/users/{alice}/keys", bodyOf(`{"name":"ci"}`), nil, mintsForAlice(201)},
	{"DELETE", "/users/{alice}/keys/{alicekey}", nil, nil, managesAlice(204)},
	{"POST", "/users/{alice}/keys/{alicekey}/rotate", nil, nil, mintsForAlice(200)},
	{"GET", "/users/{alice}/image", nil, nil, readsAlice(200)},
	{"PUT", "/users/{alice}/image", pngBody, imageHeader("image/png"), managesAlice(200)},
	{"POST", "/users/{alice}/image", pngBody, imageHeader("image/png"), managesAlice(200)},
	{"DELETE", "/users/{alice}/image", nil, nil, managesAlice(204)},
	{"GET", "/openapi.json", nil, nil, anyoneOK(200)},
}

// matrixFixture is a fixture with the callers of the matrix, and carol's deletion in
// progress.
type matrixFixture struct {
	*fixture
	olga, oscar, rita, walt account
	carol                   *users.User
	ticket                  *users.Ticket
	keys                    map[string]string // API key IDs by user ID
}

func bodyOf(format string, args ...any) func(testing.TB, *matrixFixture, account) string {
	return func(testing.TB, *matrixFixture, account) string { return fmt.Sprintf(format, args...) }
}

// changePasswordBody is the caller's own change, or alice's by e-mail without a token.
func changePasswordBody(_ testing.TB, _ *matrixFixture, caller account) string {
	if caller.token == "" {
		return fmt.Sprintf(`{"email":"alice@example.com","oldPassword":%q,"newPassword":%q}`, alicePassword, newPassword)
	}
	return fmt.Sprintf(`{"oldPassword":%q,"newPassword":%q}`, caller.password, newPassword)
}

func resetForgottenBody(t testing.TB, f *matrixFixture, _ account) string {
	return fmt.Sprintf(`{"code":%q,"password":%q}`, f.resetCode(t, "alice@example.com"), newPassword)
}

func verifyBody(t testing.TB, f *matrixFixture, _ account) string {
	return fmt.Sprintf(`{"code":%q}`, f.verifyCode(t, "alice@example.com"))
}

func pngBody(t testing.TB, _ *matrixFixture, _ account) string { return pngImage(t, 16, 16) }

func TestAuthorizationMatrix(t *testing.T) {
	for _, row := range matrix {
		for caller, want := range row.want {
			t.Run(fmt.Sprintf("%s %s as %s", row.method, row.path, callers[caller]), func(t *testing.T) {
				f := newMatrixFixture(t)
				as := f.caller(caller)
				req := request{method: row.method, path: f.expand(row.path, as), token: as.token, header: row.header}
				if row.body != nil {
					req.body = row.body(t, f, as)
				}
				f.do(t, req).want(t, want)
			})
		}
	}
}

func newMatrixFixture(t *testing.T) *matrixFixture {
	f := &matrixFixture{fixture: newFixture(t, func(s *setup) { s.cfg.NoWorker = true }), keys: map[string]string{}}
	ctx := context.Background()
	acme := "acme"
	u, err := f.svc.Update(ctx, f.alice.ID, users.Update{OrgID: &acme})
	require.NoError(t, err)
	f.alice.User = u
	f.olga = f.accountOf(t, users.NewUser{Username: "olga@example.com", Password: newPassword, OrgID: "acme",
		Scope: []string{users.RoleUser, users.RoleOrgAdmin}})
	f.oscar = f.accountOf(t, users.NewUser{Username: "oscar@example.com", Password: newPassword, OrgID: "globex",
		Scope: []string{users.RoleUser, users.RoleOrgAdmin}})
	f.rita = f.accountOf(t, users.NewUser{Username: "rita@example.com", Password: newPassword,
		Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionRead}})
	f.walt = f.accountOf(t, users.NewUser{Username: "walt@example.com", Password: newPassword,
		Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionWrite}})
	png := []byte(pngImage(t, 8, 8))
	for caller := self; caller < numCallers; caller++ {
		a := f.caller(caller)
		f.keys[a.ID] = f.apiKey(t, a.ID, "k").ID
		_, err := f.svc.SetImage(ctx, a.ID, png)
		require.NoError(t, err)
	}
	f.carol, err = f.svc.Create(ctx, users.NewUser{Username: "carol@example.com", OrgID: "acme"})
	require.NoError(t, err)
	f.ticket, err = f.svc.Delete(ctx, f.carol.ID)
	require.NoError(t, err)
	return f
}

// caller returns the account of a caller of the matrix; the zero account for anonymous.
func (f *matrixFixture) caller(c int) account {
	return [numCallers]account{
		anonymous: {}, self: f.alice, other: f.bob, orgAdmin: f.olga, otherOrgAdmin: f.oscar,
		reader: f.rita, writer: f.walt, admin: f.admin,
	}[c]
}

// expand fills in the placeholders of a matrix path for the caller (alice's key stands in
// for an anonymous caller's own).
func (f *matrixFixture) expand(path string, caller account) string {
	own := f.keys[f.alice.ID]
	if caller.User != nil {
		own = f.keys[caller.ID]
	}
	return strings.NewReplacer("{alice}", f.alice.ID, "{alicekey}", f.keys[f.alice.ID], "{ownkey}", own,
		"{carol}", f.carol.ID, "{ticket}", f.ticket.ID).Replace(path)
}

// matrixPattern returns the route pattern a matrix row exercises.
func matrixPattern(method, path string) string {
	path, _, _ = strings.Cut(path, "?")
	return method + " " + strings.NewReplacer("{alice}", "{id}", "{carol}", "{id}", "{alicekey}", "{keyId}", "{ownkey}", "{id}").Replace(path)
}

// A caller who may not act on a user gets 403 whether or not the user exists, and so learns
// nothing about who exists; a caller who may act on users they cannot see (an administrator,
// a user holding write on users, an organization administrator) gets 404 for one who does
// not exist.
func TestUnknownTargets(t *testing.T) {
	f := newMatrixFixture(t)
	reading := map[string]bool{"GET /users/nobody": true, "GET /users/nobody/image": true}
	for _, req := range []request{
		{method: "GET", path: "/users/nobody"},
		{method: "PUT", path: "/users/nobody", body: `{"name":"X"}`},
		{method: "DELETE", path: "/users/nobody"},
		{method: "POST", path: "/users/nobody/approve"},
		{method: "PUT", path: "/users/nobody/password", body: fmt.Sprintf(`{"password":%q}`, newPassword)},
		{method: "POST", path: "/users/nobody/reset-password"},
		{method: "POST", path: "/users/nobody/sessions/revoke"},
		{method: "GET", path: "/users/nobody/delete-status/none"},
		{method: "POST", path: "/users/nobody/delete-status/none/cancel"},
		{method: "GET", path: "/users/nobody/keys"},
		{method: "POST", path: "/users/nobody/keys", body: `{"name":"k"}`},
		{method: "DELETE", path: "/users/nobody/keys/none"},
		{method: "POST", path: "/users/nobody/keys/none/rotate"},
		{method: "GET", path: "/users/nobody/image"},
		{method: "PUT", path: "/users/nobody/image", body: "x", header: imageHeader("image/png")},
		{method: "DELETE", path: "/users/nobody/image"},
		{method: "POST", path: "/user/reset-password", body: fmt.Sprintf(`{"email":"nobody@example.com","password":%q}`, newPassword)},
	} {
		t.Run(req.method+" "+req.path, func(t *testing.T) {
			readerWants := http.StatusForbidden // users:read reads, and so is told who does not exist
			if reading[req.method+" "+req.path] {
				readerWants = http.StatusNotFound
			}
			for _, tt := range []struct {
				as   account
				want int
			}{{f.alice, 403}, {f.bob, 403}, {f.rita, readerWants}, {f.admin, 404}, {f.walt, 404}, {f.olga, 404}, {f.oscar, 404}} {
				req.token = tt.as.token
				f.do(t, req).want(t, tt.want)
			}
		})
	}
}
