package postgres_test

import (
	"testing"

	"github.com/gousers/users/postgres"
	"github.com/gousers/users/storetest"
)

// TestDifferential holds the PostgreSQL store to the memory store, the reference (see
// storetest.Differential): every random query must get the same page and count from both. It
// runs with two seeds, so that two populations and query streams are checked; under the race
// detector, with the fewest queries the helper asks.
func TestDifferential(t *testing.T) {
	queries := 0 // the default
	if raceEnabled {
		queries = storetest.MinDifferentialQueries
	}
	for name, seed := range map[string]uint64{"DefaultSeed": 0, "OtherSeed": 77} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, _, _ := openSchema(t)
			storetest.Differential(t, s, &storetest.DifferentialOptions{Seed: seed, Queries: queries})
		})
	}
	// A head of 40 users, a tenth of the population: some pages of a pattern are found there,
	// the others from the trigram indexes. (With the default, a page is either all in the
	// head or not full.)
	t.Run("PatternHead", func(t *testing.T) {
		s, _, _ := openSchema(t)
		defer postgres.SetHeadRows(40)()
		storetest.Differential(t, s, &storetest.DifferentialOptions{Seed: 5, Queries: queries})
	})
}
