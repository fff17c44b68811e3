// Package smtpmail is a users.Mailer that delivers the mails of package users through an SMTP
// server, with the standard library's net/smtp.
//
//	mailer, err := smtpmail.New(smtpmail.Options{
//		Addr:     "smtp.example.com:587",
//		From:     "Example <no-reply@example.com>",
//		BaseURL:  "https://app.example.com",
//		Username: os.Getenv("SMTP_USERNAME"),
//		Password: os.Getenv("SMTP_PASSWORD"),
//	})
//	...
//	svc, err := users.New(store, users.Config{Mailer: mailer})
//
// # Delivery
//
// Each mail goes over a connection of its own: EHLO, STARTTLS, AUTH PLAIN when a username is
// set, one sender, one recipient, the message, QUIT. STARTTLS is required unless
// Options.AllowInsecure is set, and used whenever the server offers it. net/smtp refuses to
// send a password over an unencrypted connection to any host but localhost, so a password
// with AllowInsecure works only against a local server.
//
// Every step has a deadline: the dial has Options.DialTimeout, and the whole of one mail
// (waiting for a connection slot, every attempt, and the waits between them) has the earlier
// of the context's deadline and Options.Timeout. At most Options.MaxConns connections are
// open at once; further mails wait for a slot. A temporary failure (a 4xx reply, or a network
// error such as a refused or dropped connection) is retried, up to Options.MaxAttempts
// attempts in all, after a delay that starts at Options.RetryDelay and doubles; a permanent
// one (a 5xx reply, a TLS or authentication failure, an invalid mail) is not. A connection
// lost after the message was sent but before the server confirmed it is retried too, so the
// recipient may, rarely, get a mail twice.
//
// # Links and templates
//
// Every link in a mail is built from Options.BaseURL, never from a request: a password reset
// links to BaseURL+ResetPath?code=CODE, a verification to BaseURL+VerifyPath?code=CODE, and the
// mails without a code (password changed, registration attempt) to BaseURL+ResetPath, where a
// user who did not expect them can ask for a reset.
//
// Each kind of mail has three templates, executed with a TemplateData: its subject and its
// plain-text part with text/template, and its HTML part with html/template, which escapes
// every value for its context. The defaults, embedded in the package, are returned by
// DefaultTemplates; Options.Templates replaces them kind by kind. The message is a MIME
// multipart/alternative message (RFC 5322 and 2045–2049) with both parts in UTF-8 and
// quoted-printable, and CRLF line ends throughout.
//
// A mail carries no text an attacker chose: the Service leaves the user's name out of mails
// to unverified addresses (see users.Mail), and the name a mail does carry is passed through
// users.MailName again here, whoever made the Mail, so that it has no line break to add a
// header or a line, and nothing a mail reader would turn into a link.
//
// # Secrets
//
// The package logs nothing. No error it returns contains a mail's code, the message, or the
// password: errors name the mail by its kind and recipient only, and an error whose text
// would repeat a secret (a server that echoes what it was sent) has it replaced by
// "[redacted]".
package smtpmail

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/gousers/users"
)

// Options configure a Mailer. Addr, From and BaseURL are required; the zero value of every
// other field means its default.
type Options struct {
	// Addr is the SMTP server's host:port, such as "smtp.example.com:587" (the submission
	// port, with STARTTLS). Implicit TLS (port 465) is not supported.
	Addr string

	// From is the sender of every mail: an address, with or without a display name, such as
	// "Example <no-reply@example.com>". It is also the envelope sender.
	From string

	// BaseURL is the absolute http or https URL of the app, such as "https://app.example.com"
	// or "https://example.com/app", from which every link in a mail is built. It must have no
	// query or fragment.
	BaseURL string

	// ResetPath is the path, under BaseURL, of the app's page that takes a password-reset
	// code from its "code" query parameter. Default "/reset-password".
	ResetPath string

	// VerifyPath is the path, under BaseURL, of the app's page that takes an e-mail
	// verification code from its "code" query parameter. Default "/verify".
	VerifyPath string

	// Username and Password, when Username is set, authenticate to the server with AUTH
	// PLAIN. The password is never logged nor returned in an error.
	Username string
	Password string

	// AllowInsecure lets mail go over an unencrypted connection to a server that does not
	// offer STARTTLS, such as a local test server. Without it such a server is refused with
	// ErrNoTLS. STARTTLS is used whenever it is offered, either way.
	AllowInsecure bool

	// TLSConfig configures STARTTLS; nil means the defaults. It is cloned, and its ServerName,
	// when empty, is set to the host of Addr.
	TLSConfig *tls.Config

	// LocalName is the name the client gives in EHLO. Default "localhost".
	LocalName string

	// DialTimeout bounds the connection to the server. Default 10 seconds.
	DialTimeout time.Duration

	// Timeout bounds the sending of one mail, from the call of Send to its return: waiting
	// for a connection, every attempt, and the delays between them. A context with an earlier
	// deadline wins. Default 30 seconds.
	Timeout time.Duration

	// MaxConns is the most connections open to the server at once. Default 4.
	MaxConns int

	// MaxAttempts is the most attempts at delivering one mail, the first included; 1 means
	// no retry. Default 3.
	MaxAttempts int

	// RetryDelay is the wait before the first retry; it doubles before each next one, up to
	// a minute. A retry whose wait would outlast the deadline is not attempted. Default 1
	// second.
	RetryDelay time.Duration

	// Templates replaces the default templates (DefaultTemplates) of the kinds it has; the
	// other kinds keep theirs. A kind that is not one of the users.MailKind constants may be
	// added too, for an app's own calls of Send.
	Templates map[users.MailKind]Template

	// Now is the clock, for the Date header. Default time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultResetPath   = "/reset-password"
	DefaultVerifyPath  = "/verify"
	DefaultLocalName   = "localhost"
	DefaultDialTimeout = 10 * time.Second
	DefaultTimeout     = 30 * time.Second
	DefaultMaxConns    = 4
	DefaultMaxAttempts = 3
	DefaultRetryDelay  = time.Second
)

// maxRetryDelay caps the doubling of Options.RetryDelay.
const maxRetryDelay = time.Minute

// Errors of the package, to test with errors.Is.
var (
	// ErrNoTLS is returned by Send when the server does not offer STARTTLS and
	// Options.AllowInsecure is not set. It is not retried.
	ErrNoTLS = errors.New("smtpmail: the server does not offer STARTTLS")

	// ErrInvalidMail is returned by Send and Render for a mail that cannot be rendered: a kind
	// without templates, a recipient that is not a plain e-mail address, a recipient or key
	// name with a line break or another control character, or a template that fails. It is
	// not retried.
	ErrInvalidMail = errors.New("smtpmail: invalid mail")
)

// Mailer delivers mails through an SMTP server. It implements users.Mailer. Its
// configuration is fixed by New, and it is safe for concurrent use.
type Mailer struct {
	addr      string
	host      string // of addr: the TLS server name and net/smtp's server name
	from      *mail.Address
	base      *url.URL
	reset     string // path under base
	verify    string // path under base
	username  string
	password  string
	insecure  bool
	tls       *tls.Config
	localName string
	dialer    net.Dialer
	timeout   time.Duration
	attempts  int
	delay     time.Duration
	templates map[users.MailKind]*kindTemplates
	now       func() time.Time
	sem       chan struct{} // a slot per connection
}

var _ users.Mailer = (*Mailer)(nil)

// New returns a Mailer configured by o. It does not connect to the server. It returns an
// error when a required option is missing, an option is out of range, BaseURL is not an
// absolute http or https URL, or a template does not parse or fails on a sample mail.
func New(o Options) (*Mailer, error) {
	ml := &Mailer{
		addr:      o.Addr,
		username:  o.Username,
		password:  o.Password,
		insecure:  o.AllowInsecure,
		localName: orDefault(o.LocalName, DefaultLocalName),
		dialer:    net.Dialer{Timeout: orDefault(o.DialTimeout, DefaultDialTimeout)},
		timeout:   orDefault(o.Timeout, DefaultTimeout),
		attempts:  orDefault(o.MaxAttempts, DefaultMaxAttempts),
		delay:     orDefault(o.RetryDelay, DefaultRetryDelay),
		now:       o.Now,
	}
	if ml.now == nil {
		ml.now = time.Now
	}
	var err error
	if ml.host, _, err = net.SplitHostPort(o.Addr); err != nil || ml.host == "" {
		return nil, fmt.Errorf("smtpmail: Addr %q is not host:port", o.Addr)
	}
	if o.From == "" {
		return nil, errors.New("smtpmail: From is required")
	}
	if ml.from, err = mail.ParseAddress(o.From); err != nil || hasControl(o.From) {
		return nil, fmt.Errorf("smtpmail: From %q is not an e-mail address", o.From)
	}
	if ml.base, err = parseBaseURL(o.BaseURL); err != nil {
		return nil, err
	}
	ml.reset = orDefault(o.ResetPath, DefaultResetPath)
	ml.verify = orDefault(o.VerifyPath, DefaultVerifyPath)
	for _, p := range []string{ml.reset, ml.verify} {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#") || hasControl(p) {
			return nil, fmt.Errorf("smtpmail: ResetPath and VerifyPath must be paths starting with /, not %q", p)
		}
	}
	if o.Password != "" && o.Username == "" {
		return nil, errors.New("smtpmail: Password without Username")
	}
	if hasControl(o.Username) || hasControl(ml.localName) {
		return nil, errors.New("smtpmail: Username and LocalName must not have control characters")
	}
	switch {
	case o.DialTimeout < 0, o.Timeout < 0, o.RetryDelay < 0:
		return nil, errors.New("smtpmail: DialTimeout, Timeout and RetryDelay must not be negative")
	case o.MaxConns < 0, o.MaxAttempts < 0:
		return nil, errors.New("smtpmail: MaxConns and MaxAttempts must not be negative")
	}
	ml.sem = make(chan struct{}, orDefault(o.MaxConns, DefaultMaxConns))
	if o.TLSConfig != nil {
		ml.tls = o.TLSConfig.Clone()
	} else {
		ml.tls = &tls.Config{}
	}
	if ml.tls.ServerName == "" {
		ml.tls.ServerName = ml.host
	}
	if ml.templates, err = parseTemplates(o.Templates); err != nil {
		return nil, err
	}
	// Render every kind once, so that a template that fails on execution fails here.
	for kind := range ml.templates {
		sample := users.Mail{Kind: kind, To: "user@example.com", UserID: "id", Name: "Ada",
			Code: "sample-code", Expires: ml.now().Add(time.Hour)}
		if _, err := ml.render(sample); err != nil {
			return nil, fmt.Errorf("smtpmail: the templates of %q fail on a sample mail: %w", kind, err)
		}
	}
	return ml, nil
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// parseBaseURL checks that s is an absolute http or https URL without a query or fragment.
func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("smtpmail: BaseURL is required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || hasControl(s) {
		return nil, fmt.Errorf("smtpmail: BaseURL %q is not an absolute http or https URL without a query", s)
	}
	return u, nil
}

// Send renders m and delivers it to m.To, retrying temporary failures. It gives up when ctx
// is done or Options.Timeout has passed, returning an error that wraps the context's error.
// It returns an error wrapping ErrInvalidMail for a mail it cannot render, ErrNoTLS for a
// server without STARTTLS (unless allowed), and otherwise the last failure, which wraps the
// server's *textproto.Error when the server refused the mail. The error names the mail by its
// kind and recipient, and never contains its code, its message or the password. Send is safe
// for concurrent use.
func (ml *Mailer) Send(ctx context.Context, m users.Mail) error {
	msg, err := ml.Render(m)
	if err != nil {
		return ml.redact(err, m)
	}
	ctx, cancel := context.WithTimeout(ctx, ml.timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := ml.attempt(ctx, m.To, msg)
		if err == nil {
			return nil
		}
		fail := func(err error) error {
			return ml.redact(fmt.Errorf("smtpmail: %s mail to %s, attempt %d of %d: %w", m.Kind, m.To, attempt, ml.attempts, err), m)
		}
		if cerr := ctxDone(ctx); cerr != nil {
			return fail(fmt.Errorf("%w: %w", cerr, err))
		}
		if !temporary(err) || attempt == ml.attempts {
			return fail(err)
		}
		wait := min(ml.delay<<(attempt-1), maxRetryDelay)
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			return fail(fmt.Errorf("%w (no time left to retry)", err))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fail(fmt.Errorf("%w (then %w)", err, context.Cause(ctx)))
		case <-t.C:
		}
	}
}

// ctxDone returns the error of ctx when it is done or its deadline has passed (a
// connection's deadline, set to the same time, may have passed first), and nil otherwise.
func ctxDone(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// attempt takes a connection slot and delivers msg over one connection.
func (ml *Mailer) attempt(ctx context.Context, to string, msg []byte) error {
	if err := ctxDone(ctx); err != nil {
		return err
	}
	select {
	case ml.sem <- struct{}{}:
	case <-ctx.Done():
		return errors.New("waiting for a connection")
	}
	defer func() { <-ml.sem }()
	return ml.deliver(ctx, to, msg)
}

// deliver sends msg to to over a new connection, every step bounded by ctx.
func (ml *Mailer) deliver(ctx context.Context, to string, msg []byte) error {
	conn, err := ml.dialer.DialContext(ctx, "tcp", ml.addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(d); err != nil {
			return fmt.Errorf("dial: %w", err)
		}
	}
	// Cancelling ctx interrupts the step in progress.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, ml.host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(ml.localName); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(ml.tls); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	} else if !ml.insecure {
		return ErrNoTLS
	}
	if ml.username != "" {
		if err := c.Auth(smtp.PlainAuth("", ml.username, ml.password, ml.host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(ml.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The server has accepted the mail: a failure to say goodbye changes nothing.
	_ = c.Quit()
	return nil
}

// temporary reports whether err is worth another attempt: a 4xx reply, or a network error.
func temporary(err error) bool {
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return reply.Code >= 400 && reply.Code < 500
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// redact returns err, or when its text contains a secret of m or of the Mailer (which a
// server may have echoed in a reply), an error with the same text where each secret is
// replaced by "[redacted]". That error wraps nothing, so that the secret cannot be reached
// through it either.
func (ml *Mailer) redact(err error, m users.Mail) error {
	text := err.Error()
	secrets := []string{m.Code, ml.password}
	if ml.password != "" {
		// The PLAIN credentials as they go over the wire.
		secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte("\x00"+ml.username+"\x00"+ml.password)))
	}
	redacted := text
	for _, s := range secrets {
		if s != "" {
			redacted = strings.ReplaceAll(redacted, s, "[redacted]")
		}
	}
	if redacted == text {
		return err
	}
	return errors.New(redacted)
}

// hasControl reports whether s has a control character, such as CR or LF.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
