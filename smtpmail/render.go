package smtpmail

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/gousers/users"
)

// Template is the text of one kind of mail: three templates, each executed with a
// TemplateData. All three are required.
type Template struct {
	// Subject is a text/template giving the subject, on one line; space around it is
	// trimmed. A subject that is not plain ASCII is encoded (RFC 2047).
	Subject string
	// Text is a text/template giving the plain-text part.
	Text string
	// HTML is an html/template giving the HTML part: values are escaped for their context.
	HTML string
}

// TemplateData is what the templates of a mail are executed with.
type TemplateData struct {
	Kind users.MailKind
	To   string // the recipient's address
	Name string // the recipient's name as users.MailName gives it, possibly empty; see users.Mail
	Code string // the mail's code, for the kinds that carry one; a secret
	// Link is the link the mail asks its reader to follow, built from Options.BaseURL: for a
	// password reset BaseURL+ResetPath?code=Code, for an e-mail verification
	// BaseURL+VerifyPath?code=Code, and for any other kind BaseURL+ResetPath, without a code.
	Link    string
	BaseURL string    // Options.BaseURL
	Expires time.Time // when the code expires; zero for the kinds without one
	KeyName string    // the API key's name, for users.MailAPIKeyCreated
}

// templateFS holds the default templates: templates/KIND.subject, KIND.txt and KIND.html.
//
//go:embed templates
var templateFS embed.FS

// defaultKinds are the kinds of mail of package users, each with default templates.
var defaultKinds = []users.MailKind{
	users.MailPasswordReset,
	users.MailVerifyEmail,
	users.MailPasswordChanged,
	users.MailRegistrationAttempt,
	users.MailEmailChanged,
	users.MailUsernameChanged,
	users.MailAPIKeyCreated,
}

// DefaultTemplates returns the built-in templates, one for each kind of mail of package
// users, in a new map: change an entry and pass it in Options.Templates to replace a part.
func DefaultTemplates() map[users.MailKind]Template {
	read := func(name string) string {
		b, err := templateFS.ReadFile("templates/" + name)
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		return string(b)
	}
	ts := make(map[users.MailKind]Template, len(defaultKinds))
	for _, k := range defaultKinds {
		ts[k] = Template{Subject: read(string(k) + ".subject"), Text: read(string(k) + ".txt"), HTML: read(string(k) + ".html")}
	}
	return ts
}

// kindTemplates are the parsed templates of one kind.
type kindTemplates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// parseTemplates parses the default templates, with those of custom in their place.
func parseTemplates(custom map[users.MailKind]Template) (map[users.MailKind]*kindTemplates, error) {
	sources := DefaultTemplates()
	for k, t := range custom {
		sources[k] = t
	}
	parsed := make(map[users.MailKind]*kindTemplates, len(sources))
	for k, t := range sources {
		if k == "" || hasControl(string(k)) {
			return nil, fmt.Errorf("smtpmail: Templates has an invalid kind %q", k)
		}
		if t.Subject == "" || t.Text == "" || t.HTML == "" {
			return nil, fmt.Errorf("smtpmail: the Template of %q needs a Subject, a Text and an HTML", k)
		}
		var kt kindTemplates
		var err error
		if kt.subject, err = texttemplate.New(string(k) + ".subject").Parse(t.Subject); err != nil {
			return nil, fmt.Errorf("smtpmail: %w", err)
		}
		if kt.text, err = texttemplate.New(string(k) + ".txt").Parse(t.Text); err != nil {
			return nil, fmt.Errorf("smtpmail: %w", err)
		}
		if kt.html, err = htmltemplate.New(string(k) + ".html").Parse(t.HTML); err != nil {
			return nil, fmt.Errorf("smtpmail: %w", err)
		}
		parsed[k] = &kt
	}
	return parsed, nil
}

// Render returns m as the message Send would deliver: an RFC 5322 message with CRLF line
// ends, a multipart/alternative body with a plain-text and an HTML part. The Date header
// reads Options.Now, and the Message-ID and the MIME boundary are random. The message holds
// m's code: treat it as a secret. m.Name is shown as users.MailName gives it (no control or
// format characters, nothing that looks like a link or an address, at most 64 characters),
// escaped in the HTML part and encoded in the To header. Render returns an error wrapping
// ErrInvalidMail when m's kind has no templates, a code kind has no code, m.To is not a plain
// e-mail address, m.To or m.KeyName has a control character (such as CR or LF), or a
// template fails; the error never contains the code. It is safe for concurrent use.
func (ml *Mailer) Render(m users.Mail) ([]byte, error) {
	msg, err := ml.render(m)
	if err != nil {
		return nil, ml.redact(fmt.Errorf("%w: %q mail to %q: %w", ErrInvalidMail, m.Kind, m.To, err), m)
	}
	return msg, nil
}

func (ml *Mailer) render(m users.Mail) ([]byte, error) {
	t, ok := ml.templates[m.Kind]
	if !ok {
		return nil, errors.New("unknown kind")
	}
	// The Service has done it already; done again for a Mail from anywhere else.
	m.Name = users.MailName(m.Name)
	if hasControl(m.To) || hasControl(m.KeyName) {
		return nil, errors.New("the recipient has a line break or another control character")
	}
	if a, err := mail.ParseAddress(m.To); err != nil || a.Name != "" || a.Address != m.To {
		return nil, errors.New("the recipient is not a plain e-mail address")
	}
	if (m.Kind == users.MailPasswordReset || m.Kind == users.MailVerifyEmail) && m.Code == "" {
		return nil, errors.New("the mail has no code")
	}
	data := TemplateData{
		Kind:    m.Kind,
		To:      m.To,
		Name:    m.Name,
		Code:    m.Code,
		Link:    ml.link(m),
		BaseURL: ml.base.String(),
		Expires: m.Expires,
		KeyName: m.KeyName,
	}
	var subject, text, html bytes.Buffer
	if err := t.subject.Execute(&subject, data); err != nil {
		return nil, err
	}
	if err := t.text.Execute(&text, data); err != nil {
		return nil, err
	}
	if err := t.html.Execute(&html, data); err != nil {
		return nil, err
	}
	subj := strings.TrimSpace(subject.String())
	if subj == "" || hasControl(subj) {
		return nil, errors.New("the subject template must give one line of text")
	}
	return ml.message(m, subj, text.Bytes(), html.Bytes()), nil
}

// link returns TemplateData.Link for m.
func (ml *Mailer) link(m users.Mail) string {
	path, code := ml.reset, ""
	switch m.Kind {
	case users.MailPasswordReset:
		code = m.Code
	case users.MailVerifyEmail:
		path, code = ml.verify, m.Code
	}
	u := ml.base.JoinPath(path)
	if code != "" {
		u.RawQuery = url.Values{"code": {code}}.Encode()
	}
	return u.String()
}

// message assembles the MIME message. Every header value has been checked for control
// characters.
func (ml *Mailer) message(m users.Mail, subject string, text, html []byte) []byte {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body) // a random boundary
	for _, part := range []struct {
		mediaType string
		content   []byte
	}{{"text/plain", text}, {"text/html", html}} {
		h := make(textproto.MIMEHeader)
		h.Set("Content-Type", mime.FormatMediaType(part.mediaType, map[string]string{"charset": "utf-8"}))
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		w, _ := mw.CreatePart(h) // a bytes.Buffer does not fail
		qp := quotedprintable.NewWriter(w)
		_, _ = qp.Write(part.content) // writes CRLF line ends
		if !bytes.HasSuffix(part.content, []byte("\n")) {
			_, _ = qp.Write([]byte("\n"))
		}
		_ = qp.Close()
	}
	_ = mw.Close()

	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(fold(name + ": " + value)) }
	header("Date", ml.now().Format(time.RFC1123Z))
	header("Message-ID", "<"+randomHex(16)+"@"+domain(ml.from.Address)+">")
	header("From", ml.from.String())
	header("To", (&mail.Address{Name: m.Name, Address: m.To}).String())
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("MIME-Version", "1.0")
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	header("Auto-Submitted", "auto-generated") // RFC 3834: no automatic replies
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return b.Bytes()
}

// fold returns the header line, ended by CRLF, folded at spaces into lines of at most 78
// characters where it can be (RFC 5322, 2.2.3).
func fold(line string) string {
	const width = 78
	var b strings.Builder
	for len(line) > width {
		i := strings.LastIndexByte(line[:width+1], ' ')
		if i <= 0 || strings.TrimSpace(line[:i]) == "" {
			// No space to fold at within the width: fold at the next one, if any.
			j := strings.IndexByte(line[width:], ' ')
			if j < 0 {
				break
			}
			i = width + j
		}
		b.WriteString(line[:i] + "\r\n")
		line = line[i:] // the space starts the next line
	}
	b.WriteString(line + "\r\n")
	return b.String()
}

// domain returns the domain of an e-mail address.
func domain(address string) string {
	return address[strings.LastIndexByte(address, '@')+1:]
}

// randomHex returns n random bytes in hexadecimal.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: it crashes the program instead
	return hex.EncodeToString(b)
}
