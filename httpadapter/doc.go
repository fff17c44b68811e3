// Package httpadapter serves a users.Service as a REST API over net/http: the user API of
// Appmixer (the same paths, camelCase JSON fields and status codes), extended in the same
// style with what the other seed APIs add.
//
// # Mounting
//
// New returns an http.Handler whose routes are relative to the root. Mount it under a
// prefix with http.StripPrefix, beside the app's own routes:
//
//	svc, err := users.New(store, users.Config{Mailer: mailer})
//	if err != nil { ... }
//	defer svc.Close()
//
//	mux := http.NewServeMux()
//	mux.Handle("/api/", http.StripPrefix("/api", httpadapter.New(svc, httpadapter.Options{})))
//
// Every authenticated request carries its caller to the Service as the actor (see
// users.WithActor): the Service decides what the caller may do, against the target as it is
// in the transaction that changes it, so a concurrent change of the target (a promotion, say)
// makes the request fail (403) rather than land on a user the caller may not act on.
//
// # Routes
//
// Who may call a route: "anyone" needs no token; "user" is a signed-in caller (a bearer
// token or an API key); "policy" is a signed-in caller whom users.Authorize (or
// users.AuthorizeUpdate, for updates) lets do the route's action to the target user. Bodies
// are JSON; "form" marks the routes that also take application/x-www-form-urlencoded with the
// same field names.
//
//	POST   /user/auth                                anyone   {username, password} → 200 {token, user, expires}
//	POST   /user                                     anyone*  {username, email, password, metadata} → 202 {} or 201 {token, user, expires}: see Sign-up
//	GET    /user                                     user     → 200 the caller
//	POST   /user/register                            anyone*  {username or email, name, password, success, failure}, form → 202 {}, whether or not the address is taken
//	POST   /user/register/resend                     anyone   {email}, form → 202 {}, whether or not a code is mailed
//	POST   /user/verify                              anyone   {code}, form → 200 the user, e-mail verified; 400 for a bad code
//	POST   /user/change-password                     user     {oldPassword, newPassword} → 200 {}
//	                                                 anyone   without an Authorization header: {email, oldPassword, newPassword}, form → 200 {}
//	POST   /user/reset-password                      policy   {email, password} → 200 {} (set-password: an administrator sets a password)
//	POST   /user/forgot-password                     anyone   {email, success, failure}, form → 200 {}, the same for an unknown address
//	POST   /user/forgot-password/reset               anyone   {code, password} → 200 {}
//	POST   /user/sign-out                            user     → 204; the session token, or the API key, stops working
//	GET    /user/keys                                user     → 200 [{id, name, prefix, created, expires, lastUsed}, ...]
//	POST   /user/keys                                user     {name, expires} → 201 {id, name, prefix, key, created, expires}
//	DELETE /user/keys/{id}                           user     → 204
//	POST   /user/keys/{id}/rotate                    user     → 200 the key with a new key
//	GET    /user/image                               user     → 200 the image, 304, or 404 when none
//	PUT    /user/image                               user     the image → 200 {contentType, width, height, size, etag, updated}
//	DELETE /user/image                               user     → 204, or 404 when none
//	GET    /users                                    policy   the query → 200 [user, ...] and X-Total-Count (list)
//	GET    /users/count                              policy   the query → 200 {count} (list)
//	POST   /users/import                             policy   JSON Lines (application/x-ndjson) → 200 {read, created, skipped, rejected, lines} (import)
//	GET    /users/export                             policy   → 200 every user with their hash, JSON Lines, as an attachment (export)
//	POST   /users                                    policy   a full profile, permissions, passwordResetAllowed → 201 the user (create)
//	GET    /users/{id}                               policy   → 200 the user (read)
//	PUT    /users/{id}                               policy   the fields to change → 200 the user (update)
//	DELETE /users/{id}                               policy   → 200 the deletion ticket {ticket, status, stepsDone, stepsTotal, ...} (delete)
//	POST   /users/{id}/approve                       policy   → 200 the user, active (approve); 409 if disabled
//	PUT    /users/{id}/password                      policy   {password} → 200 {} (set-password)
//	POST   /users/{id}/reset-password                policy   → 200 {password}, generated, shown once (set-password)
//	GET    /users/{id}/delete-status/{ticket}        policy   → 200 the ticket (delete)
//	POST   /users/{id}/delete-status/{ticket}/cancel policy   → 200 the ticket; 409 once it has ended (delete)
//	POST   /users/{id}/sessions/revoke               policy   ?keys=true → 204; every session (and API key) of the user stops working (revoke-sessions)
//	GET    /users/{id}/keys                          policy   → 200 the user's API keys (manage-keys)
//	POST   /users/{id}/keys                          policy   {name, expires} → 201 the key, createdBy the caller (create-key)
//	DELETE /users/{id}/keys/{keyId}                  policy   → 204 (manage-keys)
//	POST   /users/{id}/keys/{keyId}/rotate           policy   → 200 the key with a new key (create-key)
//	GET    /users/{id}/image                         policy   → 200 the image, 304, or 404 when none (read)
//	PUT    /users/{id}/image                         policy   the image → 200 {contentType, ...} (set-image); POST alike
//	DELETE /users/{id}/image                         policy   → 204, or 404 when none (set-image)
//	GET    /openapi.json                             anyone   → 200 the OpenAPI 3.1 document of all of the above
//
// * Anyone, unless Options.SignUp is SignUpAdmin: administrators only.
//
// # Sign-up
//
// Options.SignUp decides what POST /user does. SignUpVerify, the default, registers the user
// as POST /user/register does: 202 {} whether or not the address has an account, a
// verification code mailed, and no session; pair it with users.Config.RequireVerifiedEmail so
// that nobody signs in before proving the address. SignUpOpen is Appmixer's shape: 201 with a
// session at once, and 409 for a taken username or e-mail address, which tells anyone which
// addresses have accounts: choose it knowingly. Even then the Service's requirements win: under
// users.Config.RequireVerifiedEmail or RequireApproval the answer is 202 with no session, as
// in SignUpVerify. SignUpAdmin lets only administrators create users (Appmixer's
// API_USER_CREATE_SCOPE=admin); POST /user/register is closed to others too.
//
// # Authorization
//
// Every route that reads or acts on a user asks users.Authorize, with the action in
// parentheses above and the target user (for create, the user as it would be created, with
// its defaults). The rules are the policy's:
//
//   - An administrator (role admin) may do everything, except raise their own scope or
//     status.
//   - A user may read themself, update their username, e-mail, name and metadata, drop
//     roles and disable their account, manage their own API keys and image, and sign
//     themself out everywhere; never set their password without the current one, nor grant
//     themself a role or a permission.
//   - Delegated administration: a user holding {"users": "read"} in permissions may list
//     and read every user; one holding "write" may also create, update, approve, delete,
//     set passwords and manage keys and images of users who hold no role or permission they
//     do not hold themself, and grant nothing they do not hold.
//   - An organization administrator (role orgadmin with an orgId) may do what write allows
//     within their organization only: their lists and counts are limited to it (orgId eq
//     their organization is ANDed to the query; OR of several conditions is 400 for them),
//     the users they create are in it unless the body names another (403), and a user of
//     another organization is 404 to them, as if it did not exist.
//
// A caller the policy does not let act on users gets 403 for a user who does not exist as
// for one who does; one who may act on users they do not know (an administrator, write on
// users, an organization administrator) gets 404.
//
// Sign-up and registration set only the fields they take: a client cannot give itself a
// scope, a status or permissions. An update is authorized against the user as they are when
// it is made (403 when a concurrent change put them out of the caller's reach), and a
// version in the body must match too (409). The last active administrator cannot be
// deleted, disabled or demoted (409).
//
// # Credentials
//
// The rules of package users (see its documentation) hold for every route:
//
//   - An API key is its owner's credential: only the owner and an administrator mint one
//     (create or rotate); a key an administrator makes for someone records them (createdBy)
//     and the user is mailed at once. A delegated administrator may list and revoke keys,
//     never mint them (403).
//   - A key is not a session: minting keys, changing a password, e-mail address or username,
//     and acting on another user's credentials answer an API key 403 with the code
//     session_required. POST /user/sign-out with a key revokes the key.
//   - Changing one's own username, e-mail address or password through PUT /users/{id} needs
//     currentPassword; the old address is mailed about the change.
//   - What revokes what: a password reset or set, and a status other than active, revoke
//     every session, code and API key of the user; a change of one's own password keeps only
//     the session it was made with; a change of scope, permissions or organization revokes
//     the user's API keys.
//   - A user whose password an administrator generated (mustChangePassword) gets 403 with
//     the code password_change_required from every route but GET /user, POST
//     /user/change-password and POST /user/sign-out, and from the app's routes behind
//     Auth.RequireUser, until they change it.
//
// # Registration, passwords and API keys
//
// POST /user/register and POST /user/register/resend answer alike whether or not the
// address has an account (the Service mails the owner of a taken address instead of a
// code), and so do POST /user/forgot-password (also for a user whose passwordResetAllowed is
// false) and the e-mail form of POST /user/change-password (an unknown address is the same
// 400 as a wrong password). A pending user who gives the right password gets 403 naming
// the reason (emailVerified or status); a wrong password is the usual 401.
//
// A user created without a password (POST /users) cannot sign in until PUT
// /users/{id}/password. POST /users/{id}/reset-password sets a generated password the user
// must change (mustChangePassword). An API key authenticates wherever a bearer token does,
// until it expires, is deleted or rotated, or its user's password, status, scope,
// permissions or organization changes.
//
// # Queries
//
// The list query of GET /users and GET /users/count takes filter=field:value (repeatable;
// equality), Axway's field=…&op=…&value=… (repeatable; op is eq ne gt lt ge le like, or gete
// or between with value low,high), lop=AND|OR, sort=field:1|-1 (comma-separated), limit and
// offset or page (from 1) and pageSize (Tyk's paging; not both forms), and pattern. Its
// semantics are those of users.Query.
// A like value or pattern over 256 characters, a value over 1,024 bytes, or a NUL is a 400.
//
// # Bodies
//
// Request bodies are JSON objects sent as application/json, or forms where the table says
// so. Members are matched exactly: an unknown member, a null, or a value of the wrong type
// is a 400 naming the member. Profile images are sent as the body itself, at most
// Options.MaxImageBytes (1 MiB by default): the type is sniffed from the bytes and the
// Content-Type header is not read. A JPEG or PNG is stored (200); anything else is 415, a
// body over the limit (the handler's or the Service's) 413, and an image whose header
// cannot be read or whose sides are over the Service's limit 400. GET serves it with its
// type, an ETag, Cache-Control: private, no-cache and X-Content-Type-Options: nosniff, and
// answers 304 to an If-None-Match naming the ETag.
//
// # Errors
//
// Every error response is an RFC 9457 application/problem+json document:
//
//	{"type":"about:blank","title":"Bad Request","status":400,
//	 "detail":"username: must be an e-mail address","code":"invalid","field":"username"}
//
// code is stable: the users.Code of the error (invalid 400, unauthorized 401, forbidden 403,
// not_found 404, conflict 409, too_large 413, unsupported_media 415, throttled 429,
// internal 500, overloaded 503) or the adapter's own CodeMethodNotAllowed (405). field names
// the request member or query parameter at fault. A 401 carries WWW-Authenticate, a 405 Allow
// and a 429 or 503 Retry-After. A route that checks or sets a password answers 503 when the
// Service has too many passwords to check to take it within its MaxHashWait. Wrong credentials get one answer whether the username exists or not. A caller
// the policy does not let act on users gets 403 for a user who does not exist as for one who
// does. No client input is answered 5xx. No error response or log line carries a password,
// hash, token, key or code; a secret appears only in the one answer that issues it (a
// session token, an API key, a generated password), which, as every JSON answer, says
// Cache-Control: no-store. Internal errors alone are logged, to Options.Logger.
//
// # Rate limits
//
// Sign-in and change-password (RateLimits.SignIn), sign-up and registration
// (RateLimits.Create), forgot-password and resending a verification code
// (RateLimits.ForgotPassword) are limited per client address (on by default), on top of the
// Service's sign-in throttle. The address is the connection's, or the one a trusted
// proxy writes in Options.ClientIPHeader. The limits are kept in the process, so N instances
// allow a client N times as much: Options.Limiter plugs a Limiter shared by the instances,
// and a global per-address limit belongs at the edge proxy. The Service's throttle, which
// counts failed sign-ins per account and client address, holds across instances when its
// Store keeps the counts (users.ThrottleStore).
//
// Every request's context carries its client (users.WithClient): that address and the
// User-Agent, which the Service counts failed sign-ins by and records in its events.
//
// # Middleware
//
// Auth protects the app's own routes with the same bearer tokens (and, with Auth.Cookie, the
// session cookie), with or without the handler: RequireUser lets through requests with a live
// token, RequireScope those whose user has a role, OptionalUser anonymous requests too, and
// UserFrom reads the user from the request's context. BearerToken reads the header.
//
// # Browser apps
//
// Options.Cookie turns on cookie mode: sign-in and sign-up also set the session token in an
// HttpOnly, Secure, SameSite=Lax cookie that expires with the session, sign-out clears it,
// and the routes (and Auth, given the same Cookie) accept it as they accept the
// Authorization header, which wins when a request has both. In cookie mode an unsafe
// request authenticated by the cookie, and a sign-in or sign-up without an Authorization
// header, must pass http.CrossOriginProtection: a browser's request from another origin is
// answered 403, so another site can neither act with a visitor's session nor sign them in to
// an account of its own. Requests with a bearer token are not checked: a browser never adds
// that header by itself.
//
// Options.CORS lets a front end on other origins call the API: preflight requests are
// answered, and with AllowCredentials those origins may also send the cookie.
//
// POST /user/register and POST /user/forgot-password take Axway's success and failure URLs.
// A URL is honoured only when its scheme, host and path equal an entry of
// Options.RedirectAllowlist; any other is 400, so the handler is never an open redirect. A
// form post that gives them is answered 303 to success, or to failure with the error's code
// and field in the query; a JSON request gets its JSON answer.
//
// Pages returns a handler for the HTML pages the mails link to: the password-reset form, the
// e-mail confirmation button, and in cookie mode sign-in and sign-out pages. Opening a link
// never uses its code; only the POST of the page's form does.
//
// # Concurrency
//
// The handler, an Auth in use, and the functions of the package are safe for concurrent
// use.
package httpadapter
