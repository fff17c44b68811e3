package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/sqlite"
)

// The benchmarks run on a database of benchUsers users (GOUSERS_BENCH_USERS, default one
// million), built once and kept in the temporary directory for later runs; each operation is
// measured beside the same work written by hand in SQL through database/sql, on the same file,
// in the same run. Run them with:
//
//	go test -run '^$' -bench . -benchmem -count 5 -timeout 60m ./sqlite/
//
// The first run builds the file (a few minutes at a million users).

// benchVersion names the shape of the generated population: change it when the generator
// changes, so that a stale file is not reused.
const benchVersion = 1

var (
	benchOnce  sync.Once
	benchStore *sqlite.Store
	benchRaw   *sql.DB
	benchN     int
	benchErr   error
)

// benchDB returns the store and a hand-written-SQL pool on the benchmark database.
func benchDB(b *testing.B) (*sqlite.Store, *sql.DB, int) {
	b.Helper()
	benchOnce.Do(func() {
		benchN = 1_000_000
		if v := os.Getenv("GOUSERS_BENCH_USERS"); v != "" {
			benchN, benchErr = strconv.Atoi(v)
			if benchErr != nil {
				return
			}
		}
		path := benchPath()
		if _, err := os.Stat(path); err != nil {
			benchErr = buildBenchDB(path, benchN)
			if benchErr != nil {
				return
			}
		}
		if benchStore, benchErr = sqlite.Open(context.Background(), path, nil); benchErr != nil {
			return
		}
		benchRaw, benchErr = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=cache_size(-8192)&_pragma=query_only(1)")
		// The loader's garbage is not the store's memory: start the peak-RSS reading afresh.
		runtime.GC()
		debug.FreeOSMemory()
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore, benchRaw, benchN
}

// Population shape: every user has the role "user" and one of 100 team roles (acme0…acme99,
// so 1% of users each), one of 1,000 organizations, 5% are disabled and 5% pending; created
// times are 30 s apart; names come from 97 first and 89 last names.
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

	// longNames are the last names the trigram index can search for: three letters or more.
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

// buildBenchDB fills a new file with n users, their hashes computed once, in transactions of
// 10,000 users, and a session token for each of the first 10,000.
func buildBenchDB(path string, n int) error {
	ctx := context.Background()
	tmp := path + ".building"
	os.Remove(tmp)
	s, err := sqlite.Open(ctx, tmp, nil)
	if err != nil {
		return err
	}
	hasher, err := users.NewArgon2idHasher(users.DefaultArgon2())
	if err != nil {
		return err
	}
	hash, err := hasher.Hash("correct horse battery staple")
	if err != nil {
		return err
	}
	const batch = 10_000
	for start := 0; start < n; start += batch {
		us := make([]*users.User, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			us = append(us, benchUser(i, hash))
		}
		if err := s.CreateUsers(ctx, us); err != nil {
			return err
		}
	}
	err = s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		for i := range min(n, 10_000) {
			u := benchUser(i, hash)
			t := &users.Token{Digest: sha256.Sum256([]byte(benchToken(i))), Kind: users.TokenSession, UserID: u.ID, Created: u.Created}
			if err := tx.PutToken(ctx, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil { // Close runs PRAGMA optimize: the planner gets statistics
		return err
	}
	return os.Rename(tmp, path)
}

// hand is the hand-written counterpart of the store's reads: plain SQL, scanned into a User.
func handUser(r interface{ Scan(...any) error }) (*users.User, error) {
	var (
		u                        users.User
		scope, vendor, apc, meta sql.NullString
		created, updated         int64
	)
	err := r.Scan(&u.ID, &u.Username, &u.Email, &u.Name, &scope, &vendor, &apc, &u.Plan, &u.OrgID,
		&u.Status, &u.EmailVerified, &meta, &created, &updated, &u.Version, &u.PasswordHash)
	if err != nil {
		return nil, err
	}
	for _, l := range []struct {
		col sql.NullString
		dst *[]string
	}{{scope, &u.Scope}, {vendor, &u.Vendor}, {apc, &u.AllowedPrivateComponents}} {
		if l.col.Valid {
			if err := json.Unmarshal([]byte(l.col.String), l.dst); err != nil {
				return nil, err
			}
		}
	}
	if meta.Valid {
		if err := json.Unmarshal([]byte(meta.String), &u.Metadata); err != nil {
			return nil, err
		}
	}
	u.Created, u.Updated = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return &u, nil
}

const handColumns = `u.id, u.username, u.email, u.name, u.scope, u.vendor,
	u.allowed_private_components, u.plan, u.org_id, u.status, u.email_verified, u.metadata,
	u.created, u.updated, u.version, u.password_hash`

func handList(ctx context.Context, db *sql.DB, query string, args ...any) ([]*users.User, error) {
	rows, err := db.QueryContext(ctx, query, args...)
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

// pair runs the store's way and the hand-written way of one operation as two sub-benchmarks,
// each reporting the process's peak RSS while it ran.
func pair(b *testing.B, store, hand func(b *testing.B, i int) error) {
	for _, c := range []struct {
		name string
		fn   func(b *testing.B, i int) error
	}{{"store", store}, {"sql", hand}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			resetPeakRSS(b)
			i := 0
			for b.Loop() {
				if err := c.fn(b, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportPeakRSS(b)
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
		_, err := handUser(db.QueryRowContext(ctx, "SELECT "+handColumns+" FROM users u WHERE u.id = ?", benchUser(spread(i, n), "").ID))
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
		_, err := handUser(db.QueryRowContext(ctx, "SELECT "+handColumns+" FROM users u WHERE u.username_folded = ?", strings.ToLower(name(i))))
		return err
	})
}

// BenchmarkAuthenticate looks up a bearer token's digest and its user, as Service.Authenticate
// does through the Store (GetToken, then GetUser), beside one hand-written join.
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
		_, err := handUser(db.QueryRowContext(ctx, "SELECT "+handColumns+` FROM tokens t JOIN users u ON u.id = t.user_id
			WHERE t.digest = ? AND (t.expires IS NULL OR t.expires > ?)`, d[:], now.UnixMicro()))
		return err
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
		page, err := handList(ctx, db, "SELECT "+handColumns+` FROM users u
			WHERE EXISTS (SELECT 1 FROM user_lists l WHERE l.list = 1 AND l.value = ? AND l.seq = u.seq)
			ORDER BY u.created DESC, u.id LIMIT 30`, role(i))
		return wantLen(page, 30, err)
	})
}

// BenchmarkPattern searches for a substring of usernames, e-mails and names: a last name
// (about 1 in 89 users match) and a username fragment (10 users match).
func BenchmarkPattern(b *testing.B) {
	s, db, _ := benchDB(b)
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		pattern func(i int) string
	}{
		{"name", func(i int) string { return strings.ToLower(longNames[i%len(longNames)]) }},
		{"username", func(i int) string { return fmt.Sprintf("user%06d", (i*31)%100_000) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			pair(b, func(b *testing.B, i int) error {
				page, err := s.ListUsers(ctx, users.Query{Pattern: c.pattern(i), Limit: 30})
				return wantSome(page, err)
			}, func(b *testing.B, i int) error {
				page, err := handList(ctx, db, "SELECT "+handColumns+` FROM users u
					WHERE u.seq IN (SELECT rowid FROM users_search WHERE users_search MATCH ?)
					ORDER BY u.id LIMIT 30`, `"`+c.pattern(i)+`"`)
				return wantSome(page, err)
			})
		})
	}
}

// BenchmarkCount counts users with a filter: the disabled ones (5%), the members of one
// organization (0.1%), the active ones (90%), those of one team role (1%) and those with the
// role every user has (100%).
func BenchmarkCount(b *testing.B) {
	s, db, _ := benchDB(b)
	ctx := context.Background()
	for _, c := range []struct {
		name, field, value, sql string
	}{
		{"status=disabled", "status", "disabled", "SELECT count(*) FROM users WHERE status = ?"},
		{"orgId", "orgId", "org042", "SELECT count(*) FROM users WHERE org_id = ?"},
		{"status=active", "status", "active", "SELECT count(*) FROM users WHERE status = ?"},
		{"scope=acme42", "scope", "acme42", "SELECT count(*) FROM user_lists WHERE list = 1 AND value = ?"},
		{"scope=user", "scope", "user", "SELECT count(*) FROM user_lists WHERE list = 1 AND value = ?"},
	} {
		b.Run(c.name, func(b *testing.B) {
			pair(b, func(b *testing.B, i int) error {
				_, err := s.CountUsers(ctx, users.Query{Conditions: []users.Condition{{Field: c.field, Op: users.OpEq, Value: c.value}}})
				return err
			}, func(b *testing.B, i int) error {
				var n int
				return db.QueryRowContext(ctx, c.sql, c.value).Scan(&n)
			})
		})
	}
}

// BenchmarkCreate creates users in the big database, one at a time, beside the same rows
// inserted by hand, one transaction each. The users it creates are removed afterwards.
func BenchmarkCreate(b *testing.B) {
	s, w, user := benchCreate(b)
	ctx := context.Background()
	pair(b, func(b *testing.B, i int) error {
		return s.CreateUser(ctx, user("store", i))
	}, func(b *testing.B, i int) error {
		return handCreate(ctx, w, user("sql", i))
	})
}

// BenchmarkCreateParallel creates users from createWriters goroutines at once, as a server
// does under load, beside the same rows inserted by hand from as many goroutines, one
// transaction each: the store commits the writes that wait together (group commit).
func BenchmarkCreateParallel(b *testing.B) {
	s, w, user := benchCreate(b)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		fn   func(u *users.User) error
	}{
		{"store", func(u *users.User) error { return s.CreateUser(ctx, u) }},
		{"sql", func(u *users.User) error { return handCreate(ctx, w, u) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(createWriters / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.fn(user(c.name, 0)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// createWriters is how many goroutines BenchmarkCreateParallel creates users from.
const createWriters = 32

// benchCreate returns the store, a hand-written-SQL writer on the same file, and a maker of
// fresh users for the create benchmarks; the users made are removed when b ends.
func benchCreate(b *testing.B) (*sqlite.Store, *sql.DB, func(kind string, i int) *users.User) {
	s, _, _ := benchDB(b)
	path := benchPath()
	w, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	b.Cleanup(func() {
		w.Exec("DELETE FROM users WHERE org_id = 'bench-create'")
		w.Close()
	})
	user := func(kind string, i int) *users.User {
		u := benchUser(i, "precomputed")
		n := createdUsers.Add(1) // b.Loop restarts i; the names must not repeat
		u.ID = fmt.Sprintf("create-%s-%d-%d", kind, time.Now().UnixNano(), n)
		u.Username = fmt.Sprintf("create.%s.%d.%d@example.com", kind, time.Now().UnixNano(), n)
		u.Email = u.Username
		u.OrgID = "bench-create"
		return u
	}
	return s, w, user
}

var createdUsers atomic.Int64

// handCreate inserts a user by hand, in one transaction; the schema's triggers fill the
// index tables, as they do for the store, and the rows they queue for the search index are
// moved into it before the commit, as the store moves them.
func handCreate(ctx context.Context, db *sql.DB, u *users.User) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	scope, _ := json.Marshal(u.Scope)
	meta, _ := json.Marshal(u.Metadata)
	_, err = tx.ExecContext(ctx, `INSERT INTO users (id, username, username_folded, email,
		email_folded, name, name_folded, scope, plan, org_id, status, email_verified, metadata,
		created, updated, version, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
		RETURNING seq`, u.ID, u.Username, strings.ToLower(u.Username), u.Email, strings.ToLower(u.Email),
		u.Name, strings.ToLower(u.Name), string(scope), u.Plan, u.OrgID, string(u.Status),
		u.EmailVerified, string(meta), u.Created.UnixMicro(), u.Updated.UnixMicro(), u.PasswordHash)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO users_search (rowid, username, email, name)
		SELECT seq, username, email, name FROM users_search_pending;
		DELETE FROM users_search_pending`); err != nil {
		return err
	}
	return tx.Commit()
}

func benchPath() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("gousers-bench-v%d-s%d-%d.db", benchVersion, sqlite.SchemaVersion, benchN))
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

// resetPeakRSS starts the kernel's peak-RSS reading (VmHWM) afresh, where Linux allows it.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS cannot be reset here: %v", err)
	}
}

// reportPeakRSS reports the process's peak RSS since resetPeakRSS, in MiB, as a metric of b.
func reportPeakRSS(b *testing.B) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			b.ReportMetric(float64(kb)/1024, "peak-RSS-MiB")
		}
	}
}
