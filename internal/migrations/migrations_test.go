package migrations_test

import (
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users/internal/migrations"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0002_more.sql": {Data: []byte("CREATE INDEX i ON t (x);")},
		"migrations/0001_init.sql": {Data: []byte("CREATE TABLE t (x);")},
		"migrations/README":        {Data: []byte("not a migration")},
	}
	got, err := migrations.Load(fsys, "store")
	require.NoError(t, err)
	assert.Equal(t, []migrations.File{
		{Version: 1, Name: "0001_init.sql", SQL: "CREATE TABLE t (x);"},
		{Version: 2, Name: "0002_more.sql", SQL: "CREATE INDEX i ON t (x);"},
	}, got)

	for name, fsys := range map[string]fstest.MapFS{
		"a gap":      {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"no number":  {"migrations/first.sql": {}},
		"a repeat":   {"migrations/0001_a.sql": {}, "migrations/0001_b.sql": {}},
		"not from 1": {"migrations/0002_b.sql": {}},
	} {
		_, err := migrations.Load(fsys, "store")
		assert.ErrorContains(t, err, "store: migration", name)
	}
}

func ExampleLoad() {
	fsys := fstest.MapFS{"migrations/0001_init.sql": {Data: []byte("CREATE TABLE t (x);")}}
	files, err := migrations.Load(fsys, "example")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		fmt.Println(f.Version, f.Name)
	}
	// Output: 1 0001_init.sql
}
