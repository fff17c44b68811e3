package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gousers/users"
)

// ListUsers returns the page of users that q selects, in q's order (see users.Query). It
// returns ErrInvalid for a query that Query.Normalize rejects.
func (s *Store) ListUsers(ctx context.Context, q users.Query) ([]*users.User, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	if q.Pattern != "" && indexedOrder(q.Sort) && q.Offset+q.Limit <= maxHeadPage {
		// A pattern's page is looked for first among the first headRows users in q's order,
		// a walk of the order's index: it has all of it when the pattern is common, which
		// reading every match from the trigram indexes and sorting them would not beat.
		b := s.newQueryBuilder("SELECT " + userColumns + " FROM (SELECT * FROM " + s.db.quoted + ".users")
		b.orderBy(q.Sort)
		b.WriteString(" LIMIT ")
		b.arg(int(headRows.Load()))
		b.WriteString(") head")
		b.where(&q)
		b.page(&q)
		page, err := s.list(ctx, b, &q)
		if err != nil || len(page) == q.Limit {
			// The first users of the head that match are the first that match at all.
			return page, err
		}
	}
	b := s.newQueryBuilder("SELECT " + userColumns + " FROM " + s.db.quoted + ".users")
	b.where(&q)
	b.page(&q)
	return s.list(ctx, b, &q)
}

// page writes the ORDER BY, LIMIT and OFFSET clauses of q.
func (b *queryBuilder) page(q *users.Query) {
	b.orderBy(q.Sort)
	b.WriteString(" LIMIT ")
	b.arg(q.Limit)
	if q.Offset > 0 {
		b.WriteString(" OFFSET ")
		b.arg(q.Offset)
	}
}

// list runs the query of b, which selects userColumns, and returns its users.
func (s *Store) list(ctx context.Context, b *queryBuilder, q *users.Query) ([]*users.User, error) {
	var page []*users.User
	err := s.read(ctx, func(qr querier) error {
		rows, err := qr.Query(ctx, b.String(), append([]any{execMode(q)}, b.args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		page = make([]*users.User, 0, min(q.Limit, 64))
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			page = append(page, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// headRows holds how many users, in a query's order, ListUsers looks for a pattern's page in
// before it asks the trigram indexes (see ListUsers). At a million users a walk of 5,000 rows
// costs a few milliseconds, and holds a page of 30 of any pattern that 1 user in 150 matches.
var headRows atomic.Int64

func init() { headRows.Store(5000) }

// maxHeadPage is the largest Offset+Limit for which ListUsers looks in the head first.
const maxHeadPage = 100

// indexedOrder reports whether an index gives the rows in the order of the first sort key, so
// that the head of the order is read without sorting the table.
func indexedOrder(sorts []users.Sort) bool {
	switch sorts[0].Field {
	case "id", "username", "email", "name", "created", "updated":
		return true
	}
	return false
}

// CountUsers returns how many users q's conditions and pattern select, ignoring its sort,
// limit and offset. It returns ErrInvalid for a query that Query.Normalize rejects.
//
// Counting all users, those of one status, or those with one scope or vendor entry reads the
// counts that triggers keep (see countKey), not the users.
func (s *Store) CountUsers(ctx context.Context, q users.Query) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	q, err := q.Normalize()
	if err != nil {
		return 0, err
	}
	if kind, value, ok := countKey(&q); ok {
		return s.countFromTable(ctx, kind, value)
	}
	b := s.newQueryBuilder("SELECT count(*) FROM " + s.db.quoted + ".users")
	b.where(&q)
	var n int
	err = s.read(ctx, func(qr querier) error {
		return qr.QueryRow(ctx, b.String(), append([]any{execMode(&q)}, b.args...)...).Scan(&n)
	})
	return n, err
}

// execMode returns how pgx runs the statement of q: prepared, and kept for the next query of
// the same shape, unless q has a pattern or a like condition. Those run as an unnamed
// statement, planned for their values: a plan kept for any pattern could not tell how many
// rows the trigram indexes would give.
func execMode(q *users.Query) pgx.QueryExecMode {
	if q.Pattern != "" {
		return pgx.QueryExecModeExec
	}
	for _, c := range q.Conditions {
		if c.Op == users.OpLike {
			return pgx.QueryExecModeExec
		}
	}
	return pgx.QueryExecModeCacheStatement
}

// queryBuilder writes the SQL of a normalized users.Query and collects its arguments.
type queryBuilder struct {
	strings.Builder
	args []any
}

func (s *Store) newQueryBuilder(head string) *queryBuilder {
	b := new(queryBuilder)
	b.Grow(512)
	b.WriteString(head)
	return b
}

// arg writes a placeholder for v, cast to the type typ unless typ is "".
func (b *queryBuilder) arg(v any) { b.typedArg(v, "") }

func (b *queryBuilder) typedArg(v any, typ string) {
	b.args = append(b.args, v)
	b.WriteByte('$')
	b.WriteString(strconv.Itoa(len(b.args)))
	if typ != "" {
		b.WriteString("::")
		b.WriteString(typ)
	}
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
		b.pattern(q.Pattern)
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
	for i, c := range q.Conditions {
		if i > 0 {
			b.WriteString(join)
		}
		b.condition(c)
	}
	b.WriteByte(')')
}

// pattern writes the test that the folded username, e-mail or name contains p, as LIKE
// conditions that the trigram indexes answer; the e-mail is searched only where it differs
// from the username (see the index users_other_email_trgm).
func (b *queryBuilder) pattern(p string) {
	b.WriteString("(username_folded LIKE ")
	b.typedArg("%"+escapeLike(p)+"%", "text")
	n := "$" + strconv.Itoa(len(b.args)) + "::text"
	b.WriteString(" OR (email_folded <> username_folded AND email_folded LIKE " + n + ") OR name_folded LIKE " + n + ")")
}

// escapeLike escapes the characters LIKE gives a meaning to, so that s matches itself.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// likePattern returns the PostgreSQL LIKE pattern that means what p means to users.Like: the
// same but for a trailing lone backslash, which users.Like takes literally and PostgreSQL
// refuses.
func likePattern(p string) string {
	escaped := false
	for _, r := range p {
		escaped = !escaped && r == '\\'
	}
	if escaped {
		return p + `\`
	}
	return p
}

// likeColumns maps the text fields to what a like condition compares with its pattern, which
// Query.Normalize has folded: users.Fold of the stored text, as users.Condition.Match does.
// PostgreSQL cannot fold as users.Fold does (NFKC with full case folding), so the store keeps
// the folded text in columns of its own, computed in Go. IDs and statuses need none: the
// Service writes only ASCII ones (an ID is a UUID or an imported ID of letters, digits and
// -_.~; a status one of the fixed users.Status values), and users.Fold of ASCII text is its
// ASCII lower case, which lower() gives under the columns' collation "C" (it maps A-Z alone).
var likeColumns = map[string]string{
	"id": "lower(id)", "username": "username_folded", "email": "email_folded",
	"name": "name_folded", "plan": "plan_folded", "status": "lower(status)",
	"orgId": "org_id_folded",
}

// condition writes one normalized condition. The expression may be NULL where the condition
// does not hold, which WHERE, AND and OR take as false; only ne negates, and it makes the
// expression it negates never NULL first.
func (b *queryBuilder) condition(c users.Condition) {
	if c.Op == users.OpNe {
		c.Op = users.OpEq
		b.WriteString("NOT coalesce(")
		b.condition(c)
		b.WriteString(", false)")
		return
	}
	kind, _ := users.FieldKindOf(c.Field)
	switch kind {
	case users.KindList:
		col := "scope"
		if c.Field == "vendor" {
			col = "vendor"
		}
		if c.Op == users.OpLike {
			// Some entry, folded, matches: the folded copy of the list.
			b.WriteString("EXISTS (SELECT 1 FROM unnest(" + col + "_folded) e WHERE e LIKE ")
			b.typedArg(likePattern(c.Value.(string)), "text")
			b.WriteByte(')')
			return
		}
		b.WriteString(col + " @> ARRAY[")
		b.typedArg(c.Value, "text")
		b.WriteString("]")
	case users.KindMetadata:
		b.metadata(c)
	case users.KindTime:
		b.compare(columns[c.Field], c, c.Value.(time.Time), func() any { return c.To.(time.Time) }, "timestamptz")
	case users.KindBool:
		b.WriteString("email_verified = ")
		b.typedArg(c.Value, "boolean")
	default: // text
		if c.Op == users.OpLike {
			b.WriteString(likeColumns[c.Field] + " LIKE ")
			b.typedArg(likePattern(c.Value.(string)), "text")
			return
		}
		b.compare(columns[c.Field], c, c.Value, func() any { return c.To }, "text")
	}
}

// sqlOps are the SQL comparisons of the operators compare writes.
var sqlOps = map[users.Op]string{
	users.OpEq: " = ", users.OpGt: " > ", users.OpLt: " < ", users.OpGe: " >= ", users.OpLe: " <= ",
}

// compare writes "col op value", or "col BETWEEN value AND to()" for between.
func (b *queryBuilder) compare(col string, c users.Condition, value any, to func() any, typ string) {
	b.WriteString(col)
	if c.Op == users.OpBetween {
		b.WriteString(" BETWEEN ")
		b.typedArg(value, typ)
		b.WriteString(" AND ")
		b.typedArg(to(), typ)
		return
	}
	b.WriteString(sqlOps[c.Op])
	b.typedArg(value, typ)
}

// metadata writes a condition on a top-level metadata key: only a stored value of the JSON type
// of c's value can match; eq nil matches a missing key or null.
func (b *queryBuilder) metadata(c users.Condition) {
	key := c.Field[len(users.MetadataPrefix):]
	val := func() {
		b.WriteString("metadata -> ")
		b.typedArg(key, "text")
	}
	typeIs := func(t string) {
		b.WriteString("jsonb_typeof(")
		val()
		b.WriteString(") = '" + t + "'")
	}
	switch v := c.Value.(type) {
	case nil: // eq nil
		b.WriteString("coalesce(jsonb_typeof(")
		val()
		b.WriteString("), 'null') = 'null'")
	case bool:
		// Containment, which the GIN index of metadata answers.
		obj, _ := json.Marshal(map[string]any{key: v})
		b.WriteString("metadata @> ")
		b.typedArg(string(obj), "jsonb")
	case float64:
		if c.Op == users.OpEq {
			obj, _ := json.Marshal(map[string]any{key: v})
			b.WriteString("(metadata @> ")
			b.typedArg(string(obj), "jsonb")
			b.WriteString(" AND ")
			typeIs("number")
			b.WriteByte(')')
			return
		}
		// jsonb compares numbers as numerics, which order the shortest decimal forms of
		// float64 values exactly as the values.
		b.WriteByte('(')
		typeIs("number")
		b.WriteString(" AND ")
		num := func(f float64) any { j, _ := json.Marshal(f); return string(j) }
		b.compare("metadata -> $"+strconv.Itoa(len(b.args))+"::text", c, num(v), func() any { return num(c.To.(float64)) }, "jsonb")
		b.WriteByte(')')
	case string:
		if c.Op == users.OpEq {
			obj, _ := json.Marshal(map[string]any{key: v})
			b.WriteString("(metadata @> ")
			b.typedArg(string(obj), "jsonb")
			b.WriteString(" AND ")
			typeIs("string")
			b.WriteByte(')')
			return
		}
		if c.Op == users.OpLike {
			// metadata_folded holds the top-level string values alone, folded: a key found
			// there is a string in metadata.
			b.WriteString(`(metadata_folded ->> `)
			b.typedArg(key, "text")
			b.WriteString(`) COLLATE "C" LIKE `)
			b.typedArg(likePattern(v), "text")
			return
		}
		b.WriteByte('(')
		typeIs("string")
		text := "(metadata ->> $" + strconv.Itoa(len(b.args)) + "::text)"
		b.WriteString(" AND ")
		b.compare(text+` COLLATE "C"`, c, v, func() any { return c.To }, "text")
		b.WriteByte(')')
	}
}

// orderBy writes the ORDER BY clause of normalized sort keys.
func (b *queryBuilder) orderBy(sorts []users.Sort) {
	b.WriteString(" ORDER BY ")
	for i, s := range sorts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(columns[s.Field])
		if s.Desc {
			b.WriteString(" DESC")
		}
	}
}

// countKey returns the row of user_counts that answers a count of q, when one does: all users
// (kind 0, every status), those of one status (kind 0), or those with one scope (kind 1) or
// vendor (kind 2) entry. q must be normalized.
func countKey(q *users.Query) (kind int, value *string, ok bool) {
	if q.Pattern != "" || len(q.Conditions) > 1 {
		return 0, nil, false
	}
	if len(q.Conditions) == 0 {
		return 0, nil, true
	}
	c := q.Conditions[0]
	v, isText := c.Value.(string)
	switch {
	case c.Op != users.OpEq || !isText:
		return 0, nil, false
	case c.Field == "status":
		return 0, &v, true
	case c.Field == "scope":
		return 1, &v, true
	case c.Field == "vendor":
		return 2, &v, true
	}
	return 0, nil, false
}

// compactAt is how many delta rows a count reads before it folds them (see compact).
const compactAt = 64

// countFromTable returns the sum of the deltas of user_counts for kind and value (every value
// when nil). A count that reads many deltas then folds them, so that the next one reads few.
func (s *Store) countFromTable(ctx context.Context, kind int, value *string) (int, error) {
	var n, rows int64
	err := s.read(ctx, func(q querier) error {
		if value == nil {
			return q.QueryRow(ctx, s.sql("SELECT coalesce(sum(n), 0), count(*) FROM _S_.user_counts WHERE kind = $1"), kind).Scan(&n, &rows)
		}
		return q.QueryRow(ctx, s.sql("SELECT coalesce(sum(n), 0), count(*) FROM _S_.user_counts WHERE kind = $1 AND value = $2"), kind, *value).Scan(&n, &rows)
	})
	if err != nil {
		return 0, err
	}
	if rows > compactAt && s.tx == nil {
		if err := s.compact(ctx); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}

// compact folds the deltas of user_counts into one row per count, and drops counts that fell
// to zero, in one READ COMMITTED transaction: deltas appended meanwhile are not in its snapshot
// and stay as they are. One instance compacts at a time (an advisory lock); the others go on.
func (s *Store) compact(ctx context.Context) error {
	if s.db.compacting.Swap(true) {
		return nil
	}
	defer s.db.compacting.Store(false)
	return dbError(ctx, pgx.BeginTxFunc(ctx, s.db.write, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock(hashtext('gousers.counts'), hashtext($1))", s.db.schema).Scan(&locked); err != nil || !locked {
			return err
		}
		_, err := tx.Exec(ctx, s.sql(`WITH gone AS (DELETE FROM _S_.user_counts RETURNING kind, value, n)
			INSERT INTO _S_.user_counts (kind, value, n)
			SELECT kind, value, sum(n) FROM gone GROUP BY kind, value HAVING sum(n) <> 0`))
		return err
	}))
}
