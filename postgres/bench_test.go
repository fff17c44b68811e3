package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/pgtest"
	"github.com/gousers/users/postgres"
)

// The benchmarks run on a population of benchUsers users (GOUSERS_BENCH_USERS, default one
// million) in a schema of its own, built once with COPY and kept, on the server the tests use:
// the throwaway cluster (rebuilt on every run, and run without fsync), or USERS_POSTGRES_DSN
// (kept there for later runs). Each operation is measured beside the same work written by hand
// in SQL through a plain pgx pool, on the same tables, in the same run. Run them with:
//
//	USERS_POSTGRES_DSN='host=/run/postgresql user=postgres' \
//		go test -run '^$' -bench . -benchmem -count 5 -timeout 60m ./postgres/

// benchVersion names the shape of the generated population: change it when the generator
// changes, so that a stale schema is not reused. (2: the folded columns of plan, orgId, scope,
// vendor and metadata.)
const benchVersion = 2

var (
	benchOnce  sync.Once
	benchStore *postgres.Store
	benchRaw   *pgxpool.Pool
	benchN     int
	benchErr   error
	benchSQL   string // the schema, quoted, for the hand-written statements
)

// benchDB returns the store and a hand-written-SQL pool on the benchmark population.
func benchDB(b *testing.B) (*postgres.Store, *pgxpool.Pool, int) {
	b.Helper()
	dsn := pgtest.DSN(b)
	benchOnce.Do(func() {
		benchN = 1_000_000
		if v := os.Getenv("GOUSERS_BENCH_USERS"); v != "" {
			if benchN, benchErr = strconv.Atoi(v); benchErr != nil {
				return
			}
		}
		ctx := context.Background()
		schema := fmt.Sprintf("bench_v%d_s%d_%d", benchVersion, postgres.SchemaVersion, benchN)
		benchSQL = `"` + schema + `"`
		// The hand-written SQL gets as many connections as each pool of the store.
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			benchErr = err
			return
		}
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
		if benchRaw, benchErr = pgxpool.NewWithConfig(ctx, cfg); benchErr != nil {
			return
		}
		var built bool
		if benchErr = benchRaw.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", benchSQL+".bench_built").Scan(&built); benchErr != nil {
			return
		}
		if !built {
			if benchErr = buildBench(ctx, dsn, schema, benchN); benchErr != nil {
				return
			}
		}
		benchStore, benchErr = postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore, benchRaw, benchN
}

// Population shape, as the SQLite store's benchmarks have it: every user has the role "user"
// and one of 100 team roles (acme0…acme99, so 1% of users each), one of 1,000 organizations, 5%
// are disabled and 5% pending; created times are 30 s apart; names come from 97 first and 89
// last names.
var (
	firstNames = strings.Fields(`Ada Alan Alice Amara Ana Anil Anna Arjun Aya Ben Bo Carla Chen Chloe Dan
		Dara Diego Dina Eli Ella Emil Emma Eva Femi Finn Gia Hana Hugo Ian Ida Ines Ivan Jack Jana Jin Joao
		Jon Kai Kara Kenji Kim Lara Leo Lia Lin Luca Lucy Mai Mara Mark Mateo Max Mia Mila Nadia Nia Nico
		Nina Noah Nora Olga Omar Oren Otto Paul Pia Priya Raj Rana Rosa Ruth Sam Sara Sean Sofia Sven Tara
		Teo Tom Uma Vera Vik Wei Will Yara Yuki Yusuf Zara Zoe Zuri Ali Ben Cleo Dev`)
	lastNames = strings.Fields(`Abe Adams Ahmed Alves Bauer Becker Bianchi Brown Chen Costa Cruz Dahl
		Diaz Dubois Evans Fischer Garcia Gomez Gupta Hansen Hill Ito Ivanova Jensen Jones Kato Khan Kim
		Klein Kowalski Kumar Lee Lopez Meyer Moreau Muller Murphy Nagy Nguyen Novak Okafor Olsen Park
		Patel Perez Petrov Popescu Quinn Rao Reyes Rossi Ruiz Sato Schmidt Shah Silva Singh Smith Sousa
		Suzuki Tan Taylor Torres Tran Ueda Vargas Varga Wagner Walker Wang Weber Wilson Wong Wu Xu Yamada
		Yang Young Zhang Zhou Ziegler Novotny Horvat Kovac Lind Berg Holm Nakamura Ortiz`)
	benchEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

	// longNames are the last names of three letters or more: the trigram index's patterns.
	longNames = slices.DeleteFunc(slices.Clone(lastNames), func(s string) bool { return len(s) < 3 })
)

func benchUser(i int, hash string) *users.User {
	created := benchEpoch.Add(time.Duration(i) * 30 * time.Second)
	status := users.StatusActive
	switch i % 20 {
	case 0:
		status = users.StatusDisabled
	case 1:
		status = users.StatusPending
	}
	return &users.User{
		// Time-ordered, like the UUIDv7 the Service makes.
		ID:            fmt.Sprintf("%08x-%04x-7000-8000-%012x", created.Unix()>>16, created.Unix()&0xffff, i),
		Username:      fmt.Sprintf("user%07d@example%d.com", i, i%10),
		Email:         fmt.Sprintf("user%07d@example%d.com", i, i%10),
		Name:          firstNames[i%len(firstNames)] + " " + lastNames[(i/len(firstNames))%len(lastNames)],
		Scope:         []string{users.RoleUser, fmt.Sprintf("acme%d", i%100)},
		Plan:          []string{"free", "pro", "team"}[i%3],
		OrgID:         fmt.Sprintf("org%03d", i%1000),
		Status:        status,
		EmailVerified: i%3 != 0,
		Metadata:      map[string]any{"tier": []any{"a", "b", "c"}[i%3], "seats": float64(i % 50)},
		Created:       created,
		Updated:       created,
		PasswordHash:  hash,
	}
}

func benchToken(i int) string { return fmt.Sprintf("bench-token-%d", i) }

// buildBench migrates the schema through the store, then loads n users with COPY, their hash
// computed once, and a session token for each of the first 10,000. The indexes are dropped for
// the load and made again after it, and the counts are computed once rather than by the
// trigger row by row; a table bench_built marks the schema complete.
func buildBench(ctx context.Context, dsn, schema string, n int) error {
	s, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
	if err != nil {
		return err
	}
	s.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	q := `"` + schema + `"`
	hasher, err := users.NewArgon2idHasher(users.DefaultArgon2())
	if err != nil {
		return err
	}
	hash, err := hasher.Hash("correct horse battery staple")
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'users'
		AND indexname NOT IN ('users_pkey', 'users_username_key')`, schema)
	if err != nil {
		return err
	}
	defs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var d [2]string
		return d, r.Scan(&d[0], &d[1])
	})
	if err != nil {
		return err
	}
	for _, d := range defs {
		if _, err := conn.Exec(ctx, "DROP INDEX "+q+"."+d[0]); err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, "ALTER TABLE "+q+".users DISABLE TRIGGER users_count"); err != nil {
		return err
	}
	cols := []string{"id", "username", "username_folded", "email", "email_folded", "name", "name_folded",
		"scope", "scope_folded", "plan", "plan_folded", "org_id", "org_id_folded", "status", "email_verified",
		"metadata", "metadata_folded", "must_change_password", "password_reset_disallowed", "created",
		"updated", "version", "password_hash"}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{schema, "users"}, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		u := benchUser(i, hash)
		meta, _ := json.Marshal(u.Metadata)
		return []any{u.ID, u.Username, users.Fold(u.Username), u.Email, users.Fold(u.Email), u.Name,
			users.Fold(u.Name), u.Scope, postgres.FoldList(u.Scope), u.Plan, users.Fold(u.Plan), u.OrgID,
			users.Fold(u.OrgID), string(u.Status), u.EmailVerified, string(meta),
			postgres.FoldedMetadata(u.Metadata), false, false, u.Created, u.Updated, int64(1), u.PasswordHash}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy users: %w", err)
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{schema, "tokens"}, []string{"digest", "kind", "user_id", "created", "id", "name", "prefix"},
		pgx.CopyFromSlice(min(n, 10_000), func(i int) ([]any, error) {
			d := sha256.Sum256([]byte(benchToken(i)))
			u := benchUser(i, "")
			return []any{d[:], string(users.TokenSession), u.ID, u.Created, "", "", ""}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy tokens: %w", err)
	}
	for _, d := range defs {
		if _, err := conn.Exec(ctx, d[1]); err != nil {
			return fmt.Errorf("%s: %w", d[0], err)
		}
	}
	_, err = conn.Exec(ctx, `ALTER TABLE `+q+`.users ENABLE TRIGGER users_count;
		INSERT INTO `+q+`.user_counts (kind, value, n)
			SELECT 0, status, count(*) FROM `+q+`.users GROUP BY status
			UNION ALL SELECT 1, e, count(*) FROM `+q+`.users, unnest(scope) e GROUP BY e
			UNION ALL SELECT 2, e, count(*) FROM `+q+`.users, unnest(vendor) e GROUP BY e`)
	if err != nil {
		return err
	}
	// Statistics for the planner, and the visibility map for index-only scans.
	for _, stmt := range []string{"VACUUM (ANALYZE) " + q + ".users", "VACUUM (ANALYZE) " + q + ".tokens",
		"CREATE TABLE " + q + ".bench_built ()"} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// handUser scans the columns of handColumns into a User: the hand-written counterpart of the
// store's reads.
func handUser(r pgx.Row) (*users.User, error) {
	var (
		u      users.User
		meta   []byte
		status string
	)
	err := r.Scan(&u.ID, &u.Username, &u.Email, &u.Name, &u.Scope, &u.Vendor, &u.AllowedPrivateComponents,
		&u.Plan, &u.OrgID, &status, &u.EmailVerified, &meta, &u.Created, &u.Updated, &u.Version, &u.PasswordHash)
	if err != nil {
		return nil, err
	}
	u.Status = users.Status(status)
	if meta != nil {
		if err := json.Unmarshal(meta, &u.Metadata); err != nil {
			return nil, err
		}
	}
	return &u, nil
}

const handColumns = `u.id, u.username, u.email, u.name, u.scope, u.vendor,
	u.allowed_private_components, u.plan, u.org_id, u.status, u.email_verified, u.metadata,
	u.created, u.updated, u.version, u.password_hash`

func handList(ctx context.Context, db *pgxpool.Pool, query string, args ...any) ([]*users.User, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*users.User
	for rows.Next() {
		u, err := handUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// pair runs the store's way and the hand-written way of one operation as two sub-benchmarks.
func pair(b *testing.B, store, hand func(b *testing.B, i int) error) {
	for _, c := range []struct {
		name string
		fn   func(b *testing.B, i int) error
	}{{"store", store}, {"sql", hand}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := c.fn(b, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// spread returns the i-th of a sequence of user numbers spread over the whole population.
func spread(i, n int) int { return (i * 7919) % n }

func BenchmarkGetByID(b *testing.B) {
	s, db, n := benchDB(b)
	ctx := context.Background()
	pair(b, func(b *testing.B, i int) error {
		_, err := s.GetUser(ctx, benchUser(spread(i, n), "").ID)
		return err
	}, func(b *testing.B, i int) error {
		_, err := handUser(db.QueryRow(ctx, "SELECT "+handColumns+" FROM "+benchSQL+".users u WHERE u.id = $1", benchUser(spread(i, n), "").ID))
		return err
	})
}

func BenchmarkGetByUsername(b *testing.B) {
	s, db, n := benchDB(b)
	ctx := context.Background()
	name := func(i int) string { return strings.ToUpper(benchUser(spread(i, n), "").Username) }
	pair(b, func(b *testing.B, i int) error {
		_, err := s.GetUserByUsername(ctx, name(i))
		return err
	}, func(b *testing.B, i int) error {
		_, err := handUser(db.QueryRow(ctx, "SELECT "+handColumns+" FROM "+benchSQL+".users u WHERE u.username_folded = $1", strings.ToLower(name(i))))
		return err
	})
}

// BenchmarkAuthenticate looks up a bearer token's digest and its user, as Service.Authenticate
// does through the Store (GetToken, then GetUser), beside the same two statements by hand and
// beside one hand-written join ("join"), which the Store's two calls cannot be.
func BenchmarkAuthenticate(b *testing.B) {
	s, db, _ := benchDB(b)
	ctx := context.Background()
	now := time.Now()
	digest := func(i int) users.Digest { return sha256.Sum256([]byte(benchToken(i % 10_000))) }
	pair(b, func(b *testing.B, i int) error {
		t, err := s.GetToken(ctx, digest(i), now)
		if err != nil {
			return err
		}
		_, err = s.GetUser(ctx, t.UserID)
		return err
	}, func(b *testing.B, i int) error {
		d := digest(i)
		var (
			t                 users.Token
			digest            []byte
			kind              string
			expires, lastUsed *time.Time
		)
		err := db.QueryRow(ctx, "SELECT digest, kind, user_id, created, expires, id, name, prefix, last_used, created_by FROM "+
			benchSQL+".tokens WHERE digest = $1 AND (expires IS NULL OR expires > $2)", d[:], now).
			Scan(&digest, &kind, &t.UserID, &t.Created, &expires, &t.ID, &t.Name, &t.Prefix, &lastUsed, &t.CreatedBy)
		if err != nil {
			return err
		}
		_, err = handUser(db.QueryRow(ctx, "SELECT "+handColumns+" FROM "+benchSQL+".users u WHERE u.id = $1", t.UserID))
		return err
	})
	b.Run("join", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			d := digest(i)
			i++
			_, err := handUser(db.QueryRow(ctx, "SELECT "+handColumns+" FROM "+benchSQL+".tokens t JOIN "+benchSQL+
				`.users u ON u.id = t.user_id WHERE t.digest = $1 AND (t.expires IS NULL OR t.expires > $2)`, d[:], now))
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkList lists a page of 30 users of one team role (1% of users), newest first.
func BenchmarkList(b *testing.B) {
	s, db, _ := benchDB(b)
	ctx := context.Background()
	role := func(i int) string { return fmt.Sprintf("acme%d", i%100) }
	pair(b, func(b *testing.B, i int) error {
		page, err := s.ListUsers(ctx, users.Query{
			Conditions: []users.Condition{{Field: "scope", Op: users.OpEq, Value: role(i)}},
			Sort:       []users.Sort{{Field: "created", Desc: true}},
			Limit:      30,
		})
		return wantLen(page, 30, err)
	}, func(b *testing.B, i int) error {
		page, err := handList(ctx, db, "SELECT "+handColumns+" FROM "+benchSQL+`.users u
			WHERE u.scope @> ARRAY[$1] ORDER BY u.created DESC, u.id LIMIT 30`, role(i))
		return wantLen(page, 30, err)
	})
}

// BenchmarkPattern searches for a substring of usernames, e-mails and names: a last name
// (about 1 in 89 users match) and a username fragment (10 users match).
func BenchmarkPattern(b *testing.B) {
	s, db, n := benchDB(b)
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		pattern func(i int) string
	}{
		{"name", func(i int) string { return strings.ToLower(longNames[i%len(longNames)]) }},
		{"username", func(i int) string { return fmt.Sprintf("user%06d", (i*31)%(n/10)) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			pair(b, func(b *testing.B, i int) error {
				page, err := s.ListUsers(ctx, users.Query{Pattern: c.pattern(i), Limit: 30})
				return wantSome(page, err)
			}, func(b *testing.B, i int) error {
				page, err := handList(ctx, db, "SELECT "+handColumns+" FROM "+benchSQL+`.users u
					WHERE u.username_folded LIKE $1 OR u.email_folded LIKE $1 OR u.name_folded LIKE $1
					ORDER BY u.id LIMIT 30`, "%"+c.pattern(i)+"%")
				return wantSome(page, err)
			})
		})
	}
}

// BenchmarkCount counts users with a filter: the disabled ones (5%), the members of one
// organization (0.1%), the active ones (90%), those of one team role (1%) and those with the
// role every user has (100%), beside a hand-written count(*) of the users table.
func BenchmarkCount(b *testing.B) {
	s, db, _ := benchDB(b)
	ctx := context.Background()
	for _, c := range []struct {
		name, field, value, sql string
	}{
		{"all", "", "", "SELECT count(*) FROM " + benchSQL + ".users"},
		{"status=disabled", "status", "disabled", "SELECT count(*) FROM " + benchSQL + ".users WHERE status = $1"},
		{"orgId", "orgId", "org042", "SELECT count(*) FROM " + benchSQL + ".users WHERE org_id = $1"},
		{"status=active", "status", "active", "SELECT count(*) FROM " + benchSQL + ".users WHERE status = $1"},
		{"scope=acme42", "scope", "acme42", "SELECT count(*) FROM " + benchSQL + ".users WHERE scope @> ARRAY[$1]"},
		{"scope=user", "scope", "user", "SELECT count(*) FROM " + benchSQL + ".users WHERE scope @> ARRAY[$1]"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var q users.Query
			var args []any
			if c.field != "" {
				q.Conditions = []users.Condition{{Field: c.field, Op: users.OpEq, Value: c.value}}
				args = []any{c.value}
			}
			pair(b, func(b *testing.B, i int) error {
				_, err := s.CountUsers(ctx, q)
				return err
			}, func(b *testing.B, i int) error {
				var n int
				return db.QueryRow(ctx, c.sql, args...).Scan(&n)
			})
		})
	}
}

// BenchmarkLike lists the newest 30 users that a like condition on a field other than the
// username, e-mail and name selects (a third of the users, or a tenth for the scope): the
// store and the hand SQL both read the copies folded in Go that the population holds.
func BenchmarkLike(b *testing.B) {
	s, db, _ := benchDB(b)
	ctx := context.Background()
	for _, c := range []struct {
		name, field, value, folded, where string
	}{
		{"plan", "plan", "PR%", "pr%", "u.plan_folded LIKE $1"},
		{"scope", "scope", "ACME4_", "acme4_", "EXISTS (SELECT 1 FROM unnest(u.scope_folded) e WHERE e LIKE $1)"},
		{"metadata", "metadata.tier", "B", "b", "(u.metadata_folded ->> 'tier') COLLATE \"C\" LIKE $1"},
	} {
		b.Run(c.name, func(b *testing.B) {
			pair(b, func(b *testing.B, i int) error {
				page, err := s.ListUsers(ctx, users.Query{
					Conditions: []users.Condition{{Field: c.field, Op: users.OpLike, Value: c.value}},
					Sort:       []users.Sort{{Field: "created", Desc: true}},
					Limit:      30,
				})
				return wantLen(page, 30, err)
			}, func(b *testing.B, i int) error {
				page, err := handList(ctx, db, "SELECT "+handColumns+" FROM "+benchSQL+".users u WHERE "+
					c.where+" ORDER BY u.created DESC, u.id LIMIT 30", c.folded)
				return wantLen(page, 30, err)
			})
		})
	}
}

// BenchmarkCreate creates users, one at a time, beside the same rows inserted by hand. The
// users it creates are removed afterwards.
func BenchmarkCreate(b *testing.B) {
	s, db, user := benchCreate(b)
	ctx := context.Background()
	pair(b, func(b *testing.B, i int) error {
		return s.CreateUser(ctx, user("store"))
	}, func(b *testing.B, i int) error {
		return handCreate(ctx, db, user("sql"))
	})
}

// BenchmarkCreateParallel creates users from createWriters goroutines at once, as a server
// does under load, beside the same rows inserted by hand from as many goroutines.
func BenchmarkCreateParallel(b *testing.B) {
	s, db, user := benchCreate(b)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		fn   func(u *users.User) error
	}{
		{"store", func(u *users.User) error { return s.CreateUser(ctx, u) }},
		{"sql", func(u *users.User) error { return handCreate(ctx, db, u) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(max(1, createWriters/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.fn(user(c.name)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
		})
	}
}

// createWriters is how many goroutines BenchmarkCreateParallel creates users from.
const createWriters = 32

var createdUsers atomic.Int64

// benchCreate returns the store, the hand-written-SQL pool and a maker of fresh users for the
// create benchmarks; the users made are removed when b ends.
func benchCreate(b *testing.B) (*postgres.Store, *pgxpool.Pool, func(kind string) *users.User) {
	s, db, _ := benchDB(b)
	b.Cleanup(func() {
		if _, err := db.Exec(context.Background(), "DELETE FROM "+benchSQL+".users WHERE org_id = 'bench-create'"); err != nil {
			b.Error(err)
		}
	})
	user := func(kind string) *users.User {
		n := createdUsers.Add(1)
		u := benchUser(int(n), "precomputed")
		u.ID = fmt.Sprintf("create-%s-%d-%d", kind, time.Now().UnixNano(), n)
		u.Username = fmt.Sprintf("create.%s.%d.%d@example.com", kind, time.Now().UnixNano(), n)
		u.Email = u.Username
		u.OrgID = "bench-create"
		return u
	}
	return s, db, user
}

// handCreate inserts a user by hand, in one statement; the schema's trigger appends its counts
// as it does for the store.
func handCreate(ctx context.Context, db *pgxpool.Pool, u *users.User) error {
	meta, _ := json.Marshal(u.Metadata)
	_, err := db.Exec(ctx, `INSERT INTO `+benchSQL+`.users (id, username, username_folded, email,
		email_folded, name, name_folded, scope, plan, org_id, status, email_verified, metadata,
		must_change_password, password_reset_disallowed, created, updated, version, password_hash,
		scope_folded, plan_folded, org_id_folded, metadata_folded)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, false, false, $14, $15, 1, $16,
		$17, $18, $19, $20)`,
		u.ID, u.Username, strings.ToLower(u.Username), u.Email, strings.ToLower(u.Email), u.Name,
		strings.ToLower(u.Name), u.Scope, u.Plan, u.OrgID, string(u.Status), u.EmailVerified,
		string(meta), u.Created, u.Updated, u.PasswordHash, postgres.FoldList(u.Scope),
		users.Fold(u.Plan), users.Fold(u.OrgID), postgres.FoldedMetadata(u.Metadata))
	return err
}

func wantLen(page []*users.User, n int, err error) error {
	if err == nil && len(page) != n {
		err = fmt.Errorf("got %d users, want %d", len(page), n)
	}
	return err
}

func wantSome(page []*users.User, err error) error {
	if err == nil && len(page) == 0 {
		err = fmt.Errorf("no user found")
	}
	return err
}
