package httpadapter

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gousers/users"
)

// Auth is the bearer-token middleware, for the adapter's routes and the app's own: apps that
// mount the adapter protect their routes with the same tokens.
//
//	auth := &httpadapter.Auth{Service: svc}
//	mux.Handle("GET /notes", auth.RequireUser(notes))
//	mux.Handle("GET /reports", auth.RequireScope("admin", "auditor")(reports))
//
// The middleware reads the token from the Authorization header ("Bearer <token>") or, when
// Cookie is set and the request has no Authorization header, from the session cookie; it asks
// the Service whose it is, and puts that user in the request's context for UserFrom, and the
// principal as the actor of every Service call made with the request's context (see
// users.WithActor): the Service then decides for the caller. A request without a live token is
// answered 401 with a problem+json body and a WWW-Authenticate header; one whose user lacks the
// role RequireScope asks for, 403; one whose user must change their password
// (users.User.MustChangePassword), 403 with the code password_change_required. An unsafe
// request (POST, PUT, DELETE, ...) authenticated by the cookie must pass CrossOrigin, or is
// answered 403: a browser adds the cookie to any site's request, never the Authorization
// header.
//
// The fields must not change once the middleware is in use; an Auth is then safe for
// concurrent use.
type Auth struct {
	// Service checks the tokens. Required.
	Service users.Service
	// Logger receives internal errors, such as a store that fails; nil is silent.
	Logger *slog.Logger
	// Cookie, when set, names the session cookie the middleware accepts beside the
	// Authorization header, which wins when a request has both. Give it the Options.Cookie of
	// the handler that sets the cookie. Nil: bearer tokens only.
	Cookie *Cookie
	// CrossOrigin checks the unsafe requests authenticated by the cookie (see
	// http.CrossOriginProtection). Nil: http.NewCrossOriginProtection(), which lets through
	// same-origin requests and requests from clients that are not browsers.
	CrossOrigin *http.CrossOriginProtection
	// Unauthorized, when set, answers the requests the middleware does not let through (401,
	// or 403 from RequireScope or CrossOrigin), instead of the problem+json answer; err is a
	// *users.Error saying why, whose message is safe to show. An app may redirect a browser to
	// its sign-in page with it. It is not called for internal errors, which are answered 500.
	Unauthorized func(w http.ResponseWriter, r *http.Request, err error)
}

// The answers of the middleware to a request it does not let through.
var (
	errNoToken  = &users.Error{Code: users.CodeUnauthorized, Message: "a bearer token is required"}
	errBadToken = &users.Error{Code: users.CodeUnauthorized, Message: "the bearer token is invalid or has expired"}
)

// caller is who made a request: the principal a bearer token belongs to, and the token.
type caller struct {
	*users.Principal
	token string
}

type callerKey struct{}

// UserFrom returns the signed-in user of a request that passed RequireUser or RequireScope
// (or an authenticated route of the adapter), as the Service returned it for this request,
// and false for any other. The user is an active one at the time the token was checked.
func UserFrom(ctx context.Context) (*users.User, bool) {
	c, ok := ctx.Value(callerKey{}).(*caller)
	if !ok {
		return nil, false
	}
	return c.User, true
}

// callerFrom returns the caller of a request that passed RequireUser. The adapter's own
// routes ask for it only behind RequireUser.
func callerFrom(r *http.Request) *caller {
	c, _ := r.Context().Value(callerKey{}).(*caller)
	return c
}

// RequireUser returns a handler that lets through to next only requests with a live bearer
// token, with the token's user in the context (see UserFrom) and its principal as the actor
// of Service calls (see users.WithActor). It answers others 401, a user who must change their
// password 403 (users.ErrPasswordChangeRequired), and 500 when the Service fails.
func (a *Auth) RequireUser(next http.Handler) http.Handler {
	return a.requireUser(next, false)
}

// requireUser is RequireUser, letting through a user who must change their password when
// mayChange is set: for the routes such a user may use (read themself, change the password,
// sign out).
func (a *Auth) requireUser(next http.Handler, mayChange bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.authenticate(r)
		if err == nil && c.User.MustChangePassword && !mayChange {
			err = users.ErrPasswordChangeRequired
		}
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		ctx := users.WithActor(context.WithValue(r.Context(), callerKey{}, c), c.Principal)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// OptionalUser returns a handler that lets through a request without credentials (no
// Authorization header, and no session cookie when Cookie is set) as it is, without a user
// for UserFrom, and one with credentials as RequireUser does: only with a live token, so that
// a bad token is answered 401 and the request is never taken as an anonymous one. A route
// that serves both the signed-in and anonymous callers, or that takes either the caller's
// token or credentials in the body, uses it.
func (a *Auth) OptionalUser(next http.Handler) http.Handler {
	return a.optionalUser(next, false)
}

// optionalUser is OptionalUser, letting through a user who must change their password when
// mayChange is set (see requireUser).
func (a *Auth) optionalUser(next http.Handler, mayChange bool) http.Handler {
	withUser := a.requireUser(next, mayChange)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.hasCredential(r) {
			withUser.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireScope returns middleware that lets through only requests whose signed-in user has
// at least one of the roles in their scope; it answers 401 as RequireUser does, and 403 to
// a signed-in user without the role. It panics when no role is given.
func (a *Auth) RequireScope(roles ...string) func(http.Handler) http.Handler {
	if len(roles) == 0 {
		panic("httpadapter: RequireScope needs at least one role")
	}
	roles = slices.Clone(roles)
	return func(next http.Handler) http.Handler {
		return a.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.ContainsFunc(roles, callerFrom(r).User.HasRole) {
				a.refuse(w, r, &users.Error{Code: users.CodeForbidden, Message: "this needs one of the roles " + strings.Join(roles, ", ")})
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// authenticate returns the caller of r, or an error: ErrUnauthorized for a missing,
// malformed, unknown or expired token, ErrForbidden for a cookie on a cross-origin unsafe
// request, or the Service's internal error.
func (a *Auth) authenticate(r *http.Request) (*caller, error) {
	token, err := a.credential(r)
	if err != nil {
		return nil, err
	}
	p, err := a.Service.Authenticate(r.Context(), token)
	if errors.Is(err, users.ErrUnauthorized) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	return &caller{Principal: p, token: token}, nil
}

// BearerToken returns the token of the request's "Authorization: Bearer <token>" header, and
// false when it has none, or a header of another scheme or without a token. The scheme's case
// does not matter (RFC 9110, section 11.1). It only reads the header: whether the token is
// live is the Service's to say (users.Service.Authenticate). Safe for concurrent use.
func BearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
