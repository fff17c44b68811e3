package users_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lookAlikes seed the fuzz targets: names that look like "admin" and "alice", and the
// characters attacks use.
var lookAlikes = []string{
	"admin", "Admin", "ADMIN", "admin\u200b", "ad\u00admin", "\ufeffadmin", "\u202eadmin", "ａdmin",
	"\u0430dmin", "\u03b1dmin", "adm\u0131n", "ADM\u0130N", "admi\u0307n", "rene\u0301", "ren\u00e9",
	"stra\u00dfe", "STRASSE", "STRA\u1e9eE", "\U0001F600", "a\u200db", "\u05e9\u05dc\u05d5\u05dd", "abc\u05e9",
	"\u3084\u307e\u3060\u592a\u90ce", "\ufb01le", "\u01c5emal", "100\uff05", "a\xffb", "",
}

// lookAlikeAddresses are lookAlikes as e-mail addresses, with a domain of their own.
func lookAlikeAddresses() []string {
	var out []string
	for i, s := range lookAlikes {
		out = append(out, s+"@"+[]string{"example.com", "EXAMPLE.com", "b\u00fccher.de", "\u0430pple.com"}[i%4])
	}
	return out
}

// allRules are the rules the fuzz targets try every name under.
var allRules = []users.NameRules{
	{},
	{AllowMixedScripts: true},
	{Usernames: users.UsernameHandle},
	{Usernames: users.UsernameHandle, AllowMixedScripts: true},
}

// FuzzFold checks that Fold never panics, is idempotent, and returns valid UTF-8.
func FuzzFold(f *testing.F) {
	for _, s := range append(lookAlikes, lookAlikeAddresses()...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := users.Fold(s)
		assert.True(t, utf8.ValidString(got), "valid UTF-8")
		assert.Equal(t, got, users.Fold(got), "Fold(Fold(%+q)) == Fold(%+q)", s, s)
	})
}

// FuzzPrepareName checks the preparation of usernames and e-mail addresses under every rule
// set: it never panics, a prepared name prepares to itself and is valid UTF-8 of at most
// MaxUsernameLength bytes, and a refusal is an ErrInvalid naming the field.
func FuzzPrepareName(f *testing.F) {
	for _, s := range append(lookAlikes, lookAlikeAddresses()...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range allRules {
			for _, field := range []string{"username", "email"} {
				prepare := r.Email
				if field == "username" {
					prepare = r.Username
				}
				got, err := prepare(s)
				if err != nil {
					assert.ErrorIs(t, err, users.ErrInvalid)
					var e *users.Error
					if assert.ErrorAs(t, err, &e) {
						assert.Equal(t, field, e.Field)
					}
					continue
				}
				assert.True(t, utf8.ValidString(got))
				assert.LessOrEqual(t, len(got), users.MaxUsernameLength)
				again, err := prepare(got)
				if assert.NoError(t, err, "%+v %s: %+q prepared to %+q, which is refused", r, field, s, got) {
					assert.Equal(t, got, again, "%+v %s: a prepared name prepares to itself", r, field)
				}
			}
		}
	})
}

// FuzzLookAlikesConflict checks that two names that prepare and fold alike cannot both be
// users of the memory store: the second is a conflict.
func FuzzLookAlikesConflict(f *testing.F) {
	for i, a := range lookAlikes {
		f.Add(a, lookAlikes[(i+1)%len(lookAlikes)], i%2 == 0)
		f.Add(a+"@example.com", "admin@example.com", false)
	}
	f.Fuzz(func(t *testing.T, a, b string, handles bool) {
		r := users.NameRules{AllowMixedScripts: true}
		if handles {
			r.Usernames = users.UsernameHandle
		}
		pa, errA := r.Username(a)
		pb, errB := r.Username(b)
		if errA != nil || errB != nil || users.Fold(pa) != users.Fold(pb) {
			return
		}
		ctx := context.Background()
		s := memory.New()
		require.NoError(t, s.CreateUser(ctx, &users.User{ID: "a", Username: pa, Scope: []string{users.RoleUser}, Status: users.StatusActive}))
		err := s.CreateUser(ctx, &users.User{ID: "b", Username: pb, Scope: []string{users.RoleUser}, Status: users.StatusActive})
		assert.ErrorIs(t, err, users.ErrConflict, "%+q and %+q fold alike", pa, pb)
	})
}

// BenchmarkFold measures Fold on an ASCII address, which is only lower-cased, and on text
// beyond ASCII, which is normalized and case-folded.
func BenchmarkFold(b *testing.B) {
	for _, bb := range []struct{ name, s string }{
		{"ASCII lower", "alice.liddell@example.com"},
		{"ASCII mixed case", "Alice.Liddell@Example.com"},
		{"Latin accents", "Ren\u00e9e M\u00fcller-Stra\u00dfe"},
		{"Cyrillic", "\u0418\u0432\u0430\u043d \u041f\u0435\u0442\u0440\u043e\u0432"},
		{"fullwidth", "ＡＬＩＣＥ@example.com"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = users.Fold(bb.s)
			}
		})
		b.Run(bb.name+" strings.ToLower for comparison", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = strings.ToLower(bb.s)
			}
		})
	}
	b.Run("folded Latin accents", func(b *testing.B) {
		s := users.Fold("Ren\u00e9e M\u00fcller-Stra\u00dfe")
		b.ReportAllocs()
		for b.Loop() {
			_ = users.Fold(s)
		}
	})
}

// BenchmarkPrepareName measures preparing an e-mail address and a handle.
func BenchmarkPrepareName(b *testing.B) {
	for _, bb := range []struct {
		name  string
		rules users.NameRules
		s     string
	}{
		{"address ASCII", users.NameRules{}, "Alice.Liddell@Example.com"},
		{"address Unicode", users.NameRules{}, "ren\u00e9e.m\u00fcller@b\u00fccher.de"},
		{"handle", users.NameRules{Usernames: users.UsernameHandle}, "Alice_92"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bb.rules.Username(bb.s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
