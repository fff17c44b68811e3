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
// # Routes
//
// Who may call a route: "anyone" needs no token; "user" is a signed-in caller (a bearer
// token or an API key); "policy" is a signed-in caller whom users.Authorize (or
// users.AuthorizeUpdate, for updates) lets do the route's action to the target user. Bodies
// are JSON; "form" marks the routes that also take application/x-www-form-urlencoded with the
// same field names.
//
//	POST   /user/auth                                anyone   {username, password} → 200 {token, user, expires}
//	POST   /user                                     anyone*  {username, email, password, metadata} → 201 {token, user, expires}
//	GET    /user                                     user     → 200 the caller
//	POST   /user/register                            anyone*  {username or email, name, password}, form → 202 {}, whether or not the address is taken
//	POST   /user/register/resend                     anyone   {email}, form → 202 {}, whether or not a code is mailed
//	POST   /user/verify                              anyone   {code}, form → 200 the user, e-mail verified; 400 for a bad code
//	POST   /user/change-password                     user     {oldPassword, newPassword} → 200 {}
//	                                                 anyone   without an Authorization header: {email, oldPassword, newPassword}, form → 200 {}
//	POST   /user/reset-password                      policy   {email, password} → 200 {} (set-password: an administrator sets a password)
//	POST   /user/forgot-password                     anyone   {email} → 200 {}, the same for an unknown address
//	POST   /user/forgot-password/reset               anyone   {code, password} → 200 {}
//	POST   /user/sign-out                            user     → 204; the session token stops working (400 for an API key)
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
//	POST   /users/{id}/keys                          policy   {name, expires} → 201 the key (manage-keys)
//	DELETE /users/{id}/keys/{keyId}                  policy   → 204 (manage-keys)
//	POST   /users/{id}/keys/{keyId}/rotate           policy   → 200 the key with a new key (manage-keys)
//	GET    /users/{id}/image                         policy   → 200 the image, 304, or 404 when none (read)
//	PUT    /users/{id}/image                         policy   the image → 200 {contentType, ...} (set-image); POST alike
//	DELETE /users/{id}/image                         policy   → 204, or 404 when none (set-image)
//	GET    /openapi.json                             anyone   → 200 the OpenAPI 3.1 document of all of the above
//
// * Anyone, unless Options.CreateScope names a role the caller must have (Appmixer's
// API_USER_CREATE_SCOPE).
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
// scope, a status or permissions. An update applies only to the version of the user it was
// authorized against, or to the version the body names: 409 when the user changed in
// between. Setting a status other than active revokes every session, code and API key of
// the user at once.
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
// until it expires, is deleted or rotated, or its user is disabled; it is not a session, so
// POST /user/sign-out answers 400 to it and leaves it working.
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
// internal 500) or the adapter's own CodeMethodNotAllowed (405). field names the request
// member or query parameter at fault. A 401 carries WWW-Authenticate, a 405 Allow and a 429
// Retry-After. Wrong credentials get one answer whether the username exists or not. A caller
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
// Service's per-account throttle. The address is the connection's, or the one a trusted
// proxy writes in Options.ClientIPHeader.
//
// # Middleware
//
// Auth protects the app's own routes with the same bearer tokens, with or without the
// handler: RequireUser lets through requests with a live token, RequireScope those whose
// user has a role, and UserFrom reads the user from the request's context.
//
// # Concurrency
//
// The handler, an Auth in use, and the functions of the package are safe for concurrent
// use.
package httpadapter
