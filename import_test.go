package users_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// bcryptHash returns a bcrypt hash of password with the version prefix ("2a", "2b" or "2y").
func bcryptHash(t testing.TB, password, version string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	h := string(b)
	require.True(t, strings.HasPrefix(h, "$2a$"), h)
	return "$" + version + h[3:]
}

// argon2idHash returns an argon2id hash of password with parameters other than the harness's.
func argon2idHash(t testing.TB, password string) string {
	t.Helper()
	return testutil.Hash(t, users.Argon2Params{Memory: 32, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}, password)
}

// importOne imports one user and returns its result, failing the test on a store error.
func (h *harness) importOne(t testing.TB, u *users.User) users.ImportResult {
	t.Helper()
	results, err := h.svc.Import(context.Background(), []*users.User{u})
	require.NoError(t, err)
	require.Len(t, results, 1)
	return results[0]
}

func TestImport(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	created := time.Date(2019, 5, 1, 12, 30, 15, 123456789, time.FixedZone("CEST", 2*3600))
	updated := created.Add(400 * 24 * time.Hour)
	in := []*users.User{
		{ID: "legacy-1", Username: "a2a@example.com", PasswordHash: bcryptHash(t, "password of 2a user", "2a"), Created: created, Updated: updated},
		{ID: "legacy-2", Username: "a2b@example.com", PasswordHash: bcryptHash(t, "password of 2b user", "2b"), Created: created, Status: users.StatusActive},
		{ID: "legacy-3", Username: "a2y@example.com", PasswordHash: bcryptHash(t, "password of 2y user", "2y"), Created: created, EmailVerified: true},
		{ID: "0190a6d2-aaaa-7000-8000-000000000004", Username: "argon@example.com", Email: "argon@home.example", Name: "Argon",
			PasswordHash: argon2idHash(t, "password of argon user"), Created: created, Updated: updated,
			Scope: []string{"user", "editor"}, Plan: "pro", OrgID: "acme", Metadata: map[string]any{"n": 1},
			Permissions: map[string]users.Permission{"users": "read"}, MustChangePassword: true, PasswordResetDisallowed: true, Version: 9},
		{ID: "legacy.5~x", Username: "pending@example.com", PasswordHash: bcryptHash(t, "password of pending user", "2a"), Status: users.StatusPending, Created: created},
		{ID: "legacy_6", Username: "disabled@example.com", Status: users.StatusDisabled, Created: created},
		{Username: "noid@example.com"},
	}
	passwords := []string{"password of 2a user", "password of 2b user", "password of 2y user", "password of argon user", "password of pending user", "", ""}
	snapshot := make([]*users.User, len(in))
	for i, u := range in {
		snapshot[i] = u.Clone()
	}

	results, err := h.svc.Import(ctx, in)
	require.NoError(t, err)
	require.Len(t, results, len(in))
	for i, u := range in {
		assert.Equal(t, snapshot[i], u, "the input is not changed")
		assert.Equal(t, users.ImportCreated, results[i].Status, "%d: %v", i, results[i].Err)
		assert.NoError(t, results[i].Err)
		if u.ID != "" {
			assert.Equal(t, u.ID, results[i].ID, "in order")
		}
	}
	_, err = uuid.Parse(results[6].ID)
	assert.NoError(t, err, "a missing ID is generated")
	assert.Equal(t, 1, h.events.count(users.EventUsersImported))

	t.Run("kept as given", func(t *testing.T) {
		for i, u := range in {
			got, err := h.svc.Get(ctx, results[i].ID)
			require.NoError(t, err)
			want := u.Clone()
			require.NoError(t, want.Normalize())
			want.ID = results[i].ID
			want.Version = 1
			want.Created, want.Updated = users.CanonicalTime(u.Created), users.CanonicalTime(u.Updated)
			switch {
			case u.Created.IsZero():
				want.Created, want.Updated = users.CanonicalTime(h.clock.Now()), users.CanonicalTime(h.clock.Now())
			case u.Updated.IsZero():
				want.Updated = want.Created
			}
			assert.Equal(t, want, got, u.Username)
			assert.Equal(t, u.PasswordHash, got.PasswordHash)
		}
		got, err := h.svc.Get(ctx, "legacy-1")
		require.NoError(t, err)
		assert.Equal(t, time.Date(2019, 5, 1, 10, 30, 15, 123456000, time.UTC), got.Created)
		assert.Equal(t, users.StatusActive, got.Status, "the default status")
	})

	t.Run("sign-in verifies and upgrades the hash", func(t *testing.T) {
		for i, u := range in[:4] {
			t.Run(u.Username, func(t *testing.T) {
				before := h.storedHash(t, u.ID)
				_, err := h.svc.SignIn(ctx, u.Username, passwords[i]+"!")
				assert.ErrorIs(t, err, users.ErrUnauthorized)
				_, err = h.svc.SignIn(ctx, u.Username, strings.ToUpper(passwords[i]))
				assert.ErrorIs(t, err, users.ErrUnauthorized)
				assert.Equal(t, before, h.storedHash(t, u.ID), "a wrong password never changes the hash")

				h.signIn(t, u.Username, passwords[i])
				after := h.storedHash(t, u.ID)
				assert.True(t, strings.HasPrefix(after, "$argon2id$v=19$m=64,t=1,p=1$"), "replaced by the current argon2id: %.30s", after)
				ok, err := argon2id.ComparePasswordAndHash(passwords[i], after)
				require.NoError(t, err)
				assert.True(t, ok)
				h.signIn(t, u.Username, passwords[i])
			})
		}
		_, err := h.svc.SignIn(ctx, "pending@example.com", "password of pending user")
		assertCode(t, err, users.CodeForbidden, "status")
		_, err = h.svc.SignIn(ctx, "disabled@example.com", "")
		assert.ErrorIs(t, err, users.ErrUnauthorized, "no hash, no password")
	})
}

// TestImportBcryptLongPassword: a password of 72 bytes, the most bcrypt reads, signs in.
func TestImportBcryptLongPassword(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("p", 72)
	r := h.importOne(t, &users.User{Username: alice, PasswordHash: bcryptHash(t, long, "2a")})
	require.Equal(t, users.ImportCreated, r.Status, "%v", r.Err)
	h.signIn(t, alice, long)
}

func TestImportSkipsAndRejects(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	existing, err := h.svc.Create(ctx, users.NewUser{Username: alice, Email: "alice@home.example", Password: alicePassword})
	require.NoError(t, err)
	good := bcryptHash(t, otherPassword, "2a")
	argon := argon2idHash(t, otherPassword)
	argonParts := strings.Split(argon, "$") // "", "argon2id", "v=19", "m=32,t=2,p=1", salt, key
	withParts := func(params, salt, key string) string {
		return strings.Join([]string{"", "argon2id", "v=19", params, salt, key}, "$")
	}

	tests := []struct {
		name   string
		u      *users.User
		status users.ImportStatus
		code   users.Code
		field  string
	}{
		{"created", &users.User{ID: "u1", Username: "u1@example.com", PasswordHash: good}, users.ImportCreated, "", ""},
		{"the ID of a stored user", &users.User{ID: existing.ID, Username: "u2@example.com"}, users.ImportSkipped, users.CodeConflict, "id"},
		{"the username of a stored user", &users.User{ID: "u3", Username: "ALICE@example.com", Email: "u3@example.com"}, users.ImportSkipped, users.CodeConflict, "username"},
		{"the e-mail of a stored user", &users.User{ID: "u4", Username: "u4@example.com", Email: "Alice@Home.example"}, users.ImportSkipped, users.CodeConflict, "email"},
		{"the ID of an earlier user", &users.User{ID: "u1", Username: "u5@example.com"}, users.ImportSkipped, users.CodeConflict, "id"},
		{"the username of an earlier user", &users.User{ID: "u6", Username: "U1@example.com", Email: "u6@example.com"}, users.ImportSkipped, users.CodeConflict, "username"},
		{"the e-mail of an earlier user", &users.User{ID: "u7", Username: "u7@example.com", Email: "u1@EXAMPLE.com"}, users.ImportSkipped, users.CodeConflict, "email"},
		{"nil", nil, users.ImportRejected, users.CodeInvalid, ""},
		{"bad username", &users.User{ID: "u8", Username: "u8"}, users.ImportRejected, users.CodeInvalid, "username"},
		{"bad status", &users.User{ID: "u9", Username: "u9@example.com", Status: "gone"}, users.ImportRejected, users.CodeInvalid, "status"},
		{"bad permissions", &users.User{ID: "u10", Username: "u10@example.com", Permissions: map[string]users.Permission{"users": "root"}}, users.ImportRejected, users.CodeInvalid, "permissions"},
		{"ID with a slash", &users.User{ID: "a/b", Username: "u11@example.com"}, users.ImportRejected, users.CodeInvalid, "id"},
		{"ID with a space", &users.User{ID: "a b", Username: "u12@example.com"}, users.ImportRejected, users.CodeInvalid, "id"},
		{"ID too long", &users.User{ID: strings.Repeat("i", 65), Username: "u13@example.com"}, users.ImportRejected, users.CodeInvalid, "id"},
		{"plain-text password", &users.User{ID: "u14", Username: "u14@example.com", PasswordHash: otherPassword}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"bcrypt cut short", &users.User{ID: "u15", Username: "u15@example.com", PasswordHash: good[:59]}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"bcrypt of another version", &users.User{ID: "u16", Username: "u16@example.com", PasswordHash: "$2x$" + good[4:]}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"bcrypt with a bad cost", &users.User{ID: "u17", Username: "u17@example.com", PasswordHash: good[:4] + "99" + good[6:]}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2i", &users.User{ID: "u18", Username: "u18@example.com", PasswordHash: strings.Replace(argon, "argon2id", "argon2i", 1)}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2id of another version", &users.User{ID: "u19", Username: "u19@example.com", PasswordHash: strings.Replace(argon, "v=19", "v=16", 1)}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2id with bad base64", &users.User{ID: "u20", Username: "u20@example.com", PasswordHash: argon + "!"}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2id without a key", &users.User{ID: "u21", Username: "u21@example.com", PasswordHash: withParts(argonParts[3], argonParts[4], "")}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2id with a short key", &users.User{ID: "u22", Username: "u22@example.com", PasswordHash: withParts(argonParts[3], argonParts[4], argonParts[5][:4])}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2id without a salt", &users.User{ID: "u23", Username: "u23@example.com", PasswordHash: withParts(argonParts[3], "", argonParts[5])}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2id with no iterations", &users.User{ID: "u24", Username: "u24@example.com", PasswordHash: withParts("m=32,t=0,p=1", argonParts[4], argonParts[5])}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2id with no parallelism", &users.User{ID: "u25", Username: "u25@example.com", PasswordHash: withParts("m=32,t=2,p=0", argonParts[4], argonParts[5])}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"bcrypt costlier than allowed", &users.User{ID: "u27", Username: "u27@example.com", PasswordHash: good[:4] + "13" + good[6:]}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2id with more memory than allowed", &users.User{ID: "u29", Username: "u29@example.com", PasswordHash: withParts("m=65537,t=2,p=1", argonParts[4], argonParts[5])}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2id with more iterations than allowed", &users.User{ID: "u30", Username: "u30@example.com", PasswordHash: withParts("m=32,t=5,p=1", argonParts[4], argonParts[5])}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"argon2id with more parallelism than allowed", &users.User{ID: "u31", Username: "u31@example.com", PasswordHash: withParts("m=32,t=2,p=5", argonParts[4], argonParts[5])}, users.ImportRejected, users.CodeInvalid, "passwordHash"},
		{"created after the rejects", &users.User{ID: "u26", Username: "u26@example.com", PasswordHash: argon}, users.ImportCreated, "", ""},
	}
	batch := make([]*users.User, len(tests))
	for i, tt := range tests {
		batch[i] = tt.u
	}
	results, err := h.svc.Import(ctx, batch)
	require.NoError(t, err)
	require.Len(t, results, len(tests))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := results[i]
			assert.Equal(t, tt.status, r.Status, "%v", r.Err)
			if tt.u != nil {
				assert.Equal(t, tt.u.ID, r.ID)
			}
			if tt.status == users.ImportCreated {
				assert.NoError(t, r.Err)
				_, err := h.svc.Get(ctx, tt.u.ID)
				assert.NoError(t, err)
				return
			}
			assertCode(t, r.Err, tt.code, tt.field)
			if tt.u != nil {
				if stored, err := h.svc.Get(ctx, tt.u.ID); err == nil {
					assert.NotEqual(t, users.Fold(tt.u.Username), users.Fold(stored.Username), "not stored")
				}
			}
		})
	}
	assert.Equal(t, 3, h.userCount(t))
	got, err := h.svc.Get(ctx, existing.ID)
	require.NoError(t, err)
	assert.Equal(t, existing, got, "the stored user is untouched")

	// No imported hash signs in with a password it was not made from.
	for _, u := range batch {
		if u != nil && u.PasswordHash != "" {
			_, err := h.svc.SignIn(ctx, u.Username, "any password at all")
			assert.ErrorIs(t, err, users.ErrUnauthorized, u.ID)
		}
	}
}

// TestImportCostCeilings: a hash at the ceilings is imported, one a step above any of them is
// rejected naming passwordHash. The hashes are forged (their keys match no password): Import
// reads only their parameters.
func TestImportCostCeilings(t *testing.T) {
	h := newHarness(t)
	bc := bcryptHash(t, otherPassword, "2b")
	argonParts := strings.Split(argon2idHash(t, otherPassword), "$")
	argon := func(params string) string {
		return strings.Join([]string{"", "argon2id", "v=19", params, argonParts[4], argonParts[5]}, "$")
	}
	ceiling := fmt.Sprintf("m=%d,t=%d,p=%d", users.MaxImportedArgon2Memory, users.MaxImportedArgon2Iterations, users.MaxImportedArgon2Parallelism)
	tests := []struct {
		name string
		hash string
		want users.ImportStatus
	}{
		{"bcrypt at the ceiling", bc[:4] + strconv.Itoa(users.MaxImportedBcryptCost) + bc[6:], users.ImportCreated},
		{"bcrypt above it", bc[:4] + strconv.Itoa(users.MaxImportedBcryptCost+1) + bc[6:], users.ImportRejected},
		{"argon2id at the ceilings", argon(ceiling), users.ImportCreated},
		{"argon2id above the memory", argon(fmt.Sprintf("m=%d,t=1,p=1", users.MaxImportedArgon2Memory+1)), users.ImportRejected},
		{"argon2id above the iterations", argon(fmt.Sprintf("m=64,t=%d,p=1", users.MaxImportedArgon2Iterations+1)), users.ImportRejected},
		{"argon2id above the parallelism", argon(fmt.Sprintf("m=64,t=1,p=%d", users.MaxImportedArgon2Parallelism+1)), users.ImportRejected},
		{"the old ceilings", argon("m=262144,t=16,p=16"), users.ImportRejected},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.importOne(t, &users.User{Username: fmt.Sprintf("c%d@example.com", i), PasswordHash: tt.hash})
			assert.Equal(t, tt.want, r.Status, "%v", r.Err)
			if tt.want == users.ImportRejected {
				assertCode(t, r.Err, users.CodeInvalid, "passwordHash")
				assert.NotContains(t, r.Err.Error(), tt.hash)
			}
		})
	}
}

func TestImportBatchLimit(t *testing.T) {
	h := newHarness(t)
	results, err := h.svc.Import(context.Background(), make([]*users.User, users.MaxImportBatch+1))
	assert.Nil(t, results)
	assert.ErrorIs(t, err, users.ErrInvalid)
	assertCode(t, err, users.CodeInvalid, "users")

	results, err = h.svc.Import(context.Background(), make([]*users.User, users.MaxImportBatch))
	require.NoError(t, err)
	assert.Len(t, results, users.MaxImportBatch)
	assert.Equal(t, users.ImportRejected, results[0].Status)

	results, err = h.svc.Import(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, results)
	assert.Zero(t, h.events.count(users.EventUsersImported))
}

// failingStore is a memory store whose CreateUser fails with errStoreDown at its failAt-th
// call, counted across its transactions, and at every later call when down is set; and fails
// with errRefused, always, for a username in refuse.
type failingStore struct {
	users.Store
	calls  *atomic.Int64
	failAt int64
	down   bool
	refuse []string
}

var (
	errStoreDown = errors.New("store: connection reset")
	errRefused   = errors.New("store: CHECK constraint failed")
)

func (s *failingStore) CreateUser(ctx context.Context, u *users.User) error {
	n := s.calls.Add(1)
	switch {
	case n == s.failAt || s.down && s.failAt > 0 && n > s.failAt:
		return errStoreDown
	case slices.Contains(s.refuse, u.Username):
		return errRefused
	}
	return s.Store.CreateUser(ctx, u)
}

func (s *failingStore) Atomic(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) error {
	return s.Store.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		c := *s
		c.Store = tx
		return fn(ctx, &c)
	})
}

// failingService returns a Service without a worker over h's store, as failingStore
// configured by configure.
func (h *harness) failingService(t *testing.T, configure func(*failingStore)) (users.Service, *failingStore) {
	t.Helper()
	store := &failingStore{Store: h.store, calls: new(atomic.Int64)}
	configure(store)
	cfg := h.cfg
	cfg.NoWorker = true
	svc, err := users.New(store, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	return svc, store
}

// batchOf returns n new users user0@example.com, user1@example.com, ...
func batchOf(n int) []*users.User {
	var batch []*users.User
	for i := range n {
		batch = append(batch, &users.User{Username: fmt.Sprintf("user%d@example.com", i)})
	}
	return batch
}

func TestImportStoreFailure(t *testing.T) {
	t.Run("a moment's failure is tried again", func(t *testing.T) {
		h := newHarness(t)
		h.create(t, alice, alicePassword)
		svc, store := h.failingService(t, func(s *failingStore) { s.failAt = 3 })
		results, err := svc.Import(context.Background(), batchOf(5))
		require.NoError(t, err)
		for i, r := range results {
			assert.Equal(t, users.ImportCreated, r.Status, "user %d: %v", i, r.Err)
		}
		assert.Equal(t, int64(3+5), store.calls.Load(), "the batch stored again")
		assert.Equal(t, 6, h.userCount(t))
	})
	t.Run("a store that stays down fails the import", func(t *testing.T) {
		h := newHarness(t)
		h.create(t, alice, alicePassword)
		svc, _ := h.failingService(t, func(s *failingStore) { s.failAt, s.down = 3, true })
		results, err := svc.Import(context.Background(), batchOf(12))
		assert.Nil(t, results)
		assert.ErrorIs(t, err, users.ErrInternal)
		assert.ErrorIs(t, err, errStoreDown, "the cause is kept")
		assert.Equal(t, 1, h.userCount(t), "nothing created")
		assert.Zero(t, h.events.count(users.EventUsersImported))
	})
}

func TestImportRejectsWhatTheStoreRefusesAlone(t *testing.T) {
	t.Run("one refused user", func(t *testing.T) {
		h := newHarness(t)
		logs := new(testutil.SyncBuffer)
		h.cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
		svc, _ := h.failingService(t, func(s *failingStore) { s.refuse = []string{"user2@example.com"} })
		results, err := svc.Import(context.Background(), batchOf(5))
		require.NoError(t, err)
		require.Len(t, results, 5)
		for i, r := range results {
			if i == 2 {
				assert.Equal(t, users.ImportRejected, r.Status)
				assertCode(t, r.Err, users.CodeInvalid, "")
				assert.ErrorIs(t, r.Err, errRefused, "the cause is kept")
				assert.Equal(t, "the store refused this user", r.Err.Error(), "the store's words are not shown")
				continue
			}
			assert.Equal(t, users.ImportCreated, r.Status, "user %d: %v", i, r.Err)
		}
		assert.Equal(t, 4, h.userCount(t))
		assert.Contains(t, logs.String(), "the store refused an imported user")
	})
	t.Run("as many refused users as allowed", func(t *testing.T) {
		h := newHarness(t)
		var refuse []string
		for i := range 8 {
			refuse = append(refuse, fmt.Sprintf("user%d@example.com", 2*i))
		}
		svc, _ := h.failingService(t, func(s *failingStore) { s.refuse = refuse })
		results, err := svc.Import(context.Background(), batchOf(17))
		require.NoError(t, err)
		rejected := 0
		for _, r := range results {
			if r.Status == users.ImportRejected {
				rejected++
			}
		}
		assert.Equal(t, 8, rejected)
		assert.Equal(t, 9, h.userCount(t))
	})
	t.Run("more refused users than allowed", func(t *testing.T) {
		h := newHarness(t)
		var refuse []string
		for i := range 9 {
			refuse = append(refuse, fmt.Sprintf("user%d@example.com", 2*i))
		}
		svc, _ := h.failingService(t, func(s *failingStore) { s.refuse = refuse })
		results, err := svc.Import(context.Background(), batchOf(19))
		assert.Nil(t, results)
		assert.ErrorIs(t, err, errRefused)
		assert.Zero(t, h.userCount(t), "nothing created")
	})
}

// seed stores n users directly in the store, with random IDs, and returns them.
func seed(t *testing.T, store users.Store, n int) []*users.User {
	t.Helper()
	ctx := context.Background()
	now := users.CanonicalTime(time.Now())
	out := make([]*users.User, n)
	for i := range n {
		u := &users.User{ID: uuid.NewString(), Username: fmt.Sprintf("user%05d@example.com", i), Email: fmt.Sprintf("user%05d@example.com", i),
			Scope: []string{"user"}, Status: users.StatusActive, Created: now, Updated: now, PasswordHash: fmt.Sprintf("$argon2id$hash-%d", i)}
		require.NoError(t, store.CreateUser(ctx, u))
		out[i] = u
	}
	return out
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 2000, 2345} {
		t.Run(fmt.Sprint(n, " users"), func(t *testing.T) {
			h := newHarness(t)
			want := seed(t, h.store, n)
			slices.SortFunc(want, func(a, b *users.User) int { return strings.Compare(a.ID, b.ID) })
			var got []*users.User
			require.NoError(t, h.svc.Export(ctx, func(u *users.User) error {
				got = append(got, u)
				return nil
			}))
			require.Len(t, got, n)
			for i := range want {
				assert.Equal(t, want[i], got[i], "in ID order, with the hash")
			}
		})
	}

	t.Run("fn's error stops it", func(t *testing.T) {
		h := newHarness(t)
		seed(t, h.store, 1500)
		errStop := errors.New("stop")
		calls := 0
		err := h.svc.Export(ctx, func(*users.User) error {
			calls++
			if calls == 1200 {
				return fmt.Errorf("writing: %w", errStop)
			}
			return nil
		})
		assert.ErrorIs(t, err, errStop)
		assert.Equal(t, 1200, calls)
	})
}

// TestExportImportRoundTrip exports every user of one store and imports them into another:
// the users, hashes included, are the same, and sign in with the same passwords.
func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := newHarness(t)
	a, err := src.svc.Create(ctx, users.NewUser{Username: alice, Email: "alice@home.example", Name: "Alice", Password: alicePassword,
		Scope: []string{"user", "editor"}, Plan: "pro", Vendor: []string{"v"}, AllowedPrivateComponents: []string{"c"}, OrgID: "acme",
		EmailVerified: true, Metadata: map[string]any{"nested": map[string]any{"list": []any{1, "two", nil}}},
		Permissions: map[string]users.Permission{"users": "write"}, PasswordResetDisallowed: true})
	require.NoError(t, err)
	src.clock.Advance(time.Hour)
	name := "Alice B."
	_, err = src.svc.Update(ctx, a.ID, users.Update{Name: &name})
	require.NoError(t, err)
	b := src.create(t, bob, otherPassword)
	_, err = src.svc.GeneratePassword(ctx, b.ID)
	require.NoError(t, err)
	_, err = src.svc.Create(ctx, users.NewUser{Username: "nopassword@example.com", Status: users.StatusPending})
	require.NoError(t, err)
	r := src.importOne(t, &users.User{ID: "legacy-7", Username: "legacy@example.com", PasswordHash: bcryptHash(t, "legacy password", "2y")})
	require.Equal(t, users.ImportCreated, r.Status)

	var exported []*users.User
	require.NoError(t, src.svc.Export(ctx, func(u *users.User) error {
		exported = append(exported, u)
		return nil
	}))
	require.Len(t, exported, 4)

	dst := newHarness(t)
	results, err := dst.svc.Import(ctx, exported)
	require.NoError(t, err)
	for i, r := range results {
		require.Equal(t, users.ImportCreated, r.Status, "%v", r.Err)
		assert.Equal(t, exported[i].ID, r.ID)
	}
	for _, u := range exported {
		got, err := dst.store.GetUser(ctx, u.ID)
		require.NoError(t, err)
		want := u.Clone()
		want.Version = 1
		assert.Equal(t, want, got, u.Username)
		assert.NotEmpty(t, u.Created)
	}
	dst.signIn(t, alice, alicePassword)
	dst.signIn(t, "legacy@example.com", "legacy password")
}

// TestUnusableStoredHash: an argon2id hash whose parameters argon2 cannot run with, or whose
// key is empty (matching every password), put in the store by other means than the Service,
// is a mismatch for every password, not a crash or a match.
func TestUnusableStoredHash(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	parts := strings.Split(argon2idHash(t, alicePassword), "$")
	hashes := map[string]string{
		"no key":         strings.Join([]string{"", "argon2id", "v=19", parts[3], parts[4], ""}, "$"),
		"short key":      strings.Join([]string{"", "argon2id", "v=19", parts[3], parts[4], parts[5][:8]}, "$"),
		"no iterations":  strings.Join([]string{"", "argon2id", "v=19", "m=32,t=0,p=1", parts[4], parts[5]}, "$"),
		"no parallelism": strings.Join([]string{"", "argon2id", "v=19", "m=32,t=2,p=0", parts[4], parts[5]}, "$"),
	}
	i := 0
	for name, hash := range hashes {
		t.Run(name, func(t *testing.T) {
			i++
			username := fmt.Sprintf("broken%d@example.com", i)
			u := &users.User{ID: uuid.NewString(), Username: username, Email: username, Scope: []string{"user"},
				Status: users.StatusActive, PasswordHash: hash}
			require.NoError(t, h.store.CreateUser(ctx, u))
			for _, pw := range []string{alicePassword, "any password at all"} {
				_, err := h.svc.SignIn(ctx, username, pw)
				assert.ErrorIs(t, err, users.ErrUnauthorized)
				err = h.svc.ChangePassword(ctx, users.PasswordChange{UserID: u.ID, OldPassword: pw, NewPassword: otherPassword})
				assert.ErrorIs(t, err, users.ErrWrongPassword)
			}
		})
	}
}
