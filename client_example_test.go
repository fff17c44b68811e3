package users_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

// An app with its own transport tells the Service where each request comes from: failed
// sign-ins are then counted by the account and that address, so that someone guessing from
// elsewhere cannot lock the owner out, and every event records the client.
func ExampleWithClient() {
	svc, err := users.New(memory.New(), users.Config{
		Argon2:   users.TestArgon2(), // cheap hashing keeps the example fast
		Throttle: users.Throttle{MaxFailures: 3},
		OnEvent: func(e users.Event) {
			if e.Type == users.EventSignInThrottled || e.Type == users.EventSignedIn {
				fmt.Println("event:", e.Type, "from", e.Client.Addr)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.Create(context.Background(), users.NewUser{Username: "ada@example.com", Password: "correct horse battery staple"}); err != nil {
		log.Fatal(err)
	}

	attacker := users.WithClient(context.Background(), users.Client{Addr: netip.MustParseAddr("203.0.113.9")})
	for range 3 {
		_, _ = svc.SignIn(attacker, "ada@example.com", "a guess")
	}
	_, err = svc.SignIn(attacker, "ada@example.com", "correct horse battery staple")
	fmt.Println("the attacker's address:", errors.Is(err, users.ErrThrottled))

	owner := users.WithClient(context.Background(), users.Client{Addr: netip.MustParseAddr("198.51.100.7"), UserAgent: "Firefox"})
	_, err = svc.SignIn(owner, "ada@example.com", "correct horse battery staple")
	fmt.Println("the owner's address:", err)
	// Output:
	// event: user.sign-in-throttled from 203.0.113.9
	// the attacker's address: true
	// event: user.signed-in from 198.51.100.7
	// the owner's address: <nil>
}
