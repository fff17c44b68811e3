package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxPrepared bounds each cache of prepared statements. The store's statements are a fixed
// set well under it; the texts built per query (lists, counts, bulk inserts) go through raw.
const maxPrepared = 64

// stmtCache holds the statements prepared on one pool, by their text. database/sql prepares
// a statement again on each connection that runs it, once. Safe for concurrent use.
//
// A statement is never prepared while the mutex is held, and never on the write pool from
// inside a transaction: the write pool has one connection, which the transaction holds, so
// preparing there would wait for ever. A text first met inside a transaction runs unprepared
// and waits in pending until prepare is called with the connection free.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]struct{}
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt), pending: make(map[string]struct{})}
}

// get returns the prepared statement of query, or nil when the caller should run the text
// itself: inside a transaction on a miss, when the cache is full, or when preparing fails
// (running the text then reports the error).
func (c *stmtCache) get(ctx context.Context, query string, inTx bool) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m)+len(c.pending) >= maxPrepared
	if !ok && inTx && !full {
		c.pending[query] = struct{}{}
	}
	c.mu.Unlock()
	if ok || inTx || full {
		return st
	}
	return c.add(ctx, query)
}

// add prepares query and keeps it, unless another goroutine kept one first.
func (c *stmtCache) add(ctx context.Context, query string) *sql.Stmt {
	st, err := c.db.PrepareContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, query)
	if err != nil {
		return nil
	}
	if kept, ok := c.m[query]; ok {
		st.Close()
		return kept
	}
	c.m[query] = st
	return st
}

// prepare prepares the texts met inside transactions. Call it holding no connection of the
// pool.
func (c *stmtCache) prepare(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	c.mu.Unlock()
	for _, q := range queries {
		c.add(ctx, q)
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	clear(c.m)
	clear(c.pending)
}

// conn runs the store's fixed statements prepared: on a pool, or inside tx when it is set.
// Statements whose text is built per call go through raw instead.
type conn struct {
	cache *stmtCache
	tx    *sql.Tx
}

// raw returns where statements built per call run.
func (c conn) raw() querier {
	if c.tx != nil {
		return c.tx
	}
	return c.cache.db
}

func (c conn) stmt(ctx context.Context, query string) *sql.Stmt {
	st := c.cache.get(ctx, query, c.tx != nil)
	if st != nil && c.tx != nil {
		st = c.tx.StmtContext(ctx, st) // the same prepared statement: one write connection
	}
	return st
}

func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.raw().ExecContext(ctx, query, args...)
}

func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.raw().QueryContext(ctx, query, args...)
}

func (c conn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.raw().QueryRowContext(ctx, query, args...)
}
