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
// "user" means a signed-in caller (a bearer token); "policy" means a signed-in caller whom
// users.Authorize or users.AuthorizeUpdate lets act on the target (an administrator, or the
// user acting on themself where the policy allows it).
//
//	POST   /user/auth                                anyone   {username, password} → 200 {token, user, expires}
//	POST   /user                                     anyone*  {username, email, password, metadata} → 201 {token, user, expires}
//	GET    /user                                     user     → 200 the caller
//	POST   /user/change-password                     user     {oldPassword, newPassword} → 200 {}
//	POST   /user/reset-password                      policy   {email, password} → 200 {} (an administrator sets a password)
//	POST   /user/forgot-password                     anyone   {email} → 200 {}, the same for an unknown address
//	POST   /user/forgot-password/reset               anyone   {code, password} → 200 {}
//	POST   /user/sign-out                            user     → 204; the token stops working
//	GET    /users                                    policy   the query → 200 [user, ...] and X-Total-Count
//	GET    /users/count                              policy   the query → 200 {count}
//	POST   /users                                    policy   a full profile → 201 the user
//	GET    /users/{id}                               policy   → 200 the user
//	PUT    /users/{id}                               policy   the fields to change → 200 the user
//	DELETE /users/{id}                               policy   → 200 the deletion ticket {ticket, status, stepsDone, stepsTotal, ...}
//	GET    /users/{id}/delete-status/{ticket}        policy   → 200 the ticket
//	POST   /users/{id}/delete-status/{ticket}/cancel policy   → 200 the ticket; 409 once it has ended
//	POST   /users/{id}/sessions/revoke               policy   → 204; every token of the user stops working
//	GET    /openapi.json                             anyone   → 200 the OpenAPI 3.1 document of all of the above
//
// * Anyone, unless Options.CreateScope names a role the caller must have (Appmixer's
// API_USER_CREATE_SCOPE).
//
// Sign-up sets only the four fields it takes: a client cannot give itself a scope or a
// status, nor can a user raise their own through PUT /users/{id} (AuthorizeUpdate). An
// update applies only to the version of the user it was authorized against, or to the
// version the body names: 409 when the user changed in between.
//
// The list query of GET /users and GET /users/count takes filter=field:value (repeatable;
// equality), Axway's field=…&op=…&value=… (repeatable; op is eq ne gt lt ge le like, or gete
// or between with value low,high), lop=AND|OR, sort=field:1|-1 (comma-separated), limit,
// offset and pattern. Its semantics are those of users.Query.
//
// Request bodies are JSON objects sent as application/json. Members are matched exactly:
// an unknown member, a null, or a value of the wrong type is a 400 naming the member.
//
// # Errors
//
// Every error response is an RFC 9457 application/problem+json document:
//
//	{"type":"about:blank","title":"Bad Request","status":400,
//	 "detail":"username: must be an e-mail address","code":"invalid","field":"username"}
//
// code is stable: the users.Code of the error (invalid 400, unauthorized 401, forbidden 403,
// not_found 404, conflict 409, throttled 429, internal 500) or one of the adapter's own
// (CodeMethodNotAllowed 405, CodeTooLarge 413, CodeUnsupportedMedia 415). field names the
// request member or query parameter at fault. A 401 carries WWW-Authenticate, a 405 Allow
// and a 429 Retry-After. Wrong credentials get one answer whether the username exists or
// not. A caller the policy does not let act on users gets 403 for a user who does not exist
// as for one who does. No client input is answered 5xx, and no body, header or log line
// carries a password, hash, token or code. Internal errors alone are logged, to
// Options.Logger.
//
// # Rate limits
//
// Sign-in, sign-up and forgot-password are limited per client address (Options.RateLimits;
// on by default), on top of the Service's per-account sign-in throttle. The address is the
// connection's, or the one a trusted proxy writes in Options.ClientIPHeader.
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
