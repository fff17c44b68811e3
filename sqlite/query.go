package sqlite

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

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
	b := newQueryBuilder("SELECT " + userColumns + " FROM users")
	b.where(&q)
	b.orderBy(q.Sort)
	b.WriteString(" LIMIT ? OFFSET ?")
	b.args = append(b.args, q.Limit, q.Offset)
	rows, err := s.reader().QueryContext(ctx, b.String(), b.args...)
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
// limit and offset. It returns ErrInvalid for a query that Query.Normalize rejects.
func (s *Store) CountUsers(ctx context.Context, q users.Query) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	q, err := q.Normalize()
	if err != nil {
		return 0, err
	}
	b := newQueryBuilder("SELECT count(*) FROM users")
	b.where(&q)
	var n int
	if err := s.reader().QueryRowContext(ctx, b.String(), b.args...).Scan(&n); err != nil {
		return 0, dbError(ctx, err)
	}
	return n, nil
}

// queryBuilder writes the SQL of a normalized users.Query and collects its arguments.
type queryBuilder struct {
	strings.Builder
	args []any
}

func newQueryBuilder(head string) *queryBuilder {
	b := &queryBuilder{}
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
	for i := range q.Conditions {
		if i > 0 {
			b.WriteString(join)
		}
		b.condition(q.Conditions[i])
	}
	b.WriteByte(')')
}

// minTrigramPattern is the shortest pattern, in characters, the trigram index can answer.
const minTrigramPattern = 3

// pattern writes the test that the folded username, e-mail or name contains p. Patterns of
// three characters or more are looked up in the trigram index; shorter ones, which no trigram
// can hold, are tested row by row.
func (b *queryBuilder) pattern(p string) {
	if utf8.RuneCountInString(p) >= minTrigramPattern {
		// A quoted FTS5 string is a phrase: with the trigram tokenizer, a substring.
		b.WriteString("seq IN (SELECT rowid FROM users_search WHERE users_search MATCH ")
		b.arg(`"` + strings.ReplaceAll(p, `"`, `""`) + `"`)
		b.WriteByte(')')
		return
	}
	b.WriteString("(instr(username_folded, ")
	b.arg(p)
	b.WriteString(") > 0 OR instr(ifnull(email_folded, ''), ")
	b.arg(p)
	b.WriteString(") > 0 OR instr(name_folded, ")
	b.arg(p)
	b.WriteString(") > 0)")
}

// condition writes one normalized condition as an expression that is never NULL, so that
// NOT negates it exactly.
func (b *queryBuilder) condition(c users.Condition) {
	if c.Op == users.OpNe {
		c.Op = users.OpEq
		b.WriteString("NOT (")
		b.condition(c)
		b.WriteByte(')')
		return
	}
	kind, _ := users.FieldKindOf(c.Field)
	switch kind {
	case users.KindList:
		b.listCondition(c)
	case users.KindMetadata:
		b.metadataCondition(c)
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

// listCondition writes an eq or like condition on scope or vendor through user_lists.
func (b *queryBuilder) listCondition(c users.Condition) {
	list := listScope
	if c.Field == "vendor" {
		list = listVendor
	}
	b.WriteString("seq IN (SELECT seq FROM user_lists WHERE list = ")
	b.arg(list)
	if c.Op == users.OpLike {
		b.WriteString(" AND gousers_flike(value, ")
		b.arg(c.Value)
		b.WriteString("))")
		return
	}
	b.WriteString(" AND value = ")
	b.arg(c.Value)
	b.WriteByte(')')
}

// metadataCondition writes a condition on a metadata key through user_metadata: it matches
// only a stored value of the condition value's type.
func (b *queryBuilder) metadataCondition(c users.Condition) {
	key := c.Field[len(users.MetadataPrefix):]
	if c.Value == nil { // eq nil: the key is missing or null
		b.WriteString("seq NOT IN (SELECT seq FROM user_metadata WHERE key = ")
		b.arg(key)
		b.WriteString(" AND type <> 0)")
		return
	}
	b.WriteString("seq IN (SELECT seq FROM user_metadata WHERE key = ")
	b.arg(key)
	b.WriteString(" AND type = ")
	switch v := c.Value.(type) {
	case bool:
		b.arg(metaBool)
		b.WriteString(" AND value = ")
		b.arg(v)
	case float64:
		b.arg(metaNumber)
		b.WriteString(" AND ")
		b.compare("value", c, v, func() any { return c.To })
	case string:
		b.arg(metaString)
		b.WriteString(" AND ")
		if c.Op == users.OpLike {
			b.WriteString("gousers_flike(value, ")
			b.arg(v)
			b.WriteByte(')')
		} else {
			b.compare("value", c, v, func() any { return c.To })
		}
	}
	b.WriteByte(')')
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
