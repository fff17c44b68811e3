package httpadapter

import (
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/gousers/users"
)

// DefaultCookieName is the name of the session cookie when Cookie.Name is empty and the
// cookie cannot take the __Host- prefix (it is not Secure, or has a Domain or a Path other
// than "/").
const DefaultCookieName = "users_session"

// Cookie configures the session cookie of a browser app (Options.Cookie, Auth.Cookie,
// PagesOptions.Cookie). In cookie mode the routes that start a session (POST /user/auth,
// POST /user when it answers with a session, the sign-in page) also set the session token in
// an HttpOnly, Secure, SameSite=Lax cookie that expires with the session, and POST
// /user/sign-out (and the sign-out page) clears it; the middleware accepts the cookie as it
// does the Authorization header. The JSON answers still carry the token: the app decides
// whether its pages keep it.
//
// The zero Cookie means the defaults. A Cookie must not change once in use; it is then safe
// for concurrent use.
type Cookie struct {
	// Name is the cookie's name. Default: "__Host-users_session" when the cookie is Secure,
	// has no Domain and the Path "/" (the prefix makes a browser refuse the cookie from a
	// subdomain, or over http), and DefaultCookieName otherwise.
	Name string
	// Path is the cookie's path. Default "/".
	Path string
	// Domain, when set, makes the cookie sent to the subdomains of Domain too. Default: none,
	// the cookie goes back only to the host that set it, which is safer.
	Domain string
	// Insecure leaves out the Secure attribute, so that the browser sends the cookie over
	// plain http: for development on http://localhost only. Default false: the cookie is
	// Secure, sent over https only.
	Insecure bool
}

// name returns the cookie's name (see Cookie.Name).
func (c *Cookie) name() string {
	switch {
	case c.Name != "":
		return c.Name
	case !c.Insecure && c.Domain == "" && c.path() == "/":
		return "__Host-" + DefaultCookieName
	default:
		return DefaultCookieName
	}
}

// path returns the cookie's path (see Cookie.Path).
func (c *Cookie) path() string {
	if c.Path == "" {
		return "/"
	}
	return c.Path
}

// session returns the cookie holding the token of s, which expires with s; now is the
// time it is set.
func (c *Cookie) session(s *users.Session, now time.Time) *http.Cookie {
	ck := c.base()
	ck.Value = s.Token
	ck.Expires = s.Expires
	ck.MaxAge = max(1, int(math.Ceil(s.Expires.Sub(now).Seconds())))
	return ck
}

// cleared returns the cookie that removes the session cookie from the browser.
func (c *Cookie) cleared() *http.Cookie {
	ck := c.base()
	ck.MaxAge = -1 // Max-Age=0
	return ck
}

// base returns the cookie's attributes, without a value.
func (c *Cookie) base() *http.Cookie {
	return &http.Cookie{
		Name:     c.name(),
		Path:     c.path(),
		Domain:   c.Domain,
		Secure:   !c.Insecure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// token returns the value of the session cookie of r, and false when it has none.
func (c *Cookie) token(r *http.Request) (string, bool) {
	ck, err := r.Cookie(c.name())
	if err != nil || ck.Value == "" {
		return "", false
	}
	return ck.Value, true
}

// The answers of the middleware about the cookie.
var (
	errNoCredential = &users.Error{Code: users.CodeUnauthorized, Message: "a bearer token or the session cookie is required"}
	errCrossOrigin  = &users.Error{Code: users.CodeForbidden, Message: "a cross-origin request cannot use the session cookie"}
)

// defaultCrossOrigin is the CrossOrigin of an Auth without one. It is never changed, so it
// is safe for concurrent use.
var defaultCrossOrigin = http.NewCrossOriginProtection()

// crossOrigin returns a.CrossOrigin, or the default.
func (a *Auth) crossOrigin() *http.CrossOriginProtection {
	if a.CrossOrigin != nil {
		return a.CrossOrigin
	}
	return defaultCrossOrigin
}

// credential returns the token r authenticates with: the bearer token when r has an
// Authorization header, else the session cookie's in cookie mode. It returns ErrUnauthorized
// when there is none, and ErrForbidden for a cookie on an unsafe cross-origin request.
func (a *Auth) credential(r *http.Request) (string, error) {
	if _, ok := r.Header["Authorization"]; ok || a.Cookie == nil {
		token, ok := BearerToken(r)
		if !ok {
			return "", errNoToken
		}
		return token, nil
	}
	token, ok := a.Cookie.token(r)
	if !ok {
		return "", errNoCredential
	}
	if err := a.crossOrigin().Check(r); err != nil {
		return "", errCrossOrigin
	}
	return token, nil
}

// hasCredential reports whether r carries a credential: an Authorization header, or the
// session cookie in cookie mode.
func (a *Auth) hasCredential(r *http.Request) bool {
	if _, ok := r.Header["Authorization"]; ok {
		return true
	}
	if a.Cookie == nil {
		return false
	}
	_, ok := a.Cookie.token(r)
	return ok
}

// refuse answers a request the middleware does not let through: with a.Unauthorized for a
// 401 or a 403 when it is set, else with the problem+json answer of err. A session cookie
// that no longer authenticates is cleared from the browser.
func (a *Auth) refuse(w http.ResponseWriter, r *http.Request, err error) {
	e, isUsers := errorAs(err)
	if a.Cookie != nil && isUsers && e.Code == users.CodeUnauthorized && r.Header.Get("Authorization") == "" {
		if _, ok := a.Cookie.token(r); ok {
			http.SetCookie(w, a.Cookie.cleared())
		}
	}
	if a.Unauthorized != nil && isUsers && (e.Code == users.CodeUnauthorized || e.Code == users.CodeForbidden) {
		a.Unauthorized(w, r, e)
		return
	}
	writeError(w, r, a.Logger, err)
}

// errorAs returns err as a *users.Error, and false when it is not one.
func errorAs(err error) (*users.Error, bool) {
	var e *users.Error
	ok := errors.As(err, &e)
	return e, ok
}

// sessionRoutes are the routes of the handler that start a session, and so set the cookie in
// cookie mode.
var sessionRoutes = map[string]bool{"POST /user/auth": true, "POST /user": true}

// guardSession wraps the handler of a route that sets the session cookie, in cookie mode:
// a cross-origin browser request without an Authorization header is answered 403, so that
// another site cannot sign a visitor in to an account of its choosing (login CSRF).
func (h *handler) guardSession(rt route, next http.Handler) http.Handler {
	if h.auth.Cookie == nil || !sessionRoutes[rt.pattern] {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["Authorization"]; !ok {
			if err := h.auth.crossOrigin().Check(r); err != nil {
				h.auth.refuse(w, r, errCrossOrigin)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// setSessionCookie sets the cookie of s on the response, in cookie mode.
func (h *handler) setSessionCookie(w http.ResponseWriter, s *users.Session) {
	if h.auth.Cookie != nil {
		http.SetCookie(w, h.auth.Cookie.session(s, h.now()))
	}
}

// clearSessionCookie clears the session cookie, in cookie mode.
func (h *handler) clearSessionCookie(w http.ResponseWriter) {
	if h.auth.Cookie != nil {
		http.SetCookie(w, h.auth.Cookie.cleared())
	}
}
