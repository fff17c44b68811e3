package httpadapter_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Passwords of the fixture's accounts, and others the tests set. Long enough for the default
// policy and not among the common ones.
const (
	adminPassword = "admin pass phrase one"
	alicePassword = "correct horse battery staple"
	bobPassword   = "tr0ub4dor and three"
	newPassword   = "a brand new pass phrase"
)

// newClock returns a fake clock at the tests' start time.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC))
}

// mailbox is a Mailer that keeps what it is sent. Safe for concurrent use.
type mailbox struct {
	mu    sync.Mutex
	mails []users.Mail
}

func (m *mailbox) Send(_ context.Context, mail users.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mails = append(m.mails, mail)
	return nil
}

// to returns the mails sent to an address so far.
func (m *mailbox) to(addr string) []users.Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []users.Mail
	for _, mail := range m.mails {
		if mail.To == addr {
			out = append(out, mail)
		}
	}
	return out
}

// account is a user of the fixture with their password and a live bearer token.
type account struct {
	*users.User
	password string
	token    string
}

// setup is what a test may change before the fixture is built.
type setup struct {
	cfg   users.Config
	opts  httpadapter.Options
	store users.Store // default: a new memory store
}

// fixture is the handler over a Service on the memory store, with cheap hashing, a fake
// clock, a mailbox and a logger whose output the test checks, and three signed-in accounts:
// an administrator, alice and bob. Every request through do is answered by the handler,
// validated against the served OpenAPI document, and checked for secrets.
type fixture struct {
	svc     users.Service
	clock   *testutil.Clock
	mail    *mailbox
	logs    *testutil.SyncBuffer
	handler http.Handler
	opts    httpadapter.Options // of handler

	admin, alice, bob account
	verified          bool // accounts are created with a verified e-mail (when the Service requires one)

	mu      sync.Mutex
	secrets []string // never in a response or a log line
}

// newFixture builds a fixture; configure may change the setup first. Rate limits are off
// unless configure sets them. The Service is closed when the test ends, and the test fails
// if anything logged holds a secret.
func newFixture(t testing.TB, configure ...func(*setup)) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), mail: new(mailbox), logs: new(testutil.SyncBuffer)}
	logger := slogTo(f.logs)
	off := httpadapter.RateLimit{Burst: -1}
	s := setup{
		cfg: users.Config{
			Now: f.clock.Now, Mailer: f.mail, Argon2: users.TestArgon2(), Logger: logger,
			PollInterval: 5 * time.Millisecond,
		},
		opts: httpadapter.Options{
			Logger: logger, Now: f.clock.Now, SignUp: httpadapter.SignUpOpen, // Appmixer's shape; the other modes have their own tests
			RateLimits: httpadapter.RateLimits{SignIn: off, Create: off, ForgotPassword: off},
		},
	}
	for _, c := range configure {
		c(&s)
	}
	if s.store == nil {
		s.store = memory.New()
	}
	svc, err := users.New(s.store, s.cfg)
	require.NoError(t, err)
	f.svc = svc
	f.opts = s.opts
	f.verified = s.cfg.RequireVerifiedEmail
	f.handler = httpadapter.New(svc, s.opts)
	t.Cleanup(func() {
		_ = svc.Close() // waits for mails, whose logs are checked next
		f.assertNoSecret(t, "log", f.logs.String())
	})
	f.admin = f.account(t, "admin@example.com", adminPassword, users.RoleUser, users.RoleAdmin)
	f.alice = f.account(t, "alice@example.com", alicePassword)
	f.bob = f.account(t, "bob@example.com", bobPassword)
	return f
}

// account creates a user with the roles (default: user) and signs them in.
func (f *fixture) account(t testing.TB, username, password string, roles ...string) account {
	t.Helper()
	return f.accountOf(t, users.NewUser{Username: username, Password: password, Scope: roles})
}

// accountOf creates the user in, who must have a password, and signs them in.
func (f *fixture) accountOf(t testing.TB, in users.NewUser) account {
	t.Helper()
	in.EmailVerified = in.EmailVerified || f.verified
	u, err := f.svc.Create(context.Background(), in)
	require.NoError(t, err)
	s, err := f.svc.SignIn(context.Background(), in.Username, in.Password)
	require.NoError(t, err)
	f.secret(in.Password, s.Token)
	return account{User: u, password: in.Password, token: s.Token}
}

// verifyCode asks the Service to mail a verification code to the address, an unverified
// user's, and returns it once mailed.
func (f *fixture) verifyCode(t testing.TB, email string) string {
	t.Helper()
	n := len(f.mail.to(email))
	require.NoError(t, f.svc.ResendVerification(context.Background(), email))
	testutil.Eventually(t, func() bool { return len(f.mail.to(email)) > n }, "a mail to %s", email)
	m := f.mail.to(email)[n]
	require.Equal(t, users.MailVerifyEmail, m.Kind)
	f.secret(m.Code)
	return m.Code
}

// apiKey creates an API key for the user through the Service and returns it.
func (f *fixture) apiKey(t testing.TB, userID, name string) *users.APIKey {
	t.Helper()
	k, err := f.svc.CreateAPIKey(context.Background(), userID, users.NewAPIKey{Name: name})
	require.NoError(t, err)
	f.secret(k.Key)
	return k
}

// secret records values that must never appear in a response or a log line.
func (f *fixture) secret(values ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets = append(f.secrets, values...)
}

func (f *fixture) assertNoSecret(t testing.TB, where, text string) {
	t.Helper()
	f.assertNoSecretBut(t, where, text)
}

// assertNoSecretBut is assertNoSecret allowing the secrets listed, for the one response
// that carries hashes (GET /users/export).
func (f *fixture) assertNoSecretBut(t testing.TB, where, text string, allowed ...string) {
	t.Helper()
	f.mu.Lock()
	secrets := slices.Clone(f.secrets)
	f.mu.Unlock()
	for _, s := range append(secrets, "$argon2id$") {
		if !slices.Contains(allowed, s) {
			assert.NotContains(t, text, s, "a secret in the %s", where)
		}
	}
}

// resetCode asks the Service for a reset code for the address and returns it once mailed.
func (f *fixture) resetCode(t testing.TB, email string) string {
	t.Helper()
	n := len(f.mail.to(email))
	require.NoError(t, f.svc.ForgotPassword(context.Background(), email))
	testutil.Eventually(t, func() bool { return len(f.mail.to(email)) > n }, "a mail to %s", email)
	code := f.mail.to(email)[n].Code
	f.secret(code)
	return code
}

// request is a request for fixture.do.
type request struct {
	method, path string
	token        string // sent as a bearer token when set
	body         string // sent as application/json when set, unless header says otherwise
	header       http.Header
}

// response is a recorded response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// decode decodes the body into v, failing the test on error.
func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

// problem is the body of an error response.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Field  string `json:"field"`
}

// problem decodes an error response, checking its media type and status member.
func (r *response) problem(t testing.TB) problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "body: %s", r.body)
	var p problem
	r.decode(t, &p)
	require.Equal(t, r.status, p.Status)
	return p
}

// do sends the request to the handler, validates the response against the OpenAPI document
// and checks that it holds no secret.
func (f *fixture) do(t testing.TB, req request) *response {
	t.Helper()
	res := serve(f.handler, req)
	validateResponse(t, newRequest(req), res)
	if res.status < 300 {
		validateRequest(t, newRequest(req))
	}
	var head strings.Builder
	_ = res.header.Write(&head)
	if req.method == http.MethodGet && strings.HasPrefix(req.path, "/users/export") && res.status == http.StatusOK {
		// The export holds every hash by design: it must hold no other secret.
		f.assertNoSecretBut(t, "response", head.String()+string(res.body), "$argon2id$")
	} else {
		f.assertNoSecret(t, "response", head.String()+string(res.body))
	}
	return res
}

// newRequest builds the http.Request of req.
func newRequest(req request) *http.Request {
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	r := httptest.NewRequest(req.method, req.path, body)
	for k, v := range req.header {
		r.Header[k] = v
	}
	if req.body != "" && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.token != "" {
		r.Header.Set("Authorization", "Bearer "+req.token)
	}
	return r
}

// want checks a response's status, showing the body when it is not the one expected.
func (r *response) want(t testing.TB, status int) *response {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	return r
}

// The JSON Lines bodies of import and export are strings to the OpenAPI validation, as the
// document describes them.
func init() {
	for _, mt := range []string{"application/x-ndjson", "application/jsonl", "application/json-lines"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.FileBodyDecoder)
	}
}

// ndjsonHeader declares a JSON Lines body.
var ndjsonHeader = http.Header{"Content-Type": {"application/x-ndjson"}}

// apiSpec is the served OpenAPI document, loaded and validated once, and a router over it.
var apiSpec = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpadapter.OpenAPI())
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(loader.Context)
})

var apiRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := apiSpec()
	if err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(doc)
})

// validateResponse checks a response against the OpenAPI document: its status must be one the
// operation lists, and its headers and body must match. A request no operation matches must
// get a problem+json 404 or 405.
func validateResponse(t testing.TB, req *http.Request, res *response) {
	t.Helper()
	doc, err := apiSpec()
	require.NoError(t, err)
	router, err := apiRouter()
	require.NoError(t, err)
	route, params, err := router.FindRoute(req)
	if err != nil {
		require.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, res.status,
			"%s %s is not in the OpenAPI document (%v)", req.Method, req.URL.Path, err)
		validateProblem(t, doc, res)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.status,
		Header:                 res.header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(res.body)
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in),
		"%s %s → %d %s", req.Method, req.URL.Path, res.status, res.body)
}

// validateRequest checks a request the handler accepted against the OpenAPI document: the
// document must describe every parameter and body the handler takes.
func validateRequest(t testing.TB, req *http.Request) {
	t.Helper()
	router, err := apiRouter()
	require.NoError(t, err)
	route, params, err := router.FindRoute(req)
	require.NoError(t, err)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	require.NoError(t, openapi3filter.ValidateRequest(context.Background(), in), "%s %s", req.Method, req.URL)
}

// validateProblem checks a response against the document's Problem schema.
func validateProblem(t testing.TB, doc *openapi3.T, res *response) {
	t.Helper()
	require.Equal(t, "application/problem+json", res.header.Get("Content-Type"))
	var v any
	require.NoError(t, json.Unmarshal(res.body, &v))
	schema := doc.Components.Schemas["Problem"].Value
	require.NoError(t, schema.VisitJSON(v, openapi3.EnableJSONSchema2020()), "body: %s", res.body)
}

// serve sends the request to any handler and records the response, without checks.
func serve(h http.Handler, req request) *response {
	return serveRequest(h, newRequest(req))
}

// serveRequest sends r to h and records the response, without checks.
func serveRequest(h http.Handler, r *http.Request) *response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return &response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// formHeader declares a form-encoded body.
var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// pngImage returns a w×h PNG made with image/png.
func pngImage(t testing.TB, w, h int) string { return string(testutil.PNG(t, w, h)) }

// jpegImage returns a w×h JPEG made with image/jpeg.
func jpegImage(t testing.TB, w, h int) string { return string(testutil.JPEG(t, w, h)) }

// imageHeader declares a body of the media type.
func imageHeader(mediaType string) http.Header { return http.Header{"Content-Type": {mediaType}} }

// slogTo returns a logger writing text to w.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
