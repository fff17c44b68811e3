package sqlite_test

import (
	"fmt"
	"testing"

	"github.com/gousers/users/sqlite"
	"github.com/gousers/users/storetest"
)

// TestDifferential holds the SQLite store to the memory store, the reference (see
// storetest.Differential). It runs with the index subqueries driving every query they can,
// and with none driving (see chooseDriver), and with a mix.
func TestDifferential(t *testing.T) {
	opts := &storetest.DifferentialOptions{}
	if raceEnabled {
		opts.Queries = storetest.MinDifferentialQueries // in a fraction of the time
	}
	for _, threshold := range []int{2000, 0, 40} {
		t.Run(fmt.Sprintf("DriverThreshold=%d", threshold), func(t *testing.T) {
			defer sqlite.SetDriverThreshold(threshold)()
			s, _ := openFile(t, nil)
			storetest.Differential(t, s, opts)
		})
	}
}
