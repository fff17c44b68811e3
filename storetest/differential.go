package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/require"
)

// DifferentialOptions tunes Differential. The zero value, or nil, means the defaults.
type DifferentialOptions struct {
	// Queries is the number of random queries asked of both stores. Default 4,000; fewer
	// than 1,000 is raised to 1,000, which still reaches every kind of query the generator
	// makes.
	Queries int

	// Seed seeds the random population and queries. Default: a fixed seed, so that a failure
	// repeats on every run. The seed is logged, and given in every failure's message.
	Seed uint64
}

// DefaultDifferentialQueries and MinDifferentialQueries are the default and the least number of
// queries Differential asks.
const (
	DefaultDifferentialQueries = 4000
	MinDifferentialQueries     = 1000
)

// defaultSeed is the seed of the population and queries when DifferentialOptions has none.
const defaultSeed = 20261123

// differentialUsers is the size of the random population.
const differentialUsers = 400

// Differential holds subject to the memory store, the reference: it fills both with the same
// seeded random population of users (then updates some of them, so that a store's indexes are
// rewritten, not only filled), and asks both the same random queries — every operator on every
// field kind, sorts, patterns, limits and offsets, AND and OR, and invalid ones. Each query must
// get the same page, in the same order and with equal users, and the same count, from both; a
// query one store refuses, the other must refuse with the same error code and field.
//
// subject must be empty, and it is left holding the population. Differential fails t at the
// first difference, with the seed and the query in the message. It calls subject from one
// goroutine only; a store that hangs hangs the test. It is safe to run in parallel with other
// tests on other stores.
func Differential(t testing.TB, subject users.Store, opts *DifferentialOptions) {
	t.Helper()
	var o DifferentialOptions
	if opts != nil {
		o = *opts
	}
	if o.Queries == 0 {
		o.Queries = DefaultDifferentialQueries
	}
	o.Queries = max(o.Queries, MinDifferentialQueries)
	if o.Seed == 0 {
		o.Seed = defaultSeed
	}
	t.Logf("differential test: seed %d, %d queries", o.Seed, o.Queries)

	ctx := context.Background()
	n, err := subject.CountUsers(ctx, users.Query{})
	require.NoError(t, err, "counting the subject's users")
	require.Zero(t, n, "Differential needs an empty store")

	rng := rand.New(rand.NewPCG(o.Seed, o.Seed))
	gen := &randomPopulation{t: t, rng: rng}
	gen.init()
	ref := memory.New()
	for i := range differentialUsers {
		u := gen.user(i)
		require.NoError(t, ref.CreateUser(ctx, u.Clone()))
		require.NoError(t, subject.CreateUser(ctx, u.Clone()), "subject.CreateUser(%s)", u.ID)
	}
	// Some updates, so that the index tables are rewritten, not only filled.
	for i := 0; i < differentialUsers; i += 7 {
		u, err := ref.GetUser(ctx, gen.id(i))
		require.NoError(t, err)
		fresh := gen.user(i + 1000)
		fresh.ID, fresh.Version, fresh.Username, fresh.Email = u.ID, u.Version, u.Username, u.Email
		require.NoError(t, ref.UpdateUser(ctx, fresh.Clone()))
		require.NoError(t, subject.UpdateUser(ctx, fresh.Clone()), "subject.UpdateUser(%s)", u.ID)
	}

	matched, errs, zero, all := 0, 0, 0, 0
	for i := range o.Queries {
		q := gen.query()
		desc := fmt.Sprintf("seed %d, query %d: %+v", o.Seed, i, q)
		wantPage, wantErr := ref.ListUsers(ctx, q)
		gotPage, gotErr := subject.ListUsers(ctx, q)
		requireSameError(t, wantErr, gotErr, "ListUsers, "+desc)
		require.Equal(t, userIDs(wantPage), userIDs(gotPage), "ListUsers, "+desc)
		if wantErr == nil {
			require.Equal(t, wantPage, gotPage, "ListUsers, "+desc)
		}
		wantN, wantErr := ref.CountUsers(ctx, q)
		gotN, gotErr := subject.CountUsers(ctx, q)
		requireSameError(t, wantErr, gotErr, "CountUsers, "+desc)
		require.Equal(t, wantN, gotN, "CountUsers, "+desc)
		switch {
		case wantErr != nil:
			errs++
		case wantN == 0:
			zero++
		case wantN == differentialUsers:
			all++
		default:
			matched++
		}
	}
	t.Logf("selective %d, invalid %d, none %d, all %d", matched, errs, zero, all)
	// The generator must make queries that tell users apart, not only all-or-nothing ones.
	require.GreaterOrEqual(t, matched, o.Queries/4, "too few queries that tell users apart")
}

// requireSameError requires that got is the error want is: both nil, or the same code and
// field.
func requireSameError(t testing.TB, want, got error, desc string) {
	t.Helper()
	require.Equal(t, users.ErrorCode(want), users.ErrorCode(got), "error code, %s (error: %v)", desc, got)
	require.Equal(t, errorField(want), errorField(got), "error field, %s (error: %v)", desc, got)
}

// errorField returns the field a *users.Error names, or "".
func errorField(err error) string {
	if e, ok := errors.AsType[*users.Error](err); ok {
		return e.Field
	}
	return ""
}

// randomPopulation makes random users and random queries over the values they hold, so that
// conditions often match some users but not all.
type randomPopulation struct {
	t     testing.TB
	rng   *rand.Rand
	texts []string // names, plans, org IDs, roles and metadata strings, in mixed case
	times []time.Time
	nums  []float64
}

func (p *randomPopulation) init() {
	base := time.Date(2025, 6, 1, 12, 0, 0, 500, time.UTC)
	p.texts = []string{"", "a", "A", "ab", "Ab", "acme", "ACME", "Acme1", "acme2", "beta", "b%c", "b_c",
		`back\slash`, "Ünïcödé", "ünïcödé", "straße", "STRASSE", "İstanbul", "ǅemal", "日本語", "Ω", "ω",
		"with space", `quo"te`, "zz", "Z", "0", "10", "9"}
	for i := range 12 {
		p.times = append(p.times, base.Add(time.Duration(i*i)*time.Hour+time.Duration(i)*time.Microsecond))
	}
	p.nums = []float64{-1e9, -2.5, -1, 0, 0.5, 1, 2, 3, 10, 1e15}
}

func (p *randomPopulation) pick(s []string) string { return s[p.rng.IntN(len(s))] }

func (p *randomPopulation) id(i int) string { return fmt.Sprintf("id-%04d", i) }

func (p *randomPopulation) user(i int) *users.User {
	r := p.rng
	local := []string{"alice", "Bob", "carol", "DAVE", "eve", "Ünï", "straße", "x_y", "a%b"}[r.IntN(9)]
	u := &users.User{
		ID:            p.id(i),
		Username:      fmt.Sprintf("%s.%d@%s", local, i, []string{"example.com", "Example.ORG", "acme.io"}[r.IntN(3)]),
		Name:          p.pick(p.texts) + " " + p.pick(p.texts),
		Plan:          p.pick(p.texts[:8]),
		OrgID:         p.pick(p.texts[4:10]),
		Status:        []users.Status{users.StatusActive, users.StatusPending, users.StatusDisabled}[r.IntN(3)],
		EmailVerified: r.IntN(2) == 0,
		Created:       p.times[r.IntN(len(p.times))],
		Updated:       p.times[r.IntN(len(p.times))],
	}
	switch r.IntN(4) {
	case 0: // no e-mail
	case 1:
		u.Email = fmt.Sprintf("Other.%d@Mail.example", i)
	default:
		u.Email = u.Username
	}
	u.Name = strings.TrimSpace(u.Name)
	for range r.IntN(4) {
		u.Scope = append(u.Scope, p.pick(p.texts[1:12]))
	}
	for range r.IntN(3) {
		u.Vendor = append(u.Vendor, p.pick(p.texts[4:14]))
	}
	u.PasswordHash = "hash-" + u.ID
	if r.IntN(5) > 0 {
		u.Metadata = map[string]any{}
		for _, k := range []string{"plan", "n", "flag", "x.y", `we"ird`} {
			if r.IntN(3) > 0 {
				u.Metadata[k] = p.metaValue()
			}
		}
	}
	// Permissions and the password flags come from i, not from the random source, so that the
	// rest of the population stays as it was.
	if i%4 == 0 {
		u.Permissions = map[string]users.Permission{users.ResourceUsers: []users.Permission{
			users.PermissionRead, users.PermissionWrite, users.PermissionAdmin}[i%3]}
		if i%8 == 0 {
			u.Permissions["billing"] = users.PermissionRead
		}
	}
	u.MustChangePassword = i%5 == 0
	u.PasswordResetDisallowed = i%7 == 0
	// The store keeps what the Service gives it: normalized users.
	require.NoError(p.t, u.Normalize())
	return u
}

func (p *randomPopulation) metaValue() any {
	switch p.rng.IntN(7) {
	case 0:
		return nil
	case 1:
		return p.rng.IntN(2) == 0
	case 2, 3:
		return p.nums[p.rng.IntN(len(p.nums))]
	case 4:
		return map[string]any{"k": "v"}
	default:
		return p.pick(p.texts)
	}
}

var (
	diffFields = []string{"id", "username", "email", "name", "plan", "status", "orgId", "scope", "vendor",
		"emailVerified", "created", "updated", "metadata.plan", "metadata.n", "metadata.flag",
		"metadata.x.y", `metadata.we"ird`, "metadata.missing"}
	diffOps = []users.Op{users.OpEq, users.OpNe, users.OpGt, users.OpLt, users.OpGe, users.OpLe,
		users.OpLike, users.OpBetween}
	diffSortFields = []string{"id", "username", "email", "name", "plan", "status", "orgId",
		"emailVerified", "created", "updated"}
)

func (p *randomPopulation) query() users.Query {
	r := p.rng
	var q users.Query
	for range r.IntN(4) {
		q.Conditions = append(q.Conditions, p.condition())
	}
	q.Or = r.IntN(2) == 0
	if r.IntN(4) == 0 {
		q.Pattern = p.patternValue()
	}
	for range r.IntN(3) {
		q.Sort = append(q.Sort, users.Sort{Field: diffSortFields[r.IntN(len(diffSortFields))], Desc: r.IntN(2) == 0})
	}
	if r.IntN(20) == 0 {
		q.Sort = append(q.Sort, users.Sort{Field: "scope"}) // invalid
	}
	q.Limit = []int{0, 1, 5, 30, 1000}[r.IntN(5)]
	q.Offset = []int{0, 0, 0, 3, 50, 390, 1000}[r.IntN(7)]
	return q
}

func (p *randomPopulation) condition() users.Condition {
	r := p.rng
	c := users.Condition{Field: diffFields[r.IntN(len(diffFields))], Op: diffOps[r.IntN(len(diffOps))]}
	kind, _ := users.FieldKindOf(c.Field)
	if r.IntN(10) > 0 { // mostly operators the field supports; the rest must be refused alike
		switch kind {
		case users.KindList:
			c.Op = []users.Op{users.OpEq, users.OpNe, users.OpLike}[r.IntN(3)]
		case users.KindBool:
			c.Op = []users.Op{users.OpEq, users.OpNe}[r.IntN(2)]
		case users.KindTime:
			c.Op = diffOps[r.IntN(len(diffOps)-2)]
		}
	}
	c.Value, c.To = p.value(kind, c.Field), p.value(kind, c.Field)
	if kind == users.KindMetadata {
		for range 10 { // a between of two values of one type, mostly
			if fmt.Sprintf("%T", c.Value) == fmt.Sprintf("%T", c.To) {
				break
			}
			c.To = p.value(kind, c.Field)
		}
	}
	if c.Op == users.OpLike {
		c.Value = p.likePattern()
	}
	if r.IntN(40) == 0 {
		c.Value = 42 // the wrong type for most fields
	}
	return c
}

func (p *randomPopulation) value(kind users.FieldKind, field string) any {
	r := p.rng
	switch kind {
	case users.KindBool:
		return []any{true, false, "true", "false"}[r.IntN(4)]
	case users.KindTime:
		t := p.times[r.IntN(len(p.times))]
		if r.IntN(3) == 0 {
			return t.Add(time.Duration(r.IntN(3)-1) * time.Microsecond).Format(time.RFC3339Nano)
		}
		return t
	case users.KindMetadata:
		return p.metaValue()
	case users.KindFolded:
		if field == "username" || r.IntN(2) == 0 {
			return fmt.Sprintf("%s.%d@Example.com", []string{"alice", "BOB", "carol"}[r.IntN(3)], r.IntN(differentialUsers))
		}
		return p.pick([]string{"", "other.5@mail.example", "m"})
	case users.KindText:
		if field == "id" {
			return p.id(r.IntN(differentialUsers + 20))
		}
		if field == "status" {
			return p.pick([]string{"active", "pending", "disabled", "Active"})
		}
	}
	return p.pick(p.texts)
}

// likePattern returns a LIKE pattern built from the population's text, with wildcards and
// escapes.
func (p *randomPopulation) likePattern() string {
	r := p.rng
	s := p.pick(p.texts)
	switch r.IntN(6) {
	case 0:
		return "%" + s + "%"
	case 1:
		return s + "%"
	case 2:
		return "_" + s
	case 3:
		return `%\%%`
	case 4:
		return `%\_%`
	}
	return s
}

// patternValue returns a substring of the population's text, of any length.
func (p *randomPopulation) patternValue() string {
	r := p.rng
	s := p.pick(append(p.texts, "alice", "ice.1", "@example", "ÜNÏ", "ße.", ".org", "%", "_", `"`))
	runes := []rune(s)
	if len(runes) == 0 {
		return ""
	}
	i := r.IntN(len(runes))
	j := i + 1 + r.IntN(len(runes)-i)
	return string(runes[i:j])
}
