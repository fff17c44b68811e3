package users_test

import (
	"context"
	"fmt"

	"github.com/gousers/users"
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
