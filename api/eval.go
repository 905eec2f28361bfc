package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	vane "github.com/vanehq/vane/sdk/go"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/logctx"
	"github.com/vanehq/vane/sdk/go/engine"
)

// sdkAuth resolves the request's SDK key (X-API-Key or Authorization: Bearer) from memory.
// serverOnly refuses client keys (403). bare answers failures without a body (OFREP).
func (h *handlers) sdkAuth(serverOnly, bare bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		info, err := h.plane.ResolveKey(credential(c))
		if err == nil && serverOnly && info.Kind != dataplane.KindServer {
			err = errs.Forbiddenf("this route needs the environment's server-side SDK key (srv-…)")
		}
		if err != nil {
			if bare {
				c.AbortWithStatus(status(errs.KindOf(err)))
				return
			}
			fail(c, err)
			return
		}
		st := stateOf(c)
		if st == nil { // outside the router's middleware
			st = &requestState{start: time.Now()}
			c.Request = c.Request.WithContext(logctx.WithCarrier(c.Request.Context(), st))
		}
		st.sdk = info
		c.Next()
	}
}

// sdkOf is the SDK key sdkAuth resolved.
func sdkOf(c *gin.Context) *dataplane.SDKKey { return stateOf(c).sdk }

// EvaluateRequest is source 000's evaluation request. org_id (source 003) may come with or
// without user_id: isEnabledFor(org, null) evaluates for the organisation alone.
type EvaluateRequest struct {
	UserID     any            `json:"user_id" swaggertype:"string" example:"user-123"`
	OrgID      any            `json:"org_id,omitempty" swaggertype:"string" example:"47"`
	Attributes map[string]any `json:"attributes"`
	// Context is an OpenFeature-style evaluation context, merged over attributes.
	Context map[string]any `json:"context,omitempty"`
}

// EvaluateResponse is one evaluated flag.
type EvaluateResponse struct {
	FlagKey           string  `json:"flag_key" example:"new-checkout-flow"`
	Enabled           bool    `json:"enabled"`
	Value             any     `json:"value"`
	Variation         string  `json:"variation,omitempty"`
	Reason            string  `json:"reason" example:"SPLIT"`
	RuleID            string  `json:"rule_id,omitempty"`
	RolloutPercentage float64 `json:"rollout_percentage"`
	ErrorCode         string  `json:"error_code,omitempty"`
	Version           int64   `json:"version"`
}

// idString accepts an id as a string or a whole number (source 003's numeric ids).
func idString(field string, v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case float64:
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10), nil
		}
	}
	return "", errs.Field(field, "must be a string or a whole number")
}

func (r *EvaluateRequest) context() (engine.Context, error) {
	user, err := idString("user_id", r.UserID)
	if err != nil {
		return nil, err
	}
	org, err := idString("org_id", r.OrgID)
	if err != nil {
		return nil, err
	}
	attrs := r.Attributes // decoded for this request alone: ours to extend
	if attrs == nil {
		attrs = map[string]any{}
	}
	for k, v := range r.Context {
		attrs[k] = v
	}
	if user != "" || org != "" {
		attrs = dataplane.ContextFor003(user, org, attrs)
	}
	return dataplane.CheckContext(attrs, "attributes")
}

// restReason is the reason as the REST API states it (DESIGN §2's list; ROLLED_OUT is DEFAULT).
func restReason(r engine.Reason) string {
	if r == engine.ReasonStatic {
		return string(engine.ReasonDefault)
	}
	return string(r)
}

func toEvaluation(key string, e dataplane.Evaluation) EvaluateResponse {
	out := EvaluateResponse{FlagKey: key, Enabled: e.Enabled(), Value: e.Value(), Variation: e.VariationID(),
		Reason: restReason(e.Result.Reason), ErrorCode: e.Result.ErrorCode}
	if e.Flag != nil {
		out.RuleID = e.Flag.RuleID(e.Result)
		out.RolloutPercentage = e.Flag.RolloutPercentage
		out.Version = e.Flag.Version
	}
	return out
}

// evaluateFlag godoc
//
//	@Summary		Evaluate one flag (source 000)
//	@Description	Evaluates a flag of the SDK key's environment for a user and attributes. A flag that does not exist answers reason FLAG_NOT_FOUND with enabled false: the safe default. Never 500 for a well-formed request.
//	@Tags			evaluation
//	@Accept			json
//	@Produce		json
//	@Security		ApiKeyAuth
//	@Param			key		path		string			true	"flag key"
//	@Param			body	body		EvaluateRequest	true	"who is asking"
//	@Success		200		{object}	EvaluateResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		401		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Router			/api/v1/feature-flags/{key}/evaluate [post]
func (h *handlers) evaluateFlag(c *gin.Context) {
	var req EvaluateRequest
	if err := bindEvaluation(c, &req, decodeEvaluateRequest); err != nil {
		fail(c, err)
		return
	}
	ctx, err := req.context()
	if err != nil {
		fail(c, err)
		return
	}
	key := c.Param("key")
	e, err := h.plane.Evaluate(c.Request.Context(), sdkOf(c), key, ctx)
	if err != nil {
		fail(c, err)
		return
	}
	resp := toEvaluation(key, e)
	bp := answerBuffer()
	writeAnswer(c, http.StatusOK, bp, appendEvaluateResponse((*bp)[:0], &resp))
}

// BulkEvaluateRequest is source 003's request for every flag at once.
type BulkEvaluateRequest struct {
	UserID     any            `json:"user_id" swaggertype:"string" example:"42"`
	OrgID      any            `json:"org_id" swaggertype:"string" example:"47"`
	Attributes map[string]any `json:"attributes"`
}

// evaluateAll godoc
//
//	@Summary		Evaluate every flag (source 003)
//	@Description	All flags of the SDK key's environment pre-evaluated for a user and/or organisation (either may be absent) as {"flag_key": value}; boolean flags give true/false. GET takes user_id and org_id as query parameters; POST also takes attributes. ETag changes with the environment's configuration and with the answers; If-None-Match answers 304.
//	@Tags			evaluation
//	@Accept			json
//	@Produce		json
//	@Security		ApiKeyAuth
//	@Param			user_id			query		string				false	"user id (GET)"
//	@Param			org_id			query		string				false	"organisation id (GET)"
//	@Param			body			body		BulkEvaluateRequest	false	"who is asking (POST)"
//	@Param			If-None-Match	header		string				false	"the ETag already held"
//	@Success		200				{object}	map[string]any
//	@Success		304
//	@Failure		400	{object}	ErrorResponse
//	@Failure		401	{object}	ErrorResponse
//	@Router			/api/v1/feature-flags/evaluate [get]
//	@Router			/api/v1/feature-flags/evaluate [post]
func (h *handlers) evaluateAll(c *gin.Context) {
	var req BulkEvaluateRequest
	if c.Request.Method == http.MethodPost {
		if err := bindEvaluation(c, &req, decodeBulkEvaluateRequest); err != nil {
			fail(c, err)
			return
		}
	} else {
		req.UserID, req.OrgID = nilIfEmpty(c.Query("user_id")), nilIfEmpty(c.Query("org_id"))
	}
	user, err := idString("user_id", req.UserID)
	if err != nil {
		fail(c, err)
		return
	}
	org, err := idString("org_id", req.OrgID)
	if err != nil {
		fail(c, err)
		return
	}
	ctx, err := dataplane.CheckContext(dataplane.ContextFor003(user, org, req.Attributes), "attributes")
	if err != nil {
		fail(c, err)
		return
	}
	bulk, err := h.plane.Bulk(c.Request.Context(), sdkOf(c), ctx)
	if err != nil {
		fail(c, err)
		return
	}
	if notModified(c, bulk) {
		return
	}
	out := bulk.AppendTo(bulk.Buffer(), dataplane.ValueMap)
	writeJSON(c, out)
	bulk.Release(out)
}

// notModified sets the bulk answer's ETag and answers 304 (releasing it) when the client holds it.
func notModified(c *gin.Context, bulk *dataplane.Bulk) bool {
	tag := bulk.ETag()
	c.Header("ETag", tag)
	if !matchesETag(c.GetHeader("If-None-Match"), tag) {
		return false
	}
	bulk.Release(nil)
	c.Status(http.StatusNotModified)
	return true
}

// writeJSON answers 200 with a JSON body already encoded, its length known (no chunked encoding).
func writeJSON(c *gin.Context, body []byte) {
	c.Header("Content-Length", strconv.Itoa(len(body)))
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// sdkConfig godoc
//
//	@Summary		Download the environment's configuration
//	@Description	Everything a server-side SDK needs to evaluate locally with Vane's engine: flags with their configurations and the segments. Server SDK key only. ETag is the environment's version; If-None-Match answers 304.
//	@Tags			sdk
//	@Produce		json
//	@Security		ApiKeyAuth
//	@Param			If-None-Match	header		string	false	"the ETag already held"
//	@Success		200				{object}	vane.Configuration
//	@Success		304
//	@Failure		401	{object}	ErrorResponse
//	@Failure		403	{object}	ErrorResponse
//	@Router			/api/v1/sdk/config [get]
func (h *handlers) sdkConfig(c *gin.Context) {
	snap, err := h.plane.Get(c.Request.Context(), sdkOf(c).EnvironmentID)
	if err != nil {
		fail(c, err)
		return
	}
	tag := `"` + strconv.FormatInt(snap.Version, 10) + `"`
	c.Header("ETag", tag)
	c.Header("X-Vane-Schema-Version", strconv.Itoa(vane.SchemaVersion))
	if matchesETag(c.GetHeader("If-None-Match"), tag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", snap.ConfigJSON())
}

func matchesETag(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}

// heartbeat keeps idle streams (and the proxies in front of them) alive.
const heartbeat = 15 * time.Second

// sdkStream godoc
//
//	@Summary		Stream configuration changes (Server-Sent Events)
//	@Description	Server SDK key only. Sends event "config" with the full configuration (vane.Configuration) on connect, then on every change an event "patch" (vane.Patch: the changed flags and segments in full, the keys of deleted ones, version and previous_version; a client holding another version than previous_version reconnects for the whole configuration), and a comment line as heartbeat every 15 s. Each event's id is the configuration version.
//	@Tags			sdk
//	@Produce		text/event-stream
//	@Security		ApiKeyAuth
//	@Success		200
//	@Failure		401	{object}	ErrorResponse
//	@Failure		403	{object}	ErrorResponse
//	@Router			/api/v1/sdk/stream [get]
func (h *handlers) sdkStream(c *gin.Context) {
	h.stream(c, func(prev, snap *dataplane.Snapshot) (string, []byte) {
		if prev == nil {
			return "config", snap.ConfigJSON()
		}
		return "patch", snap.PatchFrom(prev)
	})
}

// stream serves Server-Sent Events: one event now, one on every new snapshot, heartbeats between.
// event gets the snapshot last sent (nil for the first event) and the one to send. An HTTP/1
// connection is taken over from net/http (hijacked): an idle stream then holds one small goroutine
// and its socket instead of net/http's handler and background-read goroutines and buffers, and ends
// when a write fails (within one heartbeat of the client leaving) or the plane stops.
func (h *handlers) stream(c *gin.Context, event func(prev, snap *dataplane.Snapshot) (string, []byte)) {
	envID := sdkOf(c).EnvironmentID
	updates, stop := h.plane.Watch(envID)
	snap, err := h.plane.Get(c.Request.Context(), envID)
	if err != nil {
		stop()
		fail(c, err)
		return
	}
	w := c.Writer
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	serve := func(write func(format string, args ...any) error, gone <-chan struct{}) {
		defer stop()
		var sent *dataplane.Snapshot
		send := func(s *dataplane.Snapshot) error {
			name, data := event(sent, s)
			sent = s
			return write("id: %d\nevent: %s\ndata: %s\n\n", s.Version, name, data)
		}
		if send(snap) != nil {
			return
		}
		last := snap.Version
		tick := time.NewTicker(heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-gone:
				return
			case <-h.plane.Done(): // the server is stopping
				return
			case s := <-updates:
				if s.Version > last {
					last = s.Version
					if send(s) != nil {
						return
					}
				}
			case <-tick.C:
				if write(": heartbeat\n\n") != nil {
					return
				}
			}
		}
	}
	if hj, ok := w.(http.Hijacker); ok && c.Request.ProtoMajor == 1 {
		w.Header().Set("Connection", "close") // the body ends when the connection does
		head := []byte("HTTP/1.1 200 OK\r\n")
		var hb strings.Builder
		_ = w.Header().Write(&hb)
		head = append(append(head, hb.String()...), "\r\n"...)
		conn, _, err := hj.Hijack()
		if err == nil {
			write := func(format string, args ...any) error {
				_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second)) // a client that stopped reading is dropped
				_, err := fmt.Fprintf(conn, format, args...)
				return err
			}
			if write("%s", head) != nil {
				stop()
				_ = conn.Close()
				return
			}
			go func() { // ends with the stream: a failed write or the plane stopping
				defer func() { _ = conn.Close() }()
				serve(write, nil)
			}()
			return
		}
		w.Header().Del("Connection")
	}
	w.Header().Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	serve(func(format string, args ...any) error {
		_, err := fmt.Fprintf(w, format, args...)
		w.Flush()
		return err
	}, c.Request.Context().Done())
}
