package httpadapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gousers/users"
)

// allowlist is the set of URLs a form post may be redirected to (Options.RedirectAllowlist,
// PagesOptions.RedirectAllowlist). It is not changed once made: safe for concurrent use.
type allowlist []*url.URL

// newAllowlist parses the entries of a redirect allowlist: absolute http or https URLs, or
// absolute paths (a redirect on the host the request came to). It panics on any other entry:
// a configuration error.
func newAllowlist(entries []string) allowlist {
	l := make(allowlist, 0, len(entries))
	for _, e := range entries {
		u, ok := parseRedirect(e)
		if !ok {
			panic(fmt.Sprintf("httpadapter: redirect allowlist entry %q is not an absolute http or https URL, nor a path starting with one /", e))
		}
		l = append(l, u)
	}
	return l
}

// parseRedirect parses a redirect URL: an absolute http or https URL without user
// information, or an absolute path (not "//host"). Backslashes and control characters, which
// browsers read in ways of their own, are refused.
func parseRedirect(s string) (*url.URL, bool) {
	if s == "" || strings.ContainsAny(s, "\\") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Opaque != "" {
		return nil, false
	}
	switch {
	case u.Scheme == "" && u.Host == "":
		return u, strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(s, "//")
	case u.Scheme == "http" || u.Scheme == "https":
		return u, u.Host != ""
	default:
		return nil, false
	}
}

// match returns the URL s names when it is on the allowlist: its scheme, host (and port) and
// path equal an entry's. The query and fragment may be any.
func (l allowlist) match(s string) (*url.URL, bool) {
	u, ok := parseRedirect(s)
	if !ok {
		return nil, false
	}
	for _, e := range l {
		if e.Scheme == u.Scheme && strings.EqualFold(e.Host, u.Host) && e.EscapedPath() == u.EscapedPath() {
			return u, true
		}
	}
	return nil, false
}

// check returns the URL of the request field name, given value s, or an ErrInvalid naming
// the field when it is not on the allowlist. An empty s is no URL: nil.
func (l allowlist) check(name, s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, ok := l.match(s)
	if !ok {
		return nil, invalid(name, "is not a redirect URL this server allows")
	}
	return u, nil
}

// redirects are the success and failure URLs of a request, either of which may be nil.
type redirects struct{ success, failure *url.URL }

// redirectRoutes are the routes that take success and failure URLs (Axway's register and
// forgot-password).
var redirectRoutes = map[string]bool{"POST /user/register": true, "POST /user/forgot-password": true}

// redirecting wraps the handler of a route of redirectRoutes: it takes the success and
// failure members out of the body, JSON or form-encoded, and answers 400 naming the member
// when one is not on the allowlist, before the route does anything. For a form post it then
// answers 303 to success when the route succeeded and to failure when it failed, with the
// error's code (and field) in the query; a JSON request gets the route's JSON answer.
func (h *handler) redirecting(rt route, next http.Handler) http.Handler {
	if !redirectRoutes[rt.pattern] {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		form := isForm(ct)
		if !form && !isJSON(ct) {
			next.ServeHTTP(w, r) // which answers 415
			return
		}
		body, err := readBody(w, r, h.maxBody)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		to, rest, err := h.takeRedirects(body, form)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(rest)), int64(len(rest))
		if !form || to.success == nil && to.failure == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: make(http.Header), status: http.StatusOK}
		next.ServeHTTP(rec, r)
		target := to.success
		if rec.status >= 400 {
			var p problem
			_ = json.Unmarshal(rec.body.Bytes(), &p) // the adapter's own problem+json
			target = failureURL(to.failure, p.Code, p.Field)
		}
		if target == nil {
			rec.replay(w)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target.String(), http.StatusSeeOther)
	})
}

// takeRedirects takes the success and failure members out of a request body and checks them
// against the allowlist. It returns them and the body without them. A body it cannot read,
// or without either member, is returned as it is, for the route to read or refuse.
func (h *handler) takeRedirects(body []byte, form bool) (redirects, []byte, error) {
	var given struct{ success, failure string }
	names := []struct {
		name string
		dst  *string
	}{{"success", &given.success}, {"failure", &given.failure}}
	taken := false
	rest := body
	if form {
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return redirects{}, body, nil
		}
		for _, n := range names {
			switch v := values[n.name]; len(v) {
			case 0:
				continue
			case 1:
				*n.dst, taken = v[0], true
			default:
				return redirects{}, nil, invalid(n.name, "must be given once")
			}
			delete(values, n.name)
		}
		if taken {
			rest = []byte(values.Encode())
		}
	} else {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(body, &members); err != nil || members == nil {
			return redirects{}, body, nil
		}
		for _, n := range names {
			raw, ok := members[n.name]
			if !ok {
				continue
			}
			if err := json.Unmarshal(raw, n.dst); err != nil || string(raw) == "null" {
				return redirects{}, nil, invalid(n.name, "must be a string")
			}
			delete(members, n.name)
			taken = true
		}
		if taken {
			rest, _ = json.Marshal(members) // cannot fail: raw members that were read
		}
	}
	var to redirects
	var err error
	if to.success, err = h.redirects.check("success", given.success); err != nil {
		return redirects{}, nil, err
	}
	if to.failure, err = h.redirects.check("failure", given.failure); err != nil {
		return redirects{}, nil, err
	}
	return to, rest, nil
}

// failureURL returns the failure URL with the code and field of the error of the failed
// request added to its query, as error and field; nil when failure is nil.
func failureURL(failure *url.URL, code users.Code, field string) *url.URL {
	if failure == nil {
		return nil
	}
	u := *failure
	q := u.Query()
	q.Set("error", string(code))
	if field != "" {
		q.Set("field", field)
	}
	u.RawQuery = q.Encode()
	return &u
}

// recorder is an http.ResponseWriter that keeps the response, for redirecting to decide
// what to answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if !rec.wrote {
		rec.status, rec.wrote = status, true
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(b)
}

// replay writes the recorded response to w.
func (rec *recorder) replay(w http.ResponseWriter) {
	for _, k := range slices.Sorted(maps.Keys(rec.header)) {
		w.Header()[k] = rec.header[k]
	}
	w.Header().Set("Content-Length", strconv.Itoa(rec.body.Len()))
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}
