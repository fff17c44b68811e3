// Package pgtest gives tests a PostgreSQL server: a throwaway cluster that it creates in a
// temporary directory, starts, and removes again, or the server named by USERS_POSTGRES_DSN.
//
// A test package starts one server for all its tests in TestMain, with Main, and each test
// takes a schema of its own with Schema, so that tests run in parallel without seeing each
// other's tables:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		dsn, schema := pgtest.Schema(t)
//		...
//	}
//
// The cluster is made with the PostgreSQL binaries found in /usr/lib/postgresql/*/bin or on
// PATH (Debian's package postgresql). PostgreSQL refuses to run as root: as root, the cluster's
// files belong to the unprivileged user nobody and its programs run as that user. The server
// listens only on a Unix socket in the temporary directory, and runs without fsync: a test
// cluster needs no durability against power loss, only against its clients dying.
//
// When there is neither a server nor the binaries, the tests that need one skip, saying how to
// run them; with USERS_REQUIRE_POSTGRES=1 they fail instead.
//
// DSN, Schema, Database and Exec are safe for concurrent use by parallel tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment variables the harness reads.
const (
	// DSNEnv names an existing server to use instead of a throwaway cluster. Its role must
	// be allowed to create schemas (and, for the trigram indexes, the extension pg_trgm).
	DSNEnv = "USERS_POSTGRES_DSN"
	// RequireEnv, set to 1, turns every skip for want of a server into a failure.
	RequireEnv = "USERS_REQUIRE_POSTGRES"
)

var (
	mu        sync.Mutex
	serverDSN string // set by Main when a server is up
	missing   string // why there is no server, when there is none
)

// Main starts a server (or takes the one of USERS_POSTGRES_DSN), runs the package's tests,
// stops and removes the cluster it started, and exits with the tests' status. When no server
// can be had, the tests run anyway and those that need one skip (or fail, under
// USERS_REQUIRE_POSTGRES=1).
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if dsn := os.Getenv(DSNEnv); dsn != "" {
		setServer(dsn, "")
		return m.Run()
	}
	c, err := StartCluster()
	if err != nil {
		setServer("", err.Error())
		if os.Getenv(RequireEnv) == "1" {
			fmt.Fprintf(os.Stderr, "pgtest: %s=1 but no PostgreSQL server can be started: %v\n", RequireEnv, err)
			return 1
		}
		return m.Run()
	}
	setServer(c.DSN(), "")
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func setServer(dsn, why string) {
	mu.Lock()
	defer mu.Unlock()
	serverDSN, missing = dsn, why
}

// DSN returns the connection string of the package's server. Without one, it skips the test
// with a message that says how to run it, or fails it under USERS_REQUIRE_POSTGRES=1.
func DSN(t testing.TB) string {
	t.Helper()
	mu.Lock()
	dsn, why := serverDSN, missing
	mu.Unlock()
	if dsn != "" {
		return dsn
	}
	if why == "" {
		why = "pgtest.Main did not run: call it from TestMain"
	}
	msg := "no PostgreSQL server: " + why + ". Install PostgreSQL (apt-get install postgresql) or set " +
		DSNEnv + " to a server's connection string to run this test."
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Schema returns the package's server and the name of a new, empty schema for the test alone,
// dropped with everything in it when the test ends. The name is not created: a store opened
// with it creates it.
func Schema(t testing.TB) (dsn, schema string) {
	t.Helper()
	dsn = DSN(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema = "test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if err := Exec(dsn, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return dsn, schema
}

// Database returns the URL (postgres://…) of a new, empty database on the package's server,
// for the test alone: for a program that takes a URL and keeps its tables in a fixed schema.
// The database is dropped when the test ends, connections and all.
func Database(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "test_" + hex.EncodeToString(b[:])
	if err := Exec(dsn, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := Exec(dsn, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u := &url.URL{Scheme: "postgres", Path: "/" + name}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	} else {
		u.User = url.User(cfg.User)
	}
	q := url.Values{"sslmode": {"disable"}}
	if strings.HasPrefix(cfg.Host, "/") {
		q.Set("host", cfg.Host)
		q.Set("port", strconv.Itoa(int(cfg.Port)))
	} else {
		u.Host = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs one statement (or several, without arguments) on its own connection to the server
// at dsn.
func Exec(dsn, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// Cluster is a PostgreSQL cluster in a temporary directory, started by StartCluster.
type Cluster struct {
	dir  string // the temporary directory: data/, the socket, the log
	bin  string // the directory of the PostgreSQL programs
	cred *syscall.Credential
	dsn  string
}

// DSN returns the connection string of the cluster's superuser, postgres, over its socket.
func (c *Cluster) DSN() string { return c.dsn }

// StartCluster creates a cluster in a new temporary directory and starts it. It returns an
// error when the PostgreSQL programs cannot be found or the cluster does not start; the
// caller must Stop it.
func StartCluster() (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	if c.dir, err = os.MkdirTemp("", "gousers-pg-"); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		uid, gid, err := unprivileged()
		if err != nil {
			os.RemoveAll(c.dir)
			return nil, err
		}
		c.cred = &syscall.Credential{Uid: uid, Gid: gid}
		if err := os.Chown(c.dir, int(uid), int(gid)); err != nil {
			os.RemoveAll(c.dir)
			return nil, err
		}
	}
	data := filepath.Join(c.dir, "data")
	if out, err := c.cmd("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync").CombinedOutput(); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := strings.Join([]string{
		"-k", c.dir, "-c", "listen_addresses=", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=400", "-c", "shared_buffers=128MB", "-c", "max_pred_locks_per_transaction=256",
	}, " ")
	if out, err := c.cmd("pg_ctl", "-D", data, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "120",
		"-o", opts, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
	c.dsn = "host=" + c.dir + " port=5432 user=postgres dbname=postgres sslmode=disable"
	// The extension of the trigram indexes, made once here rather than by each test's
	// migration at the same time.
	if err := Exec(c.dsn, "CREATE EXTENSION IF NOT EXISTS pg_trgm"); err != nil {
		c.Stop()
		return nil, fmt.Errorf("create extension pg_trgm: %w", err)
	}
	return c, nil
}

// Stop stops the cluster at once and removes its directory.
func (c *Cluster) Stop() error {
	out, err := c.cmd("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop").CombinedOutput()
	if err != nil {
		err = fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

// cmd returns the PostgreSQL program name with args, to run as the cluster's owner.
func (c *Cluster) cmd(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// findBin returns the directory of pg_ctl and initdb: the newest of Debian's
// /usr/lib/postgresql/*/bin, or the one on PATH.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("the PostgreSQL programs (pg_ctl, initdb) are not installed")
}

// version returns the major version of a /usr/lib/postgresql/N/bin directory.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// unprivileged returns the IDs of the user nobody, who owns the cluster when the tests run as
// root.
func unprivileged() (uid, gid uint32, err error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return 0, 0, fmt.Errorf("running as root, and no unprivileged user to run PostgreSQL as: %w", err)
	}
	id, err1 := strconv.ParseUint(u.Uid, 10, 32)
	g, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, err
	}
	return uint32(id), uint32(g), nil
}
