// Package sqlite is a users.Store on SQLite, through modernc.org/sqlite (pure Go: no cgo): the
// embedded default, durable in one file, for one machine.
//
// Open a file with Open, or an in-memory database for tests with Open(ctx, ":memory:", nil).
// The schema is created and upgraded by versioned migrations compiled into the package: a file
// made by an older version is migrated when it is opened, and a file made by a newer version is
// refused with ErrNewerSchema.
//
// # Concurrency
//
// The database is in WAL mode. Writes go through one connection, each in a BEGIN IMMEDIATE
// transaction, so writers queue in the process instead of failing with SQLITE_BUSY; reads go
// through a pool of read-only connections and never wait for writers. Several processes may
// share one file: they take turns at the write lock, waiting up to Options.BusyTimeout.
//
// A Store also implements users.ThrottleStore: the sign-in throttle's failure counts are kept
// in the database, so that every process sharing the file counts the same failures.
//
// # Queries
//
// Every users.Query is translated to one SQL statement that answers exactly as the memory
// store does (a differential test holds the two to it). Folded usernames, e-mails and names are
// computed in Go, because SQLite's lower() folds only ASCII; the substring pattern is answered
// by an FTS5 trigram index over them, list fields (scope, vendor) and top-level metadata keys
// have index tables of their own, and LIKE conditions call Go's users.Like through an SQL
// function, so that no query depends on SQLite's own case rules.
//
// A query whose context ends while SQLite runs it is interrupted, and returns the context's
// error: every query that can run long does all of its work before its first row, the part of
// a statement that the driver interrupts.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/gousers/users/internal/migrations"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var _ users.Store = (*Store)(nil)

// ErrNewerSchema is returned by Open for a database whose schema was written by a newer
// version of this package than the running one, which would not know how to keep it.
var ErrNewerSchema = errors.New("sqlite: the database was made by a newer version of the users package")

// ErrTxDone is returned by every method of a transaction's Store used after its Atomic call
// has returned.
var ErrTxDone = errors.New("sqlite: transaction used after Atomic returned")

// ErrClosed is returned by every method of a Store after Close.
var ErrClosed = errors.New("sqlite: store is closed")

// Memory is the path that opens a private in-memory database: gone when the Store is closed.
const Memory = ":memory:"

// Options tunes a Store. The zero value, or nil, means the defaults.
type Options struct {
	// BusyTimeout is how long a statement waits for a lock held by another process before it
	// fails. Default 10s.
	BusyTimeout time.Duration

	// Synchronous is SQLite's synchronous setting: "NORMAL" (the default) or "FULL". In WAL
	// mode NORMAL loses no committed transaction when the process crashes, and never corrupts
	// the database, but the last transactions before a power failure or an operating-system
	// crash may roll back. FULL syncs the log on every commit, which survives those too and
	// costs an fsync per write.
	Synchronous string

	// ReadConns is the number of pooled read connections. Default: twice GOMAXPROCS, at
	// least 4.
	ReadConns int

	// CacheKiB is the page cache of each connection, in KiB. Default 8192 (8 MiB).
	CacheKiB int
}

// Store is a users.Store on a SQLite database. Create one with Open; the zero value is not
// usable.
//
// A Store is safe for concurrent use by any number of goroutines. Values passed in are copied
// and values returned are the caller's own. Every method returns ctx.Err() once ctx is done.
type Store struct {
	db   *database
	tx   *sql.Tx      // inside Atomic; nil otherwise
	done *atomic.Bool // set when the Atomic call of tx has returned
	sp   int          // savepoint depth inside Atomic
}

// database is what a Store and its transactions share.
type database struct {
	write      *sql.DB // one connection; every transaction is BEGIN IMMEDIATE
	writes     writeQueue
	read       *sql.DB // read-only connections
	writeStmts *stmtCache
	readStmts  *stmtCache
	path       string
	closed     atomic.Bool
}

// Open opens the SQLite database at path, creating it if it does not exist, and brings its
// schema up to date. The path Memory (":memory:") opens a private in-memory database. opts
// may be nil.
//
// A database file Open creates has mode 0600, whatever the process's umask, and so have the
// -wal and -shm files SQLite creates beside it, which take the database file's mode: they
// hold every password hash and token digest. Open leaves the mode of an existing file as it
// is.
//
// Open returns ErrNewerSchema when the file was made by a newer version of this package, a
// *FoldConflictError when users of an older file have usernames or e-mail addresses that now
// fold alike (see users.Fold), and an error describing the fault for bad options, a file that
// cannot be opened, or a failed migration (which then leaves the schema as it was). The
// caller must Close the Store.
func Open(ctx context.Context, path string, opts *Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &database{path: path}
	if path != Memory && path != "" {
		if _, err := createPrivate(path); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	writeDSN, readDSN := dsns(path, o)
	if d.write, err = sql.Open("sqlite", writeDSN); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	d.write.SetMaxOpenConns(1)
	d.write.SetMaxIdleConns(1)
	d.write.SetConnMaxLifetime(0)
	d.write.SetConnMaxIdleTime(0)
	if err := migrate(ctx, d.write, migrationFS); err != nil {
		d.write.Close()
		return nil, err
	}
	if d.read, err = sql.Open("sqlite", readDSN); err != nil {
		d.write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	d.read.SetMaxOpenConns(o.ReadConns)
	d.read.SetMaxIdleConns(o.ReadConns)
	d.read.SetConnMaxLifetime(0)
	d.read.SetConnMaxIdleTime(0)
	d.writeStmts, d.readStmts = newStmtCache(d.write), newStmtCache(d.read)
	if err := d.read.PingContext(ctx); err != nil {
		d.close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Gather the statistics the query planner needs where they are missing or stale.
	if _, err := d.write.ExecContext(ctx, "PRAGMA optimize=0x10002"); err != nil {
		d.close()
		return nil, fmt.Errorf("sqlite: optimize: %w", err)
	}
	return &Store{db: d}, nil
}

func (o *Options) withDefaults() (Options, error) {
	var v Options
	if o != nil {
		v = *o
	}
	if v.BusyTimeout == 0 {
		v.BusyTimeout = 10 * time.Second
	}
	if v.ReadConns == 0 {
		v.ReadConns = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if v.CacheKiB == 0 {
		v.CacheKiB = 8192
	}
	v.Synchronous = strings.ToUpper(v.Synchronous)
	if v.Synchronous == "" {
		v.Synchronous = "NORMAL"
	}
	switch {
	case v.BusyTimeout < 0:
		return v, errors.New("sqlite: Options.BusyTimeout must not be negative")
	case v.ReadConns < 0:
		return v, errors.New("sqlite: Options.ReadConns must not be negative")
	case v.CacheKiB < 0:
		return v, errors.New("sqlite: Options.CacheKiB must not be negative")
	case v.Synchronous != "NORMAL" && v.Synchronous != "FULL":
		return v, fmt.Errorf("sqlite: Options.Synchronous must be NORMAL or FULL, not %q", v.Synchronous)
	}
	return v, nil
}

// dsns returns the data source names of the write and the read connections. Settings go in
// the DSN, so that every connection the pools open gets them, not only the first.
func dsns(file string, o Options) (write, read string) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+o.Synchronous+")")
	q.Add("_pragma", "cache_size(-"+strconv.Itoa(o.CacheKiB)+")")
	if file == Memory {
		// A named memdb database is shared by every connection of this process that opens
		// the same name; it has no WAL, so readers and the writer take turns through the
		// busy timeout.
		file = "/gousers-" + uuid.NewString()
		q.Set("vfs", "memdb")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	base := "file:" + (&url.URL{Path: file}).EscapedPath() + "?"
	w := url.Values{}
	for k, v := range q {
		w[k] = slices.Clone(v)
	}
	w.Set("_txlock", "immediate")
	// The writer's statement journals, which let a failing statement undo itself, and its
	// temporary tables stay in memory rather than in temporary files.
	w.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "query_only(1)")
	return base + w.Encode(), base + q.Encode()
}

// Close closes the database, after running PRAGMA optimize so that the next Open finds
// fresh planner statistics. Calls on the Store after Close return ErrClosed. Close is safe to
// call more than once; only the first call does anything.
func (s *Store) Close() error {
	if s.tx != nil {
		return errors.New("sqlite: Close called on a transaction")
	}
	if s.db.closed.Swap(true) {
		return nil
	}
	_, err := s.db.write.Exec("PRAGMA optimize")
	return errors.Join(err, s.db.close())
}

func (d *database) close() error {
	var err error
	if d.readStmts != nil {
		d.readStmts.close()
		d.writeStmts.close()
	}
	if d.read != nil {
		err = d.read.Close()
	}
	return errors.Join(err, d.write.Close())
}

// Backup writes a consistent copy of the database to a new file at path, with VACUUM INTO,
// while the Store stays in use. The file has mode 0600, as the database has. It fails if path
// exists.
func (s *Store) Backup(ctx context.Context, path string) (err error) {
	if err := s.check(ctx); err != nil {
		return err
	}
	// VACUUM INTO fills an empty file: create it first, private, and only if it is not there.
	created, err := createPrivate(path)
	if err == nil && !created {
		err = &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}
	}
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	// VACUUM INTO only reads this database, but writes the new file, which a query_only
	// connection may not: lift the setting on one read connection for the copy.
	c, err := s.db.read.Conn(ctx)
	if err != nil {
		return dbError(ctx, err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		return dbError(ctx, err)
	}
	_, err = c.ExecContext(ctx, "VACUUM INTO ?", path)
	if _, resetErr := c.ExecContext(context.WithoutCancel(ctx), "PRAGMA query_only = 1"); resetErr != nil {
		// Never hand a writable connection back to the read pool.
		c.Raw(func(any) error { return driver.ErrBadConn })
	}
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
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

// querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader returns where a look-up runs: the transaction inside Atomic, the read pool outside.
func (s *Store) reader() conn {
	if s.tx != nil {
		return conn{s.db.writeStmts, s.tx}
	}
	return conn{cache: s.db.readStmts}
}

// write runs fn in a write transaction: the one of Atomic, or one it shares with the writes
// queued beside it (see writeBatched), which commits unless fn fails. fn must use the context
// it is given, make at most one change with one statement, change nothing when it fails,
// and change nothing outside the database but its results: a batch that fails as a whole
// runs it again. Writes of more statements go through writeAlone.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, q conn) error) error {
	return s.writeWith(ctx, fn, s.db.writeBatched)
}

// writeAlone runs fn in a write transaction: the one of Atomic, or a new one of its own,
// which commits when fn returns nil.
func (s *Store) writeAlone(ctx context.Context, fn func(ctx context.Context, q conn) error) error {
	return s.writeWith(ctx, fn, s.db.writeTx)
}

// writeWith runs fn in the transaction of Atomic, or else through run.
func (s *Store) writeWith(ctx context.Context, fn func(ctx context.Context, q conn) error, run func(context.Context, func(ctx context.Context, q conn) error) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if s.tx != nil {
		return fn(ctx, conn{s.db.writeStmts, s.tx})
	}
	return run(ctx, fn)
}

// Atomic runs fn in one BEGIN IMMEDIATE transaction on the write connection: fn's calls on tx
// see each other's writes, and other writers wait until it ends, while reads outside it go on
// and see the state before it. When fn returns an error or panics, the transaction rolls back
// and Atomic returns the error or the panic goes on.
//
// Calling Atomic on tx runs the inner fn in a savepoint: when it fails, only its writes are
// undone. tx is for fn's goroutine only and must not be used after fn returns; its methods
// then return ErrTxDone. fn may read through the outer Store (it sees the committed state),
// but a write through the outer Store from inside fn waits for the transaction, and so
// deadlocks. Atomic runs fn once: BEGIN IMMEDIATE takes the write lock first, so the
// transaction never fails to serialize and is never retried.
func (s *Store) Atomic(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) (err error) {
	if err := s.check(ctx); err != nil {
		return err
	}
	inner := &Store{db: s.db, tx: s.tx, done: new(atomic.Bool), sp: s.sp + 1}
	defer inner.done.Store(true)
	if s.tx != nil {
		return inner.savepoint(ctx, fn)
	}
	s.db.writeStmts.prepare(ctx)
	if inner.tx, err = s.db.write.BeginTx(ctx, nil); err != nil {
		return dbError(ctx, err)
	}
	committed := false
	defer func() {
		if !committed {
			inner.tx.Rollback()
		}
	}()
	if err := fn(ctx, inner); err != nil {
		return err
	}
	if err := indexPending(ctx, inner.tx); err != nil {
		return err
	}
	committed = true
	return dbError(ctx, inner.tx.Commit())
}

// savepoint runs fn inside a savepoint of the current transaction, rolling back to it when fn
// fails or panics.
func (s *Store) savepoint(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) error {
	name := "sp" + strconv.Itoa(s.sp)
	if _, err := s.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return dbError(ctx, err)
	}
	ok := false
	defer func() {
		if !ok {
			// Undo fn's writes; a failure here fails the whole transaction, which the
			// outer Atomic then rolls back.
			s.tx.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO "+name+"; RELEASE "+name)
		}
	}()
	if err := fn(ctx, s); err != nil {
		return err
	}
	ok = true
	_, err := s.tx.ExecContext(ctx, "RELEASE "+name)
	return dbError(ctx, err)
}

// dbError returns ctx's error when the failure came from ctx being done, and otherwise wraps
// err as a database failure. It returns nil for nil.
func dbError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if errors.Is(err, sql.ErrTxDone) {
		return ErrTxDone
	}
	var e *users.Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("sqlite: %w", err)
}

// constraint returns the extended result code of a constraint failure, or 0 for any other
// error.
func constraint(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return e.Code()
	}
	return 0
}

// Migrations

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one schema change: the file migrations/NNNN_name.sql is version NNNN. A change
// SQL cannot make has a step in Go (see goSteps), run after the file's SQL in the same
// transaction.
type migration struct {
	version int
	name    string
	sql     string
	step    func(ctx context.Context, tx *sql.Tx) error
}

// goSteps are the Go steps of migrations, by the name of their file. The file is still there,
// embedded like the others, so that the versions remain one ordered sequence of files, and it
// says what the step does.
var goSteps = map[string]func(ctx context.Context, tx *sql.Tx) error{
	"0006_refold.sql": refold,
}

// loadMigrations returns the migrations of fsys (migrations/*.sql) in order of version, each
// with its Go step when it has one.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	files, err := migrations.Load(fsys, "sqlite")
	if err != nil {
		return nil, err
	}
	out := make([]migration, len(files))
	for i, f := range files {
		out[i] = migration{version: f.Version, name: f.Name, sql: f.SQL, step: goSteps[f.Name]}
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

// migrate brings the schema of db up to date, applying each missing migration in its own
// transaction and recording it in the migrations table. Two processes opening one file at
// once do not both apply a migration: each re-reads the version inside its write transaction.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		version INTEGER PRIMARY KEY,
		name    TEXT    NOT NULL,
		applied INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: open: %w", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m, len(ms)); err != nil {
			return err
		}
	}
	// A file made by a newer version fails here even when there was nothing to apply.
	return applyMigration(ctx, db, migration{}, len(ms))
}

// applyMigration applies m unless the database already has it. A zero m only checks the
// version.
func applyMigration(ctx context.Context, db *sql.DB, m migration, known int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT ifnull(max(version), 0) FROM migrations").Scan(&current); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if current > known {
		return fmt.Errorf("%w (schema version %d; this version knows up to %d)", ErrNewerSchema, current, known)
	}
	if m.version == 0 || current >= m.version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	if m.step != nil {
		if err := m.step(ctx, tx); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO migrations (version, name, applied) VALUES (?, ?, ?)",
		m.version, m.name, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	return nil
}

// SQL functions

func init() {
	// like(s, pattern) and flike(s, pattern) give LIKE conditions exactly the meaning of
	// users.Like, which SQLite's own LIKE does not have (it folds ASCII only, and treats
	// escapes differently). flike folds s first, with users.Fold. NULL is the empty string.
	sqlite.MustRegisterDeterministicScalarFunction("gousers_like", 2, likeFunc(false))
	sqlite.MustRegisterDeterministicScalarFunction("gousers_flike", 2, likeFunc(true))
}

func likeFunc(fold bool) func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
	return func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		s, _ := args[0].(string)
		p, _ := args[1].(string)
		if fold {
			s = users.Fold(s)
		}
		if users.Like(s, p) {
			return int64(1), nil
		}
		return int64(0), nil
	}
}
