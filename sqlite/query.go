package sqlite

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gousers/users"
)

// ListUsers returns the page of users that q selects, in q's order (see users.Query). It
// returns ErrInvalid for a query that Query.Normalize rejects, and ctx's error, promptly, when
// ctx ends while the query runs.
func (s *Store) ListUsers(ctx context.Context, q users.Query) ([]*users.User, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	if err := s.searchable(ctx, q.Pattern); err != nil {
		return nil, err
	}
	// The driver interrupts a statement when ctx ends only during the call that starts it,
	// which runs it to its first row: a page whose rows come one by one from a walk of an
	// index could run on for long after ctx has ended. So the page is selected into a
	// materialized table, and read from it in order, which makes the whole search part of
	// the first row. Sorting it again costs little: it holds at most MaxLimit rows.
	b := newQueryBuilder("WITH page AS MATERIALIZED (SELECT " + userColumns + ", username_folded, email_folded FROM users")
	if err := s.chooseDriver(ctx, &q, b, false); err != nil {
		return nil, err
	}
	b.where(&q)
	b.orderBy(q.Sort)
	b.WriteString(" LIMIT ?")
	b.args = append(b.args, q.Limit)
	if q.Offset > 0 {
		// Only when needed: with an OFFSET, SQLite runs an EXISTS row test as a correlated
		// subquery rather than as a semi-join, at twice the cost.
		b.WriteString(" OFFSET ?")
		b.args = append(b.args, q.Offset)
	}
	b.WriteString(") SELECT " + userColumns + " FROM page")
	b.orderBy(q.Sort)
	rows, err := s.reader().raw().QueryContext(ctx, b.String(), b.args...)
	if err != nil {
		return nil, dbError(ctx, err)
	}
	defer rows.Close()
	page := make([]*users.User, 0, min(q.Limit, 64))
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, dbError(ctx, err)
		}
		page = append(page, u)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(ctx, err)
	}
	return page, nil
}

// CountUsers returns how many users q's conditions and pattern select, ignoring its sort,
// limit and offset. It returns ErrInvalid for a query that Query.Normalize rejects, and ctx's
// error, promptly, when ctx ends while the query runs.
func (s *Store) CountUsers(ctx context.Context, q users.Query) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	q, err := q.Normalize()
	if err != nil {
		return 0, err
	}
	if err := s.searchable(ctx, q.Pattern); err != nil {
		return 0, err
	}
	var n int
	if query, args, ok := directCount(&q); ok {
		if err := s.reader().raw().QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			return 0, dbError(ctx, err)
		}
		return n, nil
	}
	b := newQueryBuilder("SELECT count(*) FROM users")
	if err := s.chooseDriver(ctx, &q, b, true); err != nil {
		return 0, err
	}
	b.where(&q)
	if err := s.reader().raw().QueryRowContext(ctx, b.String(), b.args...).Scan(&n); err != nil {
		return 0, dbError(ctx, err)
	}
	return n, nil
}

// directCount returns a query that counts q's users without reading the users table, when
// there is one: a count the schema's triggers keep (user_counts, user_list_counts) when q
// counts all users, those of one status or those with one scope or vendor entry, and the
// size of the index set when q is one pattern or one other condition that an index table
// answers (see conditionSet). ok is false
// for any other q. q must be normalized.
func directCount(q *users.Query) (query string, args []any, ok bool) {
	switch {
	case len(q.Conditions) == 0 && q.Pattern == "":
		return "SELECT ifnull(sum(n), 0) FROM user_counts", nil, true
	case len(q.Conditions) == 0 && utf8.RuneCountInString(q.Pattern) >= minTrigramPattern:
		sub := newQueryBuilder("SELECT count(*) FROM (")
		sub.patternSet(q.Pattern)
		sub.WriteByte(')')
		return sub.String(), sub.args, true
	case len(q.Conditions) != 1 || q.Pattern != "":
		return "", nil, false
	}
	c := q.Conditions[0]
	if status, isText := c.Value.(string); isText && c.Field == "status" && c.Op == users.OpEq {
		return "SELECT ifnull((SELECT n FROM user_counts WHERE status = ?), 0)", []any{status}, true
	}
	if kind, _ := users.FieldKindOf(c.Field); kind == users.KindList && c.Op == users.OpEq && c.Value != nil {
		return "SELECT ifnull((SELECT n FROM user_list_counts WHERE list = ? AND value = ?), 0)", []any{listNumber(c.Field), c.Value}, true
	}
	if sub, ok := conditionSet("SELECT count(*) FROM (", c); ok {
		sub.WriteByte(')')
		return sub.String(), sub.args, true
	}
	return "", nil, false
}

// queryBuilder writes the SQL of a normalized users.Query and collects its arguments.
type queryBuilder struct {
	strings.Builder
	args   []any
	driver int // the condition that drives the query (see chooseDriver), or noDriver
	// matched holds, when the pattern drives, the rows the search index matched, as a JSON
	// array of seq.
	matched []byte
}

func newQueryBuilder(head string) *queryBuilder {
	b := &queryBuilder{driver: noDriver}
	b.Grow(256)
	b.WriteString(head)
	return b
}

// arg appends a placeholder for v.
func (b *queryBuilder) arg(v any) {
	b.WriteByte('?')
	b.args = append(b.args, v)
}

// columns maps the query fields stored in a column of users to the column. Username and e-mail
// are compared in folded form, so they map to the folded columns.
var columns = map[string]string{
	"id": "id", "username": "username_folded", "email": "email_folded", "name": "name",
	"plan": "plan", "status": "status", "orgId": "org_id", "emailVerified": "email_verified",
	"created": "created", "updated": "updated",
}

// where writes the WHERE clause of q's conditions and pattern, if it has any.
func (b *queryBuilder) where(q *users.Query) {
	if len(q.Conditions) == 0 && q.Pattern == "" {
		return
	}
	b.WriteString(" WHERE ")
	if q.Pattern != "" {
		b.pattern(q.Pattern, b.driver == patternDriver)
		if len(q.Conditions) == 0 {
			return
		}
		b.WriteString(" AND ")
	}
	join := " AND "
	if q.Or {
		join = " OR "
	}
	b.WriteByte('(')
	for i := range q.Conditions {
		if i > 0 {
			b.WriteString(join)
		}
		b.condition(q.Conditions[i], b.driver == i)
	}
	b.WriteByte(')')
}

// Drivers. A condition on scope, vendor or metadata, and a pattern, can be answered from an
// index table: the set of matching rows (seq) comes from a subquery. Written as "seq IN
// (subquery)" the subquery drives the query, which suits a rare value: only its rows are read,
// then sorted. Written as a per-row test (EXISTS for the index tables, instr for the pattern),
// SQLite walks the index of the sort order and stops at the end of the page, which suits a
// common value. chooseDriver picks, by counting the matches of each candidate up to
// driverThreshold.
const (
	noDriver      = -1
	patternDriver = -2
)

// driverThreshold balances the two plans: below it, reading and sorting the matching rows
// costs less than walking the sort order to fill a page (at a million users, about 2 µs a row
// against 0.3 µs a row, with a page of 30 found every N/matches rows). Tests change it to
// check both plans.
var driverThreshold = 2000

// chooseDriver sets b.driver to the condition (or patternDriver) whose index subquery should
// drive the query: the candidate with the fewest matches, if they are fewer than
// driverThreshold; noDriver otherwise. For a count, the candidate with the fewest matches
// whatever their number. q must be normalized.
//
// Counting the matches of a pattern costs as much as finding them, so the pattern's probe
// keeps the rows it finds, in b.matched, for the query to start from.
func (s *Store) chooseDriver(ctx context.Context, q *users.Query, b *queryBuilder, forCount bool) error {
	b.driver = noDriver
	bestN := driverThreshold
	if forCount {
		bestN++ // a count has no page to fill early: any index set beats a walk of the table
	}
	if q.Pattern != "" && utf8.RuneCountInString(q.Pattern) >= minTrigramPattern {
		sub := newQueryBuilder("")
		sub.patternSet(q.Pattern)
		matched, n, err := s.matchedRows(ctx, sub)
		if err != nil {
			return err
		}
		if n < driverThreshold { // all its rows: the probe stops at driverThreshold
			b.driver, bestN, b.matched = patternDriver, n, matched
		}
	}
	if q.Or && len(q.Conditions) > 1 {
		return nil
	}
	for i, c := range q.Conditions {
		sub, ok := conditionSet("SELECT count(*) FROM (", c)
		if !ok {
			continue
		}
		sub.WriteString(" LIMIT ?)")
		var n int
		err := s.reader().raw().QueryRowContext(ctx, sub.String(), append(sub.args, driverThreshold)...).Scan(&n)
		if err != nil {
			return dbError(ctx, err)
		}
		if n < bestN {
			b.driver, bestN, b.matched = i, n, nil
		}
	}
	return nil
}

// conditionSet returns a builder holding head and then the subquery of the rows (seq) that
// match c in an index table, one row per user, when c can be answered so: a condition on
// scope, vendor or metadata that is not ne, not like, and not about a null.
func conditionSet(head string, c users.Condition) (*queryBuilder, bool) {
	if c.Op == users.OpNe || c.Op == users.OpLike || c.Value == nil {
		return nil, false // matches most rows, or cannot use the index
	}
	sub := newQueryBuilder(head)
	switch kind, _ := users.FieldKindOf(c.Field); kind {
	case users.KindList:
		sub.listSet(c)
	case users.KindMetadata:
		sub.metadataSet(c)
	default:
		return nil, false
	}
	return sub, true
}

// matchedRows runs the subquery in sub, which selects seq, up to driverThreshold rows, and
// returns them as a JSON array, with their number. The statement answers in one row, so that
// all of its work is done in the step that ctx's end interrupts (see ListUsers).
func (s *Store) matchedRows(ctx context.Context, sub *queryBuilder) ([]byte, int, error) {
	var matched []byte
	var n int
	err := s.reader().raw().QueryRowContext(ctx,
		"WITH m(seq) AS ("+sub.String()+" LIMIT ?) SELECT json_group_array(seq), count(*) FROM m",
		append(sub.args, driverThreshold)...).Scan(&matched, &n)
	if err != nil {
		return nil, 0, dbError(ctx, err)
	}
	return matched, n, nil
}

// minTrigramPattern is the shortest pattern, in characters, the trigram index can answer.
const minTrigramPattern = 3

// pattern writes the test that the folded username, e-mail or name contains p, row by row:
// when the pattern drives the query, only on the rows the trigram index matched (see
// chooseDriver); otherwise on every row the query walks, as for a pattern shorter than three
// characters, which no trigram can hold.
func (b *queryBuilder) pattern(p string, driving bool) {
	if driving {
		// The rows the probe matched, each tested again: the probe read the database a
		// moment before this query does.
		b.WriteString("seq IN (SELECT value FROM json_each(")
		b.arg(string(b.matched))
		b.WriteString(")) AND ")
	}
	b.WriteString("(instr(username_folded, ")
	b.arg(p)
	b.WriteString(") > 0 OR instr(ifnull(email_folded, ''), ")
	b.arg(p)
	b.WriteString(") > 0 OR instr(name_folded, ")
	b.arg(p)
	b.WriteString(") > 0)")
}

// patternSet writes the subquery of the rows whose folded username, e-mail or name contains
// p, a pattern of three characters or more.
func (b *queryBuilder) patternSet(p string) {
	// A quoted FTS5 string is a phrase: with the trigram tokenizer, a substring.
	b.WriteString("SELECT rowid FROM users_search WHERE users_search MATCH ")
	b.arg(`"` + strings.ReplaceAll(p, `"`, `""`) + `"`)
}

// inSet writes the test that the row is in the set that set writes: as "seq IN (…)" when it
// drives the query, as a correlated EXISTS otherwise.
func (b *queryBuilder) inSet(driving bool, set func()) {
	if driving {
		b.WriteString("seq IN (")
		set()
		b.WriteByte(')')
		return
	}
	b.WriteString("EXISTS (")
	set()
	b.WriteString(" AND seq = users.seq)")
}

// condition writes one normalized condition as an expression that is never NULL, so that
// NOT negates it exactly.
func (b *queryBuilder) condition(c users.Condition, driving bool) {
	if c.Op == users.OpNe {
		c.Op = users.OpEq
		b.WriteString("NOT (")
		b.condition(c, false)
		b.WriteByte(')')
		return
	}
	kind, _ := users.FieldKindOf(c.Field)
	switch kind {
	case users.KindList:
		b.inSet(driving, func() { b.listSet(c) })
	case users.KindMetadata:
		if c.Value == nil { // eq nil: the key is missing or null
			b.WriteString("NOT ")
			b.inSet(false, func() { b.metadataSet(c) })
			return
		}
		b.inSet(driving, func() { b.metadataSet(c) })
	case users.KindTime:
		b.compare(columns[c.Field], c, micros(c.Value.(time.Time)), func() any { return micros(c.To.(time.Time)) })
	case users.KindBool:
		b.WriteString("email_verified = ")
		b.arg(c.Value)
	default: // text
		col := columns[c.Field]
		if c.Field == "email" {
			if c.Op == users.OpEq { // IS: NULL, no e-mail, is ""
				b.WriteString("email_folded IS ")
				b.arg(nullIfEmpty(c.Value.(string)))
				return
			}
			col = "ifnull(email_folded, '')"
		}
		if c.Op == users.OpLike {
			// Folded fields are stored folded; the others are folded by gousers_flike.
			fn := "gousers_flike("
			if kind == users.KindFolded {
				fn = "gousers_like("
			}
			b.WriteString(fn + col + ", ")
			b.arg(c.Value)
			b.WriteByte(')')
			return
		}
		b.compare(col, c, c.Value, func() any { return c.To })
	}
}

// sqlOps are the SQL comparisons of the operators compare writes.
var sqlOps = map[users.Op]string{
	users.OpEq: " = ", users.OpGt: " > ", users.OpLt: " < ", users.OpGe: " >= ", users.OpLe: " <= ",
}

// compare writes "col op value", or "col BETWEEN value AND to()" for between.
func (b *queryBuilder) compare(col string, c users.Condition, value any, to func() any) {
	b.WriteString(col)
	if c.Op == users.OpBetween {
		b.WriteString(" BETWEEN ")
		b.arg(value)
		b.WriteString(" AND ")
		b.arg(to())
		return
	}
	b.WriteString(sqlOps[c.Op])
	b.arg(value)
}

// listNumber returns the number by which user_lists knows the list field (see the schema).
func listNumber(field string) int {
	if field == "vendor" {
		return 2
	}
	return 1
}

// listSet writes the subquery of the rows whose scope or vendor has an entry equal to, or
// for like matching, c's value.
func (b *queryBuilder) listSet(c users.Condition) {
	b.WriteString("SELECT seq FROM user_lists WHERE list = ")
	b.arg(listNumber(c.Field))
	if c.Op == users.OpLike {
		b.WriteString(" AND gousers_flike(value, ")
		b.arg(c.Value)
		b.WriteByte(')')
		return
	}
	b.WriteString(" AND value = ")
	b.arg(c.Value)
}

// metadataSet writes the subquery of the rows whose metadata key matches c: only a stored
// value of the type of c's value can. For a nil value, it is the set of rows where the key
// holds anything but null, which eq nil negates.
func (b *queryBuilder) metadataSet(c users.Condition) {
	b.WriteString("SELECT seq FROM user_metadata WHERE key = ")
	b.arg(c.Field[len(users.MetadataPrefix):])
	// The type numbers are those of user_metadata in the schema.
	switch v := c.Value.(type) {
	case nil:
		b.WriteString(" AND type <> 0")
	case bool:
		b.WriteString(" AND type = 1 AND value = ")
		b.arg(v)
	case float64:
		b.WriteString(" AND type = 2 AND ")
		b.compare("value", c, v, func() any { return c.To })
	case string:
		b.WriteString(" AND type = 3 AND ")
		if c.Op == users.OpLike {
			b.WriteString("gousers_flike(value, ")
			b.arg(v)
			b.WriteByte(')')
		} else {
			b.compare("value", c, v, func() any { return c.To })
		}
	}
}

// orderBy writes the ORDER BY clause of normalized sort keys.
func (b *queryBuilder) orderBy(sorts []users.Sort) {
	b.WriteString(" ORDER BY ")
	for i, s := range sorts {
		if i > 0 {
			b.WriteString(", ")
		}
		// NULL e-mails sort first, as "" does.
		b.WriteString(columns[s.Field])
		if s.Desc {
			b.WriteString(" DESC")
		}
	}
}
