package postgres_test

import (
	"testing"

	"github.com/gousers/users/storetest"
)

// TestDifferential holds the PostgreSQL store to the memory store, the reference (see
// storetest.Differential): every random query must get the same page and count from both. It
// runs with two seeds, so that two populations and query streams are checked.
func TestDifferential(t *testing.T) {
	for name, seed := range map[string]uint64{"DefaultSeed": 0, "OtherSeed": 77} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, _, _ := openSchema(t)
			storetest.Differential(t, s, &storetest.DifferentialOptions{Seed: seed})
		})
	}
}
