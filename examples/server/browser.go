package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/smtpmail"
)

// Paths of the pages the server mounts beside the API: those the mails link to (smtpmail's
// defaults), and the sign-in and sign-out pages of cookie mode.
var pagePaths = []string{smtpmail.DefaultResetPath, smtpmail.DefaultVerifyPath, "/sign-in", "/sign-out"}

// checkBrowser checks -base-url, when given, and -cors-origins.
func (c *config) checkBrowser() error {
	if c.baseURL != "" {
		if u, err := url.Parse(c.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("-base-url must be an absolute http or https URL without a query, not %q", c.baseURL)
		}
	}
	_, err := c.origins()
	return err
}

// linkBase returns the URL the links of the development mails are built from, and whose
// scheme says whether the session cookie is Secure: -base-url, or http://localhost:PORT of
// -addr; nil when -addr has no port.
func (c config) linkBase() *url.URL {
	s := c.baseURL
	if s == "" {
		_, port, err := net.SplitHostPort(c.addr)
		if err != nil {
			return nil
		}
		s = "http://" + net.JoinHostPort("localhost", port)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil // checked by checkBrowser
	}
	return u
}

// origins returns the origins of -cors-origins, each checked to be a scheme, a host and an
// optional port.
func (c config) origins() ([]string, error) {
	var out []string
	check := http.NewCrossOriginProtection()
	for o := range strings.SplitSeq(c.corsOrigins, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if err := check.AddTrustedOrigin(o); err != nil || strings.Contains(o, "*") {
			return nil, fmt.Errorf("-cors-origins: %q is not an origin such as https://app.example.com", o)
		}
		out = append(out, o)
	}
	return out, nil
}

// cookie returns the session cookie of the server: Secure unless the base URL is http, as
// on http://localhost in development.
func (c config) cookie() *httpadapter.Cookie {
	base := c.linkBase()
	return &httpadapter.Cookie{Insecure: base == nil || base.Scheme == "http"}
}

// browserOptions returns opts with the settings for browsers: cookie mode, and CORS for the
// origins of -cors-origins, which may send the cookie.
func (c config) browserOptions(opts httpadapter.Options) httpadapter.Options {
	opts.Cookie = c.cookie()
	if origins, _ := c.origins(); len(origins) > 0 { // checked by parseConfig
		opts.CORS = &httpadapter.CORS{AllowedOrigins: origins, AllowCredentials: true}
	}
	return opts
}

// mountPages mounts on mux the HTML pages the mails link to, and the sign-in and sign-out
// pages, which set and clear the same cookie as the API.
func mountPages(mux *http.ServeMux, svc users.Service, cfg config, log *slog.Logger) {
	pages := httpadapter.Pages(svc, httpadapter.PagesOptions{Cookie: cfg.cookie(), RateLimits: cfg.rateLimits(), Logger: log})
	for _, p := range pagePaths {
		mux.Handle(p, pages)
	}
}

// link returns the link of a mail with a code, as smtpmail builds it: base + the path of the
// page + ?code=CODE; "" for a mail without a code, or without a base.
func link(base *url.URL, m users.Mail) string {
	if base == nil || m.Code == "" {
		return ""
	}
	var path string
	switch m.Kind {
	case users.MailPasswordReset:
		path = smtpmail.DefaultResetPath
	case users.MailVerifyEmail:
		path = smtpmail.DefaultVerifyPath
	default:
		return ""
	}
	u := base.JoinPath(path)
	u.RawQuery = url.Values{"code": {m.Code}}.Encode()
	return u.String()
}
