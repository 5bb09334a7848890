package slipway

import (
	"errors"
	"fmt"
)

// Application error codes. They map to HTTP statuses in one place (httpapi)
// and to exit codes in the CLI.
const (
	EConflict     = "conflict"     // the request conflicts with the current state (409)
	EInternal     = "internal"     // a bug or an unexpected failure (500)
	EInvalid      = "invalid"      // the input is wrong (422 or 400)
	ENotFound     = "not_found"    // the thing does not exist (404)
	EUnauthorized = "unauthorized" // no or bad credentials (401)
	EForbidden    = "forbidden"    // credentials valid, but not for this (403)
	EUnavailable  = "unavailable"  // a dependency is down; retry later (503)
)

// Error is an application error: Message is safe to show to a user, Code
// says what kind of failure it is. Err, when set, carries the cause for logs
// and for errors.Is; it is never shown to users.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an [Error] with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first [Error] in err's chain, or
// [EInternal] for any other non-nil error, or "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EInternal
	}
}

// ErrorMessage returns the user-facing message of the first [Error] in err's
// chain, or "Internal error." for any other error.
func ErrorMessage(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "Internal error."
}
