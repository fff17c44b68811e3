package postgres

// SetCommonThreshold sets the number of matches from which ListUsers walks the index of its
// order instead of reading a pattern's matches from the trigram indexes, and returns a function
// that restores it. Tests set 0 to check the walk on a small population.
func SetCommonThreshold(n int) (restore func()) {
	old := commonThreshold.Swap(int64(n))
	return func() { commonThreshold.Store(old) }
}
