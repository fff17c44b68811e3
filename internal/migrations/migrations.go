// Package migrations reads the versioned schema migrations that the SQL stores embed: files
// named NNNN_name.sql in a migrations directory, numbered from 1 without a gap. Each store
// applies them its own way; what a migration file is, and the order of versions, is decided
// here once.
package migrations

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// File is one migration: its version (the number its name starts with), its file name, and
// its SQL.
type File struct {
	Version int
	Name    string
	SQL     string
}

// Load returns the migrations of fsys, the files migrations/*.sql, in order of version. It
// returns an error naming the file when the versions do not run 1, 2, 3, ... without a gap
// (store names the store in the message), or when a file cannot be read. It is safe for
// concurrent use when fsys is.
func Load(fsys fs.FS, store string) ([]File, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	out := make([]File, 0, len(names))
	for i, name := range names { // fs.Glob returns names sorted
		base := path.Base(name)
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("%s: migration %s is out of sequence", store, base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Version: v, Name: base, SQL: string(b)})
	}
	return out, nil
}
