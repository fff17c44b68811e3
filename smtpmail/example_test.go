package smtpmail_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/smtpmail"
)

// A Mailer for a submission server with STARTTLS and a password, given to the Service. New
// does not connect: the first mail does.
func ExampleNew() {
	mailer, err := smtpmail.New(smtpmail.Options{
		Addr:     "smtp.example.com:587",
		From:     "Example <no-reply@example.com>",
		BaseURL:  "https://app.example.com",
		Username: "no-reply@example.com",
		Password: "the SMTP password", // from the environment or a secret store, in a real app
	})
	if err != nil {
		log.Fatal(err)
	}
	var _ users.Mailer = mailer // users.New(store, users.Config{Mailer: mailer})
	fmt.Println("ready")
	// Output: ready
}

// Render shows the message Send would deliver. Here the password-reset mail has templates of
// the app's own; the other kinds keep the defaults.
func ExampleMailer_Render() {
	templates := smtpmail.DefaultTemplates()
	templates[users.MailPasswordReset] = smtpmail.Template{
		Subject: "Your Example password",
		Text: "Hello{{with .Name}} {{.}}{{end}},\n\n" +
			"Choose a new password at\n{{.Link}}\n" +
			"before {{.Expires.UTC.Format \"15:04 MST\"}}.\n",
		HTML: `<p>Choose a <a href="{{.Link}}">new password</a>.</p>`,
	}
	mailer, err := smtpmail.New(smtpmail.Options{
		Addr:      "smtp.example.com:587",
		From:      "Example <no-reply@example.com>",
		BaseURL:   "https://app.example.com",
		Templates: templates,
	})
	if err != nil {
		log.Fatal(err)
	}
	raw, err := mailer.Render(users.Mail{
		Kind:    users.MailPasswordReset,
		To:      "ada@example.com",
		Name:    "Ada",
		Code:    "CODE",
		Expires: time.Date(2026, 3, 14, 16, 0, 0, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}

	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range []string{"From", "To", "Subject", "MIME-Version"} {
		fmt.Printf("%s: %s\n", h, msg.Header.Get(h))
	}
	mediaType, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	fmt.Println("Content-Type:", mediaType)
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := parts.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(part)
		fmt.Printf("\n[%s]\n%s", part.Header.Get("Content-Type"), strings.ReplaceAll(string(body), "\r\n", "\n"))
	}
	// Output:
	// From: "Example" <no-reply@example.com>
	// To: "Ada" <ada@example.com>
	// Subject: Your Example password
	// MIME-Version: 1.0
	// Content-Type: multipart/alternative
	//
	// [text/plain; charset=utf-8]
	// Hello Ada,
	//
	// Choose a new password at
	// https://app.example.com/reset-password?code=CODE
	// before 16:00 UTC.
	//
	// [text/html; charset=utf-8]
	// <p>Choose a <a href="https://app.example.com/reset-password?code=CODE">new password</a>.</p>
}
