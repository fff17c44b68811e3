// Package testutil holds what the tests of several packages of this module share.
package testutil

import (
	"bytes"
	"sync"
)

// SyncBuffer is a bytes.Buffer for concurrent writers and readers: a logger's output, a child
// process's stderr copier, and the test that reads them. The zero value is an empty buffer
// ready for use. It is safe for concurrent use.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer; it never fails.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
