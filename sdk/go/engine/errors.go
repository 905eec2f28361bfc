package engine

import (
	"fmt"
	"strings"
)

// FieldError is one field at fault in a configuration, with what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every field at fault in a flag or segment that does not compile.
type ValidationError struct {
	Details []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration")
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(d.Field + " " + d.Message)
	}
	return b.String()
}

// validation collects field errors; err returns nil when there are none.
type validation struct{ details []FieldError }

func (v *validation) Add(field, format string, args ...any) {
	v.details = append(v.details, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validation) Err() error {
	if len(v.details) == 0 {
		return nil
	}
	return &ValidationError{Details: v.details}
}
