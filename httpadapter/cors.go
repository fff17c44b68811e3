package httpadapter

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/cors"
)

// DefaultCORSMaxAge is the default of CORS.MaxAge.
const DefaultCORSMaxAge = 10 * time.Minute

// CORS lets a front end served from other origins call the API from a browser (Options.CORS):
// the handler answers their preflight requests (OPTIONS with Access-Control-Request-Method)
// and marks its answers as readable by them. Requests from any other origin get no CORS
// header, so a browser keeps their answers from the page that sent them.
//
// A CORS must not change once in use; it is then safe for concurrent use.
type CORS struct {
	// AllowedOrigins are the origins allowed, each a scheme, a host and an optional port, as
	// a browser sends them in the Origin header: "https://app.example.com",
	// "http://localhost:5173". They are compared ignoring case; wildcards are not taken.
	// Required: New panics when it is empty or an entry is not an origin.
	AllowedOrigins []string
	// AllowCredentials lets the allowed origins send the session cookie (fetch with
	// credentials: "include"); their unsafe requests with the cookie are then also trusted by
	// the cross-origin check of cookie mode. Default false: bearer tokens only.
	AllowCredentials bool
	// MaxAge is how long a browser may keep the answer to a preflight request. Default
	// DefaultCORSMaxAge; browsers cap it (Chromium at two hours).
	MaxAge time.Duration
}

// The methods, request headers and response headers a CORS request may use.
var (
	corsMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete}
	corsHeaders = []string{"Authorization", "Content-Type", "If-None-Match"}
	corsExposed = []string{"X-Total-Count", "Retry-After", "WWW-Authenticate", "ETag", "Location", "Content-Disposition"}
)

// checkOrigins returns an error naming the first of origins that is not an origin (a scheme,
// a host and an optional port, nothing else), or when there is none.
func checkOrigins(origins []string) error {
	if len(origins) == 0 {
		return fmt.Errorf("httpadapter: CORS.AllowedOrigins is empty")
	}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(u.Host, "*") ||
			!strings.EqualFold(u.Scheme+"://"+u.Host, o) {
			return fmt.Errorf("httpadapter: CORS origin %q is not a scheme, a host and an optional port, such as https://app.example.com", o)
		}
	}
	return nil
}

// handler returns next wrapped to answer the CORS requests c allows, or next when c is nil.
// It panics when c's origins are not valid (see CORS.AllowedOrigins).
func (c *CORS) handler(next http.Handler) http.Handler {
	if c == nil {
		return next
	}
	if err := checkOrigins(c.AllowedOrigins); err != nil {
		panic(err)
	}
	maxAge := c.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultCORSMaxAge
	}
	return cors.New(cors.Options{
		AllowedOrigins:   c.AllowedOrigins,
		AllowedMethods:   corsMethods,
		AllowedHeaders:   corsHeaders,
		ExposedHeaders:   corsExposed,
		AllowCredentials: c.AllowCredentials,
		MaxAge:           max(1, int(maxAge/time.Second)),
	}).Handler(next)
}

// crossOrigin returns the cross-origin check of cookie mode for a handler with the CORS
// settings c: the allowed origins are trusted when they may send the cookie. It panics
// when an origin is not valid.
func (c *CORS) crossOrigin() *http.CrossOriginProtection {
	p := http.NewCrossOriginProtection()
	if c == nil || !c.AllowCredentials {
		return p
	}
	for _, o := range c.AllowedOrigins {
		// Browsers send the origin in lower case, and the check compares it exactly.
		if err := p.AddTrustedOrigin(strings.ToLower(o)); err != nil {
			panic(fmt.Sprintf("httpadapter: CORS origin %q: %v", o, err))
		}
	}
	return p
}
