package smtpmail_test

import (
	htmltemplate "html/template"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/smtpmail"
)

// wantMail is what the default templates give for each kind, with testOptions.
var wantMail = map[users.MailKind]struct {
	subject string
	link    string
	code    bool // the code is in both parts
}{
	users.MailPasswordReset:       {"Reset your password", "https://app.example.com/base/reset-password?code=" + testCode, true},
	users.MailVerifyEmail:         {"Confirm your e-mail address", "https://app.example.com/base/verify?code=" + testCode, true},
	users.MailPasswordChanged:     {"Your password was changed", "https://app.example.com/base/reset-password", false},
	users.MailRegistrationAttempt: {"Someone tried to sign up with your address", "https://app.example.com/base/reset-password", false},
	users.MailEmailChanged:        {"The e-mail address of your account was changed", "", false}, // a reset would go to the new address
	users.MailUsernameChanged:     {"Your username was changed", "https://app.example.com/base/reset-password", false},
	users.MailAPIKeyCreated:       {"An API key was created for your account", "https://app.example.com/base/reset-password", false},
}

func TestRenderEachKind(t *testing.T) {
	ml := newTestMailer(t, "127.0.0.1:25", nil)
	require.Len(t, wantMail, len(allKinds))
	for _, kind := range allKinds {
		t.Run(string(kind), func(t *testing.T) {
			want := wantMail[kind]
			m := testMail(kind)
			m.Code = testCode // even on the kinds without one: it must not show
			raw, err := ml.Render(m)
			require.NoError(t, err)
			got := parseMail(t, raw)

			assert.Equal(t, want.subject, got.subject)
			assert.Equal(t, `"Example" <no-reply@example.com>`, got.header.Get("From"))
			assert.Equal(t, `"Ada Lovelace" <ada@example.com>`, got.header.Get("To"))
			date, err := got.header.Date()
			require.NoError(t, err)
			assert.True(t, date.Equal(testNow), "Date: %v", date)
			id := got.header.Get("Message-ID")
			assert.Regexp(t, `^<[0-9a-f]{32}@example\.com>$`, id)
			assert.Equal(t, "1.0", got.header.Get("MIME-Version"))
			assert.Equal(t, "auto-generated", got.header.Get("Auto-Submitted"))

			assert.Contains(t, got.text, "Hello Ada Lovelace,")
			assert.Contains(t, got.html, "Hello Ada Lovelace,")
			if kind == users.MailAPIKeyCreated {
				assert.Contains(t, got.text, `named "deploy <ci>"`, "the key's name")
				assert.Contains(t, got.html, "deploy &lt;ci&gt;", "escaped in HTML")
			}
			if want.link != "" {
				assert.Contains(t, got.text, "\n"+want.link+"\n", "the link, on a line of its own")
				assert.Contains(t, got.html, `href="`+want.link+`"`)
			} else {
				assert.NotContains(t, got.html, "href=")
			}
			if want.code {
				assert.Contains(t, got.text, "\n"+testCode+"\n", "the code, on a line of its own")
				assert.Contains(t, got.html, "<code>"+testCode+"</code>")
				assert.Contains(t, got.text, "until 2026-03-14 16:09 UTC")
			} else {
				assert.NotContains(t, string(raw), testCode)
				assert.NotContains(t, got.text, "?code=")
			}
		})
	}
}

func TestRenderIsFreshEachTime(t *testing.T) {
	ml := newTestMailer(t, "127.0.0.1:25", nil)
	a, err := ml.Render(testMail(users.MailPasswordReset))
	require.NoError(t, err)
	b, err := ml.Render(testMail(users.MailPasswordReset))
	require.NoError(t, err)
	assert.NotEqual(t, parseMail(t, a).header.Get("Message-ID"), parseMail(t, b).header.Get("Message-ID"))
}

func TestRenderLinks(t *testing.T) {
	tests := []struct {
		name    string
		baseURL string
		reset   string
		verify  string
		want    map[users.MailKind]string
	}{
		{
			name: "host only", baseURL: "https://app.example.com",
			want: map[users.MailKind]string{
				users.MailPasswordReset: "https://app.example.com/reset-password?code=" + testCode,
				users.MailVerifyEmail:   "https://app.example.com/verify?code=" + testCode,
			},
		},
		{
			name: "trailing slash and own paths", baseURL: "http://localhost:8080/app/", reset: "/account/reset", verify: "/account/verify-email",
			want: map[users.MailKind]string{
				users.MailPasswordReset:   "http://localhost:8080/app/account/reset?code=" + testCode,
				users.MailVerifyEmail:     "http://localhost:8080/app/account/verify-email?code=" + testCode,
				users.MailPasswordChanged: "http://localhost:8080/app/account/reset",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ml := newTestMailer(t, "127.0.0.1:25", func(o *smtpmail.Options) {
				o.BaseURL, o.ResetPath, o.VerifyPath = tt.baseURL, tt.reset, tt.verify
			})
			for kind, link := range tt.want {
				raw, err := ml.Render(testMail(kind))
				require.NoError(t, err)
				assert.Contains(t, parseMail(t, raw).text, "\n"+link+"\n", "%s", kind)
			}
		})
	}
}

func TestRenderEscapesAndEncodes(t *testing.T) {
	ml := newTestMailer(t, "127.0.0.1:25", func(o *smtpmail.Options) {
		o.From = "Équipe Exemple <no-reply@example.com>"
		o.Templates = map[users.MailKind]smtpmail.Template{
			users.MailPasswordChanged: {
				Subject: "Votre mot de passe a été changé, {{.Name}}",
				Text:    "Bonjour {{.Name}}",
				HTML:    "<p>Bonjour {{.Name}}</p>",
			},
		}
	})
	m := testMail(users.MailPasswordChanged)
	m.Name = `Zoë <script>alert("x")</script>`
	raw, err := ml.Render(m)
	require.NoError(t, err)
	got := parseMail(t, raw)

	assert.Equal(t, "Votre mot de passe a été changé, "+m.Name, got.subject)
	rawSubject := got.header.Get("Subject")
	assert.True(t, strings.HasPrefix(rawSubject, "=?utf-8?q?"), "Subject: %s", rawSubject)
	from, err := got.header.AddressList("From")
	require.NoError(t, err)
	assert.Equal(t, []*mail.Address{{Name: "Équipe Exemple", Address: "no-reply@example.com"}}, from)
	to, err := got.header.AddressList("To")
	require.NoError(t, err)
	assert.Equal(t, []*mail.Address{{Name: m.Name, Address: m.To}}, to)

	assert.Equal(t, "Bonjour "+m.Name+"\n", got.text, "text is not escaped")
	assert.Equal(t, "<p>Bonjour Zoë &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>\n", got.html)

	for _, line := range strings.Split(string(raw), "\r\n") {
		assert.LessOrEqual(t, len(line), 78, "line %q", line)
	}
}

func TestRenderReplacedTemplates(t *testing.T) {
	custom := smtpmail.DefaultTemplates()
	custom[users.MailPasswordReset] = smtpmail.Template{
		Subject: "  {{.Name}}, your reset link\n",
		Text:    "Go to {{.Link}} before {{.Expires.Format \"15:04\"}}.\n",
		HTML:    `<a href="{{.Link}}">{{.BaseURL}}</a>`,
	}
	custom["welcome"] = smtpmail.Template{Subject: "Welcome", Text: "Welcome to {{.BaseURL}}", HTML: "<p>Welcome</p>"}
	ml := newTestMailer(t, "127.0.0.1:25", func(o *smtpmail.Options) { o.Templates = custom })

	raw, err := ml.Render(testMail(users.MailPasswordReset))
	require.NoError(t, err)
	got := parseMail(t, raw)
	link := wantMail[users.MailPasswordReset].link
	assert.Equal(t, "Ada Lovelace, your reset link", got.subject)
	assert.Equal(t, "Go to "+link+" before 16:09.\n", got.text)
	assert.Equal(t, `<a href="`+link+`">https://app.example.com/base</a>`+"\n", got.html)

	raw, err = ml.Render(users.Mail{Kind: "welcome", To: "ada@example.com"})
	require.NoError(t, err, "an app's own kind")
	assert.Equal(t, "Welcome to https://app.example.com/base\n", parseMail(t, raw).text)

	// The other kinds keep their defaults.
	raw, err = ml.Render(testMail(users.MailVerifyEmail))
	require.NoError(t, err)
	assert.Equal(t, wantMail[users.MailVerifyEmail].subject, parseMail(t, raw).subject)
}

func TestRenderRefuses(t *testing.T) {
	ml := newTestMailer(t, "127.0.0.1:25", func(o *smtpmail.Options) {
		o.Templates = map[users.MailKind]smtpmail.Template{
			"two-lines": {Subject: `{{if eq .To "lines@example.com"}}one{{"\n"}}two{{else}}s{{end}}`, Text: "x", HTML: "x"},
			"failing":   {Subject: `{{if eq .To "fail@example.com"}}{{.Code}}{{.Code.Nope}}{{end}}s`, Text: "x", HTML: "x"},
		}
	})
	for _, tt := range invalidMails() {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := ml.Render(tt.mail)
			require.ErrorIs(t, err, smtpmail.ErrInvalidMail)
			assert.Nil(t, raw)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), testCode)
		})
	}
}

// invalidMails are mails that Render and Send refuse, and the error each gives.
func invalidMails() []struct {
	name string
	mail users.Mail
	want string
} {
	with := func(f func(m *users.Mail)) users.Mail {
		m := testMail(users.MailPasswordReset)
		f(&m)
		return m
	}
	return []struct {
		name string
		mail users.Mail
		want string
	}{
		{"unknown kind", with(func(m *users.Mail) { m.Kind = "newsletter" }), "unknown kind"},
		{"empty kind", with(func(m *users.Mail) { m.Kind = "" }), "unknown kind"},
		{"header injection in To", with(func(m *users.Mail) { m.To = "ada@example.com\r\nBcc: eve@example.com" }), "control character"},
		{"LF in To", with(func(m *users.Mail) { m.To = "ada@example.com\nBcc: eve@example.com" }), "control character"},
		{"display name in To", with(func(m *users.Mail) { m.To = "Eve <eve@example.com>" }), "not a plain e-mail address"},
		{"two recipients", with(func(m *users.Mail) { m.To = "ada@example.com, eve@example.com" }), "not a plain e-mail address"},
		{"not an address", with(func(m *users.Mail) { m.To = "ada" }), "not a plain e-mail address"},
		{"no recipient", with(func(m *users.Mail) { m.To = "" }), "not a plain e-mail address"},
		{"reset without a code", with(func(m *users.Mail) { m.Code = "" }), "no code"},
		{"verification without a code", users.Mail{Kind: users.MailVerifyEmail, To: "ada@example.com"}, "no code"},
		{"subject on two lines", with(func(m *users.Mail) { m.Kind, m.To = "two-lines", "lines@example.com" }), "one line"},
		{"template failing", with(func(m *users.Mail) { m.Kind, m.To = "failing", "fail@example.com" }), "Nope"},
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name   string
		modify func(o *smtpmail.Options)
		want   string
	}{
		{"no address", func(o *smtpmail.Options) { o.Addr = "" }, "Addr"},
		{"no port", func(o *smtpmail.Options) { o.Addr = "smtp.example.com" }, "Addr"},
		{"no host", func(o *smtpmail.Options) { o.Addr = ":25" }, "Addr"},
		{"no sender", func(o *smtpmail.Options) { o.From = "" }, "From is required"},
		{"bad sender", func(o *smtpmail.Options) { o.From = "no-reply" }, "From"},
		{"sender with a line break", func(o *smtpmail.Options) { o.From = "a@example.com\r\nBcc: b@example.com" }, "From"},
		{"no base URL", func(o *smtpmail.Options) { o.BaseURL = "" }, "BaseURL is required"},
		{"relative base URL", func(o *smtpmail.Options) { o.BaseURL = "/app" }, "BaseURL"},
		{"base URL without a host", func(o *smtpmail.Options) { o.BaseURL = "https:///app" }, "BaseURL"},
		{"base URL of another scheme", func(o *smtpmail.Options) { o.BaseURL = "ftp://example.com" }, "BaseURL"},
		{"base URL with a query", func(o *smtpmail.Options) { o.BaseURL = "https://example.com/?a=b" }, "BaseURL"},
		{"base URL with a fragment", func(o *smtpmail.Options) { o.BaseURL = "https://example.com/#x" }, "BaseURL"},
		{"base URL with credentials", func(o *smtpmail.Options) { o.BaseURL = "https://u:p@example.com" }, "BaseURL"},
		{"relative reset path", func(o *smtpmail.Options) { o.ResetPath = "reset" }, "ResetPath"},
		{"verify path with a query", func(o *smtpmail.Options) { o.VerifyPath = "/verify?x=1" }, "VerifyPath"},
		{"password without username", func(o *smtpmail.Options) { o.Password = "secret" }, "Password without Username"},
		{"negative timeout", func(o *smtpmail.Options) { o.Timeout = -time.Second }, "negative"},
		{"negative connections", func(o *smtpmail.Options) { o.MaxConns = -1 }, "negative"},
		{"negative attempts", func(o *smtpmail.Options) { o.MaxAttempts = -1 }, "negative"},
		{"template missing a part", func(o *smtpmail.Options) {
			o.Templates = map[users.MailKind]smtpmail.Template{users.MailPasswordReset: {Subject: "s", Text: "t"}}
		}, "needs a Subject, a Text and an HTML"},
		{"template not parsing", func(o *smtpmail.Options) {
			o.Templates = map[users.MailKind]smtpmail.Template{users.MailPasswordReset: {Subject: "{{.Name", Text: "t", HTML: "h"}}
		}, "password-reset.subject"},
		{"HTML template not parsing", func(o *smtpmail.Options) {
			o.Templates = map[users.MailKind]smtpmail.Template{users.MailVerifyEmail: {Subject: "s", Text: "t", HTML: "{{if}}"}}
		}, "verify-email.html"},
		{"subject on two lines", func(o *smtpmail.Options) {
			o.Templates = map[users.MailKind]smtpmail.Template{users.MailPasswordReset: {Subject: "one\ntwo", Text: "t", HTML: "h"}}
		}, "one line"},
		{"template failing on execution", func(o *smtpmail.Options) {
			o.Templates = map[users.MailKind]smtpmail.Template{users.MailPasswordChanged: {Subject: "s", Text: "{{.Nope}}", HTML: "h"}}
		}, "Nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions("127.0.0.1:25")
			tt.modify(&o)
			ml, err := smtpmail.New(o)
			require.Error(t, err)
			assert.Nil(t, ml)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestDefaultTemplates(t *testing.T) {
	ts := smtpmail.DefaultTemplates()
	require.Len(t, ts, len(allKinds))
	for _, kind := range allKinds {
		tmpl := ts[kind]
		assert.NotEmpty(t, tmpl.Subject, kind)
		if kind == users.MailEmailChanged {
			// A reset would go to the new address: the mail sends its reader to an administrator.
			assert.NotContains(t, tmpl.Text, "{{.Link}}", kind)
			continue
		}
		assert.Contains(t, tmpl.Text, "{{.Link}}", kind)
		assert.Contains(t, tmpl.HTML, "{{.Link}}", kind)
	}
	ts[users.MailPasswordReset] = smtpmail.Template{}
	assert.NotEmpty(t, smtpmail.DefaultTemplates()[users.MailPasswordReset].Subject, "a new map each time")
}

// TestRenderName checks that the name a mail shows is the one users.MailName gives, in the
// text and HTML parts and the To header alike: no line breaks, no links, at most 64
// characters, escaped in HTML.
func TestRenderName(t *testing.T) {
	ml := newTestMailer(t, "127.0.0.1:25", func(*smtpmail.Options) {})
	long := strings.Repeat("Ada <b>Lovelace</b> ", 10) // 200 characters
	tests := []struct {
		name, given, want string
	}{
		{"plain", "Ada Lovelace", "Ada Lovelace"},
		{"header injection", "Ada\r\nBcc: eve@example.com", ""},
		{"line breaks", "Ada\r\n\r\nClick below", "Ada Click below"},
		{"NUL", "Ada\x00", "Ada"},
		{"bidirectional override", "Ada \u202eecalevoL", "Ada ecalevoL"},
		{"a link", "Ada, see https://evil.example/claim", ""},
		{"a bare domain", "Prize at evil.example", ""},
		{"cut to 64 characters", long, strings.TrimSpace(long[:64])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMail(users.MailPasswordReset)
			m.Name = tt.given
			raw, err := ml.Render(m)
			require.NoError(t, err)
			got := parseMail(t, raw)
			to, err := got.header.AddressList("To")
			require.NoError(t, err)
			assert.Equal(t, []*mail.Address{{Name: tt.want, Address: m.To}}, to)
			firstLine := func(s string) string { line, _, _ := strings.Cut(s, "\n"); return line }
			if tt.want == "" {
				assert.Equal(t, "Hello,", firstLine(got.text))
				assert.Contains(t, got.html, "<p>Hello,</p>")
			} else {
				assert.Equal(t, "Hello "+tt.want+",", firstLine(got.text))
				assert.Contains(t, got.html, "<p>Hello "+htmltemplate.HTMLEscapeString(tt.want)+",</p>")
			}
			for _, part := range []string{got.text, got.html} {
				assert.NotContains(t, part, "evil")
				assert.NotContains(t, part, "Bcc")
			}
			assert.NotContains(t, got.html, "<b>", "HTML in a name is escaped")
			assert.Empty(t, got.header.Get("Bcc"))
		})
	}
}
