package users_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordHash is a made-up bcrypt hash: the record functions only carry it.
const recordHash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"

// fullRecordUser returns a user with every field set to a value other than its zero value.
func fullRecordUser() *users.User {
	created := time.Date(2024, 5, 1, 9, 30, 0, 123456000, time.UTC)
	return &users.User{
		ID:                       "u-1",
		Username:                 "ada@example.com",
		Email:                    "ada.lovelace@example.com",
		Name:                     "Ada Lovelace",
		Scope:                    []string{users.RoleUser, users.RoleAdmin},
		Plan:                     "pro",
		Vendor:                   []string{"acme"},
		AllowedPrivateComponents: []string{"engine"},
		OrgID:                    "org-7",
		Status:                   users.StatusDisabled,
		EmailVerified:            true,
		Metadata:                 map[string]any{"seats": float64(3), "tags": []any{"a", true, nil}, "nested": map[string]any{"k": "v"}},
		Permissions:              map[string]users.Permission{users.ResourceUsers: users.PermissionWrite, "reports": users.PermissionRead},
		MustChangePassword:       true,
		Created:                  created,
		Updated:                  created.Add(time.Hour),
		Version:                  4,
		PasswordResetDisallowed:  true,
		PasswordHash:             recordHash,
	}
}

func TestMarshalRecordRoundTrip(t *testing.T) {
	u := fullRecordUser()
	// A new field of User must be set above, so that the round trip covers it.
	v := reflect.ValueOf(*u)
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(), "fullRecordUser leaves %s zero", v.Type().Field(i).Name)
	}

	b, err := users.MarshalRecord(u)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "\n", "one line")
	got, err := users.UnmarshalRecord(b)
	require.NoError(t, err)
	assert.Equal(t, u, got)

	// Twice the same bytes: map keys are sorted.
	again, err := users.MarshalRecord(got)
	require.NoError(t, err)
	assert.Equal(t, string(b), string(again))
}

func TestMarshalRecordIsUserJSONWithHash(t *testing.T) {
	for _, tt := range []struct {
		name     string
		hash     string
		wantHash bool
	}{
		{name: "with a password", hash: recordHash, wantHash: true},
		{name: "without a password", hash: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := fullRecordUser()
			u.PasswordHash = tt.hash
			rec, err := users.MarshalRecord(u)
			require.NoError(t, err)
			plain, err := json.Marshal(u)
			require.NoError(t, err)

			var got, want map[string]any
			require.NoError(t, json.Unmarshal(rec, &got))
			require.NoError(t, json.Unmarshal(plain, &want))
			if tt.wantHash {
				assert.Equal(t, tt.hash, got["passwordHash"])
				want["passwordHash"] = tt.hash
			} else {
				assert.NotContains(t, got, "passwordHash")
			}
			assert.Equal(t, want, got, "the user's JSON and the hash, nothing else")
			assert.Equal(t, false, got["passwordResetAllowed"])
			assert.Equal(t, tt.wantHash, got["hasPassword"])
		})
	}

	_, err := users.MarshalRecord(nil)
	assert.ErrorIs(t, err, users.ErrInvalid)
}

func TestUnmarshalRecord(t *testing.T) {
	tests := []struct {
		name string
		line string
		want users.User
	}{
		{
			name: "the fewest fields",
			line: `{"username":"ada@example.com"}`,
			want: users.User{Username: "ada@example.com"},
		},
		{
			name: "derived fields are ignored",
			line: `{"username":"ada@example.com","status":"pending","isActive":true,"hasPassword":true}`,
			want: users.User{Username: "ada@example.com", Status: users.StatusPending},
		},
		{
			name: "derived fields of any type",
			line: `{"username":"ada@example.com","isActive":"yes","hasPassword":null}`,
			want: users.User{Username: "ada@example.com"},
		},
		{
			name: "resets disallowed",
			line: `{"username":"ada@example.com","passwordResetAllowed":false}`,
			want: users.User{Username: "ada@example.com", PasswordResetDisallowed: true},
		},
		{
			name: "resets allowed",
			line: `{"username":"ada@example.com","passwordResetAllowed":true}`,
			want: users.User{Username: "ada@example.com"},
		},
		{
			name: "null allows resets",
			line: `{"username":"ada@example.com","passwordResetAllowed":null}`,
			want: users.User{Username: "ada@example.com"},
		},
		{
			name: "hash, times and null fields",
			line: ` {"id":"x","username":"ada@example.com","passwordHash":"` + recordHash + `","created":"2024-05-01T11:30:00+02:00","updated":null,"metadata":null,"scope":null} ` + "\r",
			want: users.User{ID: "x", Username: "ada@example.com", PasswordHash: recordHash,
				Created: time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC)},
		},
		{
			name: "keys match as encoding/json matches them",
			line: `{"UserName":"ada@example.com","PASSWORDHASH":"h"}`,
			want: users.User{Username: "ada@example.com", PasswordHash: "h"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := users.UnmarshalRecord([]byte(tt.line))
			require.NoError(t, err)
			assert.True(t, tt.want.Created.Equal(got.Created), "created %v, want %v", got.Created, tt.want.Created)
			got.Created = tt.want.Created
			assert.Equal(t, &tt.want, got)
		})
	}
}

func TestUnmarshalRecordRejects(t *testing.T) {
	tests := []struct {
		name      string
		line      string
		wantField string
		wantMsg   string // in the message
	}{
		{name: "empty", line: ``, wantMsg: "not a JSON object"},
		{name: "array", line: `[{"username":"ada@example.com"}]`, wantMsg: "not a JSON object"},
		{name: "null", line: `null`, wantMsg: "not a JSON object"},
		{name: "string", line: `"ada@example.com"`, wantMsg: "not a JSON object"},
		{name: "syntax", line: `{"username":"ada@example.com",}`, wantMsg: "not valid JSON"},
		{name: "cut short", line: `{"username":"ada@example.com","passwordHash":"` + recordHash[:20], wantMsg: "not valid JSON"},
		{name: "two objects", line: `{"username":"a@example.com"} {"username":"b@example.com"}`, wantMsg: "more than one"},
		{name: "garbage after the object", line: `{"username":"ada@example.com"} x`, wantMsg: "more than one"},
		{name: "unknown field", line: `{"username":"ada@example.com","password_hash":"` + recordHash + `"}`, wantField: "password_hash", wantMsg: "not a field"},
		{name: "unknown field too long to repeat", line: `{"` + strings.Repeat("k", 100) + `":1}`, wantMsg: "not a field"},
		{name: "scope not a list", line: `{"username":"ada@example.com","scope":"user"}`, wantField: "scope", wantMsg: "an array of strings"},
		{name: "scope of numbers", line: `{"username":"ada@example.com","scope":[1]}`, wantField: "scope", wantMsg: "a string"},
		{name: "metadata not an object", line: `{"username":"ada@example.com","metadata":[1]}`, wantField: "metadata", wantMsg: "an object"},
		{name: "nested metadata key", line: `{"username":"ada@example.com","metadata":{"a":{"b":1}},"version":"1"}`, wantField: "version", wantMsg: "an integer"},
		{name: "boolean", line: `{"username":"ada@example.com","emailVerified":"yes"}`, wantField: "emailVerified", wantMsg: "true or false"},
		{name: "reset flag", line: `{"username":"ada@example.com","passwordResetAllowed":"no"}`, wantField: "passwordResetAllowed", wantMsg: "true or false"},
		{name: "hash not a string", line: `{"username":"ada@example.com","passwordHash":12345}`, wantField: "passwordHash", wantMsg: "a string"},
		{name: "permission level", line: `{"username":"ada@example.com","permissions":{"users":3}}`, wantField: "permissions", wantMsg: "a string"},
		{name: "fractional version", line: `{"username":"ada@example.com","version":1.5}`, wantField: "version", wantMsg: "an integer"},
		{name: "created", line: `{"username":"ada@example.com","created":"yesterday"}`, wantField: "created", wantMsg: "RFC 3339"},
		{name: "updated", line: `{"username":"ada@example.com","updated":1714555800}`, wantField: "updated", wantMsg: "RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := users.UnmarshalRecord([]byte(tt.line))
			require.Error(t, err)
			assert.Nil(t, u)
			assert.ErrorIs(t, err, users.ErrInvalid)
			var e *users.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.wantField, e.Field)
			assert.Contains(t, e.Message, tt.wantMsg)
			assert.NotContains(t, err.Error(), recordHash[7:20], "no message repeats the data")
		})
	}
}

// recordLine returns a valid record line of the user with this username.
func recordLine(username string) string {
	return `{"username":"` + username + `"}`
}

// readRecords reads every record of in and describes each outcome as "line N: USERNAME" or
// "line N: error: MESSAGE", up to the final error.
func readRecords(t *testing.T, in io.Reader) (outcomes []string, final error) {
	t.Helper()
	rr := users.NewRecordReader(in)
	for range 1000 {
		u, line, err := rr.Next()
		switch {
		case err == nil:
			outcomes = append(outcomes, fmt.Sprintf("line %d: %s", line, u.Username))
		case errors.Is(err, users.ErrInvalid):
			require.Nil(t, u)
			outcomes = append(outcomes, fmt.Sprintf("line %d: error: %v", line, err))
		default:
			require.Nil(t, u)
			return outcomes, fmt.Errorf("line %d: %w", line, err)
		}
	}
	require.FailNow(t, "the reader does not end")
	return nil, nil
}

func TestRecordReader(t *testing.T) {
	// Padded with spaces to exactly the limit, which is allowed.
	atLimit := recordLine("limit@example.com")
	atLimit += strings.Repeat(" ", users.MaxRecordBytes-len(atLimit))
	overLimit := atLimit + " "

	tests := []struct {
		name      string
		in        string
		want      []string
		wantFinal string
	}{
		{name: "empty", in: "", wantFinal: "line 0: EOF"},
		{name: "only blank lines", in: "\n \r\n\t\n", wantFinal: "line 3: EOF"},
		{
			name: "bad lines do not stop it",
			in: recordLine("a@example.com") + "\n" +
				"not json\n" +
				"\n" +
				`{"username":"b@example.com","scope":"user"}` + "\n" +
				recordLine("c@example.com") + "\n",
			want: []string{
				"line 1: a@example.com",
				"line 2: error: the line is not a JSON object",
				"line 4: error: scope: must be an array of strings",
				"line 5: c@example.com",
			},
			wantFinal: "line 5: EOF",
		},
		{
			name:      "CRLF, a byte order mark, and no line ending at the end",
			in:        "\uFEFF" + recordLine("a@example.com") + "\r\n\r\n" + recordLine("b@example.com"),
			want:      []string{"line 1: a@example.com", "line 3: b@example.com"},
			wantFinal: "line 3: EOF",
		},
		{
			name: "lines at and over the limit",
			in:   atLimit + "\n" + atLimit + "\r\n" + overLimit + "\n" + recordLine("after@example.com") + "\n" + overLimit,
			want: []string{
				"line 1: limit@example.com",
				"line 2: limit@example.com",
				fmt.Sprintf("line 3: error: the line is longer than %d bytes", users.MaxRecordBytes),
				"line 4: after@example.com",
				fmt.Sprintf("line 5: error: the line is longer than %d bytes", users.MaxRecordBytes),
			},
			wantFinal: "line 5: EOF",
		},
		{
			name: "a line many times over the limit",
			in:   strings.Repeat("x", 5*users.MaxRecordBytes) + "\n" + recordLine("after@example.com"),
			want: []string{
				fmt.Sprintf("line 1: error: the line is longer than %d bytes", users.MaxRecordBytes),
				"line 2: after@example.com",
			},
			wantFinal: "line 2: EOF",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, final := readRecords(t, strings.NewReader(tt.in))
			assert.Equal(t, tt.want, got)
			assert.EqualError(t, final, tt.wantFinal)
		})
	}
}

func TestRecordReaderTooLong(t *testing.T) {
	rr := users.NewRecordReader(strings.NewReader(strings.Repeat(" ", users.MaxRecordBytes+1)))
	_, _, err := rr.Next()
	assert.ErrorIs(t, err, users.ErrInvalid)
	assert.ErrorIs(t, err, users.ErrTooLarge)
}

func TestRecordReaderReadError(t *testing.T) {
	broken := errors.New("disk on fire")
	rr := users.NewRecordReader(&testutil.FailingReader{Data: recordLine("a@example.com") + "\n" + `{"username":"b@exa`, Err: broken})
	u, line, err := rr.Next()
	require.NoError(t, err)
	assert.Equal(t, 1, line)
	assert.Equal(t, "a@example.com", u.Username)
	for range 2 { // final, and returned again; the partial line is not reported
		u, line, err = rr.Next()
		assert.Nil(t, u)
		assert.Equal(t, 1, line)
		assert.ErrorIs(t, err, broken)
		assert.NotErrorIs(t, err, users.ErrInvalid)
	}
}

// A user as one record of the JSON Lines format: the user's JSON and the password hash.
func ExampleMarshalRecord() {
	created := time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC)
	u := &users.User{
		ID:            "u1",
		Username:      "ada@example.com",
		Email:         "ada@example.com",
		Scope:         []string{users.RoleUser},
		Status:        users.StatusActive,
		EmailVerified: true,
		Created:       created,
		Updated:       created,
		Version:       1,
		PasswordHash:  "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
	}
	line, err := users.MarshalRecord(u)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(line))
	// Output:
	// {"id":"u1","username":"ada@example.com","email":"ada@example.com","scope":["user"],"status":"active","emailVerified":true,"metadata":{},"mustChangePassword":false,"created":"2024-05-01T09:30:00Z","updated":"2024-05-01T09:30:00Z","version":1,"isActive":true,"hasPassword":true,"passwordResetAllowed":true,"passwordHash":"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}
}

// Reading records: a bad line is reported with its number, and reading goes on. The users
// read would then go to Service.Import, in batches.
func ExampleRecordReader() {
	in := strings.NewReader(`{"id":"u1","username":"ada@example.com","passwordHash":"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}
{"username":"bob@example.com",
{"username":"eve@example.com","emailVerified":"yes"}
{"username":"cy@example.com","passwordResetAllowed":false}
`)
	rr := users.NewRecordReader(in)
	for {
		u, line, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, users.ErrInvalid) {
			fmt.Printf("line %d rejected: %v\n", line, err)
			continue
		}
		if err != nil {
			log.Fatal(err) // reading failed: nothing more to read
		}
		fmt.Printf("line %d: %s, has a password: %t, resets allowed: %t\n",
			line, u.Username, u.PasswordHash != "", !u.PasswordResetDisallowed)
	}
	// Output:
	// line 1: ada@example.com, has a password: true, resets allowed: true
	// line 2 rejected: the line is not valid JSON (it ends inside a value)
	// line 3 rejected: emailVerified: must be true or false
	// line 4: cy@example.com, has a password: false, resets allowed: false
}

// TestImportLines: lines are imported in batches, each reported in order with its outcome; a
// line that is not a record is rejected without stopping the import.
func TestImportLines(t *testing.T) {
	h := newHarness(t)
	in := strings.Join([]string{
		`{"id":"u1","username":"u1@example.com"}`,
		`not json`,
		`{"id":"u3","username":"u1@EXAMPLE.com"}`,
		`{"id":"u4","username":"u4@example.com"}`,
		`{"id":"u5","username":"u5"}`,
	}, "\n")
	var batches [][]users.LineResult
	err := users.ImportLines(t.Context(), h.svc, strings.NewReader(in), 2, func(lines []users.LineResult) error {
		batches = append(batches, append([]users.LineResult(nil), lines...))
		return nil
	})
	require.NoError(t, err)
	require.Len(t, batches, 3, "batches of 2, 2 and 1 lines")
	var got []string
	for _, b := range batches {
		for _, r := range b {
			got = append(got, fmt.Sprintf("%d %s %s", r.Line, r.Status, r.ID))
		}
	}
	assert.Equal(t, []string{"1 created u1", "2 rejected ", "3 skipped u3", "4 created u4", "5 rejected u5"}, got)
	assert.Equal(t, 2, h.userCount(t), "u1 and u4")

	stop := errors.New("stop")
	err = users.ImportLines(t.Context(), h.svc, strings.NewReader(in), 1, func([]users.LineResult) error { return stop })
	assert.ErrorIs(t, err, stop)
}
