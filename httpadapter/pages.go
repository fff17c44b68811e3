package httpadapter

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gousers/users"
)

// PagesOptions configures the handler Pages returns. The zero PagesOptions means the
// defaults; every field is optional.
type PagesOptions struct {
	// Cookie, when set, adds the sign-in and sign-out pages, which set and clear the session
	// cookie; give it the Options.Cookie of the API's handler. Nil: no such pages (404).
	Cookie *Cookie
	// RedirectAllowlist are the URLs a page's form may carry as success and failure (see
	// Options.RedirectAllowlist): after its POST the page answers 303 to success, or to
	// failure with the error's code (and field) in the query, instead of a page of its own.
	RedirectAllowlist []string
	// CrossOrigin checks every POST of a page: a form sent from another origin is refused
	// (403). Nil: http.NewCrossOriginProtection(), which lets through the page's own origin.
	CrossOrigin *http.CrossOriginProtection
	// RateLimits limits the sign-in page per client address, with RateLimits.SignIn (the
	// other limits do not apply here). The zero value means the default.
	RateLimits RateLimits
	// Limiter, when set, decides the sign-in page's limit (LimitSignIn) in place of
	// RateLimits; see Options.Limiter.
	Limiter Limiter
	// ClientIPHeader is the header a trusted proxy writes the client's address in; see
	// Options.ClientIPHeader.
	ClientIPHeader string
	// Logger receives internal errors, and nothing else; never a secret. Default: silent.
	Logger *slog.Logger
	// Now is the clock of the rate limit and the cookie's max age; default time.Now.
	Now func() time.Time
}

// Pages returns an http.Handler serving the HTML pages that the links of the mails open
// (package smtpmail's default paths), relative to the root: mount it where the mails' base
// URL points, with http.StripPrefix under a prefix.
//
//	GET  /reset-password?code=CODE  a form for the new password
//	POST /reset-password            {code, password}: users.Service.ResetPassword, then a success page
//	GET  /verify?code=CODE          a page with a button that confirms the address
//	POST /verify                    {code}: users.Service.VerifyEmail, then a success page
//	GET  /sign-in                   a sign-in form (with PagesOptions.Cookie)
//	POST /sign-in                   {username, password}: users.Service.SignIn; sets the cookie
//	GET  /sign-out                  a page with a sign-out button (with PagesOptions.Cookie)
//	POST /sign-out                  signs the cookie's session out and clears the cookie
//
// Opening a link never uses its code: a mail scanner that follows it changes nothing. Only
// the POST of the page's form acts. The forms are application/x-www-form-urlencoded and work
// without JavaScript; each POST may carry success and failure URLs of
// PagesOptions.RedirectAllowlist (a GET passes them from its query to its form). Every POST
// must come from the page's own origin (see PagesOptions.CrossOrigin). An error is shown
// in words on the page, announced to screen readers (role=alert), with the status the API
// would answer: a password the policy refuses is 400 and says why, and the form stays.
//
// The pages are served with Cache-Control: no-store, Referrer-Policy: no-referrer (the code
// in the address never leaves in a Referer), and a Content-Security-Policy that forbids
// scripts and framing. The handler is safe for concurrent use. Pages panics when svc is
// nil, and when an entry of opts.RedirectAllowlist is not a URL or a path.
func Pages(svc users.Service, opts PagesOptions) http.Handler {
	if svc == nil {
		panic("httpadapter: Pages needs a Service")
	}
	p := &pages{
		svc:         svc,
		cookie:      opts.Cookie,
		redirects:   newAllowlist(opts.RedirectAllowlist),
		crossOrigin: opts.CrossOrigin,
		addrOf:      clientAddr(opts.ClientIPHeader),
		log:         opts.Logger,
		now:         opts.Now,
		mux:         http.NewServeMux(),
	}
	if p.crossOrigin == nil {
		p.crossOrigin = defaultCrossOrigin
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.limiter = opts.Limiter
	if p.limiter == nil {
		p.limiter = NewLimiter(RateLimits{SignIn: opts.RateLimits.SignIn, Create: RateLimit{Burst: -1},
			ForgotPassword: RateLimit{Burst: -1}, MaxClients: opts.RateLimits.MaxClients})
	}
	p.csp = contentSecurityPolicy(p.redirects)

	p.mux.HandleFunc("GET /reset-password", p.resetForm)
	p.mux.HandleFunc("POST /reset-password", p.post(p.reset))
	p.mux.HandleFunc("GET /verify", p.verifyForm)
	p.mux.HandleFunc("POST /verify", p.post(p.verify))
	if p.cookie != nil {
		p.mux.HandleFunc("GET /sign-in", p.signInForm)
		p.mux.HandleFunc("POST /sign-in", p.post(p.signIn))
		p.mux.HandleFunc("GET /sign-out", p.signOutForm)
		p.mux.HandleFunc("POST /sign-out", p.post(p.signOut))
	}
	p.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.render(w, http.StatusNotFound, notFoundPage, pageData{Error: "There is no such page."})
	})
	return withClient(p.mux, p.addrOf)
}

// pages serves the HTML pages. It is not changed after Pages, but for its limiter, which
// guards its state: it is safe for concurrent use.
type pages struct {
	svc         users.Service
	cookie      *Cookie
	redirects   allowlist
	crossOrigin *http.CrossOriginProtection
	limiter     Limiter
	addrOf      func(*http.Request) netip.Addr
	log         *slog.Logger
	now         func() time.Time
	csp         string
	mux         *http.ServeMux
}

// page is one HTML page: its template and its titles before and after its form is sent.
type page struct {
	tmpl            *template.Template
	title, titleEnd string
}

// pageData is what a page's template shows.
type pageData struct {
	Title            string
	Error            string // shown with role=alert
	Action           string // the form's action, relative to the page
	Code             string // the code of the link
	Success, Failure string // redirect URLs carried by the form
	Username         string
	Email            string
	Pending          bool   // the verified user awaits approval
	Done             bool   // the form was sent and acted on
	SignIn, SignOut  string // relative links to the sign-in and sign-out pages; "" for none
}

//go:embed pages/*.html
var pageFiles embed.FS

// pageStyle is the style sheet of every page, inlined; the Content-Security-Policy allows it
// by its hash.
const pageStyle = `body{font:1rem/1.5 system-ui,sans-serif;margin:0;padding:2rem 1rem;color:#1a1a1a;background:#fff}` +
	`main{max-width:28rem;margin:0 auto}h1{font-size:1.5rem}label{display:block;font-weight:600}` +
	`input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #555;border-radius:4px}` +
	`button{font:inherit;padding:.5rem 1rem;border:0;border-radius:4px;background:#0b57d0;color:#fff;cursor:pointer}` +
	`:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}` +
	`.error{padding:.75rem;border-left:4px solid #b3261e;background:#fce8e6;color:#410e0b}`

// The pages, parsed once.
var (
	resetPage    = parsePage("reset-password.html", "Choose a new password", "Password changed")
	verifyPage   = parsePage("verify.html", "Confirm your e-mail address", "E-mail address confirmed")
	signInPage   = parsePage("sign-in.html", "Sign in", "Signed in")
	signOutPage  = parsePage("sign-out.html", "Sign out", "Signed out")
	notFoundPage = &page{tmpl: template.Must(layout().Parse(`{{define "content"}}{{end}}`)), title: "Page not found"}
)

// layout returns a new copy of the layout every page shares.
func layout() *template.Template {
	return template.Must(template.New("layout.html").
		Funcs(template.FuncMap{"style": func() template.CSS { return template.CSS(pageStyle) }}).
		ParseFS(pageFiles, "pages/layout.html"))
}

// parsePage parses the page of the file, in the layout. It panics when a template does not
// parse: they are embedded, so a test catches it.
func parsePage(file, title, titleEnd string) *page {
	return &page{tmpl: template.Must(layout().ParseFS(pageFiles, "pages/"+file)), title: title, titleEnd: titleEnd}
}

// contentSecurityPolicy returns the Content-Security-Policy of the pages: nothing may load
// but the inline style sheet, no page may be framed, and forms go only to the page's origin
// or to the origins of the redirect allowlist.
func contentSecurityPolicy(l allowlist) string {
	sum := sha256.Sum256([]byte(pageStyle))
	formAction := []string{"'self'"}
	for _, u := range l {
		if u.Host != "" {
			formAction = append(formAction, u.Scheme+"://"+u.Host)
		}
	}
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"form-action " + strings.Join(formAction, " ") + "; frame-ancestors 'none'; base-uri 'none'"
}

// render writes the page with the status; d.Title is set from the page.
func (p *pages) render(w http.ResponseWriter, status int, pg *page, d pageData) {
	d.Title = pg.title
	if d.Done {
		d.Title = pg.titleEnd
	}
	var b strings.Builder
	if err := pg.tmpl.Execute(&b, d); err != nil {
		// The templates are the package's own and tested; this is a bug, not a client's error.
		p.logError(nil, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", p.csp)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// logError logs an internal error, with the request's context when there is a request.
func (p *pages) logError(r *http.Request, err error) {
	if p.log == nil {
		return
	}
	if r == nil {
		p.log.Error("httpadapter: pages: internal error", "err", err)
		return
	}
	logInternal(r, p.log, err)
}

// base returns the data every page of r starts with: its form's action and the links to the
// other pages.
func (p *pages) base(r *http.Request) pageData {
	d := pageData{Action: path.Base(r.URL.Path)}
	if p.cookie != nil {
		d.SignIn, d.SignOut = "sign-in", "sign-out"
	}
	return d
}

// queryRedirects returns the data of a GET of a page: the success and failure URLs of the
// query, checked against the allowlist.
func (p *pages) queryRedirects(r *http.Request) (pageData, error) {
	d := p.base(r)
	q := r.URL.Query()
	for _, f := range []struct {
		name string
		dst  *string
	}{{"success", &d.Success}, {"failure", &d.Failure}} {
		if _, err := p.redirects.check(f.name, q.Get(f.name)); err != nil {
			return d, err
		}
		*f.dst = q.Get(f.name)
	}
	return d, nil
}

// resetForm serves GET /reset-password?code=CODE: the form, without using the code.
func (p *pages) resetForm(w http.ResponseWriter, r *http.Request) {
	p.showForm(w, r, resetPage, true)
}

// verifyForm serves GET /verify?code=CODE: the button, without using the code.
func (p *pages) verifyForm(w http.ResponseWriter, r *http.Request) {
	p.showForm(w, r, verifyPage, true)
}

// signInForm serves GET /sign-in.
func (p *pages) signInForm(w http.ResponseWriter, r *http.Request) {
	p.showForm(w, r, signInPage, false)
}

// signOutForm serves GET /sign-out.
func (p *pages) signOutForm(w http.ResponseWriter, r *http.Request) {
	p.showForm(w, r, signOutPage, false)
}

// errNoCode is the error of a link without a code.
var errNoCode = &users.Error{Code: users.CodeInvalid, Field: "code", Message: "is required"}

// showForm serves the GET of a page: its form, with the code of the query when the page
// takes one (400 without), and the success and failure URLs of the query.
func (p *pages) showForm(w http.ResponseWriter, r *http.Request, pg *page, withCode bool) {
	d, err := p.queryRedirects(r)
	if err == nil && withCode {
		if d.Code = r.URL.Query().Get("code"); d.Code == "" {
			err = errNoCode
		}
	}
	if err != nil {
		status, text := p.describe(r, err)
		d.Code, d.Error = "", text
		p.render(w, status, pg, d)
		return
	}
	p.render(w, http.StatusOK, pg, d)
}

// errFormCrossOrigin is the answer to a page's form sent from another origin.
var errFormCrossOrigin = &users.Error{Code: users.CodeForbidden, Message: "this form was sent from another site; open the page again and send it from there"}

// action is the work of a page's POST: it reads the form into d (a form field it does not
// take is an error), acts, and returns the page to show and d filled in, or an error, shown
// on pg with d's form.
type action func(w http.ResponseWriter, r *http.Request, form fields, d *pageData) (pg *page, err error)

// post returns the handler of a page's POST: the cross-origin check, the form read with its
// success and failure URLs, the action, then the page (or a 303 to the success or failure
// URL).
func (p *pages) post(act action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := p.base(r)
		form := fields{"success": &d.Success, "failure": &d.Failure}
		pg, err := act(w, r, form, &d)
		if err == nil {
			if u, ok := p.redirects.match(d.Success); ok && d.Success != "" {
				seeOther(w, r, u)
				return
			}
			d.Done = true
			p.render(w, http.StatusOK, pg, d)
			return
		}
		status, text := p.describe(r, err)
		if u, ok := p.redirects.match(d.Failure); ok && d.Failure != "" {
			code, field := errorCode(err)
			seeOther(w, r, failureURL(u, code, field))
			return
		}
		if e, ok := errorAs(err); ok && e.Code == users.CodeThrottled {
			w.Header().Set("Retry-After", retryAfter(e))
		}
		d.Error = text
		p.render(w, status, pg, d)
	}
}

// seeOther answers 303 to u.
func seeOther(w http.ResponseWriter, r *http.Request, u *url.URL) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// readForm checks that r comes from the page's origin and reads its form-encoded body into
// the fields, then checks its success and failure URLs.
func (p *pages) readForm(w http.ResponseWriter, r *http.Request, into fields, d *pageData) error {
	if err := p.crossOrigin.Check(r); err != nil {
		return errFormCrossOrigin
	}
	if !isForm(r.Header.Get("Content-Type")) {
		return &users.Error{Code: CodeUnsupportedMedia, Message: "the form must be sent as application/x-www-form-urlencoded"}
	}
	body, err := readBody(w, r, DefaultMaxBodyBytes)
	if err != nil {
		return err
	}
	if err := decodeFormFields(body, into); err != nil {
		return err
	}
	for _, f := range []struct{ name, value string }{{"success", d.Success}, {"failure", d.Failure}} {
		if _, err := p.redirects.check(f.name, f.value); err != nil {
			d.Success, d.Failure = "", ""
			return err
		}
	}
	return nil
}

// reset serves POST /reset-password: {code, password}.
func (p *pages) reset(w http.ResponseWriter, r *http.Request, form fields, d *pageData) (*page, error) {
	var password string
	form["code"], form["password"] = &d.Code, &password
	if err := p.readForm(w, r, form, d); err != nil {
		return resetPage, err
	}
	if err := required("code", d.Code, "password", password); err != nil {
		return resetPage, err
	}
	err := p.svc.ResetPassword(r.Context(), d.Code, password)
	if fieldOf(err) == "code" {
		d.Code = "" // no form for a code that does not work
	}
	return resetPage, err
}

// verify serves POST /verify: {code}.
func (p *pages) verify(w http.ResponseWriter, r *http.Request, form fields, d *pageData) (*page, error) {
	form["code"] = &d.Code
	if err := p.readForm(w, r, form, d); err != nil {
		return verifyPage, err
	}
	if err := required("code", d.Code); err != nil {
		return verifyPage, err
	}
	u, err := p.svc.VerifyEmail(r.Context(), d.Code)
	if err != nil {
		d.Code = ""
		return verifyPage, err
	}
	d.Email, d.Pending = u.Email, u.Status == users.StatusPending
	return verifyPage, nil
}

// signIn serves POST /sign-in: {username, password}; the session goes in the cookie.
func (p *pages) signIn(w http.ResponseWriter, r *http.Request, form fields, d *pageData) (*page, error) {
	var password string
	form["username"], form["password"] = &d.Username, &password
	if err := p.readForm(w, r, form, d); err != nil {
		return signInPage, err
	}
	if err := required("username", d.Username, "password", password); err != nil {
		return signInPage, err
	}
	if ok, wait := p.limiter.Allow(r.Context(), LimitSignIn, network(p.addrOf(r)), p.now()); !ok {
		return signInPage, &users.Error{Code: users.CodeThrottled, Message: "too many requests; try again later", RetryAfter: wait}
	}
	s, err := p.svc.SignIn(r.Context(), d.Username, password)
	if err != nil {
		return signInPage, err
	}
	http.SetCookie(w, p.cookie.session(s, p.now()))
	d.Username = s.User.Username
	return signInPage, nil
}

// signOut serves POST /sign-out: the cookie's session is signed out, and the cookie cleared.
func (p *pages) signOut(w http.ResponseWriter, r *http.Request, form fields, d *pageData) (*page, error) {
	if err := p.readForm(w, r, form, d); err != nil {
		return signOutPage, err
	}
	if token, ok := p.cookie.token(r); ok {
		if err := p.svc.SignOut(r.Context(), token); err != nil && !errors.Is(err, users.ErrUnauthorized) {
			return signOutPage, err
		}
	}
	http.SetCookie(w, p.cookie.cleared())
	return signOutPage, nil
}

// fieldOf returns the field of a *users.Error, or "".
func fieldOf(err error) string {
	if e, ok := errorAs(err); ok {
		return e.Field
	}
	return ""
}

// errorCode returns the code and field of err as the API would answer them.
func errorCode(err error) (users.Code, string) {
	e, ok := errorAs(err)
	if !ok {
		return users.CodeInternal, ""
	}
	if status, known := statusOf[e.Code]; !known || status >= http.StatusInternalServerError {
		return users.CodeInternal, ""
	}
	return e.Code, e.Field
}

// fieldNames are the words the pages use for the fields of errors.
var fieldNames = map[string]string{
	"password":      "The password",
	"username":      "The username",
	"emailVerified": "The e-mail address",
	"status":        "The account",
}

// describe returns the status and the words of err, for a page. The message of a
// *users.Error is safe to show; anything else is internal, logged, and described without
// details.
func (p *pages) describe(r *http.Request, err error) (int, string) {
	e, ok := errorAs(err)
	status := http.StatusInternalServerError
	if ok {
		if s, known := statusOf[e.Code]; known {
			status = s
		}
	}
	if status >= http.StatusInternalServerError {
		p.logError(r, err)
		return http.StatusInternalServerError, "Something went wrong on our side. Please try again in a moment."
	}
	switch {
	case e.Field == "code":
		return status, "This link does not work: it is incomplete, was used already, or has expired. Ask for a new one."
	case e.Field == "success" || e.Field == "failure":
		return status, "The page was opened with an address to go to next that this site does not allow."
	case fieldNames[e.Field] != "" && !strings.HasPrefix(e.Message, "the "):
		return status, sentence(fieldNames[e.Field] + " " + e.Message)
	case e.Field != "" && fieldNames[e.Field] == "":
		return status, sentence("The form field " + e.Field + " " + e.Message)
	default:
		return status, sentence(e.Message)
	}
}

// sentence returns s with a capital first letter and a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
