package httpadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// population adds users for the list tests, one minute apart: (name, plan, scope, metadata.n).
func population(t testing.TB, f *fixture) {
	t.Helper()
	for i, u := range []struct {
		name, plan string
		scope      []string
		n          float64
	}{
		{"Ann", "pro", []string{"user", "acme1"}, 1},
		{"Joe", "free", []string{"user"}, 5},
		{"Joey", "pro", []string{"user", "acme1"}, 10},
		{"Zed", "team", []string{"user", "acme2"}, 20},
	} {
		f.clock.Advance(time.Minute)
		_, err := f.svc.Create(t.Context(), users.NewUser{
			Username: fmt.Sprintf("user%d@example.com", i), Name: u.name, Plan: u.plan, Scope: u.scope,
			Metadata: map[string]any{"n": u.n, "team": "t" + u.plan},
		})
		require.NoError(t, err)
	}
}

// list gets GET /users with the query and returns the names of the page and X-Total-Count.
func (f *fixture) list(t *testing.T, query string) ([]string, string) {
	t.Helper()
	res := f.do(t, request{method: "GET", path: "/users?" + query, token: f.admin.token}).want(t, http.StatusOK)
	var page []map[string]any
	res.decode(t, &page)
	names := []string{}
	for _, u := range page {
		name, _ := u["name"].(string)
		names = append(names, name)
	}
	return names, res.header.Get("X-Total-Count")
}

func TestListUsers(t *testing.T) {
	f := newFixture(t)
	population(t, f)
	tests := []struct {
		query string
		names []string
		total string
	}{
		{"filter=scope:acme1", []string{"Ann", "Joey"}, "2"},
		{"filter=scope:acme1&sort=created:-1", []string{"Joey", "Ann"}, "2"},
		{"filter=scope:acme1&filter=plan:pro&sort=name:-1&limit=1", []string{"Joey"}, "2"},
		{"filter=plan:pro&filter=plan:team&lop=or&sort=name", []string{"Ann", "Joey", "Zed"}, "3"},
		{"pattern=JOE&sort=name:1", []string{"Joe", "Joey"}, "2"},
		{"pattern=joe&limit=1&offset=1&sort=name", []string{"Joey"}, "2"},
		{"field=name&op=like&value=jo%25&sort=name:-1", []string{"Joey", "Joe"}, "2"},
		{"field=metadata.n&op=gete&value=5,10&sort=name", []string{"Joe", "Joey"}, "2"},
		{"field=metadata.n&op=gt&value=5&field=plan&op=eq&value=free&lop=OR&sort=name", []string{"Joe", "Joey", "Zed"}, "3"},
		{`filter=metadata.team:"tpro"&sort=name`, []string{"Ann", "Joey"}, "2"},
		{"filter=metadata.team:tfree", []string{"Joe"}, "1"},
		{"filter=scope:nobody", []string{}, "0"},
		{"filter=created:2025-03-14T09:28:53Z", []string{"Joe"}, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			names, total := f.list(t, tt.query)
			assert.Equal(t, tt.names, names)
			assert.Equal(t, tt.total, total)
		})
	}
	t.Run("everyone, in creation order", func(t *testing.T) {
		names, total := f.list(t, "")
		assert.Equal(t, []string{"", "", "", "Ann", "Joe", "Joey", "Zed"}, names)
		assert.Equal(t, "7", total)
	})
}

// A bad query is 400 naming the parameter at fault; never 500.
func TestListUsersBadQueries(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		query, field string
	}{
		{"filters=scope:acme1", "filters"},
		{"filter=scope", "filter"},
		{"filter=:acme1", "filter"},
		{"filter=password:x", "filter"},
		{"filter=emailVerified:maybe", "filter"},
		{"filter=created:yesterday", "filter"},
		{"field=name&op=eq", "field"},
		{"field=name&op=matches&value=x", "filter"},
		{"field=name&op=gete&value=a", "value"},
		{"field=scope&op=gt&value=a", "filter"},
		{"sort=created:up", "sort"},
		{"sort=scope", "sort"},
		{"sort=passwordHash:1", "sort"},
		{"sort=name,", "sort"},
		{"limit=ten", "limit"},
		{"limit=1001", "limit"},
		{"limit=-1", "limit"},
		{"offset=-1", "offset"},
		{"limit=1&limit=2", "limit"},
		{"lop=XOR", "lop"},
		{"pattern=" + url.QueryEscape(string(make([]byte, 300))), "pattern"},
		{"filter=" + url.QueryEscape("name:a") + repeat("&filter=name:a", 20), "filter"},
		{"sort=name" + repeat(",name", 10), "sort"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			for _, path := range []string{"/users?", "/users/count?"} {
				p := f.do(t, request{method: "GET", path: path + tt.query, token: f.admin.token}).
					want(t, http.StatusBadRequest).problem(t)
				assert.Equal(t, tt.field, p.Field)
				assert.Equal(t, "invalid", p.Code)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func TestCountUsers(t *testing.T) {
	f := newFixture(t)
	population(t, f)
	for query, want := range map[string]int{
		"":                                     7,
		"filter=scope:acme1":                   2,
		"filter=scope:acme1&sort=name&limit=1": 2,
		"field=metadata.n&op=ge&value=10":      2,
		"pattern=example":                      7,
	} {
		var got struct{ Count int }
		f.do(t, request{method: "GET", path: "/users/count?" + query, token: f.admin.token}).want(t, http.StatusOK).decode(t, &got)
		assert.Equal(t, want, got.Count, query)
	}
}

func TestCreateUser(t *testing.T) {
	f := newFixture(t)
	f.secret(newPassword)
	create := func(body string) *response {
		return f.do(t, request{method: "POST", path: "/users", token: f.admin.token, body: body})
	}
	var u map[string]any
	create(fmt.Sprintf(`{"username":"erin@example.com","email":"erin@example.org","password":%q,"name":"Erin",
		"scope":["user","acme1"],"plan":"pro","vendor":"acme","allowedPrivateComponents":["a.b.c"],"orgId":"org1",
		"metadata":{"k":"v"},"status":"pending"}`, newPassword)).want(t, http.StatusCreated).decode(t, &u)
	assert.Equal(t, "erin@example.com", u["username"])
	assert.Equal(t, "erin@example.org", u["email"])
	assert.Equal(t, "Erin", u["name"])
	assert.Equal(t, []any{"user", "acme1"}, u["scope"])
	assert.Equal(t, "pro", u["plan"])
	assert.Equal(t, []any{"acme"}, u["vendor"], "a single vendor is a list of one")
	assert.Equal(t, []any{"a.b.c"}, u["allowedPrivateComponents"])
	assert.Equal(t, "org1", u["orgId"])
	assert.Equal(t, map[string]any{"k": "v"}, u["metadata"])
	assert.Equal(t, "pending", u["status"])
	assert.Equal(t, false, u["isActive"])

	create(`{"username":"finn@example.com","vendor":["a","b"]}`).want(t, http.StatusCreated).decode(t, &u)
	assert.Equal(t, []any{"a", "b"}, u["vendor"])

	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"a taken username", `{"username":"erin@EXAMPLE.com"}`, http.StatusConflict, "username"},
		{"an unknown status", `{"username":"x@example.com","status":"root"}`, http.StatusBadRequest, "status"},
		{"a vendor of numbers", `{"username":"x@example.com","vendor":[1]}`, http.StatusBadRequest, "vendor"},
		{"an unknown field", `{"username":"x@example.com","hasPassword":true}`, http.StatusBadRequest, "hasPassword"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := create(tt.body).want(t, tt.status).problem(t)
			assert.Equal(t, tt.field, p.Field)
		})
	}
}

func TestGetUser(t *testing.T) {
	f := newFixture(t)
	var u map[string]any
	f.do(t, request{method: "GET", path: "/users/" + f.bob.ID, token: f.admin.token}).want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, "bob@example.com", u["username"])
	assert.Equal(t, float64(1), u["version"])
}

func TestUpdateUser(t *testing.T) {
	f := newFixture(t)
	path := "/users/" + f.alice.ID
	update := func(token, body string) *response {
		return f.do(t, request{method: "PUT", path: path, token: token, body: body})
	}
	var u map[string]any
	update(f.admin.token, `{"plan":"pro","vendor":"acme","scope":["user","acme1"],"metadata":{"a":1}}`).
		want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, "pro", u["plan"])
	assert.Equal(t, []any{"acme"}, u["vendor"])
	assert.Equal(t, []any{"user", "acme1"}, u["scope"])
	assert.Equal(t, map[string]any{"a": 1.0}, u["metadata"])
	assert.Equal(t, "alice@example.com", u["username"], "absent fields are unchanged")
	assert.Equal(t, float64(2), u["version"])

	t.Run("a stale version", func(t *testing.T) {
		p := update(f.admin.token, `{"name":"A","version":1}`).want(t, http.StatusConflict).problem(t)
		assert.Equal(t, "version", p.Field)
	})
	t.Run("a taken username", func(t *testing.T) {
		p := update(f.admin.token, `{"username":"Bob@example.com"}`).want(t, http.StatusConflict).problem(t)
		assert.Equal(t, "username", p.Field)
	})
	t.Run("null", func(t *testing.T) {
		p := update(f.admin.token, `{"name":null}`).want(t, http.StatusBadRequest).problem(t)
		assert.Equal(t, "name", p.Field)
	})
	t.Run("an administrator sets a password", func(t *testing.T) {
		f.secret(newPassword)
		update(f.admin.token, fmt.Sprintf(`{"password":%q}`, newPassword)).want(t, http.StatusOK)
		assert.False(t, f.authenticates(t, f.alice.token), "the user's sessions end")
		f.alice.token = f.signIn(t, "alice@example.com", newPassword)
		f.alice.password = newPassword
	})
	t.Run("a user changes what they may of their own", func(t *testing.T) {
		update(f.alice.token, fmt.Sprintf(`{"name":"Alice L.","email":"alice@example.org","scope":["user"],"metadata":{"b":true},"currentPassword":%q}`, f.alice.password)).
			want(t, http.StatusOK).decode(t, &u)
		assert.Equal(t, "Alice L.", u["name"])
		assert.Equal(t, []any{"user"}, u["scope"], "dropping a role is allowed")
	})
}

// Mass assignment: a user may not raise their own scope or status, nor set the fields only an
// administrator sets, through PUT /users/{id}; nor anyone's through the other routes.
func TestUpdateUserMassAssignment(t *testing.T) {
	f := newFixture(t)
	pending, err := f.svc.Create(t.Context(), users.NewUser{Username: "pat@example.com", Status: users.StatusPending})
	require.NoError(t, err)
	tests := []struct {
		name   string
		as     account
		target string
		body   string
		status int
		field  string
	}{
		{"a user adds admin to their scope", f.alice, f.alice.ID, `{"scope":["user","admin"]}`, http.StatusForbidden, "scope"},
		{"a user sets status pending", f.alice, f.alice.ID, `{"status":"pending"}`, http.StatusForbidden, "status"},
		{"a user sets a plan", f.alice, f.alice.ID, `{"plan":"enterprise"}`, http.StatusForbidden, "plan"},
		{"a user sets a vendor", f.alice, f.alice.ID, `{"vendor":"acme"}`, http.StatusForbidden, "vendor"},
		{"a user sets an organization", f.alice, f.alice.ID, `{"orgId":"org1"}`, http.StatusForbidden, "orgId"},
		{"a user sets components", f.alice, f.alice.ID, `{"allowedPrivateComponents":["x"]}`, http.StatusForbidden, "allowedPrivateComponents"},
		{"a user sets a password without the current one", f.alice, f.alice.ID, fmt.Sprintf(`{"password":%q}`, newPassword), http.StatusForbidden, "password"},
		{"a user sets a field in another case", f.alice, f.alice.ID, `{"Scope":["admin"]}`, http.StatusBadRequest, "Scope"},
		{"a user sets a field PUT does not take", f.alice, f.alice.ID, `{"hasPassword":true}`, http.StatusBadRequest, "hasPassword"},
		{"a user verifies their own address", f.alice, f.alice.ID, `{"emailVerified":true}`, http.StatusForbidden, "emailVerified"},
		{"a user updates another", f.alice, f.bob.ID, `{"name":"B"}`, http.StatusForbidden, ""},
		{"a user activates another", f.alice, pending.ID, `{"status":"active"}`, http.StatusForbidden, ""},
		{"an administrator raises their own status", f.admin, f.admin.ID, `{"status":"pending"}`, http.StatusForbidden, "status"},
		{"an administrator adds to their own scope", f.admin, f.admin.ID, `{"scope":["user","admin","root"]}`, http.StatusForbidden, "scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := f.do(t, request{method: "PUT", path: "/users/" + tt.target, token: tt.as.token, body: tt.body}).
				want(t, tt.status).problem(t)
			assert.Equal(t, tt.field, p.Field)
		})
	}
	for _, u := range []*users.User{f.alice.User, f.admin.User, f.bob.User, pending} {
		now, err := f.svc.Get(t.Context(), u.ID)
		require.NoError(t, err)
		assert.Equal(t, u.Scope, now.Scope, "unchanged: %s", u.Username)
		assert.Equal(t, u.Status, now.Status, "unchanged: %s", u.Username)
		assert.Equal(t, u.Version, now.Version, "unchanged: %s", u.Username)
	}
}

// demotingService demotes alice (an administrator until then) between the handler's
// authorization of an update and the update itself.
type demotingService struct {
	users.Service
	aliceID string
}

func (s *demotingService) Update(ctx context.Context, id string, p users.Update) (*users.User, error) {
	if id == s.aliceID {
		scope := []string{users.RoleUser}
		if _, err := s.Service.Update(ctx, id, users.Update{Scope: &scope}); err != nil {
			return nil, err
		}
	}
	return s.Service.Update(ctx, id, p)
}

// An update is decided on the user as they are when it is made: a user demoted meanwhile
// cannot keep the role by writing back the scope they had.
func TestUpdateUserAppliesToTheVersionAuthorized(t *testing.T) {
	f := newFixture(t)
	scope := []string{users.RoleUser, users.RoleAdmin}
	_, err := f.svc.Update(t.Context(), f.alice.ID, users.Update{Scope: &scope})
	require.NoError(t, err)
	f.handler = httpadapter.New(&demotingService{Service: f.svc, aliceID: f.alice.ID}, f.opts)

	// Demoted between the check and the write: the write is checked again, and refused.
	f.do(t, request{method: "PUT", path: "/users/" + f.alice.ID, token: f.alice.token, body: `{"scope":["user","admin"]}`}).
		want(t, http.StatusForbidden)
	u, err := f.svc.Get(t.Context(), f.alice.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{users.RoleUser}, u.Scope)
}

func TestDeleteUser(t *testing.T) {
	f := newFixture(t)
	var ticket map[string]any
	f.do(t, request{method: "DELETE", path: "/users/" + f.bob.ID, token: f.admin.token}).want(t, http.StatusOK).decode(t, &ticket)
	id, _ := ticket["ticket"].(string)
	require.NotEmpty(t, id)
	assert.Equal(t, f.bob.ID, ticket["userId"])
	assert.False(t, f.authenticates(t, f.bob.token), "the user cannot authenticate from then on")

	status := "/users/" + f.bob.ID + "/delete-status/" + id
	testutil.Eventually(t, func() bool {
		f.do(t, request{method: "GET", path: status, token: f.admin.token}).want(t, http.StatusOK).decode(t, &ticket)
		return ticket["status"] == "completed"
	}, "the deletion completes")
	assert.Equal(t, ticket["stepsTotal"], ticket["stepsDone"])
	f.do(t, request{method: "GET", path: "/users/" + f.bob.ID, token: f.admin.token}).want(t, http.StatusNotFound)

	p := f.do(t, request{method: "POST", path: status + "/cancel", token: f.admin.token}).want(t, http.StatusConflict).problem(t)
	assert.Equal(t, "conflict", p.Code)
	f.do(t, request{method: "GET", path: "/users/" + f.alice.ID + "/delete-status/" + id, token: f.admin.token}).
		want(t, http.StatusNotFound) // the ticket is bob's
	f.do(t, request{method: "GET", path: "/users/" + f.bob.ID + "/delete-status/nope", token: f.admin.token}).
		want(t, http.StatusNotFound)
}

func TestCancelDeletion(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.cfg.NoWorker = true })
	var ticket map[string]any
	f.do(t, request{method: "DELETE", path: "/users/" + f.bob.ID, token: f.admin.token}).want(t, http.StatusOK).decode(t, &ticket)
	id, _ := ticket["ticket"].(string)
	var again map[string]any
	f.do(t, request{method: "DELETE", path: "/users/" + f.bob.ID, token: f.admin.token}).want(t, http.StatusOK).decode(t, &again)
	assert.Equal(t, id, again["ticket"], "deleting again returns the ticket in progress")
	p := f.do(t, request{method: "PUT", path: "/users/" + f.bob.ID, token: f.admin.token, body: `{"name":"B"}`}).
		want(t, http.StatusConflict).problem(t)
	assert.Equal(t, "conflict", p.Code, "no update while being deleted")

	cancel := "/users/" + f.bob.ID + "/delete-status/" + id + "/cancel"
	f.do(t, request{method: "POST", path: cancel, token: f.admin.token}).want(t, http.StatusOK).decode(t, &ticket)
	assert.Equal(t, "cancelled", ticket["status"])
	f.signIn(t, "bob@example.com", bobPassword)
	f.do(t, request{method: "POST", path: cancel, token: f.admin.token}).want(t, http.StatusConflict)
}

// A scope of blank entries only leaves the user with the default scope, [user]; the answer
// matches the OpenAPI document (scope is an array, never null).
//
// KNOWN BUG in the root package, worked around here by skipping: users.User.Normalize
// applies the default scope before normalizeList drops blank entries, so a scope of [""]
// (through Create or Update) is stored as nil and marshalled as "scope": null. Found by
// FuzzBody. The test runs in full once Normalize is fixed.
func TestBlankScope(t *testing.T) {
	f := newFixture(t)
	// Created with a scope of blank entries: the default scope, [user].
	req := request{method: "POST", path: "/users", token: f.admin.token, body: `{"username":"erin@example.com","scope":[""]}`}
	res := serve(f.handler, req)
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	var u map[string]any
	res.decode(t, &u)
	assert.Equal(t, []any{"user"}, u["scope"])
	validateResponse(t, newRequest(req), res)

	// Updated to a scope of blank entries: refused, as an empty scope is.
	req = request{method: "PUT", path: "/users/" + f.bob.ID, token: f.admin.token, body: `{"scope":[" "]}`}
	res = serve(f.handler, req)
	require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
	var prob problem
	res.decode(t, &prob)
	assert.Equal(t, "scope", prob.Field)
	validateResponse(t, newRequest(req), res)
}

// An administrator may mark an address verified, when it was verified another way: at
// creation and later. Under users.Config.RequireVerifiedEmail the user then signs in.
func TestAdministratorVerifiesAddress(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.cfg.RequireVerifiedEmail = true })
	var u map[string]any
	f.do(t, request{method: "POST", path: "/users", token: f.admin.token,
		body: fmt.Sprintf(`{"username":"tess@example.com","password":%q,"emailVerified":true}`, newPassword)}).
		want(t, http.StatusCreated).decode(t, &u)
	assert.Equal(t, true, u["emailVerified"])
	f.secret(newPassword)
	f.do(t, request{method: "POST", path: "/user/auth", body: fmt.Sprintf(`{"username":"tess@example.com","password":%q}`, newPassword)}).
		want(t, http.StatusOK)

	f.do(t, request{method: "PUT", path: "/users/" + u["id"].(string), token: f.admin.token, body: `{"emailVerified":false}`}).
		want(t, http.StatusOK).decode(t, &u)
	assert.Equal(t, false, u["emailVerified"])
	f.do(t, request{method: "POST", path: "/user/auth", body: fmt.Sprintf(`{"username":"tess@example.com","password":%q}`, newPassword)}).
		want(t, http.StatusForbidden)
}
