package users_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nested returns metadata nested depth levels deep, the object itself the first:
// {"a":[{"a":[…]}]}, alternating objects and arrays.
func nested(depth int) map[string]any {
	var v any = "leaf"
	for i := depth - 1; i >= 1; i-- {
		if i%2 == 1 {
			v = []any{v}
		} else {
			v = map[string]any{"a": v}
		}
	}
	return map[string]any{"a": v}
}

// node is a linked list that encodes as nested objects.
type node struct {
	Next *node `json:"next,omitempty"`
}

func TestMetadataDepth(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	var list *node
	for range users.MaxMetadataDepth {
		list = &node{Next: list}
	}
	tests := []struct {
		name     string
		metadata map[string]any
		ok       bool
	}{
		{"flat", map[string]any{"a": 1}, true},
		{"at the limit", nested(users.MaxMetadataDepth), true},
		{"one level over", nested(users.MaxMetadataDepth + 1), false},
		{"deeper than SQLite's JSON parser goes", nested(1001), false},
		{"a cycle", cyclic, false},
		{"a struct over the limit", map[string]any{"list": list}, false},
		{"a struct within it", map[string]any{"list": list.Next}, true},
		{"bytes are a string", map[string]any{"b": []byte("xyz")}, true},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			w := newSweepWorld(t, st.open(t))
			ctx := context.Background()
			bob, err := w.svc.Create(ctx, users.NewUser{Username: bob})
			require.NoError(t, err)
			for i, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					_, err := users.NormalizeMetadata(tc.metadata)
					u, createErr := w.svc.Create(ctx, users.NewUser{Username: fmt.Sprintf("user%d@example.com", i), Metadata: tc.metadata})
					_, updateErr := w.svc.Update(ctx, bob.ID, users.Update{Metadata: &tc.metadata})
					if tc.ok {
						assert.NoError(t, err)
						require.NoError(t, createErr)
						assert.NoError(t, updateErr)
						got, err := w.svc.Get(ctx, u.ID)
						require.NoError(t, err)
						assert.Equal(t, u.Metadata, got.Metadata, "kept as it was given")
						require.NoError(t, w.store.DeleteUser(ctx, u.ID))
						return
					}
					for _, err := range []error{err, createErr, updateErr} {
						assertCode(t, err, users.CodeInvalid, "metadata")
					}
				})
			}
		})
	}
}

func TestImportRejectsDeepMetadataAlone(t *testing.T) {
	deep := nested(1001) // deeper than SQLite's JSON functions go
	deepJSON, err := json.Marshal(deep)
	require.NoError(t, err)
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Run("Import", func(t *testing.T) {
				w := newSweepWorld(t, st.open(t))
				batch := []*users.User{
					{Username: "u1@example.com"},
					{Username: "u2@example.com", Metadata: map[string]any{"ok": nested(users.MaxMetadataDepth - 1)}},
					{Username: "u3@example.com", Metadata: deep},
					{Username: "u4@example.com", Metadata: nested(users.MaxMetadataDepth + 1)},
					{Username: "u5@example.com"},
				}
				results, err := w.svc.Import(context.Background(), batch)
				require.NoError(t, err)
				var got []users.ImportStatus
				for _, r := range results {
					got = append(got, r.Status)
				}
				assert.Equal(t, []users.ImportStatus{users.ImportCreated, users.ImportCreated, users.ImportRejected, users.ImportRejected, users.ImportCreated}, got)
				assertCode(t, results[2].Err, users.CodeInvalid, "metadata")
				assertCode(t, results[3].Err, users.CodeInvalid, "metadata")
				n, err := w.svc.Count(context.Background(), users.Query{})
				require.NoError(t, err)
				assert.Equal(t, 3, n)
			})
			t.Run("ImportLines", func(t *testing.T) {
				w := newSweepWorld(t, st.open(t))
				in := strings.Join([]string{
					`{"username":"u1@example.com"}`,
					`{"username":"u2@example.com","metadata":` + string(deepJSON) + `}`,
					`{"username":"u3@example.com"}`,
				}, "\n")
				var got []string
				err := users.ImportLines(context.Background(), w.svc, strings.NewReader(in), 10, func(lines []users.LineResult) error {
					for _, l := range lines {
						field := ""
						var e *users.Error
						if errors.As(l.Err, &e) {
							field = e.Field
						}
						got = append(got, fmt.Sprintf("%d %s %s", l.Line, l.Status, field))
					}
					return nil
				})
				require.NoError(t, err)
				assert.Equal(t, []string{"1 created ", "2 rejected metadata", "3 created "}, got)
			})
		})
	}
}

// NormalizeMetadata refuses metadata nested deeper than MaxMetadataDepth, which every Store
// can keep, whatever its size.
func ExampleNormalizeMetadata() {
	var v any = "leaf"
	for range users.MaxMetadataDepth {
		v = []any{v}
	}
	_, err := users.NormalizeMetadata(map[string]any{"deep": v})
	fmt.Println(err, errors.Is(err, users.ErrInvalid))

	m, err := users.NormalizeMetadata(map[string]any{"n": 1, "tags": []string{"a"}})
	fmt.Println(m, err)
	// Output:
	// metadata: is nested more than 32 levels deep true
	// map[n:1 tags:[a]] <nil>
}
