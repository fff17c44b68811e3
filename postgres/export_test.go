package postgres

// SetHeadRows sets how many users, in a query's order, ListUsers looks for a pattern's page in
// before it asks the trigram indexes, and returns a function that restores it. Tests set a
// small number to check both ways on a small population.
func SetHeadRows(n int) (restore func()) {
	old := headRows.Swap(int64(n))
	return func() { headRows.Store(old) }
}
