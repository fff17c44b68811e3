package users_test

import (
	"errors"
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
)

// TestErrorIsSentinel: an *Error matches the sentinel of its code, and no other.
func TestErrorIsSentinel(t *testing.T) {
	sentinels := []*users.Error{users.ErrInvalid, users.ErrNotFound, users.ErrConflict, users.ErrUnauthorized,
		users.ErrForbidden, users.ErrThrottled, users.ErrTooLarge, users.ErrUnsupportedMedia, users.ErrInternal,
		users.ErrOverloaded}
	for _, s := range sentinels {
		t.Run(string(s.Code), func(t *testing.T) {
			err := &users.Error{Code: s.Code, Field: "f", Message: "m"}
			for _, other := range sentinels {
				assert.Equal(t, other == s, errors.Is(err, other), "errors.Is(%s error, %s)", s.Code, other.Code)
			}
			assert.Equal(t, s.Code, users.ErrorCode(err))
		})
	}
}
