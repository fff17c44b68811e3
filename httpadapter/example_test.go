package httpadapter_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/memory"
)

// Mount the API under /api beside the app's own routes, which the same bearer tokens protect.
func Example() {
	svc, err := users.New(memory.New(), users.Config{
		// Cheap hashing keeps the example fast; leave Argon2 nil in production.
		Argon2: users.TestArgon2(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	auth := &httpadapter.Auth{Service: svc}
	mux := http.NewServeMux()
	// Open sign-up (Appmixer's shape): POST /user answers with a session at once. The default,
	// SignUpVerify, mails a verification code instead and answers 202.
	api := httpadapter.New(svc, httpadapter.Options{SignUp: httpadapter.SignUpOpen})
	mux.Handle("/api/", http.StripPrefix("/api", api))
	mux.Handle("GET /hello", auth.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := httpadapter.UserFrom(r.Context())
		fmt.Fprintf(w, "hello, %s", u.Username)
	})))
	server := httptest.NewServer(mux)
	defer server.Close()

	send := func(method, path, token, body string) (int, string) {
		req, err := http.NewRequest(method, server.URL+path, strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	status, body := send("POST", "/api/user", "", `{"username":"ada@example.com","password":"correct horse battery staple"}`)
	var session struct {
		Token string
		User  struct{ Username, Status string }
	}
	if err := json.Unmarshal([]byte(body), &session); err != nil {
		log.Fatal(err)
	}
	fmt.Println(status, session.User.Username, session.User.Status)

	fmt.Println(send("GET", "/hello", session.Token, ""))
	fmt.Println(send("GET", "/hello", "", ""))
	fmt.Println(send("POST", "/api/user", "", `{"username":"ada","password":"correct horse battery staple"}`))
	// Output:
	// 201 ada@example.com active
	// 200 hello, ada@example.com
	// 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"a bearer token is required","code":"unauthorized"}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"username: must be an e-mail address","code":"invalid","field":"username"}
}
