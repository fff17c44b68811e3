package postgres_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gousers/users"
	"github.com/gousers/users/postgres"
)

// An app opens the store on its database and hands it to users.New. Every instance of the app
// does the same, on the same database: the first to start creates the schema "users", and they
// all share its users, sessions and deletion tickets. (The example needs a server: set
// DATABASE_URL to one, such as postgres://app:password@localhost/app.)
func ExampleOpen() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // after the Service
	svc, err := users.New(store, users.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	u, err := svc.Create(ctx, users.NewUser{Username: "ada@example.com", Password: "correct horse battery staple"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Username, u.Status)
}

// An app that has a pool of its own passes it to New, which keeps the store's tables in their
// own schema beside the app's. Closing the store leaves the pool open.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := postgres.New(ctx, pool, &postgres.Options{Schema: "accounts"})
	if err != nil {
		log.Fatal(err)
	}
	n, err := store.CountUsers(ctx, users.Query{Conditions: []users.Condition{{Field: "status", Op: users.OpEq, Value: "active"}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "active users in", store.Schema())
}
