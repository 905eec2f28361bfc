package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
)

// ErrorResponse is the one error shape of the API.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong and, for invalid input, which fields.
type ErrorBody struct {
	Code      string            `json:"code" example:"validation_failed"`
	Message   string            `json:"message" example:"the request is invalid"`
	Details   []errs.FieldError `json:"details,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	// CurrentVersion is the resource's version when an If-Match was stale (412).
	CurrentVersion *int64 `json:"current_version,omitempty"`
	// Allowed lists the statuses a flag may move to, when a transition was refused (409).
	Allowed []string `json:"allowed,omitempty"`
	// UsedBy lists what still uses a segment that could not be deleted (409).
	UsedBy []string `json:"used_by,omitempty"`
}

// status maps an error kind to its HTTP status: the only place that does.
func status(k errs.Kind) int {
	switch k {
	case errs.Malformed:
		return http.StatusBadRequest
	case errs.Invalid:
		return http.StatusUnprocessableEntity
	case errs.Unauthorized:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.Precondition:
		return http.StatusPreconditionFailed
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.RateLimited:
		return http.StatusTooManyRequests
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// fail renders err in the error shape and stops the chain. A 500 is logged with its whole chain
// and the request id; the client sees only "internal error" and the id.
func fail(c *gin.Context, err error) {
	rid := requestID(c)
	if clientGone(c, err) {
		// Nobody is listening: not a server error. 499 (nginx's "client closed request") in the
		// access log, at debug level.
		logger(c).Debug("client went away", "err", err, "request_id", rid)
		c.AbortWithStatus(StatusClientClosedRequest)
		return
	}
	e, ok := errs.As(err)
	if (!ok || e.Kind == errs.Internal) && errs.Outage(err) {
		e, ok = errs.Wrap(errs.Unavailable, err, "a service Vane depends on is unavailable; try again shortly"), true
		logger(c).Warn("dependency unavailable", "err", err, "request_id", rid)
	}
	if !ok || e.Kind == errs.Internal {
		logger(c).Error("request failed", "err", err, "request_id", rid)
		c.AbortWithStatusJSON(http.StatusInternalServerError, ErrorResponse{Error: ErrorBody{
			Code: errs.Internal.Code(), Message: "internal error (request id " + rid + ")", RequestID: rid}})
		return
	}
	body := ErrorBody{Code: e.Kind.Code(), Message: e.Message, Details: e.Details, RequestID: rid}
	if v, ok := e.Meta["current_version"].(int64); ok {
		body.CurrentVersion = &v
	}
	body.Allowed, _ = e.Meta["allowed"].([]string)
	body.UsedBy, _ = e.Meta["used_by"].([]string)
	if e.Kind == errs.Unavailable && e.RetryAfter == 0 {
		e.RetryAfter = unavailableRetryAfter
	}
	if (e.Kind == errs.RateLimited || e.Kind == errs.Unavailable) && e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int((e.RetryAfter+999_999_999)/1_000_000_000)))
	}
	if e.Kind == errs.Unauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="vane"`)
	}
	if log := logger(c); log.Enabled(c.Request.Context(), slog.LevelDebug) {
		log.Debug("request refused", "err", err, "request_id", rid)
	}
	c.AbortWithStatusJSON(status(e.Kind), ErrorResponse{Error: body})
}

// unavailableRetryAfter is what a 503 asks the client to wait before trying again.
const unavailableRetryAfter = 5 * time.Second

// StatusClientClosedRequest is the status logged for a request whose client went away first.
const StatusClientClosedRequest = 499

// clientGone reports whether a failure is only the client having gone (its request's context
// ended: the connection closed, or a deadline of the caller's own passed), as opposed to a fault.
func clientGone(c *gin.Context, err error) bool {
	if c.Request.Context().Err() == nil {
		return false
	}
	e, known := errs.As(err)
	return errors.Is(err, context.Canceled) || !known || e.Kind == errs.Internal
}

func logger(c *gin.Context) *slog.Logger {
	if s := stateOf(c); s != nil && s.log != nil {
		return s.log
	}
	return slog.Default()
}
