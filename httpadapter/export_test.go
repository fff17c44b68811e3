package httpadapter

// Exported for the tests of package httpadapter_test.

// Routes returns the method-and-path patterns of the handler's routes.
func Routes() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.pattern
	}
	return out
}

// ParseQuery is parseQuery.
var ParseQuery = parseQuery

// RouteGuard says what may refuse a request to a route before its answer: a missing or dead
// token (401), the policy or a role (403), the per-address rate limit (429).
type RouteGuard struct{ Token, Policy, RateLimit bool }

// RouteGuards returns the guard of each route, by pattern.
func RouteGuards() map[string]RouteGuard {
	out := make(map[string]RouteGuard, len(routes))
	for _, rt := range routes {
		out[rt.pattern] = RouteGuard{
			Token:     rt.access != anyone,
			Policy:    rt.access == signedIn || rt.access == creator,
			RateLimit: rt.limit != noLimit,
		}
	}
	return out
}
