package users_test

import (
	"fmt"
	"log"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewArgon2idHasher: usable parameters make a hasher whose hashes carry them (the zero
// value: the defaults, compared without hashing at their cost); unusable ones are refused.
func TestNewArgon2idHasher(t *testing.T) {
	defaults, err := users.NewArgon2idHasher(users.DefaultArgon2())
	require.NoError(t, err)
	t.Run("zero value means the defaults", func(t *testing.T) {
		h, err := users.NewArgon2idHasher(users.Argon2Params{})
		require.NoError(t, err)
		assert.Equal(t, defaults, h)
		cheap, err := users.NewArgon2idHasher(users.TestArgon2())
		require.NoError(t, err)
		assert.NotEqual(t, cheap, h)
	})
	t.Run("hashes with its parameters", func(t *testing.T) {
		h, err := users.NewArgon2idHasher(users.TestArgon2())
		require.NoError(t, err)
		encoded, err := h.Hash(alicePassword)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(encoded, "$argon2id$v=19$m=64,t=1,p=1$"), encoded)
		ok, rehash, err := h.Verify(alicePassword, encoded)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.False(t, rehash, "a hash with the hasher's own parameters is current")
		ok, _, err = h.Verify(wrongPassword, encoded)
		require.NoError(t, err)
		assert.False(t, ok)
	})

	unusable := []struct {
		name   string
		params users.Argon2Params
	}{
		{"no memory", users.Argon2Params{Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		{"no iterations", users.Argon2Params{Memory: 64, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		{"no parallelism", users.Argon2Params{Memory: 64, Iterations: 1, SaltLength: 16, KeyLength: 32}},
		{"short salt", users.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 7, KeyLength: 32}},
		{"short key", users.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 15}},
	}
	for _, tt := range unusable {
		t.Run(tt.name, func(t *testing.T) {
			h, err := users.NewArgon2idHasher(tt.params)
			assert.Nil(t, h)
			assertCode(t, err, users.CodeInvalid, "Argon2")
		})
	}
}

// A Hasher of the package's own argon2id parameters, for a program that hashes passwords
// itself: to import users, say. DefaultArgon2 is what a Service uses when Config.Argon2 is
// unset; TestArgon2 keeps this example fast.
func ExampleNewArgon2idHasher() {
	h, err := users.NewArgon2idHasher(users.TestArgon2())
	if err != nil {
		log.Fatal(err)
	}
	encoded, err := h.Hash("correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Join(strings.Split(encoded, "$")[:4], "$"))
	ok, rehash, err := h.Verify("correct horse battery staple", encoded)
	fmt.Println(ok, rehash, err)
	// Output:
	// $argon2id$v=19$m=64,t=1,p=1
	// true false <nil>
}
