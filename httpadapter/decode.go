package httpadapter

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gousers/users"
)

// DefaultMaxBodyBytes is the default of Options.MaxBodyBytes.
const DefaultMaxBodyBytes = 64 << 10

// fields maps each member a JSON request object may have to the pointer it decodes into. A
// member that is absent leaves its destination as it was, so a pointer-to-pointer destination
// tells "absent" (nil) from "present".
type fields map[string]any

var errTooLarge = &users.Error{Code: CodeTooLarge, Message: "the request body is too large"}

// decodeJSON reads the request body, at most limit bytes of JSON, into the fields. It returns
// an error with CodeUnsupportedMedia for a body that is not declared as JSON, CodeTooLarge for
// one over the limit, and ErrInvalid (see decodeFields) for one that does not fit the fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, into fields) error {
	if !isJSON(r.Header.Get("Content-Type")) {
		return &users.Error{Code: CodeUnsupportedMedia, Message: "the request body must be application/json"}
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	return decodeFields(body, into)
}

// decodeJSONOrForm is decodeJSON for the routes that also take an HTML form's body,
// application/x-www-form-urlencoded, with the same field names (see decodeFormFields).
func decodeJSONOrForm(w http.ResponseWriter, r *http.Request, limit int64, into fields) error {
	ct := r.Header.Get("Content-Type")
	form := isForm(ct)
	if !form && !isJSON(ct) {
		return &users.Error{Code: CodeUnsupportedMedia, Message: "the request body must be application/json or application/x-www-form-urlencoded"}
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	if form {
		return decodeFormFields(body, into)
	}
	return decodeFields(body, into)
}

// readBody reads the whole request body, at most limit bytes: CodeTooLarge beyond, whether
// or not the length is declared.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	return readLimited(w, r, limit, errTooLarge)
}

// readLimited reads the whole request body, at most limit bytes, and returns tooLarge
// beyond.
func readLimited(w http.ResponseWriter, r *http.Request, limit int64, tooLarge error) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, &users.Error{Code: users.CodeInvalid, Message: "the request body could not be read", Cause: err}
	}
	return body, nil
}

// isForm reports whether a Content-Type is application/x-www-form-urlencoded, whatever its
// parameters.
func isForm(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// decodeFormFields decodes a form-encoded body into the fields, as decodeFields does a JSON
// one: names match exactly, and an unknown name, a name given twice, or a name whose
// destination is not a string is an ErrInvalid naming it. Names are checked in order, so the
// error is the same every time.
func decodeFormFields(data []byte, into fields) error {
	values, err := url.ParseQuery(string(data))
	if err != nil {
		return &users.Error{Code: users.CodeInvalid, Message: "the request body is not a readable form", Cause: err}
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		dst, ok := into[name]
		switch {
		case !ok:
			return unknownField(name)
		case len(values[name]) > 1:
			return invalid(name, "must be given once")
		}
		s, ok := dst.(*string)
		if !ok {
			return invalid(name, "must be sent as JSON")
		}
		*s = values[name][0]
	}
	return nil
}

// isJSON reports whether a Content-Type is application/json or another JSON type
// (application/*+json), whatever its parameters.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// decodeFields decodes data, which must be one JSON object, into the fields. Member names
// match exactly (case-sensitively). It returns an ErrInvalid for malformed JSON or a value
// other than an object, and one naming the member for an unknown member, a null, or a value
// of the wrong type. Members are checked in name order, so the error is the same every time.
func decodeFields(data []byte, into fields) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil || members == nil {
		return &users.Error{Code: users.CodeInvalid, Message: "the request body must be a JSON object", Cause: err}
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		dst, ok := into[name]
		switch raw := members[name]; {
		case !ok:
			return unknownField(name)
		case string(raw) == "null":
			return invalid(name, "must not be null")
		default:
			if err := json.Unmarshal(raw, dst); err != nil {
				return &users.Error{Code: users.CodeInvalid, Field: name, Message: "must be " + describe(dst), Cause: err}
			}
		}
	}
	return nil
}

// unknownField returns the ErrInvalid of a member or form field the request does not take,
// naming it when it looks like a name. Anything else is not echoed: a client that sends
// JSON declared as a form, say, has its values (a password among them) in the names.
func unknownField(name string) error {
	if len(name) > 64 || strings.IndexFunc(name, notNameChar) >= 0 {
		return invalid("", "the body has a field this request does not take")
	}
	return invalid(name, "is not a field of this request")
}

// notNameChar reports whether r cannot be part of a field name worth echoing.
func notNameChar(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
}

// stringList is a list of strings that a request may also give as a single string, as
// Appmixer's vendor field ("String|Array").
type stringList []string

// UnmarshalJSON accepts a string or an array of strings.
func (l *stringList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = stringList{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

var (
	stringListType = reflect.TypeFor[stringList]()
	timeType       = reflect.TypeFor[time.Time]()
)

// describe names the JSON value a destination of decodeFields takes, for error messages.
func describe(dst any) string {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == stringListType:
		return "a string or an array of strings"
	case t == timeType:
		return "an RFC 3339 date-time"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "an array of strings"
	case t.Kind() == reflect.Map:
		return "a JSON object"
	case t.Kind() == reflect.Bool:
		return "true or false"
	default:
		return "an integer"
	}
}

// required returns an ErrInvalid naming the first of the named values that is empty, or nil.
// It takes name, value pairs.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return invalid(pairs[i], "is required")
		}
	}
	return nil
}
