package memory_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

const benchUsers = 100_000

var (
	benchOnce  sync.Once
	benchStore *memory.Store
)

// benchPopulation returns a store of 100,000 users, built once: every user has Scope
// [user acme1] (even i) or [user acme2] (odd i), nil metadata, and a session token with the
// secret "token-<i>".
func benchPopulation(b *testing.B) *memory.Store {
	b.Helper()
	benchOnce.Do(func() {
		ctx := context.Background()
		s := memory.New()
		for i := range benchUsers {
			u := &users.User{
				ID:       fmt.Sprintf("%08d", i),
				Username: fmt.Sprintf("user%06d@example.com", i),
				Email:    fmt.Sprintf("user%06d@example.com", i),
				Name:     fmt.Sprintf("User %d", i),
				Scope:    []string{users.RoleUser, fmt.Sprintf("acme%d", 1+i%2)},
				Status:   users.StatusActive,
				Created:  t0.Add(time.Duration((i*7919)%benchUsers) * time.Second), // not in ID order
			}
			u.Updated = u.Created
			if err := s.CreateUser(ctx, u); err != nil {
				panic(err)
			}
			tok := &users.Token{Digest: digest(fmt.Sprint("token-", i)), Kind: users.TokenSession, UserID: u.ID, Created: t0, Expires: t0.Add(24 * time.Hour)}
			if err := s.PutToken(ctx, tok); err != nil {
				panic(err)
			}
		}
		benchStore = s
	})
	return benchStore
}

// BenchmarkListUsers lists the newest 30 of the ~50,000 users in scope acme1, out of 100,000.
func BenchmarkListUsers(b *testing.B) {
	s := benchPopulation(b)
	ctx := context.Background()
	q := users.Query{
		Conditions: []users.Condition{{Field: "scope", Op: users.OpEq, Value: "acme1"}},
		Sort:       []users.Sort{{Field: "created", Desc: true}},
		Limit:      30,
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		page, err := s.ListUsers(ctx, q)
		if err != nil || len(page) != 30 {
			b.Fatal(len(page), err)
		}
	}
}

// BenchmarkCountUsers counts the ~50,000 users in scope acme1, out of 100,000.
func BenchmarkCountUsers(b *testing.B) {
	s := benchPopulation(b)
	ctx := context.Background()
	q := users.Query{Conditions: []users.Condition{{Field: "scope", Op: users.OpEq, Value: "acme1"}}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n, err := s.CountUsers(ctx, q)
		if err != nil || n != benchUsers/2 {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkAuthenticate does the store's share of authenticating a bearer token: the token by
// its digest, then its user. The user has Scope [user acme1] and nil metadata.
func BenchmarkAuthenticate(b *testing.B) {
	s := benchPopulation(b)
	ctx := context.Background()
	d := digest("token-4242")
	now := t0.Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		authenticate(b, s, ctx, d, now)
	}
}

// BenchmarkAuthenticateParallel is BenchmarkAuthenticate from GOMAXPROCS goroutines at once,
// all taking the read lock.
func BenchmarkAuthenticateParallel(b *testing.B) {
	s := benchPopulation(b)
	ctx := context.Background()
	now := t0.Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		d := digest("token-4242")
		for pb.Next() {
			authenticate(b, s, ctx, d, now)
		}
	})
}

func authenticate(b *testing.B, s *memory.Store, ctx context.Context, d users.Digest, now time.Time) {
	tok, err := s.GetToken(ctx, d, now)
	if err != nil {
		b.Fatal(err)
	}
	u, err := s.GetUser(ctx, tok.UserID)
	if err != nil || !u.IsActive() {
		b.Fatal(err)
	}
}

// BenchmarkGetUserByUsername looks a user up by username, as given (already folded) and in
// mixed case (folding it costs an allocation).
func BenchmarkGetUserByUsername(b *testing.B) {
	s := benchPopulation(b)
	ctx := context.Background()
	for _, name := range []string{"user004242@example.com", "User004242@Example.com"} {
		kind := "folded"
		if name != strings.ToLower(name) {
			kind = "mixed-case"
		}
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				u, err := s.GetUserByUsername(ctx, name)
				if err != nil || u.ID != "00004242" {
					b.Fatal(err)
				}
			}
		})
	}
}
