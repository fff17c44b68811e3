package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
)

// TestLikeFolds checks that like conditions on plan, orgId, scope, vendor and metadata strings
// match the stored text folded by users.Fold (NFKC with full case folding), as the memory
// store does, and not merely lowered: ß against ss, fullwidth letters against ASCII, ǅ against
// dž, an invisible character dropped. It writes through CreateUser and UpdateUser, so that both
// keep the folded copies.
func TestLikeFolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := openSchema(t)

	a := newUser("A", "a@example.com")
	a.Plan, a.OrgID = "Straße", "ＡＣＭＥ"
	a.Scope, a.Vendor = []string{"ǅemal"}, []string{"ＶＩＰ"}
	a.Metadata = map[string]any{"city": "STRASSE", "nested": map[string]any{"city": "Straße"}, "n": 1.0}
	b := newUser("b", "b@example.com")
	b.Plan, b.OrgID = "strasse", "a\u200bcme"
	b.Metadata = map[string]any{"city": 5.0, "nested": "x"}
	c := newUser("c", "c@example.com")
	c.Plan, c.OrgID, c.Status = "other", "other", users.StatusPending
	c.Metadata = map[string]any{"city": "Paris"}
	all := []*users.User{a, b, c}
	for _, u := range all {
		require.NoError(t, s.CreateUser(ctx, u.Clone()))
	}
	// An update replaces the folded copies with those of the new values.
	c.Plan, c.Scope, c.Metadata = "MASSE", []string{"Ǆ"}, map[string]any{"city": "Straße"}
	c.Version = 1
	require.NoError(t, s.UpdateUser(ctx, c.Clone()))

	tests := []struct {
		name    string
		field   string
		pattern string
		want    []string
	}{
		{"plan sharp s", "plan", "STRASSE", []string{"A", "b"}},
		{"plan pattern with sharp s", "plan", "straß_", []string{"A", "b"}},
		{"plan after update", "plan", "%aSSe", []string{"A", "b", "c"}},
		{"plan old value gone", "plan", "other", nil},
		{"orgId fullwidth and invisible", "orgId", "acme", []string{"A", "b"}},
		{"orgId fullwidth pattern", "orgId", "ＡＣ%", []string{"A", "b"}},
		{"scope entry", "scope", "džemal", []string{"A"}},
		{"scope entry after update", "scope", "ǅ", []string{"c"}},
		{"scope of others", "scope", "USER", []string{"b"}},
		{"vendor fullwidth", "vendor", "vip", []string{"A"}},
		{"metadata string", "metadata.city", "straße", []string{"A", "c"}},
		{"metadata number is no string", "metadata.city", "5", nil},
		{"metadata object is not read", "metadata.nested", "%", []string{"b"}},
		{"metadata missing key", "metadata.none", "%", nil},
		{"status is ASCII", "status", "ACTIVE", []string{"A", "b"}},
		{"id is ASCII", "id", "a", []string{"A"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := users.Query{
				Conditions: []users.Condition{{Field: tt.field, Op: users.OpLike, Value: tt.pattern}},
				Sort:       []users.Sort{{Field: "id"}}, Limit: 10,
			}
			// The reference: users.Condition.Match, which the memory store applies.
			nq, err := q.Normalize()
			require.NoError(t, err)
			var matched []string
			for _, u := range all {
				if nq.Match(u) {
					matched = append(matched, u.ID)
				}
			}
			require.Equal(t, tt.want, matched, "the reference disagrees with the case")

			page, err := s.ListUsers(ctx, q)
			require.NoError(t, err)
			var got []string
			for _, u := range page {
				got = append(got, u.ID)
			}
			assert.Equal(t, tt.want, got, "ListUsers")
			n, err := s.CountUsers(ctx, q)
			require.NoError(t, err)
			assert.Equal(t, len(tt.want), n, "CountUsers")
		})
	}
}
