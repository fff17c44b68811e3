package sqlite

import "context"

// indexPending moves the rows that the triggers queued in users_search_pending into the
// search index, users_search, with one statement, so that FTS5 writes one segment for the
// whole transaction rather than one for each of its statements (see migration 0004). Every
// write transaction runs it just before it commits, and a search inside a transaction runs it
// first, so that the search sees the transaction's own writes.
func indexPending(ctx context.Context, q querier) error {
	_, err := q.ExecContext(ctx, `INSERT INTO users_search (rowid, username, email, name)
		SELECT seq, username, email, name FROM users_search_pending;
		DELETE FROM users_search_pending`)
	return dbError(ctx, err)
}

// searchable makes the search index current for a query with this pattern inside a
// transaction; outside one, reads see committed states, where nothing is pending.
func (s *Store) searchable(ctx context.Context, pattern string) error {
	if s.tx == nil || pattern == "" {
		return nil
	}
	return indexPending(ctx, s.tx)
}
