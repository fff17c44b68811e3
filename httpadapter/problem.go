package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gousers/users"
)

// Codes of the errors the adapter itself finds in a request, beside the users.Code values the
// Service returns. Like those, they are stable strings clients may match on.
const (
	CodeTooLarge                    = users.CodeTooLarge         // 413: the body is over Options.MaxBodyBytes
	CodeUnsupportedMedia            = users.CodeUnsupportedMedia // 415: the body is not of a type the route takes
	CodeMethodNotAllowed users.Code = "method_not_allowed"       // 405: the path has no such method
)

// statusOf maps every error code to the HTTP status of its response. A code missing from it
// (none is) would be answered as internal.
var statusOf = map[users.Code]int{
	users.CodeInvalid:                http.StatusBadRequest,
	users.CodeUnauthorized:           http.StatusUnauthorized,
	users.CodeForbidden:              http.StatusForbidden,
	users.CodePasswordChangeRequired: http.StatusForbidden,
	users.CodeSessionRequired:        http.StatusForbidden,
	users.CodeNotFound:               http.StatusNotFound,
	CodeMethodNotAllowed:             http.StatusMethodNotAllowed,
	users.CodeConflict:               http.StatusConflict,
	CodeTooLarge:                     http.StatusRequestEntityTooLarge,
	CodeUnsupportedMedia:             http.StatusUnsupportedMediaType,
	users.CodeThrottled:              http.StatusTooManyRequests,
	users.CodeInternal:               http.StatusInternalServerError,
	users.CodeOverloaded:             http.StatusServiceUnavailable,
}

// problem is the RFC 9457 body of every error response, with two extension members: the
// stable code and the request field at fault.
type problem struct {
	Type   string     `json:"type"`
	Title  string     `json:"title"`
	Status int        `json:"status"`
	Detail string     `json:"detail"`
	Code   users.Code `json:"code"`
	Field  string     `json:"field,omitempty"`
}

// writeError writes err as an application/problem+json response; it is the one function that
// writes error responses. The detail is the *users.Error's message, which is safe to show a
// client; any other error is answered as internal without its text. Only internal errors are
// logged, to log (which may be nil), and not when the client has gone away.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *users.Error
	if !errors.As(err, &e) {
		e = &users.Error{Code: users.CodeInternal, Message: users.ErrInternal.Message, Cause: err}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusInternalServerError {
		logInternal(r, log, err)
		e = users.ErrInternal // the message may describe the server; say nothing
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="users"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfter(e))
	}
	body, _ := json.Marshal(problem{ // cannot fail: strings and an int
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: e.Error(),
		Code:   e.Code,
		Field:  e.Field,
	})
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// logInternal logs an internal error, unless the request ended because its client went away.
func logInternal(r *http.Request, log *slog.Logger, err error) {
	if log == nil || errors.Is(r.Context().Err(), context.Canceled) {
		return
	}
	log.ErrorContext(r.Context(), "httpadapter: internal error",
		"method", r.Method, "path", r.URL.Path, "err", err)
}

// retryAfter returns the Retry-After value of a throttled or overloaded error: whole seconds,
// at least 1.
func retryAfter(e *users.Error) string {
	return strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds()))))
}

// invalid returns an ErrInvalid naming the request field at fault.
func invalid(field, message string) *users.Error {
	return &users.Error{Code: users.CodeInvalid, Field: field, Message: message}
}

// renameField returns err with its field renamed from one name to another when it is an
// *users.Error naming from, so that an error names the field as the request spelled it.
func renameField(err error, from, to string) error {
	var e *users.Error
	if !errors.As(err, &e) || e.Field != from {
		return err
	}
	c := *e
	c.Field = to
	return &c
}
