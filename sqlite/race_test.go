//go:build race

package sqlite_test

// raceEnabled tells tests that the race detector slows every memory access of SQLite's
// translated C, so that they do the same checks over fewer cases.
const raceEnabled = true
