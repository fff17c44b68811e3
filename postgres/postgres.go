// Package postgres is a users.Store on PostgreSQL, through pgx: for apps that run many
// instances on one database.
//
// Open connects to a server by its connection string; New uses a pool the app owns. The
// store's tables live in a schema of their own (Options.Schema, default "users"), beside the
// app's tables: every statement names the schema, so the connections' search_path does not
// matter and the app's pool needs no settings. The schema is created and upgraded by versioned
// migrations compiled into the package, applied when a Store is opened, in one transaction
// under an advisory lock, so that instances starting at once migrate once. A schema made by a
// newer version of the package is refused with ErrNewerSchema.
//
// # Transactions
//
// Writes run SERIALIZABLE, so that a transaction that reads a user and then writes is
// serialized against every concurrent change of that user, by any instance. Atomic runs fn in
// one SERIALIZABLE transaction; a nested Atomic is a savepoint. When PostgreSQL cannot
// serialize a transaction (SQLSTATE 40001) or breaks a deadlock (40P01), the store rolls it
// back and runs it again, fn included, a bounded number of times with a short jittered pause:
// these failures never reach the caller while a retry may still succeed. Reads outside Atomic
// are single statements, each on one snapshot.
//
// Deletion tickets are claimed with FOR UPDATE SKIP LOCKED: any number of instances share the
// queue without waiting for each other, and a ticket whose lease has run out goes to the next
// claimant.
//
// # Queries
//
// Every users.Query is translated to one SQL statement that answers exactly as the memory
// store does. Folded usernames, e-mails and names are computed in Go (users.Fold) and stored,
// and carry the unique indexes; text compares byte-wise (COLLATE "C"). The substring pattern
// and LIKE conditions on the folded fields use trigram indexes of the extension pg_trgm, which
// the first migration creates when the role may (it is a trusted extension: a database owner
// may create it); without it they scan the table. LIKE on the plan, organization, scope and
// vendor entries and metadata strings compares their text folded in Go too, stored beside
// it when the user is written, since no SQL function folds as users.Fold does.
// Counting all users, those of one status or those with one scope or vendor entry reads a
// table of counts that triggers keep, not the users.
//
// Metadata is jsonb, which cannot hold the character U+0000 in a string: such metadata is
// refused with ErrInvalid.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gousers/users"
)

var _ users.Store = (*Store)(nil)

// ErrNewerSchema is returned by Open and New for a schema written by a newer version of this
// package than the running one, which would not know how to keep it.
var ErrNewerSchema = errors.New("postgres: the schema was made by a newer version of the users package")

// ErrTxDone is returned by every method of a transaction's Store used after its Atomic call has
// returned.
var ErrTxDone = errors.New("postgres: transaction used after Atomic returned")

// ErrClosed is returned by every method of a Store after Close.
var ErrClosed = errors.New("postgres: store is closed")

// DefaultSchema is the schema of the store's tables when Options.Schema is empty.
const DefaultSchema = "users"

// Options tunes a Store. The zero value, or nil, means the defaults.
type Options struct {
	// Schema is the schema that holds the store's tables, created if it does not exist.
	// Default "users".
	Schema string

	// MaxConns bounds the connections of each of the two pools Open makes: one for reads,
	// one for writes. Default: four times GOMAXPROCS, at least 8. New uses the app's pool as
	// it is and ignores it.
	MaxConns int32

	// MinConns is the number of connections each pool of Open keeps open when idle.
	// Default 0.
	MinConns int32

	// StatementTimeout, when positive, makes the server cancel any statement of the pools Open
	// makes that runs longer (PostgreSQL's statement_timeout). Default: none. New does not
	// change the app's pool.
	StatementTimeout time.Duration

	// MaxRetries bounds how many times a transaction that fails to serialize is run again.
	// Default 30: PostgreSQL's serializable isolation locks index pages, not only rows, so
	// transactions on different users whose keys share a page (as time-ordered IDs of recent
	// users do) can clash, and under a stream of such writes a few runs may clash in a row.
	// With the back-off between runs (up to 100 ms each), 30 retries bound the wait at about
	// 2.5 s.
	MaxRetries int
}

// Store is a users.Store on a PostgreSQL schema. Create one with Open or New; the zero value is
// not usable.
//
// A Store is safe for concurrent use by any number of goroutines, and any number of Stores,
// in one process or many, may share one schema. Values passed in are copied and values
// returned are the caller's own. Every method returns ctx.Err() once ctx is done.
type Store struct {
	db   *database
	tx   *txState // inside Atomic; nil otherwise
	done *atomic.Bool
	sp   int // savepoint depth inside Atomic
}

// database is what a Store and its transactions share.
type database struct {
	read  *pgxpool.Pool // reads outside transactions: READ COMMITTED, one snapshot per statement
	write *pgxpool.Pool // writes outside Atomic, one statement each
	// serialDefault is set when every transaction of write is SERIALIZABLE by default (the
	// pools of Open): one statement then runs as it is. Otherwise (the app's pool) a write
	// runs in a transaction that asks for SERIALIZABLE.
	serialDefault bool
	owned         bool // Close closes the pools
	schema        string
	quoted        string // the schema as an SQL identifier
	maxRetries    int
	closed        atomic.Bool
	texts         sync.Map // statement templates → statements with the schema
	compacting    atomic.Bool
}

// txState is a transaction of Atomic, shared by the Stores of its savepoints.
type txState struct {
	tx pgx.Tx
	// retry is set when a statement failed to serialize: the transaction is doomed, and
	// Atomic runs it again, whatever fn returned.
	retry bool
}

// Open connects to the PostgreSQL server of dsn (a URL such as
// postgres://user:password@host/db or a key=value string, as pgx parses them), brings the
// store's schema up to date and returns the Store. opts may be nil.
//
// Open makes two pools of connections: one for reads, one for writes, whose transactions are
// SERIALIZABLE by default. It returns ErrNewerSchema when the schema was made by a newer
// version of this package, and an error describing the fault for bad options, a server that
// cannot be reached, or a failed migration (which then changes nothing). The caller must
// Close the Store.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cfg.MaxConns, cfg.MinConns = o.MaxConns, o.MinConns
	params := cfg.ConnConfig.RuntimeParams
	if o.StatementTimeout > 0 {
		params["statement_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	}
	if params["application_name"] == "" {
		params["application_name"] = "gousers"
	}
	wcfg := cfg.Copy()
	wcfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	read, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	write, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		read.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s, err := newStore(ctx, read, write, true, o)
	if err != nil {
		read.Close()
		write.Close()
		return nil, err
	}
	s.db.owned = true
	return s, nil
}

// New returns a Store on the app's pool, after bringing the store's schema up to date. opts
// may be nil; its pool settings are ignored. Close does not close the pool.
//
// Writes outside Atomic then each run in a transaction that asks for SERIALIZABLE, whatever
// the pool's default isolation. New returns ErrNewerSchema when the schema was made by a newer
// version of this package, and an error describing the fault for bad options, a server that
// cannot be reached, or a failed migration (which then changes nothing).
func New(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: New needs a pool")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return newStore(ctx, pool, pool, false, o)
}

func newStore(ctx context.Context, read, write *pgxpool.Pool, serialDefault bool, o Options) (*Store, error) {
	d := &database{
		read: read, write: write, serialDefault: serialDefault, schema: o.Schema,
		quoted: pgx.Identifier{o.Schema}.Sanitize(), maxRetries: o.MaxRetries,
	}
	if err := migrate(ctx, write, d.schema, d.quoted, migrationFS); err != nil {
		return nil, err
	}
	return &Store{db: d}, nil
}

func (o *Options) withDefaults() (Options, error) {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Schema == "" {
		v.Schema = DefaultSchema
	}
	if v.MaxConns == 0 {
		v.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	if v.MaxRetries == 0 {
		v.MaxRetries = 30
	}
	switch {
	case v.MaxConns < 0:
		return v, errors.New("postgres: Options.MaxConns must not be negative")
	case v.MinConns < 0 || v.MinConns > v.MaxConns:
		return v, errors.New("postgres: Options.MinConns must be between 0 and MaxConns")
	case v.StatementTimeout < 0:
		return v, errors.New("postgres: Options.StatementTimeout must not be negative")
	case v.MaxRetries < 0:
		return v, errors.New("postgres: Options.MaxRetries must not be negative")
	case len(v.Schema) > 63:
		return v, errors.New("postgres: Options.Schema is longer than 63 bytes")
	}
	return v, nil
}

// Schema returns the name of the schema that holds the store's tables.
func (s *Store) Schema() string { return s.db.schema }

// Close closes the pools that Open made; a Store of New leaves the app's pool open. Calls on
// the Store after Close return ErrClosed. Close is safe to call more than once; only the first
// call does anything. It returns an error only when called on a transaction's Store.
func (s *Store) Close() error {
	if s.tx != nil {
		return errors.New("postgres: Close called on a transaction")
	}
	if s.db.closed.Swap(true) {
		return nil
	}
	if s.db.owned {
		s.db.read.Close()
		s.db.write.Close()
	}
	return nil
}

// check returns the error every method returns before it starts: ctx's, or that the Store or
// its transaction is no longer usable.
func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.done != nil && s.done.Load() {
		return ErrTxDone
	}
	if s.db.closed.Load() {
		return ErrClosed
	}
	return nil
}

// sql returns the statement of a template: the template with each "_S_." replaced by the
// schema's qualifier.
func (s *Store) sql(template string) string {
	if v, ok := s.db.texts.Load(template); ok {
		return v.(string)
	}
	text := strings.ReplaceAll(template, "_S_.", s.db.quoted+".")
	s.db.texts.Store(template, text)
	return text
}

// querier is what a pool, a connection and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// read runs fn, one or more reads, on the transaction of Atomic or on the read pool.
func (s *Store) read(ctx context.Context, fn func(q querier) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if s.tx != nil {
		return s.inTx(ctx, fn)
	}
	return s.retry(ctx, func() error { return fn(s.db.read) })
}

// write runs fn, which must make its change with one statement, in a SERIALIZABLE
// transaction: the one of Atomic, or one of its own, run again when it fails to serialize.
// Inside Atomic, fn runs in a savepoint when guard is set, so that a statement failing on a
// constraint (which fn turns into ErrConflict or ErrNotFound) leaves the transaction usable.
func (s *Store) write(ctx context.Context, guard bool, fn func(q querier) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if s.tx != nil {
		if !guard {
			return s.inTx(ctx, fn)
		}
		return s.inTx(ctx, func(q querier) error {
			sp, err := s.tx.tx.Begin(ctx) // a savepoint
			if err != nil {
				return err
			}
			if err := fn(sp); err != nil {
				sp.Rollback(context.WithoutCancel(ctx))
				return err
			}
			return sp.Commit(ctx)
		})
	}
	if s.db.serialDefault {
		return s.retry(ctx, func() error { return fn(s.db.write) })
	}
	return s.retry(ctx, func() error {
		return pgx.BeginTxFunc(ctx, s.db.write, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
			return fn(tx)
		})
	})
}

// readCommitted runs fn, one statement, outside a transaction of Atomic, at READ COMMITTED: on
// the read pool of Open, whose transactions are, or in a transaction that asks for it on the
// app's pool. It is for the statements that queue on a row (a claim, a counter), which at
// READ COMMITTED wait for each other and then see the row as the one before left it, where
// SERIALIZABLE would fail all but the first.
func (s *Store) readCommitted(ctx context.Context, fn func(q querier) error) error {
	return s.retry(ctx, func() error {
		if s.db.serialDefault {
			return fn(s.db.read)
		}
		return pgx.BeginTxFunc(ctx, s.db.write, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			return fn(tx)
		})
	})
}

// inTx runs fn on the transaction of Atomic, noting a failure to serialize, which dooms it.
func (s *Store) inTx(ctx context.Context, fn func(q querier) error) error {
	err := fn(s.tx.tx)
	if retryable(err) {
		s.tx.retry = true
	}
	return dbError(ctx, err)
}

// retry runs fn, and runs it again while it fails to serialize, at most MaxRetries more
// times, pausing a little longer each time.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if !retryable(err) || attempt >= s.db.maxRetries {
			return dbError(ctx, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// backoff waits before the attempt+1-th retry: a random time up to 1 ms doubled per
// attempt, at most 100 ms, so that transactions that clashed do not clash again in step.
func backoff(ctx context.Context, attempt int) error {
	limit := min(time.Millisecond<<min(attempt, 7), 100*time.Millisecond)
	t := time.NewTimer(rand.N(limit) + time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// The SQLSTATE codes the store handles.
const (
	codeSerialization  = "40001"
	codeDeadlock       = "40P01"
	codeUnique         = "23505"
	codeForeignKey     = "23503"
	codeUntranslatable = "22P05" // a \u0000 in jsonb
)

// retryable reports whether err is a failure to serialize or a deadlock, after which the
// transaction may succeed when run again.
func retryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == codeSerialization || e.Code == codeDeadlock)
}

// pgCode returns the SQLSTATE of err and the constraint it names, or "" for an error that does
// not come from the server.
func pgCode(err error) (code, constraint string) {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code, e.ConstraintName
	}
	return "", ""
}

// dbError returns ctx's error when the failure came from ctx being done, and otherwise wraps
// err as a database failure; a *users.Error and the store's own errors pass as they are. It
// returns nil for nil.
func dbError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var e *users.Error
	if errors.As(err, &e) || errors.Is(err, ErrTxDone) || errors.Is(err, ErrClosed) {
		return err
	}
	if errors.Is(err, pgx.ErrTxClosed) {
		return ErrTxDone
	}
	return fmt.Errorf("postgres: %w", err)
}

// Atomic runs fn in one SERIALIZABLE transaction: fn's calls on tx see each other's writes, and
// either all of them take effect or, when fn returns an error, none does and Atomic returns
// that error; when fn panics, the transaction rolls back and the panic goes on.
//
// When the transaction fails to serialize with a concurrent one, or is chosen to break a
// deadlock, Atomic rolls it back and runs fn again in a new one, up to Options.MaxRetries more
// times: fn must have no effect outside tx but setting its own results, and set them afresh on
// each run. Only when the retries are spent does the failure reach the caller.
//
// Calling Atomic on tx runs the inner fn in a savepoint: when it fails, only its writes are
// undone. tx is for fn's goroutine only and must not be used after fn returns; its methods
// then return ErrTxDone. fn may use the outer Store too, but what it does there is not part of
// the transaction.
func (s *Store) Atomic(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if s.tx != nil {
		return s.savepoint(ctx, fn)
	}
	for attempt := 0; ; attempt++ {
		st, err := s.atomicOnce(ctx, fn)
		if st == nil || !st.retry && !retryable(err) || attempt >= s.db.maxRetries {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// atomicOnce runs fn in a new transaction, and returns the transaction's state (nil when it did
// not begin) with the result.
func (s *Store) atomicOnce(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) (*txState, error) {
	tx, err := s.db.write.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return nil, dbError(ctx, err)
	}
	st := &txState{tx: tx}
	inner := &Store{db: s.db, tx: st, done: new(atomic.Bool), sp: 1}
	committed := false
	defer func() {
		inner.done.Store(true)
		if !committed {
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(ctx, inner); err != nil {
		return st, err
	}
	committed = true
	err = tx.Commit(ctx)
	if retryable(err) {
		st.retry = true
	}
	return st, dbError(ctx, err)
}

// savepoint runs fn inside a savepoint of the current transaction, rolling back to it when fn
// fails or panics.
func (s *Store) savepoint(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) error {
	inner := &Store{db: s.db, tx: s.tx, done: new(atomic.Bool), sp: s.sp + 1}
	defer inner.done.Store(true)
	name := fmt.Sprintf("gousers_sp%d", inner.sp)
	if _, err := s.tx.tx.Exec(ctx, "SAVEPOINT "+name); err != nil {
		if retryable(err) {
			s.tx.retry = true
		}
		return dbError(ctx, err)
	}
	ok := false
	defer func() {
		if !ok {
			// Undo fn's writes; a failure here fails the whole transaction, which the outer
			// Atomic then rolls back.
			s.tx.tx.Exec(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT "+name)
		}
	}()
	if err := fn(ctx, inner); err != nil {
		return err
	}
	ok = true
	_, err := s.tx.tx.Exec(ctx, "RELEASE SAVEPOINT "+name)
	if retryable(err) {
		s.tx.retry = true
	}
	return dbError(ctx, err)
}
