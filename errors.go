package users

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error. Codes are stable strings: an HTTP adapter maps each to a status,
// and clients may match on them.
type Code string

// The error codes. Each has a sentinel error of the same meaning for use with errors.Is.
const (
	CodeInvalid          Code = "invalid"           // the input is malformed or breaks a rule
	CodeNotFound         Code = "not_found"         // the thing asked for does not exist
	CodeConflict         Code = "conflict"          // a uniqueness clash, a stale version, or a state that forbids the change
	CodeUnauthorized     Code = "unauthorized"      // missing, wrong or expired credentials
	CodeForbidden        Code = "forbidden"         // the caller is known but may not do this
	CodeThrottled        Code = "throttled"         // too many attempts; try again later
	CodeOverloaded       Code = "overloaded"        // the server is too busy to check a password now; try again later
	CodeTooLarge         Code = "too_large"         // the input is larger than allowed
	CodeUnsupportedMedia Code = "unsupported_media" // the input is not of a type accepted
	CodeInternal         Code = "internal"          // a failure that is not the caller's fault

	// Kinds of CodeForbidden that tell the caller what to do: errors of these codes also
	// match ErrForbidden.
	CodePasswordChangeRequired Code = "password_change_required" // the caller must change their password first
	CodeSessionRequired        Code = "session_required"         // an API key may not do this: sign in for a session
)

// Sentinel errors, one per Code. Every error the package returns for one of these reasons
// satisfies errors.Is(err, ErrX), whether it is the sentinel itself or an *Error carrying its code.
var (
	ErrInvalid          = &Error{Code: CodeInvalid, Message: "invalid input"}
	ErrNotFound         = &Error{Code: CodeNotFound, Message: "not found"}
	ErrConflict         = &Error{Code: CodeConflict, Message: "conflict"}
	ErrUnauthorized     = &Error{Code: CodeUnauthorized, Message: "unauthorized"}
	ErrForbidden        = &Error{Code: CodeForbidden, Message: "forbidden"}
	ErrThrottled        = &Error{Code: CodeThrottled, Message: "too many attempts"}
	ErrOverloaded       = &Error{Code: CodeOverloaded, Message: "overloaded"} // a password could not be checked within Config.MaxHashWait; see RetryAfter
	ErrTooLarge         = &Error{Code: CodeTooLarge, Message: "too large"}
	ErrUnsupportedMedia = &Error{Code: CodeUnsupportedMedia, Message: "unsupported media type"}
	ErrInternal         = &Error{Code: CodeInternal, Message: "internal error"}

	// ErrPasswordChangeRequired is the answer to a user whose password an administrator
	// generated (User.MustChangePassword) for anything but reading themself, changing their
	// password and signing out. It is also an ErrForbidden.
	ErrPasswordChangeRequired = &Error{Code: CodePasswordChangeRequired, Message: "change your password first"}
	// ErrSessionRequired is the answer to an API key for what needs a session: minting or
	// rotating keys, changing a password, e-mail address or username, and acting on another
	// user's credentials. It is also an ErrForbidden.
	ErrSessionRequired = &Error{Code: CodeSessionRequired, Message: "an API key cannot do this: sign in for a session"}
)

// ErrWrongPassword is returned by ChangePassword when the current password given is not the
// user's. It is an ErrInvalid (not ErrUnauthorized: the caller is signed in, the input is wrong).
var ErrWrongPassword = &Error{Code: CodeInvalid, Message: "the current password is wrong", Field: "oldPassword"}

// Error is the error type of the package. Message is safe to show a client: it never contains a
// password, hash, token or code. Field names the input at fault, if any. Cause is the underlying
// error, kept for logs and errors.Is/As; it is not meant for clients.
//
// errors.Is(err, ErrX) is true for any *Error whose Code equals the Code of the sentinel ErrX.
type Error struct {
	Code       Code
	Message    string
	Field      string
	Cause      error
	RetryAfter time.Duration // with CodeThrottled and CodeOverloaded: how long to wait before trying again
}

// Error returns the message, prefixed with the field at fault when there is one.
// It does not include the cause.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is the sentinel of e's code, so that errors.Is(err, ErrNotFound)
// matches every not-found error whatever its message, or of the code it is a kind of (an
// ErrSessionRequired is an ErrForbidden). A more specific error such as ErrWrongPassword
// matches only itself (and its code's sentinel).
func (e *Error) Is(target error) bool {
	if target == nil {
		return false
	}
	return sentinels[e.Code] == target || sentinels[kindOf[e.Code]] == target
}

// kindOf maps the codes that are kinds of another code to that code.
var kindOf = map[Code]Code{
	CodePasswordChangeRequired: CodeForbidden,
	CodeSessionRequired:        CodeForbidden,
}

var sentinels = map[Code]error{
	CodeInvalid:          ErrInvalid,
	CodeNotFound:         ErrNotFound,
	CodeConflict:         ErrConflict,
	CodeUnauthorized:     ErrUnauthorized,
	CodeForbidden:        ErrForbidden,
	CodeThrottled:        ErrThrottled,
	CodeOverloaded:       ErrOverloaded,
	CodeTooLarge:         ErrTooLarge,
	CodeUnsupportedMedia: ErrUnsupportedMedia,
	CodeInternal:         ErrInternal,

	CodePasswordChangeRequired: ErrPasswordChangeRequired,
	CodeSessionRequired:        ErrSessionRequired,
}

// ErrorCode returns the code of the first *Error in err's chain, CodeInternal for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// invalid returns an ErrInvalid naming the field at fault.
func invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// notFound returns an ErrNotFound with a message naming what was missing.
func notFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

// conflict returns an ErrConflict naming the field at fault.
func conflict(field, message string) *Error {
	return &Error{Code: CodeConflict, Field: field, Message: message}
}

// internal wraps an unexpected failure; the cause is kept for logs, the message stays generic.
func internal(cause error) *Error {
	return &Error{Code: CodeInternal, Message: "internal error", Cause: cause}
}

// NotFoundError returns an ErrNotFound whose message names what was missing, for stores.
func NotFoundError(what string) error { return notFound(what) }

// ConflictError returns an ErrConflict naming the field at fault, for stores.
func ConflictError(field, message string) error { return conflict(field, message) }
