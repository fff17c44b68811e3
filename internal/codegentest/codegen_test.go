package codegentest_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gousers/users/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// generated is the checked-in client, made by go generate.
const generated = "client/client.gen.go"

// The generator, run on the document the adapter serves with no option but the package name
// and what to generate, makes the checked-in client byte for byte: the client is current, and
// the generator accepts the document as it is.
func TestClientIsCurrent(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "openapi.json")
	require.NoError(t, os.WriteFile(doc, httpadapter.OpenAPI(), 0o600))
	out := filepath.Join(dir, "client.gen.go")

	cmd := exec.Command("go", "tool", "oapi-codegen", "-package", "client", "-generate", "types,client", "-o", out, doc)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), "oapi-codegen refuses the document: %s", stderr.String())

	got, err := os.ReadFile(out)
	require.NoError(t, err)
	want, err := os.ReadFile(generated)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got),
		"%s is not what the generator makes of the served document: run go generate ./... in internal/codegentest", generated)
}

// No two enum types of the client have the same values: each enum of the document is one
// schema, so one Go type, wherever it is used.
func TestOneTypePerEnum(t *testing.T) {
	file := parseClient(t)
	values := map[string][]string{} // enum type → its values
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			typ, ok := vs.Type.(*ast.Ident)
			if !ok || len(vs.Values) != 1 {
				continue
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				continue
			}
			v, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			values[typ.Name] = append(values[typ.Name], v)
		}
	}
	require.Contains(t, values, "UserStatus", "the client has no enum types: is the generated file the client?")

	byValues := map[string]string{} // the sorted values → the first type with them
	for _, typ := range slices.Sorted(maps.Keys(values)) {
		vs := slices.Sorted(slices.Values(values[typ]))
		key := strings.Join(vs, "\x00")
		if other, ok := byValues[key]; ok {
			t.Errorf("the enum types %s and %s have the same values %q: make the enum one schema", other, typ, vs)
		}
		byValues[key] = typ
	}
}

// Every required member of every schema of the document is a plain value in the client's
// struct, not a pointer: a caller cannot forget a required field of a request.
func TestRequiredMembersAreValues(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Required []string `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(httpadapter.OpenAPI(), &doc))

	structs := map[string]*ast.StructType{}
	ast.Inspect(parseClient(t), func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if st, ok := ts.Type.(*ast.StructType); ok {
				structs[ts.Name.Name] = st
			}
		}
		return true
	})

	checked := 0
	for name, schema := range doc.Components.Schemas {
		if len(schema.Required) == 0 {
			continue
		}
		st, ok := structs[name]
		if !assert.True(t, ok, "the client has no struct %s for the schema of that name", name) {
			continue
		}
		for _, member := range schema.Required {
			field := fieldOf(st, member)
			if !assert.NotNil(t, field, "%s has no field for the required member %s", name, member) {
				continue
			}
			_, pointer := field.Type.(*ast.StarExpr)
			assert.False(t, pointer, "%s.%s is required, but the client makes it a pointer", name, field.Names[0].Name)
			checked++
		}
	}
	assert.Greater(t, checked, 20, "too few required members checked: is the document read?")
}

// fieldOf returns the field of st whose JSON name is member, or nil.
func fieldOf(st *ast.StructType, member string) *ast.Field {
	for _, f := range st.Fields.List {
		if f.Tag == nil {
			continue
		}
		tag, err := strconv.Unquote(f.Tag.Value)
		if err != nil {
			continue
		}
		name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
		if name == member {
			return f
		}
	}
	return nil
}

// parseClient parses the checked-in client.
func parseClient(t *testing.T) *ast.File {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), generated, nil, parser.SkipObjectResolution)
	require.NoError(t, err)
	return file
}
