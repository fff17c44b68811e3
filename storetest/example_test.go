package storetest_test

import (
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/storetest"
)

// A Store implementation's test calls Run with a function that returns a fresh, empty store for
// each subtest (registering any clean-up with t.Cleanup), then goes on with the tests of what is
// particular to that implementation. This is memory's, in memory/conformance_test.go:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(*testing.T) users.Store { return memory.New() })
//	}
func ExampleRun() {
	TestConformance := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) users.Store {
			s := memory.New()
			t.Cleanup(func() { /* a store on disk closes itself and removes its files here */ })
			return s
		})
	}
	_ = TestConformance // run by go test, which supplies the *testing.T
}

// A Store implementation's test also calls Differential with an empty store, which it fills
// with a random population and holds to the memory store, query by query. Sqlite's, in
// sqlite/differential_test.go, is much like this (openFile opens a new database in t.TempDir()):
//
//	func TestDifferential(t *testing.T) {
//		s, _ := openFile(t, nil)
//		storetest.Differential(t, s, nil)
//	}
func ExampleDifferential() {
	TestDifferential := func(t *testing.T) {
		s := memory.New() // the store under test: here the reference itself
		storetest.Differential(t, s, &storetest.DifferentialOptions{Queries: 2000})
	}
	_ = TestDifferential // run by go test, which supplies the *testing.T
}
