// Package errs defines the few kinds of error Vane distinguishes. Services and models return them
// (wrapped with context); the api package maps each kind to one HTTP status, once.
package errs

import (
	"errors"
	"fmt"
	"github.com/vanehq/vane/sdk/go/engine"
	"time"
)

// Kind classifies an error for the client. The zero value is Internal.
type Kind int

const (
	Internal Kind = iota
	Malformed
	Invalid
	Unauthorized
	Forbidden
	NotFound
	Conflict
	Precondition
	TooLarge
	RateLimited
	Unavailable // a dependency (the database, Redis) is down: try again later
)

// Code is the stable machine-readable code sent to clients for a kind.
func (k Kind) Code() string {
	switch k {
	case Malformed:
		return "malformed_request"
	case Invalid:
		return "validation_failed"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case NotFound:
		return "not_found"
	case Conflict:
		return "conflict"
	case Precondition:
		return "precondition_failed"
	case TooLarge:
		return "payload_too_large"
	case RateLimited:
		return "rate_limited"
	case Unavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// FieldError names one field at fault, as a path into the request (rules[0].conditions[1].operator).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error of a known kind with a message safe to show to the client.
type Error struct {
	Kind       Kind
	Message    string
	Details    []FieldError
	RetryAfter time.Duration // for RateLimited
	Meta       map[string]any
	cause      error
}

func (e *Error) Error() string {
	msg := e.Message
	for _, d := range e.Details {
		msg += fmt.Sprintf("; %s: %s", d.Field, d.Message)
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.cause }

// Is lets errors.Is(err, errs.ErrNotFound) match any error of the same kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Kind == e.Kind
}

// Sentinels for errors.Is checks.
var (
	ErrNotFound     = &Error{Kind: NotFound}
	ErrConflict     = &Error{Kind: Conflict}
	ErrInvalid      = &Error{Kind: Invalid}
	ErrForbidden    = &Error{Kind: Forbidden}
	ErrPrecondition = &Error{Kind: Precondition}
	ErrUnauthorized = &Error{Kind: Unauthorized}
)

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	// The engine (a module of its own, shared with the SDK) reports configurations that do not
	// compile in its own type: it is the client's mistake, field by field.
	var ve *engine.ValidationError
	if errors.As(err, &ve) {
		d := make([]FieldError, len(ve.Details))
		for i, f := range ve.Details {
			d[i] = FieldError{Field: f.Field, Message: f.Message}
		}
		return &Error{Kind: Invalid, Message: "the request is invalid", Details: d, cause: err}, true
	}
	return nil, false
}

// New makes an error of a kind with a client-safe message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap makes an error of a kind that keeps cause for logs; only message reaches the client.
func Wrap(kind Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), cause: cause}
}

// NotFoundf says the named resource does not exist (or belongs to someone else: the same answer).
func NotFoundf(format string, args ...any) *Error { return New(NotFound, format, args...) }

// Conflictf reports a clash with existing state.
func Conflictf(format string, args ...any) *Error { return New(Conflict, format, args...) }

// Forbiddenf reports an authenticated principal that may not do this.
func Forbiddenf(format string, args ...any) *Error { return New(Forbidden, format, args...) }

// Unauthorizedf reports missing or bad credentials.
func Unauthorizedf(format string, args ...any) *Error { return New(Unauthorized, format, args...) }

// Field makes a validation error naming one field.
func Field(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Message: "the request is invalid", Details: []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// StaleVersion reports an If-Match that no longer matches; the current version travels to the client.
func StaleVersion(resource string, current int64) *Error {
	return &Error{Kind: Precondition, Message: fmt.Sprintf("%s was changed by someone else (current version %d)", resource, current),
		Meta: map[string]any{"current_version": current}}
}

// Validation collects field errors; Err returns nil when there are none.
type Validation struct{ details []FieldError }

// Add records a field at fault.
func (v *Validation) Add(field, format string, args ...any) {
	v.details = append(v.details, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Merge adds another validation error's details under a field prefix.
func (v *Validation) Merge(prefix string, err error) {
	e, ok := As(err)
	if !ok || e.Kind != Invalid {
		v.Add(prefix, "%v", err)
		return
	}
	for _, d := range e.Details {
		f := d.Field
		if prefix != "" {
			f = prefix + "." + f
		}
		v.details = append(v.details, FieldError{Field: f, Message: d.Message})
	}
}

// Err returns the collected validation error, or nil.
func (v *Validation) Err() error {
	if len(v.details) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Message: "the request is invalid", Details: v.details}
}
