package users

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Op is a comparison operator of a Condition.
type Op string

// The operators. ne is always the negation of eq: it matches exactly the users eq does not.
const (
	OpEq      Op = "eq"      // equal; for a list field: the list contains the value
	OpNe      Op = "ne"      // not eq
	OpGt      Op = "gt"      // greater than
	OpLt      Op = "lt"      // less than
	OpGe      Op = "ge"      // greater than or equal
	OpLe      Op = "le"      // less than or equal
	OpLike    Op = "like"    // SQL LIKE pattern, case-insensitive; for a list field: some entry matches
	OpBetween Op = "between" // Value <= field <= To
)

// Query limits.
const (
	DefaultLimit = 30
	MaxLimit     = 1000
)

// Bounds of a query's values, which keep the cost of answering any query bounded. Query.Normalize
// refuses, with ErrInvalid, a query that exceeds one.
const (
	MaxPatternRunes = 256  // characters in a like value, and in Query.Pattern
	MaxValueBytes   = 1024 // bytes in a text value of a condition (Value, To), and in a metadata key
)

// MetadataPrefix starts a condition field naming a top-level metadata key: "metadata.plan"
// compares the value of the key "plan" (taken literally, dots and all, after the prefix).
const MetadataPrefix = "metadata."

// Condition compares one field of a user with a value.
//
// Fields and their kinds:
//
//	id, name, plan, status, orgId   text, compared byte-wise as stored
//	username, email                 text, compared in folded form (see Fold): case-insensitive
//	scope, vendor                   lists of text: eq, ne and like only
//	emailVerified                   bool: eq and ne only
//	created, updated                time
//	metadata.<key>                  a JSON value of the top-level key
//
// Values: text fields take a string; emailVerified a bool or "true"/"false"; time fields a
// time.Time or an RFC 3339 string (compared to the microsecond); metadata a string, a number
// (any Go integer or float kind, compared as float64), a bool (eq/ne only) or nil (eq/ne only:
// eq nil matches a missing key or JSON null). A metadata condition matches only a stored value
// of the same JSON type; a stored object or array matches nothing but ne.
//
// like takes a pattern in which % matches any run of characters, _ any one character, and \
// escapes the next character; the whole value must match, case-insensitively (see Fold).
// between takes the lower bound in Value and the upper in To, both inclusive.
//
// Bounds: a like pattern is at most MaxPatternRunes (256) characters; any text value, and a
// metadata key, at most MaxValueBytes (1,024) bytes; no value or key holds a NUL character.
// Beyond them a condition is ErrInvalid, so that no query costs more than a bounded amount of
// work per user (a like is matched in time linear in the stored value's length).
type Condition struct {
	Field string `json:"field"`
	Op    Op     `json:"op"`
	Value any    `json:"value"`
	To    any    `json:"to,omitempty"`
}

// Sort orders a query's results by one field. Sortable fields are id, username, email
// (folded), name, plan, status, orgId (byte-wise), emailVerified (false first), created and
// updated.
type Sort struct {
	Field string `json:"field"`
	Desc  bool   `json:"desc,omitempty"`
}

// Query selects, orders and pages users. It is defined here once, and every Store answers it
// identically (storetest checks this):
//
//   - Conditions are joined with AND, or with OR when Or is set; no conditions select everyone.
//   - Pattern, when not empty, further requires that the folded username, e-mail or name
//     contains the folded pattern as a plain substring (no wildcards).
//   - Sort orders by each key in turn; ties are always broken by id ascending, so paging is
//     stable. With no Sort the order is by id (for IDs from the Service, creation order).
//   - Limit is the page size: 0 means DefaultLimit, at most MaxLimit. Offset skips results.
//
// Unknown fields and operators, operators a field does not support, and values of the wrong
// type are ErrInvalid, never ignored; so are values beyond the bounds that keep a query's cost
// bounded: Pattern longer than MaxPatternRunes (256) characters or holding a NUL, and the
// condition values Condition describes.
type Query struct {
	Conditions []Condition `json:"conditions,omitempty"`
	Or         bool        `json:"or,omitempty"`
	Pattern    string      `json:"pattern,omitempty"`
	Sort       []Sort      `json:"sort,omitempty"`
	Limit      int         `json:"limit,omitempty"`
	Offset     int         `json:"offset,omitempty"`
}

// FieldKind is the kind of value a query field holds.
type FieldKind int

// The field kinds.
const (
	KindText     FieldKind = iota + 1 // compared byte-wise
	KindFolded                        // text compared in folded form: username, email
	KindList                          // a list of text: scope, vendor
	KindBool                          // emailVerified
	KindTime                          // created, updated
	KindMetadata                      // metadata.<key>
)

var fieldKinds = map[string]FieldKind{
	"id": KindText, "name": KindText, "plan": KindText, "status": KindText, "orgId": KindText,
	"username": KindFolded, "email": KindFolded,
	"scope": KindList, "vendor": KindList,
	"emailVerified": KindBool,
	"created":       KindTime, "updated": KindTime,
}

// FieldKindOf returns the kind of a query field, and false for a field queries do not know.
func FieldKindOf(field string) (FieldKind, bool) {
	if k, ok := fieldKinds[field]; ok {
		return k, true
	}
	if strings.HasPrefix(field, MetadataPrefix) && len(field) > len(MetadataPrefix) {
		return KindMetadata, true
	}
	return 0, false
}

// Normalize validates q and returns it in canonical form, which Match, Compare and the Stores
// rely on: Limit defaulted, every Value converted to its field's canonical type (string, bool,
// time.Time in UTC truncated to the microsecond, float64 or nil), folded fields' values folded,
// and an id sort key appended unless one is present. It returns an ErrInvalid *Error naming the
// fault.
func (q Query) Normalize() (Query, error) {
	switch {
	case q.Limit < 0 || q.Limit > MaxLimit:
		return q, invalid("limit", "must be between 1 and %d", MaxLimit)
	case q.Offset < 0:
		return q, invalid("offset", "must not be negative")
	case len(q.Pattern) > MaxValueBytes || utf8.RuneCountInString(q.Pattern) > MaxPatternRunes:
		return q, invalid("pattern", "is longer than %d characters", MaxPatternRunes)
	case !utf8.ValidString(q.Pattern):
		return q, invalid("pattern", "must be valid UTF-8")
	case strings.IndexByte(q.Pattern, 0) >= 0:
		return q, invalid("pattern", "must not hold a NUL character")
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	q.Pattern = Fold(q.Pattern)
	conds := make([]Condition, len(q.Conditions))
	for i, c := range q.Conditions {
		var err error
		if conds[i], err = normalizeCondition(c); err != nil {
			return q, err
		}
	}
	q.Conditions = conds
	sorts := make([]Sort, 0, len(q.Sort)+1)
	hasID := false
	for _, s := range q.Sort {
		k, ok := fieldKinds[s.Field]
		if !ok || k == KindList {
			return q, invalid("sort", "cannot sort by %q", s.Field)
		}
		hasID = hasID || s.Field == "id"
		sorts = append(sorts, s)
	}
	if !hasID {
		sorts = append(sorts, Sort{Field: "id"})
	}
	q.Sort = sorts
	return q, nil
}

func normalizeCondition(c Condition) (Condition, error) {
	// The bounds are checked before any work in proportion to a value's length; a field name
	// out of them is not repeated in the message.
	if len(c.Field) > len(MetadataPrefix)+MaxValueBytes {
		return c, invalid("filter", "a field name is too long: a metadata key is at most %d bytes", MaxValueBytes)
	}
	if strings.IndexByte(c.Field, 0) >= 0 {
		return c, invalid("filter", "a field name must not hold a NUL character")
	}
	kind, ok := FieldKindOf(c.Field)
	if !ok {
		return c, invalid("filter", "unknown field %q", c.Field)
	}
	switch c.Op {
	case OpEq, OpNe, OpGt, OpLt, OpGe, OpLe, OpLike, OpBetween:
	default:
		return c, invalid("filter", "unknown operator %q", c.Op)
	}
	if err := checkValue(c, c.Value, "value"); err != nil {
		return c, err
	}
	if c.Op == OpBetween {
		if err := checkValue(c, c.To, "upper bound"); err != nil {
			return c, err
		}
	}
	bad := func() (Condition, error) {
		return c, invalid("filter", "operator %s does not apply to %s", c.Op, c.Field)
	}
	if c.Op == OpLike {
		s, ok := c.Value.(string)
		if !ok || kind == KindBool || kind == KindTime {
			return bad()
		}
		c.Value, c.To = Fold(s), nil
		return c, nil
	}
	switch kind {
	case KindList:
		if c.Op != OpEq && c.Op != OpNe {
			return bad()
		}
	case KindBool:
		if c.Op != OpEq && c.Op != OpNe {
			return bad()
		}
	}
	conv := func(v any) (any, error) {
		switch kind {
		case KindText, KindFolded, KindList:
			s, ok := v.(string)
			if !ok {
				return nil, invalid("filter", "%s takes a string", c.Field)
			}
			if kind == KindFolded {
				s = Fold(s)
			}
			return s, nil
		case KindBool:
			switch v := v.(type) {
			case bool:
				return v, nil
			case string:
				if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
					return b, nil
				}
			}
			return nil, invalid("filter", "%s takes true or false", c.Field)
		case KindTime:
			switch v := v.(type) {
			case time.Time:
				return canonicalTime(v), nil
			case string:
				if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
					return canonicalTime(t), nil
				}
			}
			return nil, invalid("filter", "%s takes an RFC 3339 time", c.Field)
		default: // KindMetadata
			return metadataValue(c.Field, c.Op, v)
		}
	}
	var err error
	if c.Value, err = conv(c.Value); err != nil {
		return c, err
	}
	if c.Op == OpBetween {
		if c.To, err = conv(c.To); err != nil {
			return c, err
		}
		if fmt.Sprintf("%T", c.Value) != fmt.Sprintf("%T", c.To) {
			return c, invalid("filter", "between takes two values of one type")
		}
	} else {
		c.To = nil
	}
	return c, nil
}

// checkValue returns an ErrInvalid naming c's field when v, c's value or upper bound (what),
// is text beyond the bounds: longer than MaxValueBytes, or, for a like pattern, than
// MaxPatternRunes characters, or holding a NUL.
func checkValue(c Condition, v any, what string) error {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = string(v)
	default:
		return nil
	}
	switch {
	case c.Op == OpLike && (len(s) > MaxValueBytes || utf8.RuneCountInString(s) > MaxPatternRunes):
		return invalid("filter", "the like pattern for %s is longer than %d characters", c.Field, MaxPatternRunes)
	case len(s) > MaxValueBytes:
		return invalid("filter", "the %s for %s is longer than %d bytes", what, c.Field, MaxValueBytes)
	case strings.IndexByte(s, 0) >= 0:
		return invalid("filter", "the %s for %s must not hold a NUL character", what, c.Field)
	}
	return nil
}

func metadataValue(field string, op Op, v any) (any, error) {
	var f float64
	switch v := v.(type) {
	case nil, bool:
		if op != OpEq && op != OpNe {
			return nil, invalid("filter", "operator %s does not apply to %v on %s", op, v, field)
		}
		return v, nil
	case string:
		return v, nil
	case json.Number:
		var err error
		if f, err = v.Float64(); err != nil {
			return nil, invalid("filter", "%s takes a finite number", field)
		}
	default:
		// Any Go integer or float kind is compared as the float64 JSON decodes numbers into.
		switch rv := reflect.ValueOf(v); {
		case rv.CanInt():
			f = float64(rv.Int())
		case rv.CanUint():
			f = float64(rv.Uint())
		case rv.CanFloat():
			f = rv.Float()
		default:
			return nil, invalid("filter", "%s takes a string, number, bool or null", field)
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, invalid("filter", "%s takes a finite number", field)
	}
	return f, nil
}

// CanonicalTime returns t as every Store keeps it: in UTC, truncated to the microsecond,
// without a monotonic clock reading. The zero time stays the zero time.
func CanonicalTime(t time.Time) time.Time { return canonicalTime(t) }

func canonicalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Match reports whether u satisfies q's conditions and pattern. q must be normalized.
func (q *Query) Match(u *User) bool {
	if q.Pattern != "" && !strings.Contains(Fold(u.Username), q.Pattern) &&
		!strings.Contains(Fold(u.Email), q.Pattern) && !strings.Contains(Fold(u.Name), q.Pattern) {
		return false
	}
	if len(q.Conditions) == 0 {
		return true
	}
	for i := range q.Conditions {
		if q.Conditions[i].Match(u) == q.Or {
			return q.Or
		}
	}
	return !q.Or
}

// Match reports whether u satisfies the condition. c must be normalized (see Query.Normalize).
func (c *Condition) Match(u *User) bool {
	if c.Op == OpNe {
		eq := *c
		eq.Op = OpEq
		return !eq.Match(u)
	}
	kind, _ := FieldKindOf(c.Field)
	switch kind {
	case KindList:
		list := u.Scope
		if c.Field == "vendor" {
			list = u.Vendor
		}
		for _, s := range list {
			if c.Op == OpLike && Like(Fold(s), c.Value.(string)) || c.Op == OpEq && s == c.Value {
				return true
			}
		}
		return false
	case KindMetadata:
		v, ok := u.Metadata[c.Field[len(MetadataPrefix):]]
		if c.Value == nil {
			return !ok || v == nil
		}
		switch v := v.(type) {
		case string:
			if c.Op == OpLike {
				return Like(Fold(v), c.Value.(string))
			}
			return compareOp(c, v, strings.Compare)
		case float64:
			return compareOp(c, v, cmp.Compare[float64])
		case bool:
			return c.Value == v
		}
		return false
	}
	switch kind {
	case KindBool:
		return c.Value == u.EmailVerified
	case KindTime:
		return compareOp(c, timeField(u, c.Field), time.Time.Compare)
	}
	v := textField(u, c.Field)
	if c.Op == OpLike {
		if kind == KindText {
			v = Fold(v)
		}
		return Like(v, c.Value.(string))
	}
	return compareOp(c, v, strings.Compare)
}

// compareOp applies c's operator to the stored value v; a condition value of another type
// never matches.
func compareOp[T any](c *Condition, v T, compare func(a, b T) int) bool {
	want, ok := c.Value.(T)
	if !ok {
		return false
	}
	r := compare(v, want)
	switch c.Op {
	case OpEq:
		return r == 0
	case OpGt:
		return r > 0
	case OpLt:
		return r < 0
	case OpGe:
		return r >= 0
	case OpLe:
		return r <= 0
	case OpBetween:
		to, ok := c.To.(T)
		return ok && r >= 0 && compare(v, to) <= 0
	}
	return false
}

// textField returns a text field's value as queries compare it: username and email folded.
func textField(u *User, field string) string {
	switch field {
	case "id":
		return u.ID
	case "username":
		return Fold(u.Username)
	case "email":
		return Fold(u.Email)
	case "name":
		return u.Name
	case "plan":
		return u.Plan
	case "status":
		return string(u.Status)
	case "orgId":
		return u.OrgID
	}
	return ""
}

// timeField returns a time field's value in canonical form.
func timeField(u *User, field string) time.Time {
	if field == "updated" {
		return canonicalTime(u.Updated)
	}
	return canonicalTime(u.Created)
}

// Compare orders a and b by q's sort keys: negative when a comes first. q must be normalized,
// so that ties end at the id key.
func (q *Query) Compare(a, b *User) int {
	for _, s := range q.Sort {
		var r int
		switch fieldKinds[s.Field] {
		case KindBool:
			r = cmp.Compare(boolInt(a.EmailVerified), boolInt(b.EmailVerified))
		case KindTime:
			r = timeField(a, s.Field).Compare(timeField(b, s.Field))
		default:
			r = strings.Compare(textField(a, s.Field), textField(b, s.Field))
		}
		if s.Desc {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
