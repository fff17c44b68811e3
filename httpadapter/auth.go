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
// The middleware reads the token from the Authorization header ("Bearer <token>"), asks the
// Service whose it is, and puts that user in the request's context for UserFrom, and the
// principal as the actor of every Service call made with the request's context (see
// users.WithActor): the Service then decides for the caller. A request without a live token is
// answered 401 with a problem+json body and a WWW-Authenticate header; one whose user lacks
// the role RequireScope asks for, 403; one whose user must change their password
// (users.User.MustChangePassword), 403 with the code password_change_required.
//
// The fields must not change once the middleware is in use; an Auth is then safe for
// concurrent use.
type Auth struct {
	// Service checks the tokens. Required.
	Service users.Service
	// Logger receives internal errors, such as a store that fails; nil is silent.
	Logger *slog.Logger
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
			writeError(w, r, a.Logger, err)
			return
		}
		ctx := users.WithActor(context.WithValue(r.Context(), callerKey{}, c), c.Principal)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// userIfAuthorized returns a handler that lets through a request without an Authorization
// header as it is, with no caller, and one with the header as RequireUser does: only with a
// live bearer token. Routes that take either the caller's token or credentials in the body
// use it, so that a bad token is 401 and never read as the other form.
func (a *Auth) userIfAuthorized(next http.Handler) http.Handler {
	withUser := a.requireUser(next, true)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["Authorization"]; ok {
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
				writeError(w, r, a.Logger, &users.Error{Code: users.CodeForbidden, Message: "this needs one of the roles " + strings.Join(roles, ", ")})
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// authenticate returns the caller of r, or an error: ErrUnauthorized for a missing,
// malformed, unknown or expired token, or the Service's internal error.
func (a *Auth) authenticate(r *http.Request) (*caller, error) {
	token, ok := bearerToken(r)
	if !ok {
		return nil, errNoToken
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

// bearerToken returns the token of an "Authorization: Bearer <token>" header; the scheme's
// case does not matter (RFC 9110, section 11.1).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
