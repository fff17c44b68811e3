package users

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// likeOld is Like as it was before the automaton: backtracking alone, whose cost grows with
// len(s) × the longest run after a %. It is the oracle of the tests below, and the "before" of
// the benchmark.
func likeOld(s, pattern string) bool {
	var si, pi int
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(pattern) {
			pc, pw := utf8.DecodeRuneInString(pattern[pi:])
			sc, sw := utf8.DecodeRuneInString(s[si:])
			switch {
			case pc == '%':
				starP, starS = pi+pw, si
				pi += pw
				continue
			case pc == '_':
				pi, si = pi+pw, si+sw
				continue
			case pc == '\\' && pi+pw < len(pattern):
				ec, ew := utf8.DecodeRuneInString(pattern[pi+pw:])
				if ec == sc {
					pi, si = pi+pw+ew, si+sw
					continue
				}
			case pc == sc:
				pi, si = pi+pw, si+sw
				continue
			}
		}
		if starP < 0 {
			return false
		}
		_, sw := utf8.DecodeRuneInString(s[starS:])
		starS += sw
		pi, si = starP, starS
	}
	for pi < len(pattern) && pattern[pi] == '%' {
		pi++
	}
	return pi == len(pattern)
}

// randomLike returns a random string of n pieces from pieces.
func randomLike(r *rand.Rand, n int, pieces []string) string {
	var b strings.Builder
	for range n {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// derivedLike returns a pattern that s matches, made from s by turning some runes into _, some
// runs into %, and escaping the rest where needed; and, one time in three, changes one rune so
// that it nearly matches.
func derivedLike(r *rand.Rand, s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c, w := utf8.DecodeRuneInString(s[i:])
		switch k := r.IntN(20); {
		case k == 0:
			b.WriteByte('_')
			i += w
		case k == 1:
			b.WriteByte('%')
			for n := r.IntN(8); n > 0 && i < len(s); n-- {
				_, w := utf8.DecodeRuneInString(s[i:])
				i += w
			}
		default:
			if c == '%' || c == '_' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteString(s[i : i+w])
			i += w
		}
	}
	p := b.String()
	if len(p) > 0 && r.IntN(3) == 0 {
		j := r.IntN(len(p))
		p = p[:j] + "b" + p[j+1:]
	}
	return p
}

// TestLikeAgreesWithOld: on random values and patterns over a small alphabet (so that they
// often match), with escapes, multi-byte runes, U+FFFD and invalid UTF-8, Like, the automaton
// and the backtracking matcher each answer as the old matcher does. Patterns of up to 300
// tokens run the automaton on several words.
func TestLikeAgreesWithOld(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []string{"a", "a", "a", "b", "é", "🔑", "%", "_", `\`, "\xff", "\uFFFD"}
	patterns := []string{"a", "a", "b", "é", "🔑", "%", "%", "_", `\%`, `\_`, `\\`, `\a`, `\`, "\xff", "\uFFFD"}
	const cases = 20000
	matched, automaton := 0, 0
	for i := range cases {
		var s, p string
		switch i % 5 {
		case 4: // derived from the value: long runs that often match
			s = randomLike(r, r.IntN(300), values)
			p = derivedLike(r, s)
		case 0: // short
			s, p = randomLike(r, r.IntN(12), values), randomLike(r, r.IntN(8), patterns)
		case 1: // long values, short patterns
			s, p = randomLike(r, r.IntN(300), values), randomLike(r, r.IntN(12), patterns)
		case 2: // long runs after a %: the automaton, through Like
			s, p = randomLike(r, 50+r.IntN(300), values[:4]), "%"+randomLike(r, 10+r.IntN(30), patterns[:4])+"%"
		default: // more tokens than a word holds
			s, p = randomLike(r, r.IntN(400), values[:5]), randomLike(r, 60+r.IntN(240), patterns[:6])
		}
		want := likeOld(s, p)
		require.Equal(t, want, Like(s, p), "Like(%q, %q)", s, p)
		require.Equal(t, want, likeAutomaton(s, p), "likeAutomaton(%q, %q)", s, p)
		require.Equal(t, want, likeBacktrack(s, p), "likeBacktrack(%q, %q)", s, p)
		if want {
			matched++
		}
		if likeNeedsAutomaton(s, p) {
			automaton++
		}
	}
	t.Logf("%d cases: %d match, %d take the automaton", cases, matched, automaton)
	assert.Greater(t, matched, cases/10, "the cases must often match")
	assert.Greater(t, automaton, cases/10, "the cases must often take the automaton")
}

// TestLikeNeedsAutomaton: Like backtracks only when that costs a few steps per byte.
func TestLikeNeedsAutomaton(t *testing.T) {
	long := strings.Repeat("a", 10_000)
	tests := []struct {
		name       string
		s, pattern string
		want       bool
	}{
		{"no percent", long, strings.Repeat("a", 256), false},
		{"short runs", long, strings.Repeat("%a", 128), false},
		{"short run after a long prefix", long, strings.Repeat("a", 200) + "%b", false},
		{"short value", "aaaa", "%" + strings.Repeat("a", 200), false},
		{"typical", "alice@example.com", "%example%", false},
		{"long run after a percent", long, "%" + strings.Repeat("a", 200) + "b", true},
		{"long run of underscores", long, "%" + strings.Repeat("_", 100) + "b", true},
		{"escapes count as one", long, "%" + strings.Repeat(`\a`, 100), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, likeNeedsAutomaton(tt.s, tt.pattern))
		})
	}
}

// BenchmarkLike compares the old matcher with Like on the worst cases of backtracking and on
// a common one, at two lengths of value: the old one's time grows with len(s) × the run after
// a %, Like's with len(s) only.
func BenchmarkLike(b *testing.B) {
	x := strings.Repeat
	shapes := []struct {
		name, pattern string
		value         func(n int) string
	}{
		{"stars", x("%a", 127) + "%b", func(n int) string { return x("a", n) }},
		{"long run", "%" + x("a", 254) + "b", func(n int) string { return x("a", n) }},
		{"underscores", "%" + x("_", 254) + "b", func(n int) string { return x("a", n) }},
		{"common", "%acme%", func(n int) string { return x("x", n-len("@acme.example")) + "@acme.example" }},
	}
	impls := []struct {
		name string
		like func(s, pattern string) bool
	}{{"old", likeOld}, {"new", Like}}
	for _, sh := range shapes {
		for _, n := range []int{1 << 10, 1 << 16} {
			s := sh.value(n)
			for _, im := range impls {
				b.Run(fmt.Sprintf("%s/len=%d/%s", sh.name, n, im.name), func(b *testing.B) {
					b.SetBytes(int64(len(s)))
					for b.Loop() {
						im.like(s, sh.pattern)
					}
				})
			}
		}
	}
}
