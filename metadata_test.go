package users_test

import (
	"context"
	"fmt"
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
