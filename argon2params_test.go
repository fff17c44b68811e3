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

func TestNewArgon2idHasher(t *testing.T) {
	tests := []struct {
		name    string
		params  users.Argon2Params
		wantErr bool
		prefix  string // of a hash made with params
	}{
		{"zero value means the defaults", users.Argon2Params{}, false, "$argon2id$v=19$m=19456,t=2,p=1$"},
		{"defaults", users.DefaultArgon2(), false, "$argon2id$v=19$m=19456,t=2,p=1$"},
		{"test parameters", users.TestArgon2(), false, "$argon2id$v=19$m=64,t=1,p=1$"},
		{"no memory", users.Argon2Params{Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, true, ""},
		{"no iterations", users.Argon2Params{Memory: 64, Parallelism: 1, SaltLength: 16, KeyLength: 32}, true, ""},
		{"no parallelism", users.Argon2Params{Memory: 64, Iterations: 1, SaltLength: 16, KeyLength: 32}, true, ""},
		{"short salt", users.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 7, KeyLength: 32}, true, ""},
		{"short key", users.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 15}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := users.NewArgon2idHasher(tt.params)
			if tt.wantErr {
				assert.Nil(t, h)
				assertCode(t, err, users.CodeInvalid, "Argon2")
				return
			}
			require.NoError(t, err)
			encoded, err := h.Hash(alicePassword)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(encoded, tt.prefix), encoded)
			if tt.params != users.TestArgon2() {
				return // the defaults cost tens of milliseconds a hash
			}
			ok, rehash, err := h.Verify(alicePassword, encoded)
			require.NoError(t, err)
			assert.True(t, ok)
			assert.False(t, rehash, "a hash with the hasher's own parameters is current")
			ok, _, err = h.Verify(wrongPassword, encoded)
			require.NoError(t, err)
			assert.False(t, ok)
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
