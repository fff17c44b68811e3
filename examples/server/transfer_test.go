package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/sqlite"
)

// transferPassword is the password of every user the transfer tests import with a hash.
const transferPassword = "correct horse battery staple"

// argon2idOf and bcryptOf hash transferPassword as another system would have: argon2id with
// cheap parameters, and bcrypt at its lowest cost with the version prefix given.
func argon2idOf(t *testing.T) string {
	t.Helper()
	return testutil.Hash(t, users.TestArgon2(), transferPassword)
}

func bcryptOf(t *testing.T, version string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(transferPassword), bcrypt.MinCost)
	require.NoError(t, err)
	return "$" + version + string(b[3:])
}

// transferUsers returns users to import: one with every field set, and others with each kind
// of hash, and without one.
func transferUsers(t *testing.T) []*users.User {
	t.Helper()
	t1 := time.Date(2023, 2, 3, 4, 5, 6, 789012000, time.UTC)
	return []*users.User{
		{
			ID: "full", Username: "Full.User@example.com", Email: "full.mail@example.org", Name: "Full User",
			Scope: []string{users.RoleUser, users.RoleAdmin, "team"}, Plan: "pro", Vendor: []string{"acme", "globex"},
			AllowedPrivateComponents: []string{"engine"}, OrgID: "org-1", Status: users.StatusDisabled,
			EmailVerified: true, Metadata: map[string]any{"seats": 3.5, "tags": []any{"a", false, nil}, "deep": map[string]any{"k": "v"}},
			Permissions:        map[string]users.Permission{users.ResourceUsers: users.PermissionAdmin, "reports": users.PermissionRead},
			MustChangePassword: true, PasswordResetDisallowed: true,
			Created: t1, Updated: t1.Add(36 * time.Hour), PasswordHash: argon2idOf(t),
		},
		{ID: "bcrypt-2a", Username: "ann@example.com", Status: users.StatusActive, Created: t1, PasswordHash: bcryptOf(t, "2a")},
		{ID: "bcrypt-2b", Username: "ben@example.com", Status: users.StatusActive, Created: t1, PasswordHash: bcryptOf(t, "2b")},
		{ID: "bcrypt-2y", Username: "cy@example.com", Status: users.StatusActive, Created: t1, PasswordHash: bcryptOf(t, "2y")},
		{ID: "no-password", Username: "dee@example.com", Status: users.StatusPending, Created: t1},
	}
}

// withService runs fn with a Service on the SQLite database at path, and closes both.
func withService(t *testing.T, path string, fn func(svc users.Service)) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), path, nil)
	require.NoError(t, err)
	svc, err := users.New(store, users.Config{Argon2: users.TestArgon2(), NoWorker: true})
	require.NoError(t, err)
	fn(svc)
	require.NoError(t, svc.Close())
	require.NoError(t, store.Close())
}

// importAll imports us into svc and requires every one created.
func importAll(t *testing.T, svc users.Service, us []*users.User) {
	t.Helper()
	results, err := svc.Import(t.Context(), us)
	require.NoError(t, err)
	for _, r := range results {
		require.Equal(t, users.ImportCreated, r.Status, "%s: %v", r.ID, r.Err)
	}
}

// exported returns every user of svc, in ID order, with their hashes.
func exported(t *testing.T, svc users.Service) []*users.User {
	t.Helper()
	var out []*users.User
	require.NoError(t, svc.Export(t.Context(), func(u *users.User) error {
		out = append(out, u)
		return nil
	}))
	return out
}

// runTransfer runs the program with args, stdin as its standard input, and returns what it
// wrote to its standard output and error.
func runTransfer(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runIO(t.Context(), args, env(nil), strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// reportLines decodes the import's standard output: the line reports, and the summary.
func reportLines(t *testing.T, out string) ([]lineReport, importSummary) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.NotEmpty(t, lines)
	var reports []lineReport
	for _, l := range lines[:len(lines)-1] {
		var r lineReport
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&r), l)
		reports = append(reports, r)
	}
	var sum importSummary
	dec := json.NewDecoder(strings.NewReader(lines[len(lines)-1]))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&sum), lines[len(lines)-1])
	return reports, sum
}

// TestExportImportRoundTrip exports a database with the program and imports the file into a
// new one: every user comes back with every field, hash included, and only the version
// starts again at 1.
func TestExportImportRoundTrip(t *testing.T) {
	cheapHashing(t)
	dir := t.TempDir()
	src, dst, file := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db"), filepath.Join(dir, "users.jsonl")
	var want []*users.User
	withService(t, src, func(svc users.Service) {
		importAll(t, svc, transferUsers(t))
		// A user of this system, hashed by the Service and updated since.
		u, err := svc.Create(t.Context(), users.NewUser{Username: "eve@example.com", Password: transferPassword})
		require.NoError(t, err)
		name := "Eve"
		_, err = svc.Update(t.Context(), u.ID, users.Update{Name: &name})
		require.NoError(t, err)
		want = exported(t, svc)
	})
	require.Len(t, want, 6)

	_, _, err := runTransfer(t, "", "-db", src, "export", file)
	require.NoError(t, err)
	info, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the file holds every hash")
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, 6, bytes.Count(data, []byte("\n")))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp", "no temporary file is left")
	}

	// "-" is standard output, with the same lines.
	stdout, stderr, err := runTransfer(t, "", "-db", src, "export", "-")
	require.NoError(t, err)
	assert.Equal(t, string(data), stdout)
	assert.Contains(t, stderr, `msg="export done" users=6`)

	// Flags may follow the command; "-" is standard input.
	stdout, stderr, err = runTransfer(t, string(data), "import", "-db", dst, "-")
	require.NoError(t, err)
	reports, sum := reportLines(t, stdout)
	assert.Empty(t, reports)
	assert.Equal(t, "done", sum.Status)
	assert.Equal(t, importSummary{Status: "done", Read: 6, Created: 6}, importSummary{Status: sum.Status, Read: sum.Read, Created: sum.Created, Skipped: sum.Skipped, Rejected: sum.Rejected})
	assert.Contains(t, stderr, `msg="import done" read=6 created=6 skipped=0 rejected=0`)

	withService(t, dst, func(svc users.Service) {
		got := exported(t, svc)
		require.Len(t, got, len(want))
		for i := range want {
			assert.Equal(t, int64(1), got[i].Version, "version starts again at 1")
			w := want[i].Clone()
			w.Version = 1
			assert.Equal(t, w, got[i], "user %s", w.ID)
		}
	})
	// Imported again, every line is skipped, and the exit status stays 0.
	stdout, _, err = runTransfer(t, "", "-db", dst, "import", file)
	require.NoError(t, err)
	reports, sum = reportLines(t, stdout)
	assert.Len(t, reports, 6)
	for _, r := range reports {
		assert.Equal(t, users.ImportSkipped, r.Status)
		assert.Equal(t, "id", r.Field)
	}
	assert.Equal(t, 6, sum.Skipped)
}

// badLinesFile is an import file with one line of each kind of trouble, for a database that
// holds a user with the ID "taken-id" and the username existing@example.com.
func badLinesFile(t *testing.T) string {
	return strings.Join([]string{
		`{"id":"a1","username":"ann@example.com","passwordHash":"` + argon2idOf(t) + `"}`,
		`{"id":"a2","username":"bea@example.com",`,
		`{"id":"a3","username":"cat@example.com","email":"cat at example.com"}`,
		`{"id":"a4","username":"dan@example.com","passwordHash":"$md5$salt$digest"}`,
		``,
		`{"id":"a6","username":"ANN@example.com"}`,
		`{"id":"a7","username":"existing@example.com"}`,
		`{"id":"taken-id","username":"fay@example.com"}`,
		`{"username":"gus@example.com","password":"` + transferPassword + `"}`,
		`{"id":"a10","username":"hal@example.com","passwordHash":"` + bcryptOf(t, "2b") + `"}`,
		`{"id":"a11","username":"ivy@example.com","email":"Ann@Example.com"}`,
	}, "\n") + "\n"
}

// TestImportReportsBadLines imports a file with bad lines through the program: each is
// reported, with the field at fault, and the lines after it are imported all the same; the
// exit status says lines were rejected.
func TestImportReportsBadLines(t *testing.T) {
	cheapHashing(t)
	want := []lineReport{
		{Line: 2, Status: users.ImportRejected, Error: "not valid JSON"},
		{Line: 3, Status: users.ImportRejected, ID: "a3", Field: "email", Error: "e-mail address"},
		{Line: 4, Status: users.ImportRejected, ID: "a4", Field: "passwordHash", Error: "argon2id or bcrypt"},
		{Line: 6, Status: users.ImportSkipped, ID: "a6", Field: "username", Error: "taken"},
		{Line: 7, Status: users.ImportSkipped, ID: "a7", Field: "username", Error: "taken"},
		{Line: 8, Status: users.ImportSkipped, ID: "taken-id", Field: "id", Error: ""},
		{Line: 9, Status: users.ImportRejected, Field: "password", Error: "not a field"},
		{Line: 11, Status: users.ImportSkipped, ID: "a11", Field: "email", Error: "taken"},
	}
	// Batches of 1,000 (the program's), and of 2, where clashes with earlier lines are
	// clashes with the database.
	for _, batch := range []int{importBatch, 2} {
		t.Run(fmt.Sprintf("batches of %d", batch), func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "users.db")
			withService(t, db, func(svc users.Service) {
				importAll(t, svc, []*users.User{{ID: "taken-id", Username: "existing@example.com"}})
			})
			var stdout string
			if batch == importBatch {
				var err error
				stdout, _, err = runTransfer(t, badLinesFile(t), "-db", db, "import", "-")
				var rejected *rejectedError
				require.ErrorAs(t, err, &rejected)
				assert.Equal(t, 4, rejected.n)
				assert.Contains(t, err.Error(), "4 lines rejected")
			} else {
				withService(t, db, func(svc users.Service) {
					var out strings.Builder
					im := &importer{svc: svc, log: slog.New(slog.DiscardHandler), batch: batch, progressEvery: time.Hour}
					_, err := im.run(t.Context(), strings.NewReader(badLinesFile(t)), &out)
					require.NoError(t, err)
					stdout = out.String()
				})
			}
			reports, sum := reportLines(t, stdout)
			require.Len(t, reports, len(want), stdout)
			for i, w := range want {
				got := reports[i]
				assert.Contains(t, got.Error, w.Error, "line %d", w.Line)
				got.Error, w.Error = "", ""
				assert.Equal(t, w, got)
			}
			assert.Equal(t, "done", sum.Status)
			assert.Equal(t, []int{10, 2, 4, 4}, []int{sum.Read, sum.Created, sum.Skipped, sum.Rejected}, "read, created, skipped, rejected")
			assert.NotContains(t, stdout, transferPassword, "the report repeats no data")
			assert.NotContains(t, stdout, "$argon2id$")

			withService(t, db, func(svc users.Service) {
				var ids []string
				for _, u := range exported(t, svc) {
					ids = append(ids, u.ID)
				}
				assert.Equal(t, []string{"a1", "a10", "taken-id"}, ids)
			})
		})
	}
}

// TestImportedUsersSignIn checks that users imported with a bcrypt hash sign in with their
// password and then have an argon2id hash, and that users imported with an argon2id hash sign
// in too.
func TestImportedUsersSignIn(t *testing.T) {
	cheapHashing(t)
	dir := t.TempDir()
	db, file := filepath.Join(dir, "users.db"), filepath.Join(dir, "users.jsonl")
	var lines []byte
	for _, u := range transferUsers(t) {
		u.Status = users.StatusActive
		b, err := users.MarshalRecord(u)
		require.NoError(t, err)
		lines = append(append(lines, b...), '\n')
	}
	require.NoError(t, os.WriteFile(file, lines, 0o600))
	_, _, err := runTransfer(t, "", "-db", db, "import", file)
	require.NoError(t, err)

	withService(t, db, func(svc users.Service) {
		ctx := t.Context()
		for _, username := range []string{"ann@example.com", "ben@example.com", "cy@example.com", "full.user@example.com"} {
			before, err := svc.GetByUsername(ctx, username)
			require.NoError(t, err)
			_, err = svc.SignIn(ctx, username, "not the password")
			require.ErrorIs(t, err, users.ErrUnauthorized, username)
			s, err := svc.SignIn(ctx, username, transferPassword)
			require.NoError(t, err, username)
			assert.Equal(t, before.ID, s.User.ID)
			var hash string
			for _, u := range exported(t, svc) {
				if u.ID == before.ID {
					hash = u.PasswordHash
				}
			}
			assert.True(t, strings.HasPrefix(hash, "$argon2id$"), "%s now has an argon2id hash", username)
			_, err = svc.SignIn(ctx, username, transferPassword)
			require.NoError(t, err, "%s signs in with the new hash", username)
		}
		_, err := svc.SignIn(ctx, "dee@example.com", "")
		assert.ErrorIs(t, err, users.ErrUnauthorized, "no password, no sign-in")
	})
}

// TestMemoryToSQLiteRoundTrip moves users from the memory store to SQLite and back: the three
// exports are the same bytes.
func TestMemoryToSQLiteRoundTrip(t *testing.T) {
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	newService := func(store users.Store) users.Service {
		svc, err := users.New(store, users.Config{Argon2: users.TestArgon2(), NoWorker: true})
		require.NoError(t, err)
		t.Cleanup(func() { _ = svc.Close() })
		return svc
	}
	export := func(svc users.Service) string {
		var b strings.Builder
		n, err := exportUsers(ctx, svc, &b, log, time.Hour)
		require.NoError(t, err)
		require.Equal(t, 5, n)
		return b.String()
	}
	importInto := func(svc users.Service, data string) {
		im := &importer{svc: svc, log: log, batch: importBatch, progressEvery: time.Hour}
		sum, err := im.run(ctx, strings.NewReader(data), io.Discard)
		require.NoError(t, err)
		require.Equal(t, 5, sum.Created)
	}

	mem := newService(memory.New())
	importAll(t, mem, transferUsers(t))
	fromMemory := export(mem)

	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "users.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	lite := newService(store)
	importInto(lite, fromMemory)
	fromSQLite := export(lite)
	assert.Equal(t, fromMemory, fromSQLite)

	back := newService(memory.New())
	importInto(back, fromSQLite)
	assert.Equal(t, fromMemory, export(back))
	assert.Equal(t, exported(t, mem), exported(t, back))
}

// TestImportProgress checks the progress lines of the log, here after every batch.
func TestImportProgress(t *testing.T) {
	svc := newTestService(t)
	var log bytes.Buffer
	var in strings.Builder
	for i := range 5 {
		fmt.Fprintf(&in, `{"username":"user%d@example.com"}`+"\n", i)
	}
	im := &importer{svc: svc, log: slog.New(slog.NewTextHandler(&log, nil)), batch: 2}
	sum, err := im.run(t.Context(), strings.NewReader(in.String()), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 5, sum.Created)
	assert.Equal(t, 3, strings.Count(log.String(), `msg="import progress"`), log.String())
	assert.Contains(t, log.String(), `msg="import progress" read=4 created=4 skipped=0 rejected=0 users_per_second=`)
	assert.Contains(t, log.String(), `msg="import done" read=5 created=5`)
}

// TestImportStops checks an import that cannot go on: the lines read whole before a failed
// read are imported, nothing is after a cancellation, and the summary says so.
func TestImportStops(t *testing.T) {
	t.Run("read fails", func(t *testing.T) {
		svc := newTestService(t)
		broken := errors.New("disk on fire")
		in := &testutil.FailingReader{Data: `{"username":"a@example.com"}` + "\n" + `{"username":"b@example.com"}` + "\n" + `{"usern`, Err: broken}
		var out strings.Builder
		im := &importer{svc: svc, log: slog.New(slog.DiscardHandler), batch: importBatch, progressEvery: time.Hour}
		sum, err := im.run(t.Context(), in, &out)
		require.ErrorIs(t, err, broken)
		_, last := reportLines(t, out.String())
		assert.Equal(t, importSummary{Status: "failed", Read: 2, Created: 2, Error: "read line 3: disk on fire"},
			importSummary{Status: last.Status, Read: last.Read, Created: last.Created, Error: last.Error})
		assert.Equal(t, last.Read, sum.Read)
		n, err := svc.Count(t.Context(), users.Query{})
		require.NoError(t, err)
		assert.Equal(t, 2, n)
	})
	t.Run("cancelled", func(t *testing.T) {
		svc := newTestService(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var out strings.Builder
		im := &importer{svc: svc, log: slog.New(slog.DiscardHandler), batch: importBatch, progressEvery: time.Hour}
		_, err := im.run(ctx, strings.NewReader(`{"username":"a@example.com"}`+"\n"), &out)
		require.ErrorIs(t, err, context.Canceled)
		_, last := reportLines(t, out.String())
		assert.Equal(t, "failed", last.Status)
		assert.Zero(t, last.Read)
		n, err := svc.Count(t.Context(), users.Query{})
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

// TestExportFileKeptOnFailure checks that a failed export leaves the file it would replace as
// it was, and no temporary file.
func TestExportFileKeptOnFailure(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.jsonl")
	require.NoError(t, os.WriteFile(file, []byte("old\n"), 0o600))
	svc := newTestService(t)
	importAll(t, svc, []*users.User{{Username: "a@example.com"}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := exportFile(ctx, svc, file, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, context.Canceled)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "old\n", string(data))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)

	require.NoError(t, exportFile(t.Context(), svc, file, slog.New(slog.DiscardHandler)))
	data, err = os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"username":"a@example.com"`)
}

func TestParseConfigCommands(t *testing.T) {
	defaults := config{addr: ":8080", db: "users.db", rateLimit: 10, logFormat: "text", signUp: "verify"}
	with := func(db, command, file string) config {
		c := defaults
		c.db, c.command, c.file = db, command, file
		return c
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want config
	}{
		{name: "import", args: []string{"import", "users.jsonl"}, want: with("users.db", cmdImport, "users.jsonl")},
		{name: "export to stdout", args: []string{"-db", "x.db", "export", "-"}, want: with("x.db", cmdExport, "-")},
		{name: "flags after the command", args: []string{"export", "-db", "x.db", "out.jsonl"}, want: with("x.db", cmdExport, "out.jsonl")},
		{name: "database from the environment", args: []string{"import", "-"}, env: map[string]string{"USERS_DB": "env.db"}, want: with("env.db", cmdImport, "-")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, env(tt.env), new(strings.Builder))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	for _, args := range [][]string{{"import"}, {"export"}, {"import", "a", "b"}, {"export", ""}, {"import", "f", "-db", "x.db"}} {
		_, err := parseConfig(args, env(nil), new(strings.Builder))
		var usage *usageError
		require.ErrorAs(t, err, &usage, "%q", args)
		assert.ErrorContains(t, err, "takes one FILE")
	}
	_, err := parseConfig([]string{"frobnicate"}, env(nil), new(strings.Builder))
	assert.EqualError(t, err, `unexpected argument "frobnicate"`)

	var out strings.Builder
	_, err = parseConfig([]string{"import", "-h"}, env(nil), &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, out.String(), "server [flags] import FILE")
	assert.Contains(t, out.String(), "server [flags] export FILE")
}
