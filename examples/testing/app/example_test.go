package app_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/gousers/users"
	"github.com/gousers/users/examples/testing/app"
	"github.com/gousers/users/memory"
)

func Example() {
	ctx := context.Background()
	a, err := app.New(memory.New(), users.Config{
		// Cheap hashing keeps the example fast; leave Argon2 unset outside tests.
		Argon2: users.TestArgon2(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	_, err = a.Users.Create(ctx, users.NewUser{Username: "ada@example.com", Password: "correct horse battery staple"})
	if err != nil {
		log.Fatal(err)
	}
	s, err := a.Users.SignIn(ctx, "ada@example.com", "correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	for _, text := range []string{"first program", "letter to Charles"} {
		if err := a.Notes.Add(ctx, s.Token, text); err != nil {
			log.Fatal(err)
		}
	}
	notes, err := a.Notes.List(ctx, s.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", notes)

	err = a.Notes.Add(ctx, "not a token", "hello")
	fmt.Println(errors.Is(err, users.ErrUnauthorized))
	// Output:
	// ["first program" "letter to Charles"]
	// true
}
