package storetest_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that records failures instead of failing the test; FailNow ends
// the goroutine as testing.T's does. Logs go to the real test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	errs   []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *recorder) Fail()             { r.Errorf("Fail called") }
func (r *recorder) FailNow()          { r.Fail(); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) { r.Error(args...); runtime.Goexit() }

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// runDifferential runs storetest.Differential against subject with a recorder, and returns
// it once Differential has returned or stopped at a failure.
func runDifferential(t *testing.T, subject users.Store, opts *storetest.DifferentialOptions) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		storetest.Differential(r, subject, opts)
	}()
	<-done
	return r
}

// TestDifferentialPassesTheReference: the memory store agrees with itself, and the generated
// queries tell users apart well enough.
func TestDifferentialPassesTheReference(t *testing.T) {
	r := runDifferential(t, memory.New(), &storetest.DifferentialOptions{Queries: storetest.MinDifferentialQueries})
	assert.False(t, r.Failed(), "failures: %v", r.errs)
}

// TestDifferentialCatchesFaults: a store that differs from the reference in a small way fails.
func TestDifferentialCatchesFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault func(*faultyStore)
	}{
		{"offset ignored", func(s *faultyStore) {
			s.list = func(ctx context.Context, q users.Query) ([]*users.User, error) {
				q.Offset = 0
				return s.Store.ListUsers(ctx, q)
			}
		}},
		{"OR counted wrong", func(s *faultyStore) {
			s.count = func(ctx context.Context, q users.Query) (int, error) {
				n, err := s.Store.CountUsers(ctx, q)
				if q.Or && len(q.Conditions) > 1 && n > 0 {
					n--
				}
				return n, err
			}
		}},
		{"other error field", func(s *faultyStore) {
			s.list = func(ctx context.Context, q users.Query) ([]*users.User, error) {
				page, err := s.Store.ListUsers(ctx, q)
				if e, ok := err.(*users.Error); ok {
					e.Field = "query"
				}
				return page, err
			}
		}},
		{"a user changed", func(s *faultyStore) {
			s.list = func(ctx context.Context, q users.Query) ([]*users.User, error) {
				page, err := s.Store.ListUsers(ctx, q)
				for _, u := range page {
					u.Metadata = nil
				}
				return page, err
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &faultyStore{Store: memory.New()}
			tt.fault(s)
			r := runDifferential(t, s, nil)
			require.True(t, r.Failed(), "the fault went unnoticed")
			assert.Contains(t, r.errs[0], "seed 20261123, query ", "a failure names the seed and the query")
		})
	}
}

// faultyStore is a memory store whose ListUsers or CountUsers may be replaced.
type faultyStore struct {
	*memory.Store
	list  func(ctx context.Context, q users.Query) ([]*users.User, error)
	count func(ctx context.Context, q users.Query) (int, error)
}

func (s *faultyStore) ListUsers(ctx context.Context, q users.Query) ([]*users.User, error) {
	if s.list != nil {
		return s.list(ctx, q)
	}
	return s.Store.ListUsers(ctx, q)
}

func (s *faultyStore) CountUsers(ctx context.Context, q users.Query) (int, error) {
	if s.count != nil {
		return s.count(ctx, q)
	}
	return s.Store.CountUsers(ctx, q)
}
