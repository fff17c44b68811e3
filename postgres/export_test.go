package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SetHeadRows sets how many users, in a query's order, ListUsers looks for a pattern's page in
// before it asks the trigram indexes, and returns a function that restores it. Tests set a
// small number to check both ways on a small population.
func SetHeadRows(n int) (restore func()) {
	old := headRows.Swap(int64(n))
	return func() { headRows.Store(old) }
}

// MigrateTo brings the schema to the given version, applying only the migrations up to it, as
// an older version of the package would have left it.
func MigrateTo(ctx context.Context, dsn, schema string, version int) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	older := fstest.MapFS{}
	for v := 1; v <= version; v++ {
		names, err := fs.Glob(migrationFS, fmt.Sprintf("migrations/%04d_*.sql", v))
		if err != nil || len(names) != 1 {
			return fmt.Errorf("migration %d: %v", v, err)
		}
		data, err := fs.ReadFile(migrationFS, names[0])
		if err != nil {
			return err
		}
		older[names[0]] = &fstest.MapFile{Data: data}
	}
	return migrate(ctx, pool, schema, pgx.Identifier{schema}.Sanitize(), older)
}

// FoldList and FoldedMetadata are the values of scope_folded (or vendor_folded) and
// metadata_folded that the store writes, for benchmarks that fill a table by hand.
var (
	FoldList       = foldList
	FoldedMetadata = foldedMetadata
)
