package storetest

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expected results below are written out by hand from this population, never computed with
// users.Query.Match: a store that answers like Match would otherwise pass by construction.
// dN is day(N), N days after epoch; every user has the password hash "hash of <id>".
//
//	id  username             email                   name              scope                vendor          plan        status   orgId verified created updated
//	u01 Alice@Example.com    alice@example.com       Alice Liddell     user                 acme            free        active   org-a T        d05     d20
//	u02 bob@example.com      Bob.Builder@Work.io     Bob Builder       user admin           acme globex     pro         active   org-a T        d01     d02
//	u03 carol@example.org    (none)                  Carol             user                 -               free        pending  org-b F        d09     d09
//	u04 DAVE@EXAMPLE.COM     dave@example.com        dave              admin                Initech         enterprise  disabled -     F        d02     d15
//	u05 eve_1@example.com    eve_1@example.com       Eve 100%          user billing         acme            pro         active   org-c T        d07     d07
//	u06 eve11@example.com    eve11@example.com       Eve Eleven        user                 globex          free        active   org-c F        d07     d08
//	u07 frank@Example.NET    frank@example.net       Frank_O'Hara      user                 -               (none)      active   org-b T        d11     d12
//	u08 grace@example.com    grace@corp.example.com  Grace Hopper      user admin           acme            enterprise  active   org-a T        d04     d05
//	u09 heidi@example.com    heidi@example.com       heidi             guest                Globex          free        pending  -     F        d08     d18
//	u10 ivan@example.com     ivan@example.com        Ivan \ Backslash  user                 initech acme    pro         disabled org-b T        d06     d06
//	u11 judy@example.com     judy@example.com        Judy              user                 -               free        active   org-a F        d10     d11
//	u12 Mallory@Example.com  mallory@example.com     Mallory           user admin billing   umbrella        pro         active   org-c T        d12     d14
//
// Metadata (top-level keys; "-" is a missing key):
//
//	id  tier        score   beta     note   other
//	u01 "gold"      10      true     -
//	u02 "silver"    2.5     false    null
//	u03 -           "10"    -        -      profile {age: 30}
//	u04 "Gold"      -3      -        -      "a.b": "dot"
//	u05 "bronze"    0       "true"   -      list [1, 2]
//	u06 -           100     -        "n/a"
//	u07 (no metadata at all)
//	u08 "gold"      10      true     null
//	u09 ""          1e6     -        -
//	u10 "silver"    -       false    -
//	u11 null        7       -        -
//	u12 "platinum"  10      -        -      profile {tier: "gold"}
func population() []*users.User {
	type obj = map[string]any
	user := func(id, username, email, name string, scope, vendor []string, plan string, status users.Status,
		org string, verified bool, created, updated int, meta obj) *users.User {
		return &users.User{
			ID: id, Username: username, Email: email, Name: name, Scope: scope, Vendor: vendor, Plan: plan,
			Status: status, OrgID: org, EmailVerified: verified, Created: day(created), Updated: day(updated),
			Metadata: meta, PasswordHash: "hash of " + id,
		}
	}
	const active, pending, disabled = users.StatusActive, users.StatusPending, users.StatusDisabled
	l := func(s ...string) []string { return s }
	return []*users.User{
		user("u01", "Alice@Example.com", "alice@example.com", "Alice Liddell", l("user"), l("acme"), "free", active, "org-a", true, 5, 20,
			obj{"tier": "gold", "score": 10.0, "beta": true}),
		user("u02", "bob@example.com", "Bob.Builder@Work.io", "Bob Builder", l("user", "admin"), l("acme", "globex"), "pro", active, "org-a", true, 1, 2,
			obj{"tier": "silver", "score": 2.5, "beta": false, "note": nil}),
		user("u03", "carol@example.org", "", "Carol", l("user"), nil, "free", pending, "org-b", false, 9, 9,
			obj{"score": "10", "profile": obj{"age": 30.0}}),
		user("u04", "DAVE@EXAMPLE.COM", "dave@example.com", "dave", l("admin"), l("Initech"), "enterprise", disabled, "", false, 2, 15,
			obj{"tier": "Gold", "score": -3.0, "a.b": "dot"}),
		user("u05", "eve_1@example.com", "eve_1@example.com", "Eve 100%", l("user", "billing"), l("acme"), "pro", active, "org-c", true, 7, 7,
			obj{"tier": "bronze", "score": 0.0, "beta": "true", "list": []any{1.0, 2.0}}),
		user("u06", "eve11@example.com", "eve11@example.com", "Eve Eleven", l("user"), l("globex"), "free", active, "org-c", false, 7, 8,
			obj{"score": 100.0, "note": "n/a"}),
		user("u07", "frank@Example.NET", "frank@example.net", "Frank_O'Hara", l("user"), nil, "", active, "org-b", true, 11, 12,
			nil),
		user("u08", "grace@example.com", "grace@corp.example.com", "Grace Hopper", l("user", "admin"), l("acme"), "enterprise", active, "org-a", true, 4, 5,
			obj{"tier": "gold", "score": 10.0, "beta": true, "note": nil}),
		user("u09", "heidi@example.com", "heidi@example.com", "heidi", l("guest"), l("Globex"), "free", pending, "", false, 8, 18,
			obj{"tier": "", "score": 1e6}),
		user("u10", "ivan@example.com", "ivan@example.com", `Ivan \ Backslash`, l("user"), l("initech", "acme"), "pro", disabled, "org-b", true, 6, 6,
			obj{"tier": "silver", "beta": false}),
		user("u11", "judy@example.com", "judy@example.com", "Judy", l("user"), nil, "free", active, "org-a", false, 10, 11,
			obj{"tier": nil, "score": 7.0}),
		user("u12", "Mallory@Example.com", "mallory@example.com", "Mallory", l("user", "admin", "billing"), l("umbrella"), "pro", active, "org-c", true, 12, 14,
			obj{"tier": "platinum", "score": 10.0, "profile": obj{"tier": "gold"}}),
	}
}

// allIDs is every user of the population, in id order.
var allIDs = []string{"u01", "u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09", "u10", "u11", "u12"}

// cond returns a condition; between takes the upper bound as a fourth argument.
func cond(field string, op users.Op, value any, to ...any) users.Condition {
	c := users.Condition{Field: field, Op: op, Value: value}
	if len(to) > 0 {
		c.To = to[0]
	}
	return c
}

// where returns a query joining conds with AND.
func where(conds ...users.Condition) users.Query { return users.Query{Conditions: conds} }

// whereAny returns a query joining conds with OR.
func whereAny(conds ...users.Condition) users.Query { return users.Query{Conditions: conds, Or: true} }

// queryCase is a query and the IDs it selects, in order, written out by hand.
type queryCase struct {
	name string
	q    users.Query
	want []string
}

const (
	eq, ne, gt, lt, ge, le = users.OpEq, users.OpNe, users.OpGt, users.OpLt, users.OpGe, users.OpLe
	like, between          = users.OpLike, users.OpBetween
)

var filterCases = []queryCase{
	{"no conditions", users.Query{}, allIDs},
	{"no conditions with or", users.Query{Or: true}, allIDs},

	// id: text, byte-wise.
	{"id eq", where(cond("id", eq, "u03")), []string{"u03"}},
	{"id eq is exact", where(cond("id", eq, "U03")), []string{}},
	{"id ne", where(cond("id", ne, "u03")), []string{"u01", "u02", "u04", "u05", "u06", "u07", "u08", "u09", "u10", "u11", "u12"}},
	{"id gt", where(cond("id", gt, "u10")), []string{"u11", "u12"}},
	{"id lt", where(cond("id", lt, "u03")), []string{"u01", "u02"}},
	{"id ge", where(cond("id", ge, "u11")), []string{"u11", "u12"}},
	{"id le", where(cond("id", le, "u02")), []string{"u01", "u02"}},
	{"id between is inclusive", where(cond("id", between, "u04", "u06")), []string{"u04", "u05", "u06"}},
	{"id like _", where(cond("id", like, "u1_")), []string{"u10", "u11", "u12"}},
	{"id like ignores case", where(cond("id", like, "U0%")), []string{"u01", "u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09"}},

	// username: folded.
	{"username eq folds the value", where(cond("username", eq, "ALICE@example.COM")), []string{"u01"}},
	{"username eq folds the stored name", where(cond("username", eq, "dave@example.com")), []string{"u04"}},
	{"username ne", where(cond("username", ne, "Alice@Example.com")), []string{"u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09", "u10", "u11", "u12"}},
	{"username gt", where(cond("username", gt, "judy@example.com")), []string{"u12"}},
	{"username lt folds the value", where(cond("username", lt, "Carol")), []string{"u01", "u02"}},
	{"username between folded", where(cond("username", between, "B", "D")), []string{"u02", "u03"}},
	{"username like _", where(cond("username", like, "eve_1%")), []string{"u05", "u06"}},
	{"username like escaped _", where(cond("username", like, `eve\_1%`)), []string{"u05"}},
	{"username like % ignores case", where(cond("username", like, "%@EXAMPLE.COM")), []string{"u01", "u02", "u04", "u05", "u06", "u08", "u09", "u10", "u11", "u12"}},
	{"username like matches the whole value", where(cond("username", like, "alice")), []string{}},

	// email: folded; one user has none.
	{"email eq folds", where(cond("email", eq, "BOB.BUILDER@work.io")), []string{"u02"}},
	{"email eq empty", where(cond("email", eq, "")), []string{"u03"}},
	{"email ne empty", where(cond("email", ne, "")), []string{"u01", "u02", "u04", "u05", "u06", "u07", "u08", "u09", "u10", "u11", "u12"}},
	{"email gt", where(cond("email", gt, "j")), []string{"u11", "u12"}},
	{"email like", where(cond("email", like, "%example.com")), []string{"u01", "u04", "u05", "u06", "u08", "u09", "u10", "u11", "u12"}},

	// name: text, byte-wise, but like ignores case.
	{"name eq", where(cond("name", eq, "Carol")), []string{"u03"}},
	{"name eq is byte-wise", where(cond("name", eq, "carol")), []string{}},
	{"name eq lower-case name", where(cond("name", eq, "heidi")), []string{"u09"}},
	{"name ne", where(cond("name", ne, "Carol")), []string{"u01", "u02", "u04", "u05", "u06", "u07", "u08", "u09", "u10", "u11", "u12"}},
	{"name lt is byte-wise", where(cond("name", lt, "a")), []string{"u01", "u02", "u03", "u05", "u06", "u07", "u08", "u10", "u11", "u12"}},
	{"name ge is byte-wise", where(cond("name", ge, "a")), []string{"u04", "u09"}},
	{"name between is byte-wise", where(cond("name", between, "B", "D")), []string{"u02", "u03"}},
	{"name like ignores case", where(cond("name", like, "%E%")), []string{"u01", "u02", "u04", "u05", "u06", "u08", "u09"}},
	{"name like prefix", where(cond("name", like, "eve%")), []string{"u05", "u06"}},
	{"name like escaped %", where(cond("name", like, `eve%\%`)), []string{"u05"}},
	{"name like escaped backslash", where(cond("name", like, `%\\%`)), []string{"u10"}},
	{"name like escaped _", where(cond("name", like, `frank\_o'hara`)), []string{"u07"}},
	{"name like _ matches any one character", where(cond("name", like, "frank_o_hara")), []string{"u07"}},
	{"name like _ matches exactly one", where(cond("name", like, "judy_")), []string{}},
	{"name eq with % is literal", where(cond("name", eq, "Eve 100%")), []string{"u05"}},
	{"name eq has no wildcards", where(cond("name", eq, "Eve%")), []string{}},

	// plan, status, orgId: text.
	{"plan eq", where(cond("plan", eq, "pro")), []string{"u02", "u05", "u10", "u12"}},
	{"plan eq empty", where(cond("plan", eq, "")), []string{"u07"}},
	{"plan ne", where(cond("plan", ne, "free")), []string{"u02", "u04", "u05", "u07", "u08", "u10", "u12"}},
	{"plan like ignores case", where(cond("plan", like, "PRO")), []string{"u02", "u05", "u10", "u12"}},
	{"plan gt", where(cond("plan", gt, "free")), []string{"u02", "u05", "u10", "u12"}},
	{"plan le", where(cond("plan", le, "enterprise")), []string{"u04", "u07", "u08"}},
	{"status eq", where(cond("status", eq, "pending")), []string{"u03", "u09"}},
	{"status ne", where(cond("status", ne, "active")), []string{"u03", "u04", "u09", "u10"}},
	{"status like", where(cond("status", like, "%ed")), []string{"u04", "u10"}},
	{"status between", where(cond("status", between, "active", "disabled")), []string{"u01", "u02", "u04", "u05", "u06", "u07", "u08", "u10", "u11", "u12"}},
	{"orgId eq", where(cond("orgId", eq, "org-a")), []string{"u01", "u02", "u08", "u11"}},
	{"orgId eq empty", where(cond("orgId", eq, "")), []string{"u04", "u09"}},
	{"orgId ne", where(cond("orgId", ne, "org-b")), []string{"u01", "u02", "u04", "u05", "u06", "u08", "u09", "u11", "u12"}},
	{"orgId like _", where(cond("orgId", like, "org-_")), []string{"u01", "u02", "u03", "u05", "u06", "u07", "u08", "u10", "u11", "u12"}},
	{"orgId ge", where(cond("orgId", ge, "org-b")), []string{"u03", "u05", "u06", "u07", "u10", "u12"}},

	// scope, vendor: lists; eq is contains, ne is not contains, like is any entry.
	{"scope eq contains", where(cond("scope", eq, "admin")), []string{"u02", "u04", "u08", "u12"}},
	{"scope eq user", where(cond("scope", eq, "user")), []string{"u01", "u02", "u03", "u05", "u06", "u07", "u08", "u10", "u11", "u12"}},
	{"scope eq is byte-wise", where(cond("scope", eq, "Admin")), []string{}},
	{"scope ne does not contain", where(cond("scope", ne, "admin")), []string{"u01", "u03", "u05", "u06", "u07", "u09", "u10", "u11"}},
	{"scope like any entry, ignoring case", where(cond("scope", like, "ADM%")), []string{"u02", "u04", "u08", "u12"}},
	{"scope like inner", where(cond("scope", like, "%i%")), []string{"u02", "u04", "u05", "u08", "u12"}},
	{"scope eq billing", where(cond("scope", eq, "billing")), []string{"u05", "u12"}},
	{"vendor eq contains", where(cond("vendor", eq, "acme")), []string{"u01", "u02", "u05", "u08", "u10"}},
	{"vendor eq is byte-wise", where(cond("vendor", eq, "globex")), []string{"u02", "u06"}},
	{"vendor ne matches empty lists", where(cond("vendor", ne, "acme")), []string{"u03", "u04", "u06", "u07", "u09", "u11", "u12"}},
	{"vendor like ignores case", where(cond("vendor", like, "globex")), []string{"u02", "u06", "u09"}},
	{"vendor like suffix", where(cond("vendor", like, "%tech")), []string{"u04", "u10"}},

	// emailVerified: bool.
	{"emailVerified eq true", where(cond("emailVerified", eq, true)), []string{"u01", "u02", "u05", "u07", "u08", "u10", "u12"}},
	{"emailVerified eq \"false\"", where(cond("emailVerified", eq, "false")), []string{"u03", "u04", "u06", "u09", "u11"}},
	{"emailVerified ne true", where(cond("emailVerified", ne, true)), []string{"u03", "u04", "u06", "u09", "u11"}},
	{"emailVerified ne \"false\"", where(cond("emailVerified", ne, "false")), []string{"u01", "u02", "u05", "u07", "u08", "u10", "u12"}},

	// created, updated: times, to the microsecond.
	{"created eq", where(cond("created", eq, day(7))), []string{"u05", "u06"}},
	{"created eq RFC 3339", where(cond("created", eq, "2024-01-08T00:00:00.123456Z")), []string{"u05", "u06"}},
	{"created eq RFC 3339 with offset", where(cond("created", eq, "2024-01-08T02:00:00.123456+02:00")), []string{"u05", "u06"}},
	{"created eq in another zone", where(cond("created", eq, day(7).In(time.FixedZone("UTC+2", 2*3600)))), []string{"u05", "u06"}},
	{"created eq truncates to the microsecond", where(cond("created", eq, day(7).Add(999*time.Nanosecond))), []string{"u05", "u06"}},
	{"created eq a microsecond off", where(cond("created", eq, day(7).Add(time.Microsecond))), []string{}},
	{"created ne", where(cond("created", ne, day(7))), []string{"u01", "u02", "u03", "u04", "u07", "u08", "u09", "u10", "u11", "u12"}},
	{"created gt", where(cond("created", gt, day(9))), []string{"u07", "u11", "u12"}},
	{"created lt", where(cond("created", lt, day(4))), []string{"u02", "u04"}},
	{"created ge", where(cond("created", ge, day(9))), []string{"u03", "u07", "u11", "u12"}},
	{"created le", where(cond("created", le, day(2))), []string{"u02", "u04"}},
	{"created between is inclusive", where(cond("created", between, day(4), day(6))), []string{"u01", "u08", "u10"}},
	{"created between RFC 3339", where(cond("created", between, "2024-01-05T00:00:00.123456Z", "2024-01-07T00:00:00.123456Z")), []string{"u01", "u08", "u10"}},
	{"updated ge", where(cond("updated", ge, day(14))), []string{"u01", "u04", "u09", "u12"}},
	{"updated between", where(cond("updated", between, day(6), day(9))), []string{"u03", "u05", "u06", "u10"}},

	// metadata: typed; strings, numbers and bools match only their own JSON type.
	{"metadata string eq", where(cond("metadata.tier", eq, "gold")), []string{"u01", "u08"}},
	{"metadata string eq empty", where(cond("metadata.tier", eq, "")), []string{"u09"}},
	{"metadata string like ignores case", where(cond("metadata.tier", like, "gold")), []string{"u01", "u04", "u08"}},
	{"metadata string like inner", where(cond("metadata.tier", like, "%L%")), []string{"u01", "u02", "u04", "u08", "u10", "u12"}},
	{"metadata string ne matches missing and null", where(cond("metadata.tier", ne, "gold")), []string{"u02", "u03", "u04", "u05", "u06", "u07", "u09", "u10", "u11", "u12"}},
	{"metadata string gt", where(cond("metadata.tier", gt, "gold")), []string{"u02", "u10", "u12"}},
	{"metadata string between", where(cond("metadata.tier", between, "a", "h")), []string{"u01", "u05", "u08"}},
	{"metadata eq nil matches missing and null", where(cond("metadata.tier", eq, nil)), []string{"u03", "u06", "u07", "u11"}},
	{"metadata ne nil", where(cond("metadata.tier", ne, nil)), []string{"u01", "u02", "u04", "u05", "u08", "u09", "u10", "u12"}},
	{"metadata number eq int", where(cond("metadata.score", eq, 10)), []string{"u01", "u08", "u12"}},
	{"metadata number eq int64", where(cond("metadata.score", eq, int64(1000000))), []string{"u09"}},
	{"metadata number eq float", where(cond("metadata.score", eq, 2.5)), []string{"u02"}},
	{"metadata string does not match a number", where(cond("metadata.score", eq, "10")), []string{"u03"}},
	{"metadata number ne", where(cond("metadata.score", ne, 10)), []string{"u02", "u03", "u04", "u05", "u06", "u07", "u09", "u10", "u11"}},
	{"metadata number gt", where(cond("metadata.score", gt, 5)), []string{"u01", "u06", "u08", "u09", "u11", "u12"}},
	{"metadata number lt", where(cond("metadata.score", lt, 0)), []string{"u04"}},
	{"metadata number le", where(cond("metadata.score", le, 2.5)), []string{"u02", "u04", "u05"}},
	{"metadata number ge", where(cond("metadata.score", ge, uint8(0))), []string{"u01", "u02", "u05", "u06", "u08", "u09", "u11", "u12"}},
	{"metadata number between mixed kinds", where(cond("metadata.score", between, float32(2.5), uint16(10))), []string{"u01", "u02", "u08", "u11", "u12"}},
	{"metadata like matches strings only", where(cond("metadata.score", like, "1%")), []string{"u03"}},
	{"metadata bool eq true", where(cond("metadata.beta", eq, true)), []string{"u01", "u08"}},
	{"metadata bool eq false", where(cond("metadata.beta", eq, false)), []string{"u02", "u10"}},
	{"metadata bool ne true", where(cond("metadata.beta", ne, true)), []string{"u02", "u03", "u04", "u05", "u06", "u07", "u09", "u10", "u11", "u12"}},
	{"metadata string does not match a bool", where(cond("metadata.beta", eq, "true")), []string{"u05"}},
	{"metadata null eq nil", where(cond("metadata.note", eq, nil)), []string{"u01", "u02", "u03", "u04", "u05", "u07", "u08", "u09", "u10", "u11", "u12"}},
	{"metadata null ne nil", where(cond("metadata.note", ne, nil)), []string{"u06"}},
	{"metadata object eq matches nothing", where(cond("metadata.profile", eq, "gold")), []string{}},
	{"metadata object ne matches all", where(cond("metadata.profile", ne, "gold")), allIDs},
	{"metadata object is not nil", where(cond("metadata.profile", eq, nil)), []string{"u01", "u02", "u04", "u05", "u06", "u07", "u08", "u09", "u10", "u11"}},
	{"metadata object ne nil", where(cond("metadata.profile", ne, nil)), []string{"u03", "u12"}},
	{"metadata array eq matches nothing", where(cond("metadata.list", eq, 1)), []string{}},
	{"metadata array ne matches all", where(cond("metadata.list", ne, 1)), allIDs},
	{"metadata key with a dot is literal", where(cond("metadata.a.b", eq, "dot")), []string{"u04"}},
	{"metadata nested keys are not top-level", where(cond("metadata.age", eq, 30)), []string{}},
	{"metadata missing key eq nil", where(cond("metadata.missing", eq, nil)), allIDs},
	{"metadata missing key eq", where(cond("metadata.missing", eq, "x")), []string{}},
	{"metadata missing key ne", where(cond("metadata.missing", ne, "x")), allIDs},
	{"metadata key is case-sensitive", where(cond("metadata.Tier", eq, "gold")), []string{}},

	// AND and OR.
	{"and", where(cond("plan", eq, "pro"), cond("status", eq, "active")), []string{"u02", "u05", "u12"}},
	{"and three", where(cond("plan", eq, "pro"), cond("status", eq, "active"), cond("scope", eq, "admin")), []string{"u02", "u12"}},
	{"and contradictory", where(cond("plan", eq, "pro"), cond("plan", eq, "free")), []string{}},
	{"or", whereAny(cond("plan", eq, "enterprise"), cond("scope", eq, "billing")), []string{"u04", "u05", "u08", "u12"}},
	{"or one condition", whereAny(cond("plan", eq, "enterprise")), []string{"u04", "u08"}},
	{"or with ne", whereAny(cond("status", ne, "active"), cond("emailVerified", eq, false)), []string{"u03", "u04", "u06", "u09", "u10", "u11"}},
	{"or nothing matches", whereAny(cond("plan", eq, "none"), cond("id", eq, "u99")), []string{}},

	// pattern: a plain, folded substring of username, e-mail or name.
	{"pattern", users.Query{Pattern: "EXAMPLE.COM"}, []string{"u01", "u02", "u04", "u05", "u06", "u08", "u09", "u10", "u11", "u12"}},
	{"pattern in username", users.Query{Pattern: "example.org"}, []string{"u03"}},
	{"pattern in e-mail and name", users.Query{Pattern: "builder"}, []string{"u02"}},
	{"pattern in e-mail only", users.Query{Pattern: "CORP"}, []string{"u08"}},
	{"pattern in name only", users.Query{Pattern: "liddell"}, []string{"u01"}},
	{"pattern in name only, folded", users.Query{Pattern: "HOPPER"}, []string{"u08"}},
	{"pattern % is literal", users.Query{Pattern: "%"}, []string{"u05"}},
	{"pattern 100% is literal", users.Query{Pattern: "100%"}, []string{"u05"}},
	{"pattern _ is literal", users.Query{Pattern: "_"}, []string{"u05", "u07"}},
	{"pattern backslash is literal", users.Query{Pattern: `\`}, []string{"u10"}},
	{"pattern no match", users.Query{Pattern: "zzz"}, []string{}},
	{"pattern and condition", users.Query{Pattern: "example.com", Conditions: []users.Condition{cond("plan", eq, "free")}}, []string{"u01", "u06", "u09", "u11"}},
	{"pattern and or-conditions", users.Query{Pattern: "example.com", Or: true, Conditions: []users.Condition{cond("status", eq, "pending"), cond("status", eq, "disabled")}}, []string{"u04", "u09", "u10"}},

	// Conditions and order together.
	{"condition sorted", users.Query{Conditions: []users.Condition{cond("plan", eq, "free")}, Sort: []users.Sort{{Field: "created", Desc: true}}}, []string{"u11", "u03", "u09", "u06", "u01"}},
}

// sortCases are the orders of the whole population; ties are broken by id ascending, also when
// the key sorts descending.
var sortCases = []queryCase{
	{"id", sortBy("id", false), allIDs},
	{"id desc", sortBy("id", true), []string{"u12", "u11", "u10", "u09", "u08", "u07", "u06", "u05", "u04", "u03", "u02", "u01"}},
	{"username folded", sortBy("username", false), []string{"u01", "u02", "u03", "u04", "u06", "u05", "u07", "u08", "u09", "u10", "u11", "u12"}},
	{"username desc", sortBy("username", true), []string{"u12", "u11", "u10", "u09", "u08", "u07", "u05", "u06", "u04", "u03", "u02", "u01"}},
	{"email folded, empty first", sortBy("email", false), []string{"u03", "u01", "u02", "u04", "u06", "u05", "u07", "u08", "u09", "u10", "u11", "u12"}},
	{"email desc", sortBy("email", true), []string{"u12", "u11", "u10", "u09", "u08", "u07", "u05", "u06", "u04", "u02", "u01", "u03"}},
	{"name byte-wise", sortBy("name", false), []string{"u01", "u02", "u03", "u05", "u06", "u07", "u08", "u10", "u11", "u12", "u04", "u09"}},
	{"name desc", sortBy("name", true), []string{"u09", "u04", "u12", "u11", "u10", "u08", "u07", "u06", "u05", "u03", "u02", "u01"}},
	{"plan, ties by id", sortBy("plan", false), []string{"u07", "u04", "u08", "u01", "u03", "u06", "u09", "u11", "u02", "u05", "u10", "u12"}},
	{"plan desc, ties by id ascending", sortBy("plan", true), []string{"u02", "u05", "u10", "u12", "u01", "u03", "u06", "u09", "u11", "u04", "u08", "u07"}},
	{"status", sortBy("status", false), []string{"u01", "u02", "u05", "u06", "u07", "u08", "u11", "u12", "u04", "u10", "u03", "u09"}},
	{"status desc", sortBy("status", true), []string{"u03", "u09", "u04", "u10", "u01", "u02", "u05", "u06", "u07", "u08", "u11", "u12"}},
	{"orgId", sortBy("orgId", false), []string{"u04", "u09", "u01", "u02", "u08", "u11", "u03", "u07", "u10", "u05", "u06", "u12"}},
	{"orgId desc", sortBy("orgId", true), []string{"u05", "u06", "u12", "u03", "u07", "u10", "u01", "u02", "u08", "u11", "u04", "u09"}},
	{"emailVerified, false first", sortBy("emailVerified", false), []string{"u03", "u04", "u06", "u09", "u11", "u01", "u02", "u05", "u07", "u08", "u10", "u12"}},
	{"emailVerified desc", sortBy("emailVerified", true), []string{"u01", "u02", "u05", "u07", "u08", "u10", "u12", "u03", "u04", "u06", "u09", "u11"}},
	{"created", sortBy("created", false), []string{"u02", "u04", "u08", "u01", "u10", "u05", "u06", "u09", "u03", "u11", "u07", "u12"}},
	{"created desc, ties by id ascending", sortBy("created", true), []string{"u12", "u07", "u11", "u03", "u09", "u05", "u06", "u10", "u01", "u08", "u04", "u02"}},
	{"updated", sortBy("updated", false), []string{"u02", "u08", "u10", "u05", "u06", "u03", "u11", "u07", "u12", "u04", "u09", "u01"}},
	{"updated desc", sortBy("updated", true), []string{"u01", "u09", "u04", "u12", "u07", "u11", "u03", "u06", "u05", "u10", "u08", "u02"}},
	{"plan then created desc", users.Query{Sort: []users.Sort{{Field: "plan"}, {Field: "created", Desc: true}}},
		[]string{"u07", "u08", "u04", "u11", "u03", "u09", "u06", "u01", "u12", "u05", "u10", "u02"}},
	{"status desc then emailVerified then name desc", users.Query{Sort: []users.Sort{{Field: "status", Desc: true}, {Field: "emailVerified"}, {Field: "name", Desc: true}}},
		[]string{"u09", "u03", "u04", "u10", "u11", "u06", "u12", "u08", "u07", "u05", "u02", "u01"}},
	{"orgId then id desc", users.Query{Sort: []users.Sort{{Field: "orgId"}, {Field: "id", Desc: true}}},
		[]string{"u09", "u04", "u11", "u08", "u02", "u01", "u10", "u07", "u03", "u12", "u06", "u05"}},
	{"id desc first makes later keys moot", users.Query{Sort: []users.Sort{{Field: "id", Desc: true}, {Field: "plan"}}},
		[]string{"u12", "u11", "u10", "u09", "u08", "u07", "u06", "u05", "u04", "u03", "u02", "u01"}},
}

func sortBy(field string, desc bool) users.Query {
	return users.Query{Sort: []users.Sort{{Field: field, Desc: desc}}}
}

// invalidCases are queries that Query.Normalize rejects; every store answers them ErrInvalid.
var invalidCases = []struct {
	name string
	q    users.Query
}{
	{"unknown field", where(cond("nickname", eq, "x"))},
	{"field names are case-sensitive", where(cond("orgid", eq, "org-a"))},
	{"metadata without a key", where(cond("metadata.", eq, "x"))},
	{"unknown operator", where(cond("name", "contains", "x"))},
	{"empty operator", where(cond("name", "", "x"))},
	{"operator in upper case", where(cond("name", "EQ", "x"))},
	{"gt on a list", where(cond("scope", gt, "a"))},
	{"lt on a list", where(cond("vendor", lt, "a"))},
	{"between on a list", where(cond("scope", between, "a", "z"))},
	{"gt on a bool", where(cond("emailVerified", gt, false))},
	{"like on a bool", where(cond("emailVerified", like, "true"))},
	{"between on a bool", where(cond("emailVerified", between, false, true))},
	{"like on a time", where(cond("created", like, "2024%"))},
	{"gt on a metadata bool", where(cond("metadata.beta", gt, true))},
	{"lt on a metadata nil", where(cond("metadata.note", lt, nil))},
	{"like on metadata with a number", where(cond("metadata.score", like, 10))},
	{"text field takes a string", where(cond("name", eq, 5))},
	{"folded field takes a string", where(cond("username", eq, true))},
	{"list field takes a string", where(cond("scope", eq, 5))},
	{"like takes a string", where(cond("name", like, 5))},
	{"bool field takes a bool", where(cond("emailVerified", eq, "yes"))},
	{"bool field does not take a number", where(cond("emailVerified", eq, 1))},
	{"bool field does not take TRUE", where(cond("emailVerified", eq, "TRUE"))},
	{"time field takes RFC 3339", where(cond("created", eq, "2024-01-01"))},
	{"time field does not take a number", where(cond("updated", gt, 1700000000))},
	{"between without an upper bound", where(cond("created", between, day(1)))},
	{"between with bounds of two types", where(cond("metadata.score", between, 1, "z"))},
	{"metadata does not take a list", where(cond("metadata.tier", eq, []any{"gold"}))},
	{"metadata does not take an object", where(cond("metadata.tier", eq, map[string]any{"a": 1.0}))},
	{"metadata does not take NaN", where(cond("metadata.score", eq, math.NaN()))},
	{"metadata does not take infinity", where(cond("metadata.score", gt, math.Inf(1)))},
	{"metadata does not take a time", where(cond("metadata.tier", eq, day(1)))},
	{"one bad condition among good ones", where(cond("plan", eq, "pro"), cond("scope", gt, "a"))},
	{"one bad condition among or-ed ones", whereAny(cond("plan", eq, "pro"), cond("nickname", eq, "x"))},
	{"limit over the maximum", users.Query{Limit: users.MaxLimit + 1}},
	{"negative limit", users.Query{Limit: -1}},
	{"negative offset", users.Query{Offset: -1}},
	{"sort by a list", sortBy("scope", false)},
	{"sort by vendor", sortBy("vendor", true)},
	{"sort by an unknown field", sortBy("nickname", false)},
	{"sort by metadata", sortBy("metadata.tier", false)},
	{"pattern too long", users.Query{Pattern: strings.Repeat("a", users.MaxPatternRunes+1)}},
	{"pattern not UTF-8", users.Query{Pattern: "\xff"}},
	{"pattern with NUL", users.Query{Pattern: "a\x00"}},
	{"like too long", where(cond("name", like, strings.Repeat("%a", users.MaxPatternRunes/2)+"%"))},
	{"text value too long", where(cond("plan", eq, strings.Repeat("p", users.MaxValueBytes+1)))},
	{"metadata value too long", where(cond("metadata.tier", ne, strings.Repeat("g", users.MaxValueBytes+1)))},
	{"upper bound too long", where(cond("name", between, "a", strings.Repeat("z", users.MaxValueBytes+1)))},
	{"metadata key too long", where(cond("metadata."+strings.Repeat("k", users.MaxValueBytes+1), eq, "x"))},
	{"value with NUL", where(cond("orgId", eq, "org-a\x00"))},
	{"like with NUL", where(cond("scope", like, "%\x00%"))},
}

func testQuery(t *testing.T, newStore func(t *testing.T) users.Store) {
	t.Run("Filter", func(t *testing.T) {
		s := newPopulatedStore(t, newStore)
		runQueryCases(t, s, filterCases)
	})
	t.Run("Sort", func(t *testing.T) {
		s := newPopulatedStore(t, newStore)
		runQueryCases(t, s, sortCases)
	})
	t.Run("Paging", func(t *testing.T) {
		s := newPopulatedStore(t, newStore)
		testPaging(t, s)
	})
	t.Run("Invalid", func(t *testing.T) {
		s := newPopulatedStore(t, newStore)
		for _, tc := range invalidCases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.ListUsers(t.Context(), tc.q)
				assert.ErrorIs(t, err, users.ErrInvalid, "ListUsers")
				_, err = s.CountUsers(t.Context(), tc.q)
				assert.ErrorIs(t, err, users.ErrInvalid, "CountUsers")
			})
		}
	})
	t.Run("DefaultLimit", func(t *testing.T) { testDefaultLimit(t, newStore(t)) })
	t.Run("QueryNotModified", func(t *testing.T) {
		s := newPopulatedStore(t, newStore)
		conds := []users.Condition{cond("username", eq, "ALICE@Example.com"), cond("created", ge, day(1).Add(time.Nanosecond))}
		sorts := []users.Sort{{Field: "plan"}}
		q := users.Query{Conditions: conds, Sort: sorts}
		got, err := s.ListUsers(t.Context(), q)
		require.NoError(t, err)
		assert.Equal(t, []string{"u01"}, userIDs(got))
		assert.Equal(t, "ALICE@Example.com", conds[0].Value, "the caller's conditions are left alone")
		assert.Equal(t, day(1).Add(time.Nanosecond), conds[1].Value, "the caller's conditions are left alone")
		assert.Len(t, sorts, 1, "the caller's sort is left alone")
		assert.Len(t, q.Sort, 1)
	})
}

// newPopulatedStore returns a fresh store holding the population.
func newPopulatedStore(t *testing.T, newStore func(t *testing.T) users.Store) users.Store {
	t.Helper()
	s := newStore(t)
	require.NotNil(t, s, "newStore returned nil")
	for _, u := range population() {
		createUser(t, s, u)
	}
	return s
}

// runQueryCases checks that each case lists exactly its users, in order, as whole users, and
// counts as many.
func runQueryCases(t *testing.T, s users.Store, cases []queryCase) {
	t.Helper()
	byID := map[string]*users.User{}
	for _, u := range population() {
		byID[u.ID] = stored(u, 1)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListUsers(t.Context(), tc.q)
			require.NoError(t, err)
			assert.Equal(t, tc.want, userIDs(got), "ListUsers")
			for _, u := range got {
				assert.Equal(t, byID[u.ID], u, "ListUsers returns whole users")
			}
			n, err := s.CountUsers(t.Context(), tc.q)
			require.NoError(t, err)
			assert.Equal(t, len(tc.want), n, "CountUsers")
		})
	}
}

func testPaging(t *testing.T, s users.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name          string
		limit, offset int
		want          []string
	}{
		{"first page", 5, 0, []string{"u01", "u02", "u03", "u04", "u05"}},
		{"second page", 5, 5, []string{"u06", "u07", "u08", "u09", "u10"}},
		{"last page is short", 5, 10, []string{"u11", "u12"}},
		{"offset at the end", 5, 12, []string{}},
		{"offset past the end", 5, 100, []string{}},
		{"default limit with offset", 0, 10, []string{"u11", "u12"}},
		{"limit 1", 1, 3, []string{"u04"}},
		{"maximum limit", users.MaxLimit, 0, allIDs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := users.Query{Limit: tc.limit, Offset: tc.offset}
			got, err := s.ListUsers(ctx, q)
			require.NoError(t, err)
			assert.Equal(t, tc.want, userIDs(got))
			n, err := s.CountUsers(ctx, q)
			require.NoError(t, err)
			assert.Equal(t, len(allIDs), n, "CountUsers ignores limit and offset")
		})
	}

	t.Run("filtered page", func(t *testing.T) {
		q := users.Query{Conditions: []users.Condition{cond("plan", eq, "free")}, Limit: 2, Offset: 1}
		got, err := s.ListUsers(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, []string{"u03", "u06"}, userIDs(got))
		n, err := s.CountUsers(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, 5, n, "CountUsers ignores limit and offset")
	})

	// Pages of every order concatenate to the whole order: ties broken by id make paging stable.
	for _, tc := range sortCases {
		t.Run("pages of "+tc.name, func(t *testing.T) {
			var got []string
			for offset := 0; offset < len(allIDs)+3; offset += 3 {
				q := tc.q
				q.Limit, q.Offset = 3, offset
				page, err := s.ListUsers(ctx, q)
				require.NoError(t, err)
				assert.LessOrEqual(t, len(page), 3)
				got = append(got, userIDs(page)...)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func testDefaultLimit(t *testing.T, s users.Store) {
	ctx := t.Context()
	const population = users.DefaultLimit + 5
	var want []string
	for i := range population {
		u := newUser(fmt.Sprintf("d%03d", i), fmt.Sprintf("d%03d@example.com", i))
		createUser(t, s, u)
		want = append(want, u.ID)
	}

	got, err := s.ListUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.Equal(t, want[:users.DefaultLimit], userIDs(got), "limit 0 means DefaultLimit")

	got, err = s.ListUsers(ctx, users.Query{Offset: users.DefaultLimit})
	require.NoError(t, err)
	assert.Equal(t, want[users.DefaultLimit:], userIDs(got))

	got, err = s.ListUsers(ctx, users.Query{Limit: users.MaxLimit})
	require.NoError(t, err)
	assert.Equal(t, want, userIDs(got))

	n, err := s.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.Equal(t, population, n, "CountUsers is not limited")
}
