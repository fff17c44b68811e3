package userstest_test

import (
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/userstest"
)

// BenchmarkTestService measures what a test pays for its own Service with userstest's
// configuration: New on a fresh memory store, one user created and signed in, and Close.
func BenchmarkTestService(b *testing.B) {
	ctx := b.Context()
	for b.Loop() {
		svc, err := users.New(memory.New(), userstest.Config())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Create(ctx, users.NewUser{Username: "ada@example.com", Password: password}); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.SignIn(ctx, "ada@example.com", password); err != nil {
			b.Fatal(err)
		}
		if err := svc.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
