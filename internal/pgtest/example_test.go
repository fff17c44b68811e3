package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gousers/users/internal/pgtest"
)

// A test package starts one server for all its tests in TestMain, and each test takes a schema
// of its own, dropped when it ends:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func ExampleSchema() {
	TestTable := func(t *testing.T) {
		dsn, schema := pgtest.Schema(t) // skips the test when there is no server
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `CREATE SCHEMA "`+schema+`"`); err != nil {
			t.Fatal(err)
		}
	}
	_ = TestTable // run by go test, which supplies the *testing.T
}
