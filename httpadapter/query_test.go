package httpadapter_test

import (
	"net/url"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The query string becomes the users.Query it spells; the Service checks the rest.
func TestParseQuery(t *testing.T) {
	eq := func(field string, value any) users.Condition {
		return users.Condition{Field: field, Op: users.OpEq, Value: value}
	}
	tests := []struct {
		query string
		want  users.Query
	}{
		{"", users.Query{}},
		{"filter=scope:acme1&sort=created:-1&limit=30&offset=0", users.Query{
			Conditions: []users.Condition{eq("scope", "acme1")},
			Sort:       []users.Sort{{Field: "created", Desc: true}}, Limit: 30}},
		{"filter=created:2025-01-01T00:00:00Z", users.Query{Conditions: []users.Condition{eq("created", "2025-01-01T00:00:00Z")}}},
		{"filter=name:", users.Query{Conditions: []users.Condition{eq("name", "")}}},
		{"pattern=joe", users.Query{Pattern: "joe"}},
		{"field=name&op=eq&value=New+User&field=scope&op=ne&value=user&lop=or", users.Query{Or: true, Conditions: []users.Condition{
			eq("name", "New User"), {Field: "scope", Op: users.OpNe, Value: "user"}}}},
		{"field=created&op=gete&value=2025-01-01T00:00:00Z,2026-01-01T00:00:00Z", users.Query{Conditions: []users.Condition{
			{Field: "created", Op: users.OpBetween, Value: "2025-01-01T00:00:00Z", To: "2026-01-01T00:00:00Z"}}}},
		{"filter=plan:pro&field=name&op=like&value=a%25", users.Query{Conditions: []users.Condition{
			eq("plan", "pro"), {Field: "name", Op: users.OpLike, Value: "a%"}}}},
		{"sort=name,created:1&sort=email:-1", users.Query{Sort: []users.Sort{{Field: "name"}, {Field: "created"}, {Field: "email", Desc: true}}}},
		// Metadata values are the JSON scalars they spell, else strings.
		{"filter=metadata.n:5&filter=metadata.ok:true&filter=metadata.gone:null&filter=metadata.s:%225%22&filter=metadata.t:data&filter=metadata.o:{}",
			users.Query{Conditions: []users.Condition{
				eq("metadata.n", 5.0), eq("metadata.ok", true), eq("metadata.gone", nil), eq("metadata.s", "5"), eq("metadata.t", "data"), eq("metadata.o", "{}")}}},
		{"field=metadata.n&op=between&value=1,2.5", users.Query{Conditions: []users.Condition{
			{Field: "metadata.n", Op: users.OpBetween, Value: 1.0, To: 2.5}}}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			got, err := httpadapter.ParseQuery(v)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
