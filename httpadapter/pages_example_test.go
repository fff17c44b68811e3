package httpadapter_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/memory"
)

// mailQueue is a Mailer that hands each mail to a channel.
type mailQueue chan users.Mail

func (q mailQueue) Send(_ context.Context, m users.Mail) error {
	q <- m
	return nil
}

// Serve the API and, beside it, the pages the mails link to, in cookie mode: the reset link
// shows a form, the form sets the password, and the sign-in page sets the session cookie.
func ExamplePages() {
	mails := make(mailQueue, 1)
	svc, err := users.New(memory.New(), users.Config{
		Mailer: mails,
		// Cheap hashing keeps the example fast; leave Argon2 unset in production.
		Argon2: users.TestArgon2(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	if _, err := svc.Create(ctx, users.NewUser{Username: "ada@example.com", Password: "correct horse battery staple"}); err != nil {
		log.Fatal(err)
	}

	// The cookie is Secure by default; Insecure is for http://localhost development only.
	cookie := &httpadapter.Cookie{}
	pages := httpadapter.Pages(svc, httpadapter.PagesOptions{Cookie: cookie})
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", httpadapter.New(svc, httpadapter.Options{Cookie: cookie})))
	for _, path := range []string{"/reset-password", "/verify", "/sign-in", "/sign-out"} {
		mux.Handle(path, pages)
	}

	heading := regexp.MustCompile(`<h1>(.*)</h1>`)
	alert := regexp.MustCompile(`role="alert"[^>]*>(.*)</p>`)
	show := func(method, target string, form url.Values) {
		req := httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin") // as a browser sends a form of the page
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		line := fmt.Sprint(rec.Code, " ", heading.FindStringSubmatch(rec.Body.String())[1])
		if m := alert.FindStringSubmatch(rec.Body.String()); m != nil {
			line += ": " + m[1]
		}
		if len(rec.Result().Cookies()) > 0 {
			line += " (sets the session cookie)"
		}
		fmt.Println(line)
	}

	if err := svc.ForgotPassword(ctx, "ada@example.com"); err != nil {
		log.Fatal(err)
	}
	code := (<-mails).Code
	show("GET", "/reset-password?code="+url.QueryEscape(code), nil) // opening the link uses nothing
	show("POST", "/reset-password", url.Values{"code": {code}, "password": {"short"}})
	show("POST", "/reset-password", url.Values{"code": {code}, "password": {"a new pass phrase"}})
	show("POST", "/sign-in", url.Values{"username": {"ada@example.com"}, "password": {"a new pass phrase"}})
	// Output:
	// 200 Choose a new password
	// 400 Choose a new password: The password must have at least 8 characters.
	// 200 Password changed
	// 200 Signed in (sets the session cookie)
}
