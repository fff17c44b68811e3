package users_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/memory"
)

// benchService returns a Service over store with the default argon2id parameters.
func benchService(b *testing.B, store users.Store) users.Service {
	b.Helper()
	svc, err := users.New(store, users.Config{Argon2: users.DefaultArgon2(), NoWorker: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	return svc
}

// BenchmarkSignIn measures a successful sign-in with the default argon2id parameters; compare
// with BenchmarkArgon2idCompare, the hash alone: the difference is the Service's overhead.
func BenchmarkSignIn(b *testing.B) {
	ctx := context.Background()
	svc := benchService(b, memory.New())
	if _, err := svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.SignIn(ctx, alice, alicePassword); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkArgon2idCompare is the floor of BenchmarkSignIn: one comparison of a password with
// a hash of the default parameters.
func BenchmarkArgon2idCompare(b *testing.B) {
	testutil.BenchmarkArgon2idCompare(b, alicePassword, users.DefaultArgon2())
}

// BenchmarkAuthenticate measures checking a bearer token against the memory store: a session
// token from sign-in, and an API key (whose last use is recorded at most once a minute).
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	svc := benchService(b, memory.New())
	u, err := svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword})
	if err != nil {
		b.Fatal(err)
	}
	s, err := svc.SignIn(ctx, alice, alicePassword)
	if err != nil {
		b.Fatal(err)
	}
	key, err := svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, token string }{{"session", s.Token}, {"apikey", key.Key}} {
		b.Run(c.name, func(b *testing.B) {
			runtime.GC() // the same start for both: the set-up's argon2id hashing leaves 19 MiB to collect
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, c.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkList lists a page of 30 with a filter and a sort out of 100,000 users, with the
// total, through the Service.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	store := memory.New()
	hash := testutil.Hash(b, users.DefaultArgon2(), alicePassword)
	plans := []string{"free", "pro", "team", "enterprise"}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100_000 {
		created := start.Add(time.Duration(i) * time.Minute)
		u := &users.User{
			ID:           uuid.Must(uuid.NewV7()).String(),
			Username:     fmt.Sprintf("user%06d@example.com", i),
			Email:        fmt.Sprintf("user%06d@example.com", i),
			Name:         fmt.Sprintf("User %06d", (i*7919)%100_000),
			Scope:        []string{users.RoleUser},
			Plan:         plans[i%len(plans)],
			Status:       users.StatusActive,
			Metadata:     map[string]any{"i": float64(i)},
			Created:      created,
			Updated:      created,
			PasswordHash: hash,
		}
		if err := store.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	svc := benchService(b, store)
	q := users.Query{
		Conditions: []users.Condition{{Field: "plan", Op: users.OpEq, Value: "pro"}},
		Sort:       []users.Sort{{Field: "name"}},
		Limit:      30,
	}
	b.ReportAllocs()
	for b.Loop() {
		page, total, err := svc.List(ctx, q)
		if err != nil || len(page) != 30 || total != 25_000 {
			b.Fatal(len(page), total, err)
		}
	}
}
