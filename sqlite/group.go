package sqlite

import (
	"context"
	"errors"
	"sync"

	"github.com/gousers/users"
)

// Group commit. A commit costs far more than the statement of a small write: each commit
// writes to the WAL every page it touched, and one new user touches a page of the users
// table, of each of its indexes, of the index tables and of the search index. Concurrent
// writes that arrive while one transaction runs therefore wait in a queue, and the next
// transaction runs them all and commits once: the pages they share are written once. A write
// returns only after the commit that holds it.
//
// A batched write makes at most one change, with one statement, and when it fails it has
// changed nothing: SQLite undoes a statement that fails a constraint, and the transaction
// goes on. (Savepoints would isolate longer writes, but FTS5 writes its pending index to disk
// at every savepoint, which costs more than the batch saves.) A write that fails otherwise
// (I/O, a full disk) may have ended the transaction: the batch is then rolled back whole and
// each of its writes runs again in a transaction of its own, as does every write of a batch
// whose commit fails, so that each gets its own answer. A write alone in its batch runs as it
// would without the queue.
//
// The statements of a write in a batch do not see its context's cancellation: SQLite rolls
// back the whole transaction when a statement is interrupted, which would undo the writes of
// the others. A write whose context has ended before its turn is not run.

// maxBatch bounds the writes one transaction commits.
const maxBatch = 256

// writeQueue holds the writes waiting for the write connection.
type writeQueue struct {
	mu      sync.Mutex
	queue   []*writeReq
	leading bool // a write is running the batches; queue holds those waiting for the next
}

// writeReq is one write: fn in a transaction. lead receives true when the write is to run
// the next batch, and false when another has run it and err is its answer.
type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, q conn) error
	err  error
	lead chan bool
}

// writeBatched runs fn in a write transaction, shared with the writes queued beside it, and
// returns fn's error or the transaction's.
func (d *database) writeBatched(ctx context.Context, fn func(ctx context.Context, q conn) error) error {
	r := &writeReq{ctx: ctx, fn: fn, lead: make(chan bool, 1)}
	w := &d.writes
	w.mu.Lock()
	w.queue = append(w.queue, r)
	leads := !w.leading
	w.leading = true
	w.mu.Unlock()
	if !leads && !<-r.lead {
		return r.err
	}

	// r leads, and is first in the queue: run the queue's head, then hand over.
	w.mu.Lock()
	n := min(len(w.queue), maxBatch)
	batch := w.queue[:n:n]
	w.queue = w.queue[n:]
	w.mu.Unlock()

	d.runBatch(batch)

	w.mu.Lock()
	if len(w.queue) > 0 {
		w.queue[0].lead <- true
	} else {
		w.leading = false
		w.queue = nil
	}
	w.mu.Unlock()
	for _, o := range batch[1:] {
		o.lead <- false
	}
	return r.err
}

// runBatch runs the writes of batch and sets the answer of each.
func (d *database) runBatch(batch []*writeReq) {
	if len(batch) > 1 && d.commitBatch(batch) {
		return
	}
	for _, r := range batch {
		r.err = d.writeTx(r.ctx, r.fn)
	}
}

// commitBatch runs the writes of batch in one transaction and commits. It returns false when
// the transaction failed as a whole: then nothing was written.
func (d *database) commitBatch(batch []*writeReq) bool {
	ctx := context.Background()
	d.writeStmts.prepare(ctx)
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return false
	}
	defer tx.Rollback()
	q := conn{d.writeStmts, tx}
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err != nil {
			continue
		}
		r.err = r.fn(context.WithoutCancel(r.ctx), q)
		var refused *users.Error
		if r.err != nil && !errors.As(r.err, &refused) {
			return false // not a refusal of the write: the transaction may be gone
		}
	}
	return indexPending(ctx, tx) == nil && tx.Commit() == nil
}

// writeTx runs fn in a transaction of its own, which commits when fn returns nil.
func (d *database) writeTx(ctx context.Context, fn func(ctx context.Context, q conn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.writeStmts.prepare(ctx)
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return dbError(ctx, err)
	}
	defer tx.Rollback()
	if err := fn(ctx, conn{d.writeStmts, tx}); err != nil {
		return err
	}
	if err := indexPending(ctx, tx); err != nil {
		return err
	}
	return dbError(ctx, tx.Commit())
}
