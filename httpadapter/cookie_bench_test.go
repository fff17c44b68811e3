package httpadapter_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/gousers/users/httpadapter"
)

// BenchmarkCurrentUserByTransport measures GET /user with the session token in the
// Authorization header (bearer) beside the same token in the session cookie, in cookie mode
// (cookie), and in cookie mode behind CORS for a front end's origin (cookie-cors): the cookie
// adds reading it and the cross-origin check, CORS its headers. Target: cookie within 1.1×
// of bearer.
func BenchmarkCurrentUserByTransport(b *testing.B) {
	_, svc, s := benchFixture(b)
	off := httpadapter.RateLimit{Burst: -1}
	cookie := &httpadapter.Cookie{}
	plain := httpadapter.New(svc, httpadapter.Options{RateLimits: httpadapter.RateLimits{SignIn: off}})
	withCookie := httpadapter.New(svc, httpadapter.Options{RateLimits: httpadapter.RateLimits{SignIn: off}, Cookie: cookie})
	withCORS := httpadapter.New(svc, httpadapter.Options{RateLimits: httpadapter.RateLimits{SignIn: off}, Cookie: cookie,
		CORS: &httpadapter.CORS{AllowedOrigins: []string{"https://app.example.com"}, AllowCredentials: true}})

	bearer := httptest.NewRequest(http.MethodGet, "/user", nil)
	bearer.Header.Set("Authorization", "Bearer "+s.Token)
	byCookie := httptest.NewRequest(http.MethodGet, "/user", nil)
	byCookie.AddCookie(&http.Cookie{Name: cookieName, Value: s.Token})
	byCookie.Header.Set("Sec-Fetch-Site", "same-origin")
	fromFrontEnd := byCookie.Clone(byCookie.Context())
	fromFrontEnd.Header.Set("Origin", "https://app.example.com")
	fromFrontEnd.Header.Set("Sec-Fetch-Site", "same-site")

	for _, c := range []struct {
		name string
		h    http.Handler
		r    *http.Request
	}{{"bearer", plain, bearer}, {"cookie", withCookie, byCookie}, {"cookie-cors", withCORS, fromFrontEnd}} {
		b.Run(c.name, func(b *testing.B) {
			runtime.GC() // the same start for each: the fixture's argon2id hashing leaves 19 MiB to collect
			serveBench(b, c.h, c.r, http.StatusOK)
		})
	}
}
