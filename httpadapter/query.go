package httpadapter

import (
	"encoding/json"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gousers/users"
)

// Bounds on a list query, so that one request cannot ask for unbounded work.
const (
	MaxConditions = 20 // filter conditions, of both forms together
	MaxSortKeys   = 10
)

// queryParams are the parameters of GET /users and GET /users/count, and whether each may be
// repeated.
var queryParams = map[string]bool{
	"filter": true, "sort": true, "field": true, "op": true, "value": true,
	"lop": false, "limit": false, "offset": false, "pattern": false, "page": false, "pageSize": false,
}

// parseQuery reads the query string of GET /users and GET /users/count into a users.Query:
//
//   - filter=field:value, repeatable: field eq value (Appmixer's form);
//   - field=f&op=o&value=v, repeatable, the three once per condition (Axway's form), where op is
//     one of eq ne gt lt ge le like, or gete or between with value "low,high";
//   - lop=AND|OR joins the conditions of both forms (default AND);
//   - sort=field:1|-1 (or a bare field, ascending), comma-separated and repeatable;
//   - limit, offset: integers; or page (1-based) and pageSize (default users.DefaultLimit),
//     Tyk's paging, which is offset (page-1)×pageSize: the two forms do not mix;
//   - pattern: a substring of the username, e-mail or name.
//
// A value compared with a metadata key is read as JSON when it is a JSON string, number,
// true, false or null, and as a plain string otherwise. It returns an ErrInvalid naming the
// parameter at fault, for an unknown parameter too; the Service checks the rest (fields,
// operators, value types, bounds).
func parseQuery(v url.Values) (users.Query, error) {
	var q users.Query
	for _, name := range slices.Sorted(maps.Keys(v)) {
		repeatable, known := queryParams[name]
		switch {
		case !known:
			return q, invalid(name, "is not a parameter of this request")
		case !repeatable && len(v[name]) > 1:
			return q, invalid(name, "must be given once")
		}
	}
	var err error
	if q.Conditions, err = conditions(v); err != nil {
		return q, err
	}
	if q.Sort, err = sortKeys(v["sort"]); err != nil {
		return q, err
	}
	switch strings.ToUpper(v.Get("lop")) {
	case "", "AND":
	case "OR":
		q.Or = true
	default:
		return q, invalid("lop", "must be AND or OR")
	}
	if q.Limit, q.Offset, err = paging(v); err != nil {
		return q, err
	}
	q.Pattern = v.Get("pattern")
	return q, nil
}

// conditions reads the conditions of both filter forms, Appmixer's first.
func conditions(v url.Values) ([]users.Condition, error) {
	fs, ops, values := v["field"], v["op"], v["value"]
	if len(ops) != len(fs) || len(values) != len(fs) {
		return nil, invalid("field", "field, op and value must be given together, once for each condition")
	}
	if len(v["filter"])+len(fs) > MaxConditions {
		return nil, invalid("filter", "has more than "+strconv.Itoa(MaxConditions)+" conditions")
	}
	var out []users.Condition
	for _, f := range v["filter"] {
		field, value, ok := strings.Cut(f, ":")
		if !ok || field == "" {
			return nil, invalid("filter", "must be field:value")
		}
		out = append(out, users.Condition{Field: field, Op: users.OpEq, Value: conditionValue(field, value)})
	}
	for i, field := range fs {
		c, err := condition(field, ops[i], values[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// condition reads one condition of Axway's form.
func condition(field, op, value string) (users.Condition, error) {
	if op != "gete" && op != string(users.OpBetween) {
		return users.Condition{Field: field, Op: users.Op(op), Value: conditionValue(field, value)}, nil
	}
	low, high, ok := strings.Cut(value, ",")
	if !ok {
		return users.Condition{}, invalid("value", "must be low,high for "+op)
	}
	return users.Condition{Field: field, Op: users.OpBetween, Value: conditionValue(field, low), To: conditionValue(field, high)}, nil
}

// conditionValue returns a query-string value as a condition on field takes it: a metadata
// key's value as the JSON scalar it spells, if it spells one; any other as the string.
func conditionValue(field, s string) any {
	if kind, _ := users.FieldKindOf(field); kind != users.KindMetadata {
		return s
	}
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	switch v.(type) {
	case string, float64, bool, nil:
		return v
	}
	return s
}

// sortKeys reads sort parameters: comma-separated field:1 or field:-1 keys.
func sortKeys(params []string) ([]users.Sort, error) {
	var out []users.Sort
	for _, p := range params {
		for key := range strings.SplitSeq(p, ",") {
			field, dir, _ := strings.Cut(key, ":")
			if field == "" || (dir != "" && dir != "1" && dir != "-1") {
				return nil, invalid("sort", "must be field:1 or field:-1, comma-separated")
			}
			if len(out) == MaxSortKeys {
				return nil, invalid("sort", "has more than "+strconv.Itoa(MaxSortKeys)+" keys")
			}
			out = append(out, users.Sort{Field: field, Desc: dir == "-1"})
		}
	}
	return out, nil
}

// paging reads limit and offset, or page and pageSize, into a limit and an offset.
func paging(v url.Values) (limit, offset int, err error) {
	if !v.Has("page") && !v.Has("pageSize") {
		if limit, err = intParam(v, "limit"); err != nil {
			return 0, 0, err
		}
		offset, err = intParam(v, "offset")
		return limit, offset, err
	}
	for _, name := range []string{"limit", "offset"} {
		if v.Has(name) {
			return 0, 0, invalid(name, "cannot be combined with page and pageSize")
		}
	}
	page, size := 1, users.DefaultLimit
	if v.Has("page") {
		if page, err = intParam(v, "page"); err != nil {
			return 0, 0, err
		}
	}
	if v.Has("pageSize") {
		if size, err = intParam(v, "pageSize"); err != nil {
			return 0, 0, err
		}
	}
	switch {
	case size < 1 || size > users.MaxLimit:
		return 0, 0, invalid("pageSize", "must be between 1 and "+strconv.Itoa(users.MaxLimit))
	case page < 1:
		return 0, 0, invalid("page", "must be 1 or more")
	case page-1 > math.MaxInt32/size:
		return 0, 0, invalid("page", "is too large")
	}
	return size, (page - 1) * size, nil
}

// intParam reads an optional integer parameter; absent is 0.
func intParam(v url.Values, name string) (int, error) {
	s := v.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, invalid(name, "must be an integer")
	}
	return n, nil
}
