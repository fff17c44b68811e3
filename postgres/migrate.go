package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gousers/users/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one schema change: the file migrations/NNNN_name.sql is version NNNN.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the migrations of fsys (migrations/*.sql) in order of version.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	files, err := migrations.Load(fsys, "postgres")
	if err != nil {
		return nil, err
	}
	out := make([]migration, len(files))
	for i, f := range files {
		out[i] = migration{version: f.Version, name: f.Name, sql: f.SQL}
	}
	return out, nil
}

// SchemaVersion is the version of the newest schema this package knows: the number of its
// migrations.
var SchemaVersion = func() int {
	m, err := loadMigrations(migrationFS)
	if err != nil {
		panic(err)
	}
	return len(m)
}()

// migrate brings the schema up to date: in one transaction, holding an advisory lock of the
// schema's name, it creates the schema and its migrations table if they do not exist, reads
// the version, refuses a newer one, and applies each missing migration, recording it. Instances
// opening the schema at once take turns at the lock: the first migrates, the others then find
// nothing to do. A failing migration rolls back with everything before it.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema, quoted string, fsys fs.FS) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('gousers.migrate'), hashtext($1))", schema); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoted+`;
		CREATE TABLE IF NOT EXISTS `+quoted+`.migrations (
			version integer PRIMARY KEY,
			name    text NOT NULL,
			applied timestamptz NOT NULL DEFAULT now()
		);
		SET LOCAL search_path TO `+quoted); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+quoted+".migrations").Scan(&current); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("%w (schema %s is at version %d; this version knows up to %d)", ErrNewerSchema, schema, current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+quoted+".migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}
