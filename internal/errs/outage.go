package errs

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Outage reports whether err says a dependency could not be reached (refused or dropped
// connection, network timeout, a pool that could not connect) rather than that the request or the
// code is at fault: such a failure is a 503 with Retry-After, never a 500.
func Outage(err error) bool {
	if err == nil {
		return false
	}
	if KindOf(err) == Unavailable {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	for _, target := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, io.ErrUnexpectedEOF, driver.ErrBadConn} {
		if errors.Is(err, target) {
			return true
		}
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "conn closed", "connection reset", "broken pipe", "failed to connect", "no such host", "i/o timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
