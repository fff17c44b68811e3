package users_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

// NameRules prepares names into the one form they are stored in, and refuses those that
// would look like another name.
func ExampleNameRules() {
	var rules users.NameRules // the defaults: usernames are e-mail addresses
	for _, s := range []string{
		"Alice@Example.COM",           // the domain is lower-cased
		"ａlice@example.com",           // fullwidth letters become plain ones
		"bob@b\u00fccher.de",          // an internationalized domain in ASCII form
		"alice\u200b@example.com",     // a zero-width space
		"\u0430lice@example.com",      // a Cyrillic а among Latin letters
		"alice\U0001F600@example.com", // an emoji
	} {
		name, err := rules.Username(s)
		if err != nil {
			fmt.Println("refused:", err)
			continue
		}
		fmt.Println(name)
	}

	handles := users.NameRules{Usernames: users.UsernameHandle}
	name, _ := handles.Username("Alice_92")
	fmt.Println(name)
	// Output:
	// Alice@example.com
	// alice@example.com
	// bob@xn--bcher-kva.de
	// refused: username: must not contain invisible or formatting characters
	// refused: username: mixes letters of the Cyrillic and Latin scripts; use letters of one script
	// refused: username: may contain only letters, digits, combining marks and ASCII punctuation
	// alice_92
}

// Names that fold alike are one user: Fold is the key of every Store.
func ExampleFold() {
	fmt.Println(users.Fold("Stra\u00dfe") == users.Fold("STRASSE"))
	fmt.Println(users.Fold("ＡＬＩＣＥ"))
	fmt.Println(users.Fold("ad\u00admin")) // a soft hyphen is dropped
	// Output:
	// true
	// alice
	// admin
}

// With Config.Usernames set to UsernameHandle, a username is a handle and the e-mail
// address is separate and optional.
func ExampleConfig_handles() {
	svc, err := users.New(memory.New(), users.Config{Usernames: users.UsernameHandle, NoWorker: true})
	if err != nil {
		panic(err)
	}
	defer svc.Close()
	ctx := context.Background()
	u, err := svc.Create(ctx, users.NewUser{Username: " Alice_92 ", Email: "alice@example.com"})
	if err != nil {
		panic(err)
	}
	fmt.Println(u.Username, u.Email)
	_, err = svc.Create(ctx, users.NewUser{Username: "ＡＬＩＣＥ_92"})
	fmt.Println(errors.Is(err, users.ErrConflict))
	_, err = svc.Create(ctx, users.NewUser{Username: "bob@example.com"})
	fmt.Println(err)
	// Output:
	// alice_92 alice@example.com
	// true
	// username: must be a handle, without @, not an e-mail address
}
