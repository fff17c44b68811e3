package httpadapter_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Delegated administration: permissions, organization administrators, and paging.

// orgFixture is a fixture with two organizations, acme (alice, bob, and olga its
// administrator) and globex (gina, and oscar its administrator).
type orgFixture struct {
	*fixture
	olga, oscar account
	gina        *users.User
}

func newOrgFixture(t *testing.T, configure ...func(*setup)) *orgFixture {
	f := &orgFixture{fixture: newFixture(t, configure...)}
	acme := "acme"
	for _, a := range []*account{&f.alice, &f.bob} {
		u, err := f.svc.Update(t.Context(), a.ID, users.Update{OrgID: &acme})
		require.NoError(t, err)
		a.User = u
	}
	orgAdmin := []string{users.RoleUser, users.RoleOrgAdmin}
	f.olga = f.accountOf(t, users.NewUser{Username: "olga@example.com", Password: newPassword, OrgID: "acme", Scope: orgAdmin})
	f.oscar = f.accountOf(t, users.NewUser{Username: "oscar@example.com", Password: newPassword, OrgID: "globex", Scope: orgAdmin})
	var err error
	f.gina, err = f.svc.Create(t.Context(), users.NewUser{Username: "gina@example.com", OrgID: "globex", Name: "Gina"})
	require.NoError(t, err)
	return f
}

// usernames gets a list as a caller and returns its usernames and X-Total-Count.
func (f *fixture) usernames(t *testing.T, token, query string) ([]string, string) {
	t.Helper()
	res := f.do(t, request{method: "GET", path: "/users?" + query, token: token}).want(t, http.StatusOK)
	var page []map[string]any
	res.decode(t, &page)
	names := []string{}
	for _, u := range page {
		names = append(names, u["username"].(string))
	}
	return names, res.header.Get("X-Total-Count")
}

// Axway API Manager Users API (seed 002): GET /users "returns a list of users that are
// visible to the authenticated user"; an organization administrator sees their own
// organization's. Their lists and counts are filtered to it whatever they ask.
func TestOrgAdminListIsFiltered(t *testing.T) {
	f := newOrgFixture(t)
	names, total := f.usernames(t, f.olga.token, "sort=username")
	assert.Equal(t, []string{"alice@example.com", "bob@example.com", "olga@example.com"}, names)
	assert.Equal(t, "3", total)
	names, total = f.usernames(t, f.oscar.token, "sort=username")
	assert.Equal(t, []string{"gina@example.com", "oscar@example.com"}, names)
	assert.Equal(t, "2", total)
	names, _ = f.usernames(t, f.olga.token, "filter=orgId:globex")
	assert.Empty(t, names, "another organization's users stay out of sight")
	names, _ = f.usernames(t, f.olga.token, "field=username&op=like&value=o%25")
	assert.Equal(t, []string{"olga@example.com"}, names, "oscar is of globex")
	names, _ = f.usernames(t, f.admin.token, "filter=orgId:globex&sort=username")
	assert.Equal(t, []string{"gina@example.com", "oscar@example.com"}, names, "an administrator sees every organization")

	var count struct{ Count int }
	f.do(t, request{method: "GET", path: "/users/count", token: f.oscar.token}).want(t, http.StatusOK).decode(t, &count)
	assert.Equal(t, 2, count.Count)

	t.Run("OR cannot be limited to an organization", func(t *testing.T) {
		query := "filter=plan:pro&filter=plan:team&lop=OR"
		for _, path := range []string{"/users?", "/users/count?"} {
			p := f.do(t, request{method: "GET", path: path + query, token: f.olga.token}).want(t, http.StatusBadRequest).problem(t)
			assert.Equal(t, "lop", p.Field)
		}
		f.do(t, request{method: "GET", path: "/users?filter=plan:pro&lop=OR", token: f.olga.token}).want(t, http.StatusOK)
		f.do(t, request{method: "GET", path: "/users?" + query, token: f.admin.token}).want(t, http.StatusOK)
	})
}

// Axway API Manager Users API (seed 002): an organization administrator creates, reads,
// updates, approves, disables and deletes the users of their own organization; a user of
// another organization does not exist for them (404), and they may not move a user there.
func TestOrgAdminManagesTheirOrganization(t *testing.T) {
	f := newOrgFixture(t, func(s *setup) { s.cfg.NoWorker = true }) // the deletion stays in progress
	var u map[string]any
	f.do(t, request{method: "POST", path: "/users", token: f.olga.token, body: `{"username":"ann@example.com","status":"pending"}`}).
		want(t, http.StatusCreated).decode(t, &u)
	assert.Equal(t, "acme", u["orgId"], "in the orgadmin's organization by default")
	ann, _ := u["id"].(string)
	p := f.do(t, request{method: "POST", path: "/users", token: f.olga.token, body: `{"username":"x@example.com","orgId":"globex"}`}).
		want(t, http.StatusForbidden).problem(t)
	assert.Equal(t, "forbidden", p.Code)

	f.do(t, request{method: "GET", path: "/users/" + ann, token: f.olga.token}).want(t, http.StatusOK)
	f.do(t, request{method: "POST", path: "/users/" + ann + "/approve", token: f.olga.token}).want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, "active", u["status"])
	f.do(t, request{method: "PUT", path: "/users/" + ann, token: f.olga.token, body: `{"name":"Ann","status":"disabled"}`}).
		want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, "disabled", u["status"])
	p = f.do(t, request{method: "PUT", path: "/users/" + ann, token: f.olga.token, body: `{"orgId":"globex"}`}).
		want(t, http.StatusForbidden).problem(t)
	assert.Equal(t, "orgId", p.Field)
	p = f.do(t, request{method: "PUT", path: "/users/" + ann, token: f.olga.token, body: `{"scope":["user","admin"]}`}).
		want(t, http.StatusForbidden).problem(t)
	assert.Equal(t, "scope", p.Field, "nobody grants what they do not hold")

	for _, req := range []request{
		{method: "GET", path: "/users/" + ann},
		{method: "PUT", path: "/users/" + ann, body: `{"name":"X"}`},
		{method: "POST", path: "/users/" + ann + "/approve"},
		{method: "DELETE", path: "/users/" + ann},
		{method: "GET", path: "/users/" + ann + "/image"},
	} {
		req.token = f.oscar.token
		hidden := f.do(t, req).want(t, http.StatusNotFound)
		req.path = "/users/nobody" + req.path[len("/users/"+ann):]
		assert.Equal(t, f.do(t, req).want(t, http.StatusNotFound).body, hidden.body, "as if ann did not exist: %s", req.path)
	}

	var ticket map[string]any
	f.do(t, request{method: "DELETE", path: "/users/" + ann, token: f.olga.token}).want(t, http.StatusOK).decode(t, &ticket)
	status := fmt.Sprintf("/users/%s/delete-status/%s", ann, ticket["ticket"])
	f.do(t, request{method: "GET", path: status, token: f.olga.token}).want(t, http.StatusOK)
	f.do(t, request{method: "GET", path: status, token: f.oscar.token}).want(t, http.StatusNotFound)
	f.do(t, request{method: "POST", path: status + "/cancel", token: f.oscar.token}).want(t, http.StatusNotFound)
	f.do(t, request{method: "POST", path: status + "/cancel", token: f.olga.token}).want(t, http.StatusOK)
}

// Tyk Dashboard Users API (seed 003): user_permissions, {"users": "read"} or "write": "You
// need to have the users Permission object set to write to use Add User". A user holding read
// on users lists and reads; write also manages, but grants nothing they do not hold.
func TestPermissions(t *testing.T) {
	f := newFixture(t)
	var u map[string]any
	f.do(t, request{method: "POST", path: "/users", token: f.admin.token,
		body: fmt.Sprintf(`{"username":"walt@example.com","password":%q,"permissions":{"users":"write","reports":"read"}}`, newPassword)}).
		want(t, http.StatusCreated).decode(t, &u)
	f.secret(newPassword)
	assert.Equal(t, map[string]any{"users": "write", "reports": "read"}, u["permissions"])
	walt := f.signIn(t, "walt@example.com", newPassword)
	f.do(t, request{method: "PUT", path: "/users/" + f.bob.ID, token: f.admin.token, body: `{"permissions":{"users":"read"}}`}).
		want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, map[string]any{"users": "read"}, u["permissions"])

	// bob reads and lists, and manages nobody.
	f.do(t, request{method: "GET", path: "/users", token: f.bob.token}).want(t, http.StatusOK)
	f.do(t, request{method: "GET", path: "/users/" + f.alice.ID, token: f.bob.token}).want(t, http.StatusOK)
	f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: f.bob.token, body: `{"name":"A"}`}).want(t, http.StatusForbidden)
	f.do(t, request{method: "POST", path: "/users", token: f.bob.token, body: `{"username":"x@example.com"}`}).want(t, http.StatusForbidden)

	// walt manages, within what he holds.
	f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: walt, body: `{"name":"A","permissions":{"reports":"read"}}`}).
		want(t, http.StatusOK)
	for _, tt := range []struct{ body, field string }{
		{`{"permissions":{"users":"admin"}}`, "permissions"},
		{`{"permissions":{"billing":"read"}}`, "permissions"},
		{`{"scope":["user","admin"]}`, "scope"},
	} {
		p := f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: walt, body: tt.body}).want(t, http.StatusForbidden).problem(t)
		assert.Equal(t, tt.field, p.Field, tt.body)
	}
	f.do(t, request{method: "POST", path: "/users", token: walt, body: `{"username":"x@example.com","permissions":{"users":"admin"}}`}).
		want(t, http.StatusForbidden)
	f.do(t, request{method: "POST", path: "/users", token: walt, body: `{"username":"x@example.com","permissions":{"users":"write"}}`}).
		want(t, http.StatusCreated)
	f.do(t, request{method: "DELETE", path: "/users/" + f.admin.ID, token: walt}).want(t, http.StatusForbidden) // holds a role walt does not

	t.Run("a user grants themself nothing", func(t *testing.T) {
		p := f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: f.alice.token, body: `{"permissions":{"users":"read"}}`}).
			want(t, http.StatusForbidden).problem(t)
		assert.Equal(t, "permissions", p.Field)
	})
	t.Run("levels are checked", func(t *testing.T) {
		for _, body := range []string{`{"username":"y@example.com","permissions":{"users":"root"}}`, `{"username":"y@example.com","permissions":{"users":1}}`} {
			p := f.do(t, request{method: "POST", path: "/users", token: f.admin.token, body: body}).want(t, http.StatusBadRequest).problem(t)
			assert.Equal(t, "permissions", p.Field)
		}
	})
}

// Tyk Dashboard Users API (seed 003): the list is paged ("pages"). GET /users takes page
// (from 1) and pageSize beside limit and offset, not both, and always says the total in
// X-Total-Count.
func TestPaging(t *testing.T) {
	f := newFixture(t)
	population(t, f) // seven users in all
	var all []string
	for page := 1; page <= 3; page++ {
		names, total := f.usernames(t, f.admin.token, fmt.Sprintf("page=%d&pageSize=3&sort=username", page))
		assert.Equal(t, "7", total)
		all = append(all, names...)
	}
	assert.Len(t, all, 7)
	assert.True(t, slices.IsSorted(all))
	names, total := f.usernames(t, f.admin.token, "page=4&pageSize=3")
	assert.Empty(t, names)
	assert.Equal(t, "7", total)
	names, _ = f.usernames(t, f.admin.token, "pageSize=2&sort=username")
	assert.Equal(t, all[:2], names, "page defaults to 1")
	names, _ = f.usernames(t, f.admin.token, "page=1")
	assert.Len(t, names, 7, "pageSize defaults to 30")
	names, _ = f.usernames(t, f.admin.token, "limit=3&offset=3&sort=username")
	assert.Equal(t, all[3:6], names)

	for _, tt := range []struct{ query, field string }{
		{"page=1&limit=3", "limit"},
		{"pageSize=3&offset=3", "offset"},
		{"page=0", "page"},
		{"page=-1&pageSize=3", "page"},
		{"page=x", "page"},
		{"pageSize=0", "pageSize"},
		{"pageSize=1001", "pageSize"},
		{"page=99999999999&pageSize=1000", "page"},
		{"page=1&page=2", "page"},
	} {
		p := f.do(t, request{method: "GET", path: "/users?" + tt.query, token: f.admin.token}).want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, tt.field, p.Field, tt.query)
	}
}
