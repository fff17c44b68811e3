package smtpmail_test

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/smtpmail"
)

// testCode stands for a code of package users: 43 characters of base64url.
const testCode = "Q2FmZS1hdS1sYWl0X3Rlc3QtY29kZS0xMjM0NTY3OA"

// testNow is the clock of the tests.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// testMail returns a mail of kind to ada@example.com, with a code when the kind carries one.
func testMail(kind users.MailKind) users.Mail {
	m := users.Mail{Kind: kind, To: "ada@example.com", UserID: "u1", Name: "Ada Lovelace"}
	if kind == users.MailPasswordReset || kind == users.MailVerifyEmail {
		m.Code = testCode
		m.Expires = testNow.Add(time.Hour)
	}
	if kind == users.MailAPIKeyCreated {
		m.KeyName = "deploy <ci>"
	}
	return m
}

// allKinds are the kinds of mail of package users.
var allKinds = []users.MailKind{
	users.MailPasswordReset,
	users.MailVerifyEmail,
	users.MailPasswordChanged,
	users.MailRegistrationAttempt,
	users.MailEmailChanged,
	users.MailUsernameChanged,
	users.MailAPIKeyCreated,
}

// testOptions returns Options for a server at addr, without TLS and with quick retries.
func testOptions(addr string) smtpmail.Options {
	return smtpmail.Options{
		Addr:          addr,
		From:          "Example <no-reply@example.com>",
		BaseURL:       "https://app.example.com/base",
		AllowInsecure: true,
		RetryDelay:    time.Millisecond,
		Now:           func() time.Time { return testNow },
	}
}

// newTestMailer returns a Mailer for the server at addr, with testOptions changed by modify.
func newTestMailer(t *testing.T, addr string, modify func(*smtpmail.Options)) *smtpmail.Mailer {
	t.Helper()
	o := testOptions(addr)
	if modify != nil {
		modify(&o)
	}
	ml, err := smtpmail.New(o)
	require.NoError(t, err)
	return ml
}

// parsedMail is a message taken apart.
type parsedMail struct {
	header  mail.Header
	subject string // decoded
	text    string // the decoded text/plain part
	html    string // the decoded text/html part
}

// parseMail takes raw apart, with the parts' line ends turned to LF, checking that it is a multipart/alternative message with a
// text/plain and a text/html part in UTF-8, in that order, and that its lines end in CRLF.
func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	require.NotContains(t, strings.ReplaceAll(string(raw), "\r\n", ""), "\n", "every line ends in CRLF")
	require.NotContains(t, strings.ReplaceAll(string(raw), "\r\n", ""), "\r", "every line ends in CRLF")
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	var p parsedMail
	p.header = msg.Header
	p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for _, want := range []string{"text/plain", "text/html"} {
		part, err := mr.NextPart() // decodes quoted-printable
		require.NoError(t, err)
		mediaType, params, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		require.NoError(t, err)
		require.Equal(t, want, mediaType)
		require.Equal(t, "utf-8", params["charset"])
		b, err := io.ReadAll(part)
		require.NoError(t, err)
		body := strings.ReplaceAll(string(b), "\r\n", "\n")
		if want == "text/plain" {
			p.text = body
		} else {
			p.html = body
		}
	}
	_, err = mr.NextPart()
	require.ErrorIs(t, err, io.EOF, "two parts only")
	return p
}
