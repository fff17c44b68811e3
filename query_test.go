package users_test

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLike(t *testing.T) {
	tests := []struct {
		name    string
		s       string
		pattern string
		want    bool
	}{
		{"empty both", "", "", true},
		{"empty pattern", "a", "", false},
		{"exact", "alice", "alice", true},
		{"whole value", "alice", "alic", false},
		{"prefix", "alice@example.com", "alice%", true},
		{"suffix", "alice@example.com", "%.com", true},
		{"infix", "alice@example.com", "%@%", true},
		{"percent matches empty", "abc", "abc%", true},
		{"only percent on empty", "", "%", true},
		{"percents on empty", "", "%%%", true},
		{"underscore on empty", "", "_", false},
		{"underscore", "cat", "c_t", true},
		{"underscore is one character", "caat", "c_t", false},
		{"underscore is one rune", "cät", "c_t", true},
		{"underscore on four-byte rune", "a🔑b", "a_b", true},
		{"two underscores on one rune", "a🔑b", "a__b", false},
		{"unicode literal", "zoë", "zo%", true},
		{"unicode exact", "日本語", "日_語", true},
		{"case sensitive", "Alice", "alice", false},
		{"escaped percent", "100%", `100\%`, true},
		{"escaped percent is literal", "1000", `100\%`, false},
		{"escaped underscore", "a_b", `a\_b`, true},
		{"escaped underscore is literal", "axb", `a\_b`, false},
		{"escaped backslash", `a\b`, `a\\b`, true},
		{"escaped letter", "ab", `a\b`, true},
		{"escaped unicode", "aéb", `a\éb`, true},
		{"trailing backslash is literal", `a\`, `a\`, true},
		{"trailing backslash needs one", "a", `a\`, false},
		{"backtracking", "aaaaab", "%a%b", true},
		{"backtracking fails", "aaaaac", "%a%b", false},
		{"backtracking over partial matches", "abcabcabd", "%abd", true},
		{"several stars", "mississippi", "m%ss%pp_", true},
		{"several stars fail", "mississippi", "m%ss%pp", false},
		{"star then underscore", "abc", "%_", true},
		{"star then underscore on empty", "", "%_", false},
		{"pathological", strings.Repeat("a", 50), strings.Repeat("%a", 25) + "b", false},
		{"escaped percent after star", "x%y%", `%\%`, true},
		{"escaped percent after star fails", "x%y", `%\%`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, users.Like(tt.s, tt.pattern), "Like(%q, %q)", tt.s, tt.pattern)
		})
	}
}

// TestLikeLongValues: the worst cases of backtracking, on long values, answer right (their cost
// is BenchmarkLike's).
func TestLikeLongValues(t *testing.T) {
	x := strings.Repeat
	a := x("a", 10_000)
	tests := []struct {
		name       string
		s, pattern string
		want       bool
	}{
		{"stars", a, x("%a", 100) + "%b", false},
		{"stars match", a + "b", x("%a", 100) + "%b", true},
		{"long run", a, "%" + x("a", 254) + "b", false},
		{"long run match", a + "b", "%" + x("a", 254) + "b", true},
		{"underscores", a, "%" + x("_", 254) + "b", false},
		{"underscores match", a + "b", "%" + x("_", 254) + "b", true},
		{"underscores too few", x("a", 100) + "b", "%" + x("_", 254) + "b", false},
		{"long run in the middle", a + "b" + a, "%" + x("a", 200) + "b" + x("a", 50) + "%", true},
		{"long run of many-byte runes", x("é", 5000) + "🔑", "%" + x("é", 250) + "🔑", true},
		{"long run of many-byte runes fails", x("é", 5000), "%" + x("é", 250) + "🔑", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, users.Like(tt.s, tt.pattern))
		})
	}
}

// likeRegexp translates a LIKE pattern into an anchored regular expression.
func likeRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(pattern); {
		r, w := utf8.DecodeRuneInString(pattern[i:])
		i += w
		switch {
		case r == '%':
			b.WriteString(`.*`)
		case r == '_':
			b.WriteString(`.`)
		case r == '\\' && i < len(pattern):
			e, ew := utf8.DecodeRuneInString(pattern[i:])
			i += ew
			b.WriteString(regexp.QuoteMeta(string(e)))
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// FuzzLike compares Like with the regular expression the pattern means.
func FuzzLike(f *testing.F) {
	for _, seed := range [][2]string{
		{"alice@example.com", "alice%"}, {"alice@example.com", "%@%.com"}, {"", "%"}, {"", "_"},
		{"100%", `100\%`}, {"a_b", `a\_b`}, {`a\b`, `a\\b`}, {`a\`, `a\`}, {"aaaaab", "%a%b"},
		{"mississippi", "m%ss%pp_"}, {"日本語", "日_語"}, {"a🔑b", "a__b"}, {"x%y%", `%\%`},
		{"abcabcabd", "%abd"}, {"a\nb", "a_b"}, {"a.b", "a.b"}, {"a+b", "a+b"}, {"axb", "a.b"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, s, pattern string) {
		if !utf8.ValidString(s) || !utf8.ValidString(pattern) {
			t.Skip("stores only hold valid UTF-8")
		}
		want := likeRegexp(pattern).MatchString(s)
		if got := users.Like(s, pattern); got != want {
			t.Errorf("Like(%q, %q) = %v, want %v", s, pattern, got, want)
		}
	})
}

func TestQueryNormalize(t *testing.T) {
	q, err := users.Query{
		Pattern: "ALICE",
		Conditions: []users.Condition{
			{Field: "username", Op: users.OpEq, Value: "Alice@Example.com"},
			{Field: "email", Op: users.OpLike, Value: "%@EXAMPLE.com", To: "ignored"},
			{Field: "emailVerified", Op: users.OpEq, Value: "true"},
			{Field: "created", Op: users.OpBetween, Value: "2025-01-01T00:00:00.1234567+01:00", To: time.Date(2026, 1, 1, 0, 0, 0, 999, time.UTC)},
			{Field: "metadata.n", Op: users.OpGt, Value: 3},
			{Field: "metadata.x.y", Op: users.OpEq, Value: uint8(7)},
			{Field: "metadata.flag", Op: users.OpNe, Value: nil},
			{Field: "name", Op: users.OpEq, Value: "Alice", To: "dropped"},
		},
		Sort: []users.Sort{{Field: "name", Desc: true}},
	}.Normalize()
	require.NoError(t, err)
	assert.Equal(t, users.DefaultLimit, q.Limit)
	assert.Equal(t, "alice", q.Pattern)
	assert.Equal(t, []users.Sort{{Field: "name", Desc: true}, {Field: "id"}}, q.Sort)
	assert.Equal(t, []users.Condition{
		{Field: "username", Op: users.OpEq, Value: "alice@example.com"},
		{Field: "email", Op: users.OpLike, Value: "%@example.com"},
		{Field: "emailVerified", Op: users.OpEq, Value: true},
		{Field: "created", Op: users.OpBetween, Value: time.Date(2024, 12, 31, 23, 0, 0, 123456000, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Field: "metadata.n", Op: users.OpGt, Value: 3.0},
		{Field: "metadata.x.y", Op: users.OpEq, Value: 7.0},
		{Field: "metadata.flag", Op: users.OpNe, Value: nil},
		{Field: "name", Op: users.OpEq, Value: "Alice"},
	}, q.Conditions)

	q, err = users.Query{Sort: []users.Sort{{Field: "id", Desc: true}}, Limit: users.MaxLimit}.Normalize()
	require.NoError(t, err)
	assert.Equal(t, []users.Sort{{Field: "id", Desc: true}}, q.Sort, "no second id key")
	assert.Equal(t, users.MaxLimit, q.Limit)

	original := users.Query{Conditions: []users.Condition{{Field: "username", Op: users.OpEq, Value: "A@B.CO"}}}
	_, err = original.Normalize()
	require.NoError(t, err)
	assert.Equal(t, "A@B.CO", original.Conditions[0].Value, "the caller's query is not changed")
}

func TestQueryNormalizeErrors(t *testing.T) {
	cond := func(field string, op users.Op, v any) users.Query {
		return users.Query{Conditions: []users.Condition{{Field: field, Op: op, Value: v}}}
	}
	tests := []struct {
		name  string
		q     users.Query
		field string
	}{
		{"negative limit", users.Query{Limit: -1}, "limit"},
		{"limit too large", users.Query{Limit: users.MaxLimit + 1}, "limit"},
		{"negative offset", users.Query{Offset: -5}, "offset"},
		{"pattern too long", users.Query{Pattern: strings.Repeat("p", users.MaxPatternRunes+1)}, "pattern"},
		{"pattern not UTF-8", users.Query{Pattern: "a\xffb"}, "pattern"},
		{"unknown field", cond("password", users.OpEq, "x"), "filter"},
		{"bare metadata prefix", cond("metadata.", users.OpEq, "x"), "filter"},
		{"unknown operator", cond("name", "contains", "x"), "filter"},
		{"empty operator", cond("name", "", "x"), "filter"},
		{"text takes a string", cond("name", users.OpEq, 3), "filter"},
		{"like takes a string", cond("name", users.OpLike, 3), "filter"},
		{"like on bool", cond("emailVerified", users.OpLike, "t%"), "filter"},
		{"like on time", cond("created", users.OpLike, "2025%"), "filter"},
		{"gt on a list", cond("scope", users.OpGt, "a"), "filter"},
		{"between on a list", cond("vendor", users.OpBetween, "a"), "filter"},
		{"gt on bool", cond("emailVerified", users.OpGt, true), "filter"},
		{"bool from yes", cond("emailVerified", users.OpEq, "yes"), "filter"},
		{"bool from 1", cond("emailVerified", users.OpEq, "1"), "filter"},
		{"bool from number", cond("emailVerified", users.OpEq, 1), "filter"},
		{"time not RFC 3339", cond("created", users.OpGt, "yesterday"), "filter"},
		{"time as number", cond("updated", users.OpGt, 1700000000), "filter"},
		{"metadata NaN", cond("metadata.n", users.OpEq, math.NaN()), "filter"},
		{"metadata infinity", cond("metadata.n", users.OpLt, math.Inf(1)), "filter"},
		{"metadata object", cond("metadata.n", users.OpEq, map[string]any{}), "filter"},
		{"metadata gt bool", cond("metadata.n", users.OpGt, true), "filter"},
		{"metadata lt nil", cond("metadata.n", users.OpLt, nil), "filter"},
		{"between mixed types", users.Query{Conditions: []users.Condition{{Field: "metadata.n", Op: users.OpBetween, Value: 1, To: "z"}}}, "filter"},
		{"between without upper bound", users.Query{Conditions: []users.Condition{{Field: "name", Op: users.OpBetween, Value: "a"}}}, "filter"},
		{"sort by a list", users.Query{Sort: []users.Sort{{Field: "scope"}}}, "sort"},
		{"sort by metadata", users.Query{Sort: []users.Sort{{Field: "metadata.n"}}}, "sort"},
		{"sort by unknown", users.Query{Sort: []users.Sort{{Field: "age"}}}, "sort"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.q.Normalize()
			require.Error(t, err)
			assert.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, tt.field)
		})
	}
}

// TestQueryNormalizeBounds: values at the bounds pass, values beyond them, or holding a NUL,
// are ErrInvalid naming the pattern or the condition's field, without the value itself.
func TestQueryNormalizeBounds(t *testing.T) {
	cond := func(field string, op users.Op, v any) users.Query {
		return users.Query{Conditions: []users.Condition{{Field: field, Op: op, Value: v}}}
	}
	between := func(field string, from, to any) users.Query {
		return users.Query{Conditions: []users.Condition{{Field: field, Op: users.OpBetween, Value: from, To: to}}}
	}
	const runes, bytes = users.MaxPatternRunes, users.MaxValueBytes
	x := strings.Repeat
	tests := []struct {
		name  string
		q     users.Query
		field string // of the error; "" for a query within the bounds
		names string // what the message names
	}{
		{"pattern at the bound", users.Query{Pattern: x("p", runes)}, "", ""},
		{"pattern of four-byte characters at the bound", users.Query{Pattern: x("🔑", runes)}, "", ""},
		{"pattern over the bound", users.Query{Pattern: x("p", runes+1)}, "pattern", "256 characters"},
		{"pattern of two-byte characters over the bound", users.Query{Pattern: x("é", runes+1)}, "pattern", "256 characters"},
		{"pattern far over the bound", users.Query{Pattern: x("p", 1<<20)}, "pattern", "256 characters"},
		{"pattern with NUL", users.Query{Pattern: "a\x00b"}, "pattern", "NUL"},
		{"like at the bound", cond("name", users.OpLike, x("%a", runes/2)), "", ""},
		{"like of four-byte characters at the bound", cond("metadata.plan", users.OpLike, x("🔑", runes)), "", ""},
		{"like over the bound", cond("name", users.OpLike, x("%a", runes/2)+"%"), "filter", "like pattern for name"},
		{"like on a list over the bound", cond("scope", users.OpLike, x("_", runes+1)), "filter", "like pattern for scope"},
		{"like on metadata over the bound", cond("metadata.plan", users.OpLike, x("é", runes+1)), "filter", "like pattern for metadata.plan"},
		{"like far over the bound", cond("email", users.OpLike, x("%", 1<<20)), "filter", "like pattern for email"},
		{"like with NUL", cond("name", users.OpLike, "%\x00%"), "filter", "NUL"},
		{"text at the bound", cond("name", users.OpEq, x("n", bytes)), "", ""},
		{"text over the bound", cond("name", users.OpEq, x("n", bytes+1)), "filter", "value for name is longer than 1024 bytes"},
		{"folded text over the bound", cond("username", users.OpGt, x("é", bytes/2+1)), "filter", "value for username"},
		{"list value over the bound", cond("vendor", users.OpEq, x("v", bytes+1)), "filter", "value for vendor"},
		{"metadata text at the bound", cond("metadata.plan", users.OpEq, x("m", bytes)), "", ""},
		{"metadata text over the bound", cond("metadata.plan", users.OpNe, x("m", bytes+1)), "filter", "value for metadata.plan"},
		{"metadata number text over the bound", cond("metadata.n", users.OpEq, json.Number("1"+x("0", bytes))), "filter", "value for metadata.n"},
		{"time text over the bound", cond("created", users.OpGt, x("2", bytes+1)), "filter", "value for created"},
		{"upper bound at the bound", between("name", "a", x("z", bytes)), "", ""},
		{"upper bound over the bound", between("name", "a", x("z", bytes+1)), "filter", "upper bound for name"},
		{"text with NUL", cond("orgId", users.OpEq, "org\x00"), "filter", "value for orgId must not hold a NUL"},
		{"list value with NUL", cond("scope", users.OpNe, "\x00"), "filter", "NUL"},
		{"metadata text with NUL", cond("metadata.plan", users.OpEq, "a\x00"), "filter", "NUL"},
		{"upper bound with NUL", between("metadata.plan", "a", "z\x00"), "filter", "upper bound for metadata.plan"},
		{"metadata key at the bound", cond("metadata."+x("k", bytes), users.OpEq, "v"), "", ""},
		{"metadata key over the bound", cond("metadata."+x("k", bytes+1), users.OpEq, "v"), "filter", "1024 bytes"},
		{"metadata key with NUL", cond("metadata.k\x00", users.OpEq, "v"), "filter", "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.q.Normalize()
			if tt.field == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, users.ErrInvalid)
			assertCode(t, err, users.CodeInvalid, tt.field)
			assert.Contains(t, err.Error(), tt.names)
			assert.Less(t, len(err.Error()), 200, "the message does not repeat the value")
		})
	}
}
