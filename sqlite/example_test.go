package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/sqlite"
)

func Example() {
	ctx := context.Background()
	// A file path keeps the data; Memory keeps it as long as the Store is open.
	store, err := sqlite.Open(ctx, sqlite.Memory, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := &users.User{ID: "user-1", Username: "ada@example.com", Email: "ada@example.com",
		Scope: []string{users.RoleUser}, Status: users.StatusActive, Created: created}
	if err := store.CreateUser(ctx, u); err != nil {
		log.Fatal(err)
	}
	got, err := store.GetUserByUsername(ctx, "ADA@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.ID, got.Version)

	// Output:
	// user-1 1
}

// A sweeper removes expired tokens in bounded steps, so that no transaction holds the write
// lock for long: it stops at the first call that removes less than its limit.
func ExampleStore_DeleteExpiredTokens() {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Memory, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if err := store.CreateUser(ctx, &users.User{ID: "user-1", Username: "ada@example.com", Created: now}); err != nil {
		log.Fatal(err)
	}
	for i := range 5 {
		session := &users.Token{Digest: sha256.Sum256(fmt.Appendf(nil, "session %d", i)),
			Kind: users.TokenSession, UserID: "user-1", Created: now.Add(-48 * time.Hour),
			Expires: now.Add(-time.Duration(i) * time.Hour)}
		if err := store.PutToken(ctx, session); err != nil {
			log.Fatal(err)
		}
	}

	const limit = 2
	for {
		n, err := store.DeleteExpiredTokens(ctx, now, limit)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("removed", n)
		if n < limit {
			break
		}
	}

	// Output:
	// removed 2
	// removed 2
	// removed 1
}

// Every process that opens the file counts the same sign-in failures.
func ExampleStore_AddFailure() {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Memory, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	var throttle users.ThrottleStore = store
	key := sha256.Sum256([]byte("a key the Service derives"))
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 3 {
		n, err := throttle.AddFailure(ctx, key, at.Add(time.Duration(i)*time.Second))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("failures:", n)
	}
	n, last, err := throttle.Failures(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, last.Format(time.TimeOnly))
	if err := throttle.ResetFailures(ctx, key); err != nil {
		log.Fatal(err)
	}
	n, _, err = throttle.Failures(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after a successful sign-in:", n)

	// Output:
	// failures: 1
	// failures: 2
	// failures: 3
	// 3 03:04:07
	// after a successful sign-in: 0
}
