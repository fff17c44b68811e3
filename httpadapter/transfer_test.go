package httpadapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// importReport is the body of POST /users/import.
type importReport struct {
	Read     int `json:"read"`
	Created  int `json:"created"`
	Skipped  int `json:"skipped"`
	Rejected int `json:"rejected"`
	Lines    []struct {
		Line   int    `json:"line"`
		Status string `json:"status"`
		ID     string `json:"id"`
		Field  string `json:"field"`
		Error  string `json:"error"`
	} `json:"lines"`
}

// An import of good, duplicate and bad lines creates the good ones, reports the others by
// line without repeating them, and an imported bcrypt hash signs in.
func TestImportUsers(t *testing.T) {
	f := newFixture(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(newPassword), bcrypt.MinCost)
	require.NoError(t, err)
	const badHash = "not-a-hash-but-secret"
	f.secret(string(hash), badHash)
	body := strings.Join([]string{
		fmt.Sprintf(`{"username":"erin@example.com","name":"Erin","passwordHash":%q}`, hash),
		`{"username":"alice@example.com"}`, // taken
		``,                                 // blank: skipped, but counted as a line
		`{"username": not json`,
		fmt.Sprintf(`{"username":"frank@example.com","passwordHash":%q}`, badHash),
		`{"username":"gina@example.com","colour":"red"}`,
		`{"username":"erin@example.com"}`, // taken by line 1
		`{"username":"hank@example.com"}`, // no password
	}, "\r\n")
	res := f.do(t, request{method: "POST", path: "/users/import", token: f.admin.token, body: body, header: ndjsonHeader}).
		want(t, http.StatusOK)
	assert.Equal(t, "application/json", res.header.Get("Content-Type"))
	var rep importReport
	res.decode(t, &rep)
	assert.Equal(t, 7, rep.Read)
	assert.Equal(t, 2, rep.Created)
	assert.Equal(t, 2, rep.Skipped)
	assert.Equal(t, 3, rep.Rejected)
	type got struct {
		line          int
		status, field string
	}
	var lines []got
	for _, l := range rep.Lines {
		lines = append(lines, got{l.Line, l.Status, l.Field})
		assert.NotEmpty(t, l.Error)
		assert.NotContains(t, l.Error, "not json")
	}
	assert.Equal(t, []got{
		{2, "skipped", "username"}, {4, "rejected", ""}, {5, "rejected", "passwordHash"},
		{6, "rejected", "colour"}, {7, "skipped", "username"},
	}, lines)

	list, _, err := f.svc.List(context.Background(), users.Query{Conditions: []users.Condition{{Field: "username", Op: users.OpEq, Value: "erin@example.com"}}})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "Erin", list[0].Name)
	n, err := f.svc.Count(context.Background(), users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 5, n, "admin, alice, bob, erin and hank")

	res = f.do(t, request{method: "POST", path: "/user/auth", body: fmt.Sprintf(`{"username":"erin@example.com","password":%q}`, newPassword)}).
		want(t, http.StatusOK)
	var s struct {
		Token string `json:"token"`
	}
	res.decode(t, &s)
	f.secret(s.Token)
}

// The body must be declared as JSON Lines, in any of its names.
func TestImportMediaType(t *testing.T) {
	f := newFixture(t)
	for _, ct := range []string{"application/json", "text/plain", "application/x-www-form-urlencoded", ""} {
		req := request{method: "POST", path: "/users/import", token: f.admin.token, body: `{"username":"erin@example.com"}`,
			header: http.Header{"Content-Type": {ct}}}
		if ct == "" {
			req.header = http.Header{"Content-Type": {"nonsense/"}}
		}
		f.do(t, req).want(t, http.StatusUnsupportedMediaType).problem(t)
	}
	for i, ct := range []string{"application/x-ndjson", "application/jsonl; charset=utf-8", "application/json-lines"} {
		req := request{method: "POST", path: "/users/import", token: f.admin.token,
			body: fmt.Sprintf(`{"username":"u%d@example.com"}`, i), header: http.Header{"Content-Type": {ct}}}
		var rep importReport
		f.do(t, req).want(t, http.StatusOK).decode(t, &rep)
		assert.Equal(t, 1, rep.Created, ct)
	}
}

// A body over Options.MaxImportBytes is 413, declared or not, and imports nothing.
func TestImportTooLarge(t *testing.T) {
	f := newFixture(t, func(s *setup) { s.opts.MaxImportBytes = 100 })
	body := `{"username":"erin@example.com"}` + "\n" + `{"username":"frank@example.com","name":"` + strings.Repeat("x", 100) + `"}`
	req := request{method: "POST", path: "/users/import", token: f.admin.token, body: body, header: ndjsonHeader}
	p := f.do(t, req).want(t, http.StatusRequestEntityTooLarge).problem(t)
	assert.Equal(t, "too_large", p.Code)

	r := newRequest(req)
	r.ContentLength = -1 // undeclared: found while reading
	res := serveRequest(f.handler, r)
	validateResponse(t, newRequest(req), res)
	res.want(t, http.StatusRequestEntityTooLarge)

	n, err := f.svc.Count(context.Background(), users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 3, n, "nothing imported")
}

// Exporting from one Service and importing into another gives the same users, and the same
// export; the export holds the hashes, and no log line does.
func TestExportImportRoundTrip(t *testing.T) {
	src := newFixture(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(newPassword), bcrypt.MinCost)
	require.NoError(t, err)
	// Not a fixture secret: the export holds it. The logs are checked for it below.
	_, err = src.svc.Import(context.Background(), []*users.User{{Username: "erin@example.com", Name: "Erin",
		Metadata: map[string]any{"team": "blue"}, PasswordHash: string(hash)}})
	require.NoError(t, err)

	exported := src.do(t, request{method: "GET", path: "/users/export", token: src.admin.token}).want(t, http.StatusOK)
	assert.Equal(t, "application/x-ndjson", exported.header.Get("Content-Type"))
	assert.Equal(t, "no-store", exported.header.Get("Cache-Control"))
	assert.Equal(t, `attachment; filename="users.jsonl"`, exported.header.Get("Content-Disposition"))
	lines := strings.Split(strings.TrimSuffix(string(exported.body), "\n"), "\n")
	require.Len(t, lines, 4)
	assert.Contains(t, string(exported.body), `"passwordHash":"$argon2id$`)
	assert.Contains(t, string(exported.body), string(hash))

	// The target holds the source's administrator alone, to sign in with.
	dst, err := users.New(memory.New(), users.Config{Now: src.clock.Now, Argon2: users.TestArgon2(), Logger: slogTo(src.logs)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = dst.Close() })
	var admin *users.User
	for _, l := range lines {
		u, err := users.UnmarshalRecord([]byte(l))
		require.NoError(t, err)
		if u.Username == "admin@example.com" {
			admin = u
		}
	}
	require.NotNil(t, admin)
	_, err = dst.Import(context.Background(), []*users.User{admin})
	require.NoError(t, err)
	session, err := dst.SignIn(context.Background(), "admin@example.com", adminPassword)
	require.NoError(t, err)
	src.secret(session.Token)
	h := httpadapter.New(dst, httpadapter.Options{Logger: slogTo(src.logs)})

	req := request{method: "POST", path: "/users/import", token: session.Token, body: string(exported.body), header: ndjsonHeader}
	res := serve(h, req).want(t, http.StatusOK)
	validateResponse(t, newRequest(req), res)
	src.assertNoSecret(t, "response", string(res.body))
	var rep importReport
	res.decode(t, &rep)
	assert.Equal(t, 4, rep.Read)
	assert.Equal(t, 3, rep.Created)
	assert.Equal(t, 1, rep.Skipped, "the administrator, there already")

	req = request{method: "GET", path: "/users/export", token: session.Token}
	again := serve(h, req).want(t, http.StatusOK)
	validateResponse(t, newRequest(req), again)
	assert.Equal(t, string(exported.body), string(again.body))

	// The hashes left the service in the exports only.
	logs := src.logs.String()
	assert.NotContains(t, logs, "passwordHash")
	for _, l := range lines {
		u, err := users.UnmarshalRecord([]byte(l))
		require.NoError(t, err)
		if u.PasswordHash != "" {
			assert.NotContains(t, logs, u.PasswordHash)
		}
	}
}

// failingExport is a Service whose Export fails after giving n users.
type failingExport struct {
	users.Service
	n int
}

var errDiskOnFire = errors.New("disk on fire")

func (s failingExport) Export(ctx context.Context, fn func(*users.User) error) error {
	i := 0
	err := s.Service.Export(ctx, func(u *users.User) error {
		if i == s.n {
			return errDiskOnFire
		}
		i++
		return fn(u)
	})
	if err == nil {
		err = errDiskOnFire
	}
	return err
}

// An export that fails before its first byte is answered 500; after it, the response is
// aborted and the error logged.
func TestExportFails(t *testing.T) {
	f := newFixture(t)
	before := httpadapter.New(failingExport{Service: f.svc, n: 2}, f.opts)
	req := request{method: "GET", path: "/users/export", token: f.admin.token}
	res := serve(before, req).want(t, http.StatusInternalServerError)
	validateResponse(t, newRequest(req), res)
	res.problem(t)
	assert.Contains(t, f.logs.String(), "disk on fire")

	// Enough users to send a first buffer of the export before it fails.
	many := make([]*users.User, 400)
	for i := range many {
		many[i] = &users.User{Username: fmt.Sprintf("user%d@example.com", i), Name: strings.Repeat("n", 200)}
	}
	results, err := f.svc.Import(context.Background(), many)
	require.NoError(t, err)
	require.Equal(t, users.ImportCreated, results[len(results)-1].Status)
	after := httpadapter.New(failingExport{Service: f.svc, n: 390}, f.opts)
	require.PanicsWithValue(t, http.ErrAbortHandler, func() { serve(after, req) })
	assert.Contains(t, f.logs.String(), "httpadapter: export stopped")
}
