package api

import (
	"log/slog"
	"net/http"
	"strconv"

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
	default:
		return http.StatusInternalServerError
	}
}

// fail renders err in the error shape and stops the chain. A 500 is logged with its whole chain
// and the request id; the client sees only "internal error" and the id.
func fail(c *gin.Context, err error) {
	rid := requestID(c)
	e, ok := errs.As(err)
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
	if e.Kind == errs.RateLimited && e.RetryAfter > 0 {
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

func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}
