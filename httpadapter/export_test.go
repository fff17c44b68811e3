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
