package httpadapter_test

import (
	"net/http"
	"testing"
)

// The fuzz targets send what the fuzzer makes through the whole handler, as a client allowed
// to call the route: no input may make it panic or answer 5xx, and every answer must match
// the OpenAPI document. Seed corpora are in testdata/fuzz.

// FuzzBody sends a JSON body to one of the routes that take one, chosen by route.
func FuzzBody(f *testing.F) {
	fx := newFixture(f)
	routes := bodyRoutes(fx)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		req := routes[int(route)%len(routes)]
		req.body = string(body) // sent as application/json when not empty
		checkFuzzed(t, fx, newRequest(req))
	})
}

// FuzzQuery sends a query string to GET /users and GET /users/count.
func FuzzQuery(f *testing.F) {
	fx := newFixture(f)
	population(f, fx)
	f.Fuzz(func(t *testing.T, query string) {
		for _, path := range []string{"/users", "/users/count"} {
			r := newRequest(request{method: http.MethodGet, path: path, token: fx.admin.token})
			r.URL.RawQuery = query
			checkFuzzed(t, fx, r)
		}
	})
}

// checkFuzzed serves r and checks the answer is no 5xx and matches the OpenAPI document.
func checkFuzzed(t *testing.T, fx *fixture, r *http.Request) {
	t.Helper()
	res := serveRequest(fx.handler, r)
	if res.status >= 500 {
		t.Fatalf("%s %s?%s → %d %s", r.Method, r.URL.Path, r.URL.RawQuery, res.status, res.body)
	}
	validateResponse(t, r, res)
}
