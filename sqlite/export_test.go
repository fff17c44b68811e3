package sqlite

// SetDriverThreshold sets the number of matches below which an index subquery drives a
// query, and returns a function that restores it. Not safe for concurrent use.
func SetDriverThreshold(n int) (restore func()) {
	old := driverThreshold
	driverThreshold = n
	return func() { driverThreshold = old }
}
