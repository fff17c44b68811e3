package storetest

import (
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
)

// testFoldedLookAlikes checks that a store keys users by users.Fold, not by lower case alone:
// names that differ only in width, composition, invisible characters or case beyond ASCII
// are one key, so that the second is a conflict and look-ups find the first.
func testFoldedLookAlikes(t *testing.T, s users.Store) {
	first := newUser("u1", "Stra\u00dfe@example.com")
	first.Email = "ren\u00e9@example.org"
	createUser(t, s, first)
	ctx := t.Context()

	for _, username := range []string{"STRASSE@example.com", "ｓｔｒａｓｓｅ@example.com", "stra\u00dfe\u200b@example.com", "STRA\u1e9eE@EXAMPLE.COM"} {
		u := newUser("u2", username)
		u.Email = "other@example.com"
		assertConflict(t, s.CreateUser(ctx, u), "username", "username %+q", username)
		got, err := s.GetUserByUsername(ctx, username)
		if assert.NoError(t, err, "GetUserByUsername(%+q)", username) {
			assert.Equal(t, "u1", got.ID)
		}
	}
	for _, email := range []string{"rene\u0301@example.org", "REN\u00c9@EXAMPLE.ORG", "ｒｅｎé@example.org"} {
		u := newUser("u2", "other@example.com")
		u.Email = email
		assertConflict(t, s.CreateUser(ctx, u), "email", "e-mail %+q", email)
		got, err := s.GetUserByEmail(ctx, email)
		if assert.NoError(t, err, "GetUserByEmail(%+q)", email) {
			assert.Equal(t, "u1", got.ID)
		}
	}
}
