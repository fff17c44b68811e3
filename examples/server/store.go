package main

import (
	"context"
	"net/url"
	"strings"

	"github.com/gousers/users"
	"github.com/gousers/users/postgres"
	"github.com/gousers/users/sqlite"
)

// store is a users.Store that the program closes when it stops.
type store interface {
	users.Store
	Close() error
}

// isPostgresURL reports whether the value of -db names a PostgreSQL server: a URL with the
// scheme postgres or postgresql. Anything else is the path of a SQLite file.
func isPostgresURL(db string) bool {
	scheme, _, ok := strings.Cut(db, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// openStore opens the store that the value of -db names: the PostgreSQL store on the server
// of a postgres:// or postgresql:// URL (its tables in the schema "users"), or else the SQLite
// store on the file at that path, created when missing. It also returns db as it may be
// logged (see shownDB).
func openStore(ctx context.Context, db string) (store, string, error) {
	if !isPostgresURL(db) {
		s, err := sqlite.Open(ctx, db, nil)
		return s, db, err
	}
	s, err := postgres.Open(ctx, db, nil)
	if err != nil {
		return nil, shownDB(db), err
	}
	return s, shownDB(db), nil
}

// shownDB returns the value of -db as it may be logged: a URL without its password.
func shownDB(db string) string {
	if !isPostgresURL(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "a PostgreSQL URL that does not parse"
	}
	return u.Redacted()
}
