package httpadapter_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
)

// nestedMetadata returns a metadata object nested depth levels deep, the object itself the
// first, as JSON text.
func nestedMetadata(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + "1" + strings.Repeat("]", depth-1) + "}"
}

func TestMetadataTooDeep(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		depth  int
		status int
	}{
		{"at the limit", users.MaxMetadataDepth, http.StatusOK},
		{"one level over", users.MaxMetadataDepth + 1, http.StatusBadRequest},
		{"far over", 5000, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"metadata":` + nestedMetadata(tc.depth) + `}`
			res := f.do(t, request{method: "PUT", path: "/users/" + f.bob.ID, token: f.admin.token, body: body}).want(t, tc.status)
			created := f.do(t, request{method: "POST", path: "/users", token: f.admin.token,
				body: `{"username":"deep` + tc.name[:2] + `@example.com","metadata":` + nestedMetadata(tc.depth) + `}`})
			if tc.status == http.StatusOK {
				created.want(t, http.StatusCreated)
				return
			}
			for _, r := range []*response{res, created.want(t, tc.status)} {
				p := r.problem(t)
				assert.Equal(t, "metadata", p.Field)
				assert.Equal(t, "invalid", p.Code)
			}
		})
	}
}
