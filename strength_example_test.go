package users_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"log"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

// The default policy refuses passwords that are easy to guess, and says why without
// repeating them.
func ExamplePasswordPolicy_Check() {
	ctx := context.Background()
	alice := &users.User{Username: "alice@example.com", Name: "Alice Zorblaxian"}
	var policy users.PasswordPolicy // the defaults: 8 to 256 characters, a score of 3 or more
	for _, password := range []string{
		"short",
		"password123",
		"qwertyuiop[]",
		"zorblaxian1234",
		"correct horse battery staple",
	} {
		fmt.Println(policy.Check(ctx, password, alice))
	}
	// Output:
	// password: must have at least 8 characters
	// password: is too easy to guess: it is a common password; add another word or two
	// password: is too easy to guess: keyboard patterns such as qwerty are easy to guess; add another word or two
	// password: is too easy to guess: it contains your username, e-mail address or name; add another word or two
	// <nil>
}

// MailName is what the mails show of a user's name.
func ExampleMailName() {
	fmt.Printf("%q\n", users.MailName("  Ada\r\nLovelace "))
	fmt.Printf("%q\n", users.MailName("You won! Claim it at https://example.com/prize"))
	// Output:
	// "Ada Lovelace"
	// ""
}

// breachedPasswords is a PasswordChecker over the SHA-1 digests of breached passwords. A real
// one would ask a breached-password service, sending it no more than the first five
// hexadecimal digits of the digest (Have I Been Pwned's range API), and would return nil
// when the service cannot answer, to let sign-ups through meanwhile.
type breachedPasswords map[string]bool

func (b breachedPasswords) CheckPassword(_ context.Context, password string, _ *users.User) error {
	sum := sha1.Sum([]byte(password))
	if b[hex.EncodeToString(sum[:])] {
		return &users.Error{Code: users.CodeInvalid, Field: "password", Message: "has appeared in a data breach; choose another"}
	}
	return nil
}

// A breached-password check beside the policy's own.
func ExamplePasswordChecker() {
	ctx := context.Background()
	breached := func(password string) string { sum := sha1.Sum([]byte(password)); return hex.EncodeToString(sum[:]) }
	svc, err := users.New(memory.New(), users.Config{
		Argon2: users.TestArgon2(), // cheap hashing for the example; leave it out in production
		Passwords: users.PasswordPolicy{
			Checker: breachedPasswords{breached("correct horse battery staple"): true},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	_, err = svc.Create(ctx, users.NewUser{Username: "alice@example.com", Password: "correct horse battery staple"})
	fmt.Println(err)
	_, err = svc.Create(ctx, users.NewUser{Username: "alice@example.com", Password: "staple battery horse incorrect"})
	fmt.Println(err)
	// Output:
	// password: has appeared in a data breach; choose another
	// <nil>
}
