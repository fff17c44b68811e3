package users_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/sqlite"
)

// BenchmarkSignInSQLite measures sign-in over a SQLite file with the default argon2id
// parameters, with the right password (right) and a wrong one (wrong), from one client. The
// throttle keeps its counts in the file: a wrong password costs two reads and two writes of
// it, a right one two or three reads (and a write a day). Its limits are raised so that the
// wrong passwords are all checked. Compare with BenchmarkArgon2idCompare, the hash alone.
func BenchmarkSignInSQLite(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "users.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	svc, err := users.New(st, users.Config{Argon2: users.DefaultArgon2(), NoWorker: true,
		Throttle: users.Throttle{MaxFailures: 1 << 30, MaxAccountFailures: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	if _, err := svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, password string
		want           error
	}{{"right", alicePassword, nil}, {"wrong", wrongPassword, users.ErrUnauthorized}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.SignIn(ctx, alice, c.password); (c.want == nil) != (err == nil) {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkThrottleCountsSQLite measures the store's part of the throttle's work for a wrong
// password on a SQLite file, without the hash: the two reads (the account from the client's
// address, and the account) and the two writes (a failure of each) that verifyThrottled
// makes through users.ThrottleStore.
func BenchmarkThrottleCountsSQLite(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "users.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	var counts users.ThrottleStore = st
	pair, account := users.DigestOf("pair"), users.DigestOf("account")
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		for _, k := range []users.Digest{pair, account} {
			if _, _, err := counts.Failures(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
		for _, k := range []users.Digest{pair, account} {
			if _, err := counts.AddFailure(ctx, k, now); err != nil {
				b.Fatal(err)
			}
		}
	}
}
