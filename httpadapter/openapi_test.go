package httpadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/gousers/users/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The document is OpenAPI 3.1, valid, and describes exactly the routes the handler serves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc, err := apiSpec()
	require.NoError(t, err, "the OpenAPI document must load and validate")
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	assert.True(t, doc.IsOpenAPI31OrLater())

	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	registered := httpadapter.Routes()
	for _, pattern := range registered {
		assert.Contains(t, documented, pattern, "a registered route is missing from the OpenAPI document")
	}
	for _, op := range documented {
		assert.Contains(t, registered, op, "the OpenAPI document describes a route the handler does not serve")
	}
}

// Every error response of every operation is problem+json, and every operation that takes a
// body documents 400, 413 and 415.
func TestOpenAPIErrorsAreProblems(t *testing.T) {
	doc, err := apiSpec()
	require.NoError(t, err)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, ref := range op.Responses.Map() {
				if status[0] == '4' || status[0] == '5' {
					assert.Contains(t, ref.Value.Content, "application/problem+json", "%s %s %s", method, path, status)
				}
			}
			if op.RequestBody != nil {
				for _, status := range []int{400, 413, 415} {
					assert.NotNil(t, op.Responses.Status(status), "%s %s takes a body: it must document %d", method, path, status)
				}
			}
		}
	}
}

// Every operation documents the refusals its route can answer: 400 for a body or a query, 401
// behind a token, 403 behind the policy or a role, 404 for a path with an ID, 429 under a rate
// limit (413 and 415 for a body: see TestOpenAPIErrorsAreProblems).
func TestOpenAPIDocumentsRefusals(t *testing.T) {
	doc, err := apiSpec()
	require.NoError(t, err)
	guards := httpadapter.RouteGuards()
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			pattern := method + " " + path
			guard, ok := guards[pattern]
			require.True(t, ok, "%s is not a route", pattern)
			query := false
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				query = query || p.Value.In == "query"
			}
			want := map[int]bool{
				http.StatusBadRequest:      op.RequestBody != nil || query,
				http.StatusUnauthorized:    guard.Token,
				http.StatusForbidden:       guard.Policy,
				http.StatusNotFound:        strings.Contains(path, "{"),
				http.StatusTooManyRequests: guard.RateLimit,
			}
			for status, must := range want {
				if must {
					assert.NotNil(t, op.Responses.Status(status), "%s must document %d", pattern, status)
				}
			}
		}
	}
}

// GET /openapi.json serves the document to anyone, as JSON.
func TestServeOpenAPI(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, request{method: http.MethodGet, path: "/openapi.json"}).want(t, http.StatusOK)
	assert.Equal(t, "application/json", res.header.Get("Content-Type"))
	assert.JSONEq(t, string(httpadapter.OpenAPI()), string(res.body))
}

// The routes the tests exercise cover every registered route (the matrix of authz_test.go
// lists each one).
func TestMatrixCoversEveryRoute(t *testing.T) {
	var covered []string
	for _, row := range matrix {
		covered = append(covered, matrixPattern(row.method, row.path))
	}
	for _, pattern := range httpadapter.Routes() {
		assert.True(t, slices.Contains(covered, pattern), "the authorization matrix lacks %s", pattern)
	}
}

// The validation the tests rely on is real for this OpenAPI 3.1 document: it refuses a
// response with a member the schema does not have, a value outside an enum, an undocumented
// status and a missing required header.
func TestOpenAPIValidationRefusesMismatches(t *testing.T) {
	router, err := apiRouter()
	require.NoError(t, err)
	const user = `{"id":"x","username":"a@example.com","scope":["user"],"status":"active","isActive":true,` +
		`"emailVerified":false,"metadata":{},"mustChangePassword":false,"hasPassword":true,"passwordResetAllowed":true,` +
		`"created":"2025-01-01T00:00:00Z","updated":"2025-01-01T00:00:00Z","version":1`
	const problem = `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"d","code":"unauthorized"}`
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		valid  bool
	}{
		{"a user", 200, http.Header{"Content-Type": {"application/json"}}, user + `}`, true},
		{"a permission level it does not know", 200, http.Header{"Content-Type": {"application/json"}}, user + `,"permissions":{"users":"root"}}`, false},
		{"a password hash", 200, http.Header{"Content-Type": {"application/json"}}, user + `,"passwordHash":"x"}`, false},
		{"an unknown status", 200, http.Header{"Content-Type": {"application/json"}}, strings.Replace(user, `"active"`, `"root"`, 1) + `}`, false},
		{"an undocumented status", http.StatusTeapot, http.Header{"Content-Type": {"application/json"}}, `{}`, false},
		{"a 401", 401, http.Header{"Content-Type": {"application/problem+json"}, "Www-Authenticate": {"Bearer"}}, problem, true},
		{"a 401 without WWW-Authenticate", 401, http.Header{"Content-Type": {"application/problem+json"}}, problem, false},
		{"an unknown code", 401, http.Header{"Content-Type": {"application/problem+json"}, "Www-Authenticate": {"Bearer"}},
			strings.Replace(problem, `"unauthorized"`, `"nope"`, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/users/x", nil)
			route, params, err := router.FindRoute(req)
			require.NoError(t, err)
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
				Status:                 tt.status,
				Header:                 tt.header,
				Options:                &openapi3filter.Options{IncludeResponseStatus: true},
			}
			in.SetBodyBytes([]byte(tt.body))
			err = openapi3filter.ValidateResponse(context.Background(), in)
			if tt.valid {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}
