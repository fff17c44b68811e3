package users_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

// A Service over the in-memory store: create a user, sign in, and authenticate the bearer
// token.
func ExampleNew() {
	ctx := context.Background()
	svc, err := users.New(memory.New(), users.Config{
		// Cheap hashing keeps the example fast; leave Argon2 nil in production for OWASP's
		// parameters.
		Argon2: users.TestArgon2(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	u, err := svc.Create(ctx, users.NewUser{Username: " Alice@Example.com ", Password: "correct horse battery staple"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", u.Username, u.Email, u.Scope, u.Status)

	_, err = svc.SignIn(ctx, "alice@example.com", "wrong password")
	fmt.Println("wrong password:", err, errors.Is(err, users.ErrUnauthorized))

	session, err := svc.SignIn(ctx, "alice@example.com", "correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	who, err := svc.Authenticate(ctx, session.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("authenticated:", who.User.Username, who.User.ID == u.ID)

	_ = svc.SignOut(ctx, session.Token)
	_, err = svc.Authenticate(ctx, session.Token)
	fmt.Println("after sign-out:", errors.Is(err, users.ErrUnauthorized))
	// Output:
	// created: Alice@example.com Alice@example.com [user] active
	// wrong password: wrong username or password true
	// authenticated: Alice@example.com true
	// after sign-out: true
}

// Validation errors name the field at fault.
func ExampleError() {
	svc, err := users.New(memory.New(), users.Config{NoWorker: true})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	_, err = svc.Create(context.Background(), users.NewUser{Username: "alice"})
	var e *users.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Field, errors.Is(err, users.ErrInvalid))
	}
	fmt.Println(err)
	// Output:
	// invalid username true
	// username: must be an e-mail address
}

// A query selects with conditions, sorts and pages; List also returns the total.
func ExampleQuery() {
	ctx := context.Background()
	svc, err := users.New(memory.New(), users.Config{NoWorker: true})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	for _, in := range []users.NewUser{
		{Username: "ann@example.com", Name: "Ann", Plan: "pro"},
		{Username: "bob@example.com", Name: "Bob", Plan: "free"},
		{Username: "cid@example.org", Name: "Cid", Plan: "pro"},
		{Username: "dee@example.com", Name: "Dee", Plan: "pro", Status: users.StatusDisabled},
	} {
		if _, err := svc.Create(ctx, in); err != nil {
			log.Fatal(err)
		}
	}

	page, total, err := svc.List(ctx, users.Query{
		Conditions: []users.Condition{
			{Field: "plan", Op: users.OpEq, Value: "pro"},
			{Field: "email", Op: users.OpLike, Value: "%@EXAMPLE.%"},
		},
		Sort:  []users.Sort{{Field: "name", Desc: true}},
		Limit: 2,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, u := range page {
		fmt.Println(u.Name, u.Username, u.Status)
	}
	fmt.Println("total:", total)
	// Output:
	// Dee dee@example.com disabled
	// Cid cid@example.org active
	// total: 3
}

func ExampleLike() {
	fmt.Println(users.Like("alice@example.com", "%@example.___"))
	fmt.Println(users.Like("100%", `100\%`))
	fmt.Println(users.Like("1000", `100\%`))
	// Output:
	// true
	// true
	// false
}

// mailChannel is a Mailer that hands every mail to a channel, as a test or a development server
// might.
type mailChannel chan users.Mail

func (c mailChannel) Send(ctx context.Context, m users.Mail) error {
	select {
	case c <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Registration with a verified e-mail address: Register answers at once and mails the code
// in the background; the user signs in once VerifyEmail has taken the code.
func ExampleService_Register() {
	ctx := context.Background()
	mails := make(mailChannel, 1)
	svc, err := users.New(memory.New(), users.Config{
		Mailer:               mails,
		RequireVerifiedEmail: true,
		Argon2:               users.TestArgon2(),
		NoWorker:             true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	err = svc.Register(ctx, users.Registration{Email: "ada@example.com", Name: "Ada", Password: "correct horse battery staple"})
	fmt.Println("registered:", err)
	m := <-mails
	fmt.Println("mailed:", m.Kind, "to", m.To)

	_, err = svc.SignIn(ctx, "ada@example.com", "correct horse battery staple")
	fmt.Println("before verifying:", err)

	u, err := svc.VerifyEmail(ctx, m.Code)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:", u.Username, u.Status, u.EmailVerified)
	_, err = svc.SignIn(ctx, "ada@example.com", "correct horse battery staple")
	fmt.Println("after verifying:", err)
	// Output:
	// registered: <nil>
	// mailed: verify-email to ada@example.com
	// before verifying: emailVerified: the e-mail address is not verified yet
	// verified: ada@example.com active true
	// after verifying: <nil>
}

// An API key authenticates like a session token until it is rotated or deleted. The key is
// shown once; listing shows its prefix.
func ExampleService_CreateAPIKey() {
	ctx := context.Background()
	svc, err := users.New(memory.New(), users.Config{NoWorker: true})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	u, err := svc.Create(ctx, users.NewUser{Username: "ci@example.com"})
	if err != nil {
		log.Fatal(err)
	}

	key, err := svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "deploy"})
	if err != nil {
		log.Fatal(err)
	}
	who, err := svc.Authenticate(ctx, key.Key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("authenticated:", who.User.Username)
	keys, err := svc.APIKeys(ctx, u.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listed:", keys[0].Name, keys[0].Prefix == key.Key[:8], keys[0].Key == "")

	rotated, err := svc.RotateAPIKey(ctx, u.ID, key.ID)
	if err != nil {
		log.Fatal(err)
	}
	_, err = svc.Authenticate(ctx, key.Key)
	fmt.Println("old key after rotation:", errors.Is(err, users.ErrUnauthorized))
	_, err = svc.Authenticate(ctx, rotated.Key)
	fmt.Println("new key:", err, rotated.ID == key.ID)

	if err := svc.DeleteAPIKey(ctx, u.ID, rotated.ID); err != nil {
		log.Fatal(err)
	}
	_, err = svc.Authenticate(ctx, rotated.Key)
	fmt.Println("after deletion:", errors.Is(err, users.ErrUnauthorized))
	// Output:
	// authenticated: ci@example.com
	// listed: deploy true true
	// old key after rotation: true
	// new key: <nil> true
	// after deletion: true
}
