// Package testutil holds what the tests of several packages of this module share.
package testutil

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gousers/users"
	"github.com/stretchr/testify/require"
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

// WaitTimeout bounds every wait on a condition in the tests; generous, because -race slows
// everything down.
const WaitTimeout = 10 * time.Second

// Eventually fails the test unless cond becomes true within WaitTimeout. It tests cond at
// once and then every 2 ms; it never sleeps blindly. msgAndArgs describe the failure, as in
// testify.
func Eventually(t testing.TB, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	if cond() {
		return
	}
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-deadline.C:
			require.FailNow(t, "condition not met in time", msgAndArgs...)
		case <-tick.C:
			if cond() {
				return
			}
		}
	}
}

// Hash returns the argon2id hash of password under p, failing the test on error: a stored
// hash for a population, made as the Service would.
func Hash(t testing.TB, p users.Argon2Params, password string) string {
	t.Helper()
	h, err := users.NewArgon2idHasher(p)
	require.NoError(t, err)
	encoded, err := h.Hash(password)
	require.NoError(t, err)
	return encoded
}

// Clock is a fake clock for users.Config.Now: it stands still until advanced. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// BenchmarkArgon2idCompare measures one argon2id comparison of password with its hash under
// params (the benchmarks pass the real defaults): the floor of every sign-in benchmark, run
// beside it.
func BenchmarkArgon2idCompare(b *testing.B, password string, params users.Argon2Params) {
	raw := argon2id.Params(params)
	hash, err := argon2id.CreateHash(password, &raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ok, err := argon2id.ComparePasswordAndHash(password, hash)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// FailingReader returns Data, then Err from every later Read: a file or body that breaks
// part-way.
type FailingReader struct {
	Data string
	Err  error
}

// Read copies what is left of Data into p, and returns Err once none is.
func (r *FailingReader) Read(p []byte) (int, error) {
	if r.Data == "" {
		return 0, r.Err
	}
	n := copy(p, r.Data)
	r.Data = r.Data[n:]
	return n, nil
}

// StopsPromptly checks that call, a query say, stops when its context ends: it runs call with
// a context cancelled after the given time (a client going away while the call works), and
// requires that call returns context.Canceled each time, within WaitTimeout, and within the
// given bound of the cancel in one of tries tries: a loaded machine (the race detector, other
// test binaries) may not schedule the call or its interrupt for a while. before, when not
// nil, runs before each try.
func StopsPromptly(t *testing.T, call func(ctx context.Context) error, after, within time.Duration, tries int, before func()) {
	t.Helper()
	for try := range tries {
		if before != nil {
			before()
		}
		took := stopTime(t, call, after)
		if took <= within {
			return
		}
		t.Logf("try %d: the call stopped %v after its context was cancelled", try+1, took)
	}
	t.Fatalf("the call was still running %v after its context was cancelled, in %d tries", within, tries)
}

// stopTime runs call with a context cancelled after the given time, and returns how long after
// the cancel it returned, failing the test unless it returns context.Canceled within
// WaitTimeout.
func stopTime(t *testing.T, call func(ctx context.Context) error, after time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- call(ctx) }()
	cancelled := make(chan time.Time, 1)
	time.AfterFunc(after, func() {
		cancel()
		cancelled <- time.Now()
	})
	at := <-cancelled
	select {
	case err := <-result:
		require.ErrorIs(t, err, context.Canceled, "the call must still be running when it is cancelled, and then stop")
		return time.Since(at)
	case <-time.After(WaitTimeout):
		require.FailNow(t, "the call did not stop after its context was cancelled")
		return 0
	}
}
