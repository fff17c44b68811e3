//go:build unix

package users_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/trustelem/zxcvbn"
)

// strengthInputs are passwords of the shapes a sign-up may send: typical ones, and the
// longest and most expensive to score (many-byte characters, characters with several
// look-alike substitutions).
var strengthInputs = []struct {
	name     string
	password string
}{
	{"8 chars", "Kq8zV2mw"},
	{"passphrase 28 chars", "correct horse battery staple"},
	{"random 48 chars", strings.Repeat("kq8Zx!mP2vR#tY7wLb4N", 3)[:48]},
	{"ASCII 256 chars", strings.Repeat("kq8Zx!mP2vR#tY7wLb4N", 13)[:256]},
	{"l33t 256 chars", strings.Repeat("4@8(3!1|0$5+7%2", 18)[:256]},
	{"four-byte 256 chars", strings.Repeat("🔑", 256)},
}

// BenchmarkPasswordCheck measures what every sign-up and change of password pays for the
// default policy (no Checker): the strength estimate of at most MaxScoredPasswordLength
// characters, with the user's own words.
func BenchmarkPasswordCheck(b *testing.B) {
	ctx := context.Background()
	u := &users.User{Username: "alice@example.com", Email: "alice@home.example", Name: "Alice Liddell"}
	var policy users.PasswordPolicy // the defaults
	for _, in := range strengthInputs {
		b.Run(in.name, func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				_ = policy.Check(ctx, in.password, u)
			}
		})
	}
}

// BenchmarkZxcvbnUnbounded measures the estimator on whole passwords, as Check does not: its
// cost grows faster than the length, which is why Check scores a bounded prefix.
func BenchmarkZxcvbnUnbounded(b *testing.B) {
	words := []string{"alice@example.com", "alice", "example", "com", "home", "liddell"}
	for _, in := range strengthInputs {
		b.Run(in.name, func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				zxcvbn.PasswordStrength(in.password, words)
			}
		})
	}
}

// reportCPU starts measuring the process's CPU time; the function it returns reports it per
// operation as cpu-ns/op. On a shared machine the wall time (ns/op) counts the waits for a
// core; the CPU time is what the work costs.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op") }
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
