//go:build !race

package postgres_test

// raceEnabled tells tests that the race detector slows the client, so that they ask fewer of
// the same queries.
const raceEnabled = false
