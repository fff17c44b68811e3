package sqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/sqlite"
)

// importBenchUsers is how many users one operation of BenchmarkImport imports into a new
// database file, and importBenchBatch how many go to one Service.Import call: the batch of
// the server's import command.
const (
	importBenchUsers = 100_000
	importBenchBatch = 1_000
)

// BenchmarkImport imports importBenchUsers users, with their hashes, into a new database file
// through Service.Import, in batches of importBenchBatch, as `server import` does: every
// user is normalized and validated, and their hash checked, never recomputed. Half the users
// have an argon2id hash and half a bcrypt one. It reports users/s; the target is 20,000.
//
//	go test -run '^$' -bench Import -benchtime 5x ./sqlite/
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	argon := testutil.Hash(b, users.DefaultArgon2(), "correct horse battery staple")
	bc, err := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	us := make([]*users.User, importBenchUsers)
	for i := range us {
		hash := argon
		if i%2 == 1 {
			hash = string(bc)
		}
		us[i] = benchUser(i, hash)
	}

	b.ReportAllocs()
	imported := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "import"+strconv.Itoa(i)+".db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		svc, err := users.New(s, users.Config{NoWorker: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		for start := 0; start < len(us); start += importBenchBatch {
			results, err := svc.Import(ctx, us[start:min(start+importBenchBatch, len(us))])
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range results {
				if r.Status != users.ImportCreated {
					b.Fatalf("user %s: %s: %v", r.ID, r.Status, r.Err)
				}
			}
		}
		imported += len(us)

		b.StopTimer()
		if err := svc.Close(); err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(imported)/b.Elapsed().Seconds(), "users/s")
}
