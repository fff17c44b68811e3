package codegentest_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/codegentest/client"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/userstest"
)

// The generated client against the adapter: a user signs up (open mode answers with a
// session at once) and reads their own account with the session's token.
func Example() {
	svc, err := users.New(memory.New(), userstest.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	srv := httptest.NewServer(httpadapter.New(svc, httpadapter.Options{SignUp: httpadapter.SignUpOpen}))
	defer srv.Close()

	ctx := context.Background()
	c, err := client.NewClientWithResponses(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	up, err := c.SignUpWithResponse(ctx, client.SignUpJSONRequestBody{
		Username: "ada@example.com", Password: "correct horse battery staple",
	})
	if err != nil || up.JSON201 == nil {
		log.Fatalf("sign-up: %v, status %d", err, up.StatusCode())
	}
	token := up.JSON201.Token
	me, err := c.GetCurrentUserWithResponse(ctx, func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	})
	if err != nil || me.JSON200 == nil {
		log.Fatalf("current user: %v, status %d", err, me.StatusCode())
	}
	fmt.Println(me.JSON200.Username, me.JSON200.Status)
	// Output: ada@example.com active
}
