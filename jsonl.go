package users

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"
)

// The records of export and import.
//
// A record is one user as a JSON object on one line, the users JSON Lines format: the fields
// of User's MarshalJSON (id, username, email, name, scope, plan, vendor,
// allowedPrivateComponents, orgId, status, emailVerified, metadata, permissions,
// mustChangePassword, created, updated, version, isActive, hasPassword, passwordResetAllowed)
// and passwordHash, the encoded hash (argon2id, or bcrypt from another system). For example:
//
//	{"id":"u1","username":"ada@example.com","email":"ada@example.com","scope":["user"],"status":"active","emailVerified":true,"metadata":{},"mustChangePassword":false,"created":"2024-05-01T09:30:00Z","updated":"2024-05-01T09:30:00Z","version":1,"isActive":true,"hasPassword":true,"passwordResetAllowed":true,"passwordHash":"$2a$10$..."}
//
// MarshalRecord is the only place the package marshals a password hash: User's MarshalJSON
// never does, so no API answer carries one. A record file holds every user's hash and should be
// kept as secret as the database.

// MaxRecordBytes bounds one line that a RecordReader reads, without its line ending: a longer
// line is rejected whole. A user at the limits of Validate (MaxMetadataBytes of metadata,
// lists of MaxListLength entries) takes well under it.
const MaxRecordBytes = 1 << 20

// MarshalRecord returns u as one record of the users JSON Lines format, without a line
// ending: the JSON of User's MarshalJSON followed by "passwordHash", which is left out when u
// has no password. It is the only function that marshals a password hash. It returns an
// ErrInvalid for a nil u, and the error of encoding/json for metadata it cannot encode. It
// is safe for concurrent use.
func MarshalRecord(u *User) ([]byte, error) {
	if u == nil {
		return nil, invalid("", "no user to marshal")
	}
	b, err := json.Marshal(u) // every field but the hash, exactly as the API shows them
	if err != nil {
		return nil, err
	}
	if u.PasswordHash == "" {
		return b, nil
	}
	h, err := json.Marshal(u.PasswordHash)
	if err != nil {
		return nil, err
	}
	// b is a non-empty object: replace its closing brace by one more member.
	const key = `,"passwordHash":`
	out := make([]byte, 0, len(b)+len(key)+len(h))
	out = append(out, b[:len(b)-1]...)
	out = append(out, key...)
	out = append(out, h...)
	return append(out, '}'), nil
}

// record is what UnmarshalRecord decodes: the user's own fields, and beside them the ones the
// record has beyond them or in another shape. Fields at this level hide User's of the same
// JSON name.
type record struct {
	User
	Created              json.RawMessage `json:"created"` // read apart, to name the field at fault
	Updated              json.RawMessage `json:"updated"`
	IsActive             json.RawMessage `json:"isActive"`    // derived from status: ignored
	HasPassword          json.RawMessage `json:"hasPassword"` // derived from passwordHash: ignored
	PasswordResetAllowed *bool           `json:"passwordResetAllowed"`
	PasswordHash         string          `json:"passwordHash"`
}

// recordFields are the JSON names record accepts, for naming an unknown one.
var recordFields = sync.OnceValue(func() []string {
	var names []string
	for _, t := range []reflect.Type{reflect.TypeFor[User](), reflect.TypeFor[record]()} {
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name != "" && name != "-" {
				names = append(names, name)
			}
		}
	}
	return names
})

// UnmarshalRecord decodes one record of the users JSON Lines format (see MarshalRecord) into a
// new User. The derived isActive and hasPassword are ignored; passwordResetAllowed sets
// PasswordResetDisallowed to its negation, and allows resets when it is absent or null.
// Absent fields are left zero, as Service.Import expects (an empty ID is then generated,
// zero times are the time of import); version is read, though Import does not keep it.
//
// It checks the shape of the record, not the user: Service.Import normalizes and validates
// what it returns. It returns an ErrInvalid *Error, naming the field at fault when there is
// one, for data that is not one JSON object, a field that is not one of the record's, and a
// value of the wrong type. No message repeats the data. It is safe for concurrent use.
func UnmarshalRecord(data []byte) (*User, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, invalid("", "the line is not a JSON object")
	}
	var rec record
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return nil, recordError(data, err)
	}
	if dec.InputOffset() != int64(len(data)) {
		return nil, invalid("", "the line holds more than one JSON value")
	}
	u := rec.User
	var err error
	if u.Created, err = recordTime("created", rec.Created); err != nil {
		return nil, err
	}
	if u.Updated, err = recordTime("updated", rec.Updated); err != nil {
		return nil, err
	}
	u.PasswordResetDisallowed = rec.PasswordResetAllowed != nil && !*rec.PasswordResetAllowed
	u.PasswordHash = rec.PasswordHash
	return &u, nil
}

// recordTime decodes the time of field, a JSON string in RFC 3339 form, or null or absent for
// the zero time.
func recordTime(field string, raw json.RawMessage) (time.Time, error) {
	var t time.Time
	if len(raw) == 0 || string(raw) == "null" {
		return t, nil
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return time.Time{}, &Error{Code: CodeInvalid, Field: field, Message: "must be a time in RFC 3339 form", Cause: err}
	}
	return t, nil
}

// recordError explains why decoding data into a record failed, with an ErrInvalid naming the
// field at fault when there is one. Messages never quote the data, which holds a hash.
func recordError(data []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return &Error{Code: CodeInvalid, Message: fmt.Sprintf("the line is not valid JSON (at byte %d)", syntax.Offset), Cause: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Code: CodeInvalid, Message: "the line is not valid JSON (it ends inside a value)", Cause: err}
	case errors.As(err, &typ):
		// Field is the dotted path to the value, which starts "User." inside the embedded User.
		field, _, _ := strings.Cut(strings.TrimPrefix(typ.Field, "User."), ".")
		return &Error{Code: CodeInvalid, Field: field, Message: "must be " + jsonKind(typ.Type), Cause: err}
	}
	// The one error left is an unknown field, which encoding/json reports in text only: find
	// it among the object's keys. Its keys are compared as encoding/json compares them.
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) == nil {
		for key := range obj {
			known := false
			for _, name := range recordFields() {
				if strings.EqualFold(key, name) {
					known = true
					break
				}
			}
			if !known {
				if len(key) > MaxRoleLength || !isPrintable(key) {
					key = "" // not worth repeating; the message says what is wrong
				}
				return &Error{Code: CodeInvalid, Field: key, Message: "is not a field of a user record", Cause: err}
			}
		}
	}
	return &Error{Code: CodeInvalid, Message: "the line is not a user record", Cause: err}
}

// isPrintable reports whether s is valid UTF-8 without control characters.
func isPrintable(s string) bool { return checkText("", s) == nil }

// jsonKind describes the JSON values that decode into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a JSON value of another type"
}

// RecordReader reads users from the users JSON Lines format (see MarshalRecord): one record a
// line, lines ending in "\n" or "\r\n", the last line's ending optional. Blank lines are
// skipped, and so is a UTF-8 byte order mark before the first line.
//
// A bad line does not stop it: Next reports the line's error and goes on with the next line.
// A RecordReader is not safe for concurrent use.
type RecordReader struct {
	r    *bufio.Reader
	line int    // the number of the last line read
	buf  []byte // the line being read
	err  error  // the final error, once there is one
}

// NewRecordReader returns a RecordReader reading from r, which it buffers.
func NewRecordReader(r io.Reader) *RecordReader {
	return &RecordReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next reads the next record and returns it as UnmarshalRecord does, with its line number,
// counted from 1 (blank lines count).
//
// The error of a bad line matches ErrInvalid: it is an *Error saying what is wrong, naming the
// field when it can (see UnmarshalRecord); a line longer than MaxRecordBytes also matches
// ErrTooLarge. The line is then skipped, and the next call reads the line after it. Any other
// error is final, and every later call returns it again: io.EOF after the last line, or the
// error of reading r. With a final error, line is the number of lines read.
func (rr *RecordReader) Next() (u *User, line int, err error) {
	for rr.err == nil {
		data, tooLong, err := rr.readLine()
		if err != nil {
			rr.err = err
			if !errors.Is(err, io.EOF) || len(data) == 0 && !tooLong {
				break // a failed read, or nothing after the last line ending
			}
			// The last line has no line ending: it is a line all the same.
		}
		rr.line++
		if tooLong {
			return nil, rr.line, &Error{Code: CodeInvalid, Message: fmt.Sprintf("the line is longer than %d bytes", MaxRecordBytes), Cause: ErrTooLarge}
		}
		if rr.line == 1 {
			data = bytes.TrimPrefix(data, []byte("\uFEFF"))
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		u, err := UnmarshalRecord(data)
		return u, rr.line, err
	}
	return nil, rr.line, rr.err
}

// readLine reads one line into rr.buf and returns it without its line ending ("\n" or
// "\r\n"). A line longer than MaxRecordBytes is read to its end and dropped: data is then empty
// and tooLong is set. err is io.EOF when r ends (data is then the last line, which had no line
// ending) or the error of r.
func (rr *RecordReader) readLine() (data []byte, tooLong bool, err error) {
	rr.buf = rr.buf[:0]
	for {
		chunk, err := rr.r.ReadSlice('\n')
		if !tooLong {
			// One byte over the limit is kept: it may be the "\r" of "\r\n".
			if len(rr.buf)+len(chunk) > MaxRecordBytes+2 {
				tooLong, rr.buf = true, rr.buf[:0]
			} else {
				rr.buf = append(rr.buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		data = rr.buf
		if err == nil {
			data = bytes.TrimSuffix(bytes.TrimSuffix(data, []byte("\n")), []byte("\r"))
		}
		if len(data) > MaxRecordBytes {
			tooLong = true
		}
		if tooLong {
			data = nil
		}
		return data, tooLong, err
	}
}

// LineResult is the outcome of importing one line of JSON Lines: the ImportResult of the
// line's user, or a rejection (an ErrInvalid) for a line that is not a record.
type LineResult struct {
	Line int // 1-based
	ImportResult
}

// DefaultImportBatch is how many lines ImportLines gives to one Service.Import call when it is
// not told.
const DefaultImportBatch = 1000

// ImportLines reads JSON Lines records from r (see NewRecordReader) and imports them with
// svc.Import, batch lines at a time (DefaultImportBatch when batch is 0 or less, at most
// MaxImportBatch), each batch atomic. After each batch it calls report with the outcomes of
// its lines, in order; the slice is reused afterwards. A line that is not a record is a
// rejected result, and reading goes on. It stops at the first error of reading r (the lines
// read whole before it are imported all the same), of svc, or of report, and returns it; at
// the end of r it returns nil. It is safe for concurrent use as far as svc and report are.
func ImportLines(ctx context.Context, svc Service, r io.Reader, batch int, report func([]LineResult) error) error {
	if batch <= 0 {
		batch = DefaultImportBatch
	}
	batch = min(batch, MaxImportBatch)
	rr := NewRecordReader(r)
	lines := make([]LineResult, 0, batch)
	us := make([]*User, 0, batch)
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		results, err := svc.Import(ctx, us)
		if err != nil {
			return err
		}
		next := 0
		for i := range lines {
			if lines[i].Status == "" {
				lines[i].ImportResult, next = results[next], next+1
			}
		}
		err = report(lines)
		lines, us = lines[:0], us[:0]
		return err
	}
	for {
		u, line, err := rr.Next()
		switch {
		case err == nil:
			lines = append(lines, LineResult{Line: line})
			us = append(us, u)
		case errors.Is(err, ErrInvalid):
			lines = append(lines, LineResult{Line: line, ImportResult: ImportResult{Status: ImportRejected, Err: err}})
		case errors.Is(err, io.EOF):
			return flush()
		default:
			return errors.Join(fmt.Errorf("read line %d: %w", line+1, err), flush())
		}
		if len(lines) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}
