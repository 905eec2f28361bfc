package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/logctx"
	"github.com/vanehq/vane/internal/metrics"
	"github.com/vanehq/vane/policies"
	"github.com/vanehq/vane/services"
)

// Context keys.
const (
	ctxPrincipal = "vane.principal"
	ctxScope     = "vane.scope"
)

// requestState is what the middleware learns of a request that every route needs (evaluations
// above all): one value in the request's context.Context, where services find the request id for
// their log lines too, instead of several context values and a per-request map.
type requestState struct {
	id    string
	log   *slog.Logger
	start time.Time
	sdk   *dataplane.SDKKey // the SDK key of an evaluation route
}

// RequestID makes the state a logctx.Carrier.
func (s *requestState) RequestID() string { return s.id }

// stateOf is the request's state (nil outside the router's middleware).
func stateOf(c *gin.Context) *requestState {
	s, _ := logctx.CarrierOf(c.Request.Context()).(*requestState)
	return s
}

// MaxBodyBytes is the largest request body accepted (413 beyond).
const MaxBodyBytes = 1 << 20

func requestID(c *gin.Context) string {
	if s := stateOf(c); s != nil {
		return s.id
	}
	return ""
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// requestIDs makes request ids unique to this process without a system call per request: a
// random prefix chosen at start and a counter.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs { return &requestIDs{prefix: uuid.NewString()[:18]} }

func (r *requestIDs) next() string {
	return r.prefix + strconv.FormatUint(r.n.Add(1), 16)
}

// withRequestID takes the caller's X-Request-ID when it is sane, or makes one, and echoes it; it
// starts the request's state (and its clock, which the metrics and the access log share). Log
// lines name the id themselves (no per-request logger is built).
func withRequestID(log *slog.Logger) gin.HandlerFunc {
	ids := newRequestIDs()
	return func(c *gin.Context) {
		id := header(c, "X-Request-Id")
		if !validRequestID(id) {
			id = ids.next()
		}
		st := &requestState{id: id, log: log, start: time.Now()}
		c.Request = c.Request.WithContext(logctx.WithCarrier(c.Request.Context(), st)) // services log the id too
		c.Writer.Header()["X-Request-Id"] = []string{id}                               // the canonical form: no conversion per request
		c.Next()
	}
}

// startOf is when the request's handling began.
func startOf(c *gin.Context) time.Time {
	if s := stateOf(c); s != nil {
		return s.start
	}
	return time.Now()
}

// accessLog logs one line per request: the route template, never the raw path or query (which may
// carry secrets), never headers or bodies.
func accessLog(quiet map[string]bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		level := slog.LevelInfo
		switch st := c.Writer.Status(); {
		case quiet[c.FullPath()] && st < 500:
			level = slog.LevelDebug // evaluations: a million of them must not write a million lines
		case st == StatusClientClosedRequest || errors.Is(c.Request.Context().Err(), context.Canceled) && st < 400:
			level = slog.LevelDebug // the client went away (or a stream ended with it)
		case st >= 500:
			level = slog.LevelError
		}
		log := logger(c)
		if !log.Enabled(c.Request.Context(), level) {
			return
		}
		route := c.FullPath()
		if route == "" {
			route = "(no route)"
		}
		attrs := []any{"method", c.Request.Method, "route", route, "status", c.Writer.Status(),
			"duration_ms", float64(time.Since(startOf(c)).Microseconds()) / 1000, "ip", c.ClientIP(), "request_id", requestID(c)}
		if p, ok := c.Get(ctxPrincipal); ok {
			pr := p.(*services.Principal)
			attrs = append(attrs, "principal", pr.Kind+":"+pr.ID)
		}
		log.Log(c.Request.Context(), level, "request", attrs...)
	}
}

// observe records every request's latency by route template (never the raw path), method and
// status code; m may be nil.
func observe(m *metrics.Metrics) gin.HandlerFunc {
	if m == nil {
		return func(c *gin.Context) { c.Next() }
	}
	return func(c *gin.Context) {
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "(no route)"
		}
		m.Request(route, c.Request.Method, c.Writer.Status(), time.Since(startOf(c)))
	}
}

// recovery turns a panic into a 500 in the error shape; the stack goes to the log only.
func recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				logger(c).Error("panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()), "request_id", requestID(c))
				if !c.Writer.Written() {
					fail(c, fmt.Errorf("panic: %v", r))
				} else {
					c.Abort()
				}
			}
		}()
		c.Next()
	}
}

// limitBody refuses bodies over MaxBodyBytes (413) up front when the length is declared, and
// caps the reader when it is not.
func limitBody() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > MaxBodyBytes {
			fail(c, errs.New(errs.TooLarge, "the request body is larger than %d bytes", MaxBodyBytes))
			return
		}
		if c.Request.ContentLength < 0 { // a declared length is enforced by net/http already
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
		}
		c.Next()
	}
}

// cors answers browsers from the configured origins; preflights end here with 204.
func cors(origins []string) gin.HandlerFunc {
	any := slices.Contains(origins, "*")
	return func(c *gin.Context) {
		origin := header(c, "Origin")
		if origin == "" || !(any || slices.Contains(origins, origin)) {
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "ETag, X-Request-ID, Retry-After, Location")
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, If-Match, If-None-Match, X-Request-ID, X-Vane-Environment")
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}

// header is a request header's first value by its canonical name ("X-Api-Key"): a map lookup,
// without converting the name on every request as Header.Get does.
func header(c *gin.Context, canonical string) string {
	if v := c.Request.Header[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// credential reads a credential from X-API-Key or Authorization: Bearer.
func credential(c *gin.Context) string {
	if k := strings.TrimSpace(header(c, "X-Api-Key")); k != "" {
		return k
	}
	h := header(c, "Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authenticate resolves the request's management credential to a principal (401 otherwise).
func (h *handlers) authenticate(c *gin.Context) {
	p, err := h.svc.Auth.AuthenticateFrom(c.Request.Context(), credential(c), c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	c.Set(ctxPrincipal, p)
	c.Next()
}

func principalOf(c *gin.Context) *services.Principal {
	return c.MustGet(ctxPrincipal).(*services.Principal)
}

// baseScope is the scope of a request that names no organisation.
func baseScope(c *gin.Context) services.Scope {
	return services.Scope{Principal: principalOf(c), RequestID: requestID(c), IP: c.ClientIP()}
}

func scopeOf(c *gin.Context) services.Scope { return c.MustGet(ctxScope).(services.Scope) }

// scopeRoles are the roles an API key's scopes give, highest first.
var scopeRoles = map[string]string{"admin": "ADMIN", "write": "DEVELOPER", "read": "VIEWER"}

// authorize resolves {org}, checks the principal belongs to it (404 otherwise, so nobody learns
// another organisation exists), and asks the enforcer whether its role may do act on res (403).
func (h *handlers) authorize(res policies.Resource, act policies.Action, boundOK bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		sc, err := h.scopeIn(c, c.Param("org"), res, act, boundOK)
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(ctxScope, sc)
		c.Next()
	}
}

// scopeIn is authorize's decision for an organisation named by orgRef.
func (h *handlers) scopeIn(c *gin.Context, orgRef string, res policies.Resource, act policies.Action, boundOK bool) (services.Scope, error) {
	ctx := c.Request.Context()
	p := principalOf(c)
	org, err := h.svc.Auth.ResolveOrg(ctx, orgRef)
	if err != nil {
		return services.Scope{}, err
	}
	notFound := errs.NotFoundf("organization not found")
	var subjects []string
	role := ""
	switch p.Kind {
	case services.PrincipalAPIKey:
		if p.OrgID != org.ID {
			return services.Scope{}, notFound
		}
		for _, s := range p.Scopes {
			subjects = append(subjects, policies.ScopeSubject(s))
		}
		for _, s := range []string{"admin", "write", "read"} {
			if slices.Contains(p.Scopes, s) {
				role = scopeRoles[s]
				break
			}
		}
	default:
		if role, err = h.svc.Auth.RoleIn(ctx, org.ID, p.ID); err != nil {
			return services.Scope{}, err
		}
		if role == "" {
			return services.Scope{}, notFound
		}
		subjects = []string{role}
	}
	if p.Bound() && !boundOK {
		return services.Scope{}, errs.Forbiddenf("this API key is restricted to one project; it cannot use organization-wide routes")
	}
	if !h.enforcer.Allow(org.ID, subjects, res, act) {
		return services.Scope{}, errs.Forbiddenf("your role does not allow %s on %s", act, res)
	}
	return services.Scope{OrgID: org.ID, OrgSlug: org.Slug, Principal: p, Role: role, RequestID: requestID(c), IP: c.ClientIP()}, nil
}

// can asks the enforcer about the current scope, for responses that show more to some roles.
func (h *handlers) can(c *gin.Context, res policies.Resource, act policies.Action) bool {
	sc := scopeOf(c)
	subjects := []string{sc.Role}
	if sc.Principal.Kind == services.PrincipalAPIKey {
		subjects = subjects[:0]
		for _, s := range sc.Principal.Scopes {
			subjects = append(subjects, policies.ScopeSubject(s))
		}
	}
	return h.enforcer.Allow(sc.OrgID, subjects, res, act)
}
