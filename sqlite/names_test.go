package sqlite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
)

// TestServiceRefusesLookAlikes creates a user through a Service on SQLite, then users whose
// names look the same: each is refused as invalid or taken, never a second account, and a
// look-alike that folds alike signs in as the first.
func TestServiceRefusesLookAlikes(t *testing.T) {
	tests := []struct {
		name   string
		form   users.UsernameForm
		first  string
		others []string
	}{
		{"e-mail usernames", users.UsernameEmail, "admin@example.com", []string{
			"ADMIN@example.com", "admin\u200b@example.com", "ad\u00admin@example.com", "\ufeffadmin@example.com",
			"admin\u202e@example.com", "ａdmin@example.com", "\u0430dmin@example.com", "\u03b1dmin@example.com",
			"adm\u0131n@example.com", "ADM\u0130N@example.com",
		}},
		{"handles", users.UsernameHandle, "stra\u00dfe", []string{
			"STRASSE", "strasse", "STRA\u1e9eE", "stra\u00dfe\u200b", "ｓｔｒａｓｓｅ", "str\u0430sse",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openFile(t, nil)
			svc, err := users.New(s, users.Config{Argon2: users.TestArgon2(), NoWorker: true, Usernames: tt.form})
			require.NoError(t, err)
			t.Cleanup(func() { svc.Close() })
			ctx := context.Background()
			first, err := svc.Create(ctx, users.NewUser{Username: tt.first, Email: "first@example.com", Password: "correct horse battery staple"})
			require.NoError(t, err)
			for i, name := range tt.others {
				_, err := svc.Create(ctx, users.NewUser{Username: name, Email: "other" + string(rune('a'+i)) + "@example.com"})
				require.Error(t, err, "%+q makes a second account", name)
				assert.True(t, errors.Is(err, users.ErrInvalid) || errors.Is(err, users.ErrConflict), "%+q: %v", name, err)
			}
			n, err := svc.Count(ctx, users.Query{})
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			sess, err := svc.SignIn(ctx, tt.others[0], "correct horse battery staple")
			require.NoError(t, err)
			assert.Equal(t, first.ID, sess.User.ID)
		})
	}
}
