package httpadapter

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gousers/users"
)

// SignUpMode says who may create an account through POST /user and POST /user/register, and
// what POST /user answers.
type SignUpMode int

// The sign-up modes.
const (
	// SignUpVerify, the default: POST /user registers the user as POST /user/register does
	// (users.Service.Register): 202 with no session, and a verification code mailed; the
	// answer is the same whether or not the address has an account. The user signs in once
	// the address is verified (under users.Config.RequireVerifiedEmail) and, under
	// users.Config.RequireApproval, approved.
	SignUpVerify SignUpMode = iota
	// SignUpOpen is Appmixer's sign-up: POST /user answers 201 with a session at once
	// (users.Service.SignUp), unless the Service requires a verified address or approval
	// first, when it registers the user (202, no session). A taken username or e-mail
	// address is 409: this mode tells anyone which addresses have accounts, so choose it
	// knowingly.
	SignUpOpen
	// SignUpAdmin: only administrators create users; POST /user (as in SignUpOpen) and POST
	// /user/register answer 403 to anyone else (Appmixer's API_USER_CREATE_SCOPE=admin).
	SignUpAdmin
)

// Options configures the handler New returns. The zero Options means the defaults; every
// field is optional.
type Options struct {
	// SignUp says who may sign up and how POST /user answers; default SignUpVerify.
	SignUp SignUpMode
	// MaxBodyBytes bounds a request body; a larger one is answered 413. Default
	// DefaultMaxBodyBytes (64 KiB).
	MaxBodyBytes int64
	// RateLimits are the per-client-address limits of sign-in, sign-up and forgot-password.
	// The zero value means the defaults; see RateLimits to turn one off.
	RateLimits RateLimits
	// Limiter, when set, decides the rate limits in place of the in-process ones of
	// RateLimits, which are then ignored: an app plugs one shared by its instances (see
	// Limiter). Nil: NewLimiter(RateLimits).
	Limiter Limiter
	// ClientIPHeader names a header, such as "X-Forwarded-For" or "X-Real-IP", that a
	// trusted reverse proxy in front of the handler sets to the client's address; rate limits
	// are then kept by the last address it lists, and so is the client the Service counts
	// failed sign-ins by and records in its events (users.WithClient, set on every request).
	// Set it only behind such a proxy: a client can write any header. Empty: the
	// connection's address (RemoteAddr).
	ClientIPHeader string
	// MaxImageBytes bounds the body of a profile image (PUT /user/image, PUT and POST
	// /users/{id}/image); a larger one is answered 413. Default DefaultMaxImageBytes (1 MiB).
	// The Service's own users.Config.MaxImageBytes applies as well.
	MaxImageBytes int64
	// MaxImportBytes bounds the body of POST /users/import, which is read whole before any
	// user is imported; a larger one is answered 413 and imports nothing. Default
	// DefaultMaxImportBytes (64 MiB).
	MaxImportBytes int64
	// Logger receives internal errors, and nothing else; never a secret. Default: silent.
	Logger *slog.Logger
	// Now is the rate limits' clock; default time.Now. Tests set it.
	Now func() time.Time

	// Cookie, when set, turns on cookie mode for browser apps: sign-in and sign-up set the
	// session cookie, sign-out clears it, and the routes accept it as a bearer token; an
	// unsafe request authenticated by the cookie, and a sign-in or sign-up without an
	// Authorization header, must then come from the handler's own origin (or a CORS origin
	// allowed credentials), or are answered 403. See Cookie.
	Cookie *Cookie
	// CORS, when set, lets a front end on other origins call the API from a browser. See CORS.
	CORS *CORS
	// RedirectAllowlist are the URLs to which POST /user/register and POST
	// /user/forgot-password may redirect a form post (their success and failure fields):
	// absolute http or https URLs, or absolute paths. A URL is taken only when its scheme,
	// host and path equal an entry's; any other is answered 400. Empty: none is.
	RedirectAllowlist []string
	// Unauthorized, when set, answers the requests refused for want of a live token (401),
	// of a role (403), or for a cookie sent cross-origin (403). See Auth.Unauthorized.
	Unauthorized func(w http.ResponseWriter, r *http.Request, err error)
}

// New returns an http.Handler serving the user API on svc: the routes listed in the package
// documentation, relative to the root, so mount it under a prefix with http.StripPrefix. It
// serves its OpenAPI 3.1 document at GET /openapi.json.
//
// Every response to a request it cannot serve is an application/problem+json document (see
// the package documentation). The handler is safe for concurrent use. New panics when svc is
// nil, and when opts.CORS or opts.RedirectAllowlist has an entry it cannot use.
func New(svc users.Service, opts Options) http.Handler {
	if svc == nil {
		panic("httpadapter: New needs a Service")
	}
	h := &handler{
		svc:        svc,
		auth:       &Auth{Service: svc, Logger: opts.Logger, Cookie: opts.Cookie, CrossOrigin: opts.CORS.crossOrigin(), Unauthorized: opts.Unauthorized},
		log:        opts.Logger,
		signUpMode: opts.SignUp,
		maxBody:    opts.MaxBodyBytes,
		maxImage:   opts.MaxImageBytes,
		maxImport:  opts.MaxImportBytes,
		addrOf:     clientAddr(opts.ClientIPHeader),
		mux:        http.NewServeMux(),
		redirects:  newAllowlist(opts.RedirectAllowlist),
		now:        opts.Now,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.maxImage <= 0 {
		h.maxImage = DefaultMaxImageBytes
	}
	if h.maxImport <= 0 {
		h.maxImport = DefaultMaxImportBytes
	}
	h.limiter = opts.Limiter
	if h.limiter == nil {
		h.limiter = NewLimiter(opts.RateLimits)
	}
	for _, rt := range routes {
		h.mux.Handle(rt.pattern, h.wrap(rt))
	}
	h.mux.HandleFunc("/", h.notRouted)
	return opts.CORS.handler(h.mux)
}

// handler serves the API. It is not changed after New, but for its limiter's state, which
// it guards: it is safe for concurrent use.
type handler struct {
	svc        users.Service
	auth       *Auth
	log        *slog.Logger
	signUpMode SignUpMode
	maxBody    int64
	maxImage   int64
	maxImport  int64
	addrOf     func(*http.Request) netip.Addr
	limiter    Limiter
	mux        *http.ServeMux
	redirects  allowlist        // of Options.RedirectAllowlist
	now        func() time.Time // the clock of the session cookie's max age
}

// access says who may call a route before the policy is asked.
type access int

const (
	anyone       access = iota // no token needed
	signedIn                   // a live bearer token of a user who need not change their password
	mayChange                  // a live bearer token, of a user who must change their password too
	creator                    // anyone, or an administrator under SignUpAdmin
	optionalUser               // anyone without an Authorization header; a live bearer token with one
)

// limitKind names the rate limit a route is under.
type limitKind int

const (
	noLimit limitKind = iota
	signInLimit
	createLimit
	forgotPasswordLimit
	limitKinds // the number of kinds
)

// route is one operation of the API. serve writes the success response, or returns the error
// to answer with.
type route struct {
	pattern string // method and path, as ServeMux reads them
	access  access
	limit   limitKind
	serve   func(h *handler, w http.ResponseWriter, r *http.Request) error
}

// routes are the operations of the API. The OpenAPI document describes each (a test checks).
// Every route that reads or acts on a user asks the policy (users.Authorize or
// users.AuthorizeUpdate) in serve, its own user's routes under /user included.
var routes = []route{
	{"POST /user/auth", anyone, signInLimit, (*handler).signIn},
	{"POST /user", creator, createLimit, (*handler).signUp},
	{"GET /user", mayChange, noLimit, (*handler).currentUser},
	{"POST /user/register", creator, createLimit, (*handler).register},
	{"POST /user/register/resend", anyone, forgotPasswordLimit, (*handler).resendVerification},
	{"POST /user/verify", anyone, noLimit, (*handler).verifyEmail},
	{"POST /user/change-password", optionalUser, signInLimit, (*handler).changePassword},
	{"POST /user/reset-password", signedIn, noLimit, (*handler).resetPassword},
	{"POST /user/forgot-password", anyone, forgotPasswordLimit, (*handler).forgotPassword},
	{"POST /user/forgot-password/reset", anyone, noLimit, (*handler).resetForgottenPassword},
	{"POST /user/sign-out", mayChange, noLimit, (*handler).signOut},
	{"GET /user/keys", signedIn, noLimit, (*handler).listOwnKeys},
	{"POST /user/keys", signedIn, noLimit, (*handler).createOwnKey},
	{"DELETE /user/keys/{id}", signedIn, noLimit, (*handler).deleteOwnKey},
	{"POST /user/keys/{id}/rotate", signedIn, noLimit, (*handler).rotateOwnKey},
	{"GET /user/image", signedIn, noLimit, (*handler).getOwnImage},
	{"PUT /user/image", signedIn, noLimit, (*handler).putOwnImage},
	{"DELETE /user/image", signedIn, noLimit, (*handler).deleteOwnImage},
	{"GET /users", signedIn, noLimit, (*handler).listUsers},
	{"GET /users/count", signedIn, noLimit, (*handler).countUsers},
	{"POST /users/import", signedIn, noLimit, (*handler).importUsers},
	{"GET /users/export", signedIn, noLimit, (*handler).exportUsers},
	{"POST /users", signedIn, noLimit, (*handler).createUser},
	{"GET /users/{id}", signedIn, noLimit, (*handler).getUser},
	{"PUT /users/{id}", signedIn, noLimit, (*handler).updateUser},
	{"DELETE /users/{id}", signedIn, noLimit, (*handler).deleteUser},
	{"POST /users/{id}/approve", signedIn, noLimit, (*handler).approveUser},
	{"PUT /users/{id}/password", signedIn, noLimit, (*handler).setUserPassword},
	{"POST /users/{id}/reset-password", signedIn, noLimit, (*handler).generateUserPassword},
	{"GET /users/{id}/delete-status/{ticket}", signedIn, noLimit, (*handler).deletionStatus},
	{"POST /users/{id}/delete-status/{ticket}/cancel", signedIn, noLimit, (*handler).cancelDeletion},
	{"POST /users/{id}/sessions/revoke", signedIn, noLimit, (*handler).revokeSessions},
	{"GET /users/{id}/keys", signedIn, noLimit, (*handler).listUserKeys},
	{"POST /users/{id}/keys", signedIn, noLimit, (*handler).createUserKey},
	{"DELETE /users/{id}/keys/{keyId}", signedIn, noLimit, (*handler).deleteUserKey},
	{"POST /users/{id}/keys/{keyId}/rotate", signedIn, noLimit, (*handler).rotateUserKey},
	{"GET /users/{id}/image", signedIn, noLimit, (*handler).getUserImage},
	{"PUT /users/{id}/image", signedIn, noLimit, (*handler).putUserImage},
	{"POST /users/{id}/image", signedIn, noLimit, (*handler).putUserImage},
	{"DELETE /users/{id}/image", signedIn, noLimit, (*handler).deleteUserImage},
	{"GET /openapi.json", anyone, noLimit, (*handler).openAPI},
}

// limitNames are the names of the limit kinds, as a Limiter is asked about them.
var limitNames = [limitKinds]string{signInLimit: LimitSignIn, createLimit: LimitCreate, forgotPasswordLimit: LimitForgotPassword}

// wrap returns the handler of a route: the client in the context, its rate limit, then its
// access check, then serve.
func (h *handler) wrap(rt route) http.Handler {
	var next http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := rt.serve(h, w, r); err != nil {
			h.fail(w, r, err)
		}
	})
	switch {
	case rt.access == signedIn:
		next = h.auth.RequireUser(next)
	case rt.access == mayChange:
		next = h.auth.requireUser(next, true)
	case rt.access == optionalUser:
		next = h.auth.optionalUser(next, true)
	case rt.access == creator && h.signUpMode == SignUpAdmin:
		next = h.auth.RequireScope(users.RoleAdmin)(next)
	}
	next = h.guardSession(rt, next)
	next = h.redirecting(rt, limit(h.limiter, limitNames[rt.limit], next, h.addrOf, h.now, h.fail))
	return withClient(next, h.addrOf)
}

// errorWriter writes an error response.
type errorWriter func(w http.ResponseWriter, r *http.Request, err error)

// fail writes err as the response, through writeError.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, h.log, err)
}

// probeMethods are the methods notRouted looks for when a path has no route for the method.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch}

// notRouted answers a request no route matches: 405 with Allow when the path has routes for
// other methods, 404 otherwise.
func (h *handler) notRouted(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		h.fail(w, r, users.NotFoundError("route"))
		return
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	h.fail(w, r, &users.Error{Code: CodeMethodNotAllowed, Message: "the route does not take " + r.Method})
}

// decode reads the request body, JSON, into the fields (see decodeJSON).
func (h *handler) decode(w http.ResponseWriter, r *http.Request, into fields) error {
	return decodeJSON(w, r, h.maxBody, into)
}

// decodeForm reads the request body, JSON or form-encoded, into the fields (see
// decodeJSONOrForm).
func (h *handler) decodeForm(w http.ResponseWriter, r *http.Request, into fields) error {
	return decodeJSONOrForm(w, r, h.maxBody, into)
}

// writeJSON writes v as a JSON response with the status. It returns an error, and writes
// nothing, only when v cannot be encoded.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// marshal encodes v as JSON. A value that marshals itself (a users.User, a users.Ticket) is
// asked directly: json.Marshal would check and compact its output again, which costs a third
// of GET /user, and the users package's marshalers produce compact JSON already.
func marshal(v any) ([]byte, error) {
	if m, ok := v.(json.Marshaler); ok {
		return m.MarshalJSON()
	}
	return json.Marshal(v)
}

// empty is the body of a success that has nothing to say: {}.
var empty = struct{}{}
