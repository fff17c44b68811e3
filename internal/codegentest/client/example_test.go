package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/codegentest/client"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/userstest"
)

// An error answer is a problem whose code is one of the client's ProblemCode constants: a
// wrong password is refused as unauthorized.
func ExampleNewClientWithResponses() {
	svc, err := users.New(memory.New(), userstest.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	srv := httptest.NewServer(httpadapter.New(svc, httpadapter.Options{}))
	defer srv.Close()

	c, err := client.NewClientWithResponses(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.SignInWithResponse(context.Background(), client.SignInJSONRequestBody{
		Username: "nobody@example.com", Password: "not the password at all",
	})
	if err != nil {
		log.Fatal(err)
	}
	p := res.ApplicationproblemJSON401
	fmt.Println(res.StatusCode(), p.Code == client.ProblemCodeUnauthorized)
	// Output: 401 true
}
