package memory_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

func Example() {
	ctx := context.Background()
	store := memory.New()

	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, name := range []string{"ada@example.com", "Grace@example.com", "linus@example.org"} {
		u := &users.User{
			ID:       fmt.Sprintf("user-%d", i+1),
			Username: name,
			Email:    name,
			Scope:    []string{users.RoleUser},
			Status:   users.StatusActive,
			Created:  created.Add(time.Duration(i) * time.Hour),
		}
		if err := store.CreateUser(ctx, u); err != nil {
			log.Fatal(err)
		}
	}

	// Usernames are matched case-insensitively, and unique that way.
	u, err := store.GetUserByUsername(ctx, "GRACE@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.ID, u.Username, u.Version)
	err = store.CreateUser(ctx, &users.User{ID: "user-4", Username: "grace@EXAMPLE.com"})
	fmt.Println(errors.Is(err, users.ErrConflict), err)

	// The newest two users at example.com.
	page, err := store.ListUsers(ctx, users.Query{
		Conditions: []users.Condition{{Field: "email", Op: users.OpLike, Value: "%@example.com"}},
		Sort:       []users.Sort{{Field: "created", Desc: true}},
		Limit:      2,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, u := range page {
		fmt.Println(u.ID, u.Created.Format(time.Kitchen))
	}

	// Output:
	// user-2 Grace@example.com 1
	// true username: the username is taken
	// user-2 1:00AM
	// user-1 12:00AM
}

func ExampleStore_Atomic() {
	ctx := context.Background()
	store := memory.New()
	if err := store.CreateUser(ctx, &users.User{ID: "u1", Username: "ada@example.com"}); err != nil {
		log.Fatal(err)
	}

	// Rename the user and revoke their sessions, but give up half-way: nothing changes.
	errGiveUp := errors.New("give up")
	err := store.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		u, err := tx.GetUser(ctx, "u1")
		if err != nil {
			return err
		}
		u.Username = "countess@example.com"
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if _, err := tx.DeleteUserTokens(ctx, u.ID, users.TokenSession); err != nil {
			return err
		}
		return errGiveUp
	})
	fmt.Println(err)

	u, err := store.GetUser(ctx, "u1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Username, u.Version)

	// Output:
	// give up
	// ada@example.com 1
}
