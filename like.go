package users

import (
	"hash/maphash"
	"slices"
	"sync/atomic"
	"unicode/utf8"
)

// Like reports whether s matches the LIKE pattern: % matches any run of characters, _ any one
// character, \ escapes the next (a \ at the end stands for itself). The match is exact, rune by
// rune (callers fold both sides to ignore case). It is safe for concurrent use.
//
// Its cost is linear in the length of s whatever the pattern: at worst
// O((len(s)+len(pattern)) × ⌈len(pattern)/64⌉), so a pattern of MaxPatternRunes characters
// costs a few word operations per character of s. Patterns whose runs between % are short,
// and short values, take a backtracking path that is cheaper for them; the others run a
// bit-parallel automaton, made in O(len(pattern)²/64) once while the pattern stays among the
// last few used.
func Like(s, pattern string) bool {
	if likeNeedsAutomaton(s, pattern) {
		return likeAutomaton(s, pattern)
	}
	return likeBacktrack(s, pattern)
}

// likeNeedsAutomaton reports whether backtracking could take more than likeBacktrackSteps
// steps per byte of input. It costs at most len(s) × the longest run after a %, and no more
// than len(s)²: below that budget it is the cheaper of the two.
func likeNeedsAutomaton(s, pattern string) bool {
	n := len(s)
	return n*min(longestRun(pattern), n) > likeBacktrackSteps*(n+len(pattern))
}

// likeBacktrackSteps is the budget of backtracking steps per byte of input below which Like
// backtracks.
const likeBacktrackSteps = 8

// longestRun returns the number of characters in the longest run of pattern that follows a %
// and ends before the next % or the end: the most a backtracking matcher compares before it
// backtracks. A pattern without % never backtracks: 0.
func longestRun(pattern string) int {
	longest, run, afterStar := 0, 0, false
	for i := 0; i < len(pattern); {
		c, w := utf8.DecodeRuneInString(pattern[i:])
		i += w
		switch {
		case c == '%':
			afterStar, run = true, 0
			continue
		case c == '\\' && i < len(pattern):
			_, ew := utf8.DecodeRuneInString(pattern[i:])
			i += ew
		}
		if afterStar {
			run++
			longest = max(longest, run)
		}
	}
	return longest
}

// likeBacktrack matches with two pointers, going back to the last % on a mismatch: no
// recursion, and at most O(len(s) × the longest run after a %) steps.
func likeBacktrack(s, pattern string) bool {
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

// likeAutomaton matches by running the pattern's automaton on every possible position at once
// (the shift-and method): state j is "the first j tokens of the pattern match what has been
// read", and the set of live states is a bit set of ⌈(tokens+1)/64⌉ words, updated with a few
// word operations per character of s.
func likeAutomaton(s, pattern string) bool {
	// A query matches its patterns against many values in turn: the tables of recent
	// patterns are kept, and shared (they are never changed once made).
	slot := &likeCache[maphash.String(likeSeed, pattern)%uint64(len(likeCache))]
	a := slot.Load()
	if a == nil || a.pattern != pattern {
		a = compileLike(pattern)
		slot.Store(a)
	}
	w := a.words
	live := make([]uint64, w)
	live[0] = 1
	a.closure(live)
	for i := 0; i < len(s); {
		c, cw := utf8.DecodeRuneInString(s[i:])
		i += cw
		mask := a.mask(c)
		var carry, alive uint64
		for k := range w {
			d := live[k]
			next := (d<<1|carry)&mask[k] | d&a.loop[k]
			carry = d >> 63
			live[k] = next
			alive |= next
		}
		if alive == 0 {
			return false
		}
		a.closure(live)
	}
	return live[a.tokens/64]&(1<<(a.tokens%64)) != 0
}

// likeAutomaton's tables. With the pattern's tokens t[0..m) (a literal rune, _ or %, with runs
// of % as one), state j+1 follows state j on a rune that t[j] matches, a state just after a %
// stays live on any rune, and a state just before a % also makes the state after it live.
type likeTables struct {
	pattern string
	tokens  int      // m; state m accepts
	words   int      // words in a state set: bits 0..m
	masks   []uint64 // the states each literal leads to, words apiece; the first: for any other rune
	loop    []uint64 // states just after a %
	star    []uint64 // states just before a %
	ascii   [utf8.RuneSelf]uint32
	runes   []rune // the other literal runes, sorted
	index   []uint32
}

// likeCache holds the tables of the patterns likeAutomaton ran last, one per slot, in the
// slot their hash picks: a query of several like conditions keeps all of its own, mostly.
var (
	likeCache [16]atomic.Pointer[likeTables]
	likeSeed  = maphash.MakeSeed()
)

// mask returns the set of states that rune c leads to from the state before them.
func (a *likeTables) mask(c rune) []uint64 {
	i := 0
	if c < utf8.RuneSelf {
		i = int(a.ascii[c])
	} else if j, ok := slices.BinarySearch(a.runes, c); ok {
		i = int(a.index[j])
	}
	return a.masks[i*a.words : (i+1)*a.words]
}

// closure makes live, for each live state just before a %, the state after it. Runs of % are
// one token, so one step is enough.
func (a *likeTables) closure(live []uint64) {
	var carry uint64
	for k := range live {
		x := live[k] & a.star[k]
		live[k] |= x<<1 | carry
		carry = x >> 63
	}
}

const (
	likeLiteral = iota
	likeAny
	likeStar
)

type likeToken struct {
	kind int
	r    rune
}

// compileLike returns the automaton's tables of pattern.
func compileLike(pattern string) *likeTables {
	tokens := make([]likeToken, 0, len(pattern))
	for i := 0; i < len(pattern); {
		c, w := utf8.DecodeRuneInString(pattern[i:])
		i += w
		switch {
		case c == '%':
			if len(tokens) == 0 || tokens[len(tokens)-1].kind != likeStar {
				tokens = append(tokens, likeToken{kind: likeStar})
			}
			continue
		case c == '_':
			tokens = append(tokens, likeToken{kind: likeAny})
			continue
		case c == '\\' && i < len(pattern):
			c, w = utf8.DecodeRuneInString(pattern[i:])
			i += w
		}
		tokens = append(tokens, likeToken{kind: likeLiteral, r: c})
	}

	a := &likeTables{pattern: pattern, tokens: len(tokens), words: len(tokens)/64 + 1}
	// Number the literal runes from 1; 0 is any other rune.
	var others []rune
	literals := 0
	for _, t := range tokens {
		switch {
		case t.kind != likeLiteral:
		case t.r < utf8.RuneSelf:
			if a.ascii[t.r] == 0 {
				literals++
				a.ascii[t.r] = uint32(literals)
			}
		default:
			others = append(others, t.r)
		}
	}
	slices.Sort(others)
	a.runes = slices.Compact(others)
	a.index = make([]uint32, len(a.runes))
	for j := range a.runes {
		literals++
		a.index[j] = uint32(literals)
	}

	w := a.words
	sets := make([]uint64, (literals+4)*w)
	a.masks, a.loop, a.star = sets[:(literals+1)*w], sets[(literals+1)*w:(literals+2)*w], sets[(literals+2)*w:(literals+3)*w]
	anyRune := sets[(literals+3)*w:] // the states that _ leads to, which every rune does
	set := func(v []uint64, bit int) { v[bit/64] |= 1 << (bit % 64) }
	for j, t := range tokens {
		switch t.kind {
		case likeStar:
			set(a.star, j)
			set(a.loop, j+1)
		case likeAny:
			set(anyRune, j+1)
		default:
			set(a.masks[int(a.literalIndex(t.r))*w:], j+1)
		}
	}
	for i := range a.masks {
		a.masks[i] |= anyRune[i%w]
	}
	return a
}

// literalIndex returns the number of the literal rune r, which compileLike has numbered.
func (a *likeTables) literalIndex(r rune) uint32 {
	if r < utf8.RuneSelf {
		return a.ascii[r]
	}
	j, _ := slices.BinarySearch(a.runes, r)
	return a.index[j]
}
