package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/sdk/go/engine"
)

// OFREP (OpenFeature Remote Evaluation Protocol) keeps its own shapes and error codes.

// OFREPRequest is an evaluation request.
type OFREPRequest struct {
	Context map[string]any `json:"context"`
}

// OFREPSuccess is one evaluated flag.
type OFREPSuccess struct {
	Key      string         `json:"key"`
	Reason   string         `json:"reason" example:"TARGETING_MATCH"`
	Variant  string         `json:"variant"`
	Value    any            `json:"value"`
	Metadata map[string]any `json:"metadata"`
}

// OFREPError is a flag that could not be evaluated.
type OFREPError struct {
	Key          string `json:"key"`
	ErrorCode    string `json:"errorCode" example:"FLAG_NOT_FOUND"`
	ErrorDetails string `json:"errorDetails,omitempty"`
}

// OFREPBulk is every flag evaluated for one context.
type OFREPBulk struct {
	Flags        []any              `json:"flags"`
	Metadata     map[string]any     `json:"metadata"`
	EventStreams []OFREPEventStream `json:"eventStreams,omitempty"`
}

// OFREPEventStream advertises where to hear that evaluations should be fetched again.
type OFREPEventStream struct {
	Type               string `json:"type" example:"sse"`
	URL                string `json:"url"`
	InactivityDelaySec int    `json:"inactivityDelaySec"`
}

// ofrepContext reads the request's context; the error is an OFREP error code and details.
func ofrepContext(c *gin.Context) (ctx engine.Context, code, details string) {
	body, err := readAll(c.Request)
	if err != nil {
		return nil, "PARSE_ERROR", "could not read the request body"
	}
	var req OFREPRequest
	switch trimmed := bytes.TrimSpace(body); {
	case len(trimmed) > 0 && trimmed[0] == '{': // every OFREP client's body: the fast decoder
		if err := decodeOFREPRequest(trimmed, &req); err != nil {
			if e, ok := errs.As(err); ok && len(e.Details) == 1 && e.Details[0].Field == "context" {
				return nil, "INVALID_CONTEXT", "context must be a JSON object"
			}
			return nil, "PARSE_ERROR", "the request body is not valid JSON"
		}
	case len(trimmed) > 0:
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, "PARSE_ERROR", "the request body is not valid JSON"
		}
	}
	m := req.Context
	ctx, err = dataplane.CheckContext(m, "context")
	if err != nil {
		return nil, "INVALID_CONTEXT", err.Error()
	}
	return ctx, "", ""
}

// ofrepFailure is the OFREP error answer for an evaluation that served nothing (nil when it did).
func ofrepFailure(key string, e dataplane.Evaluation) (int, *OFREPError) {
	switch {
	case e.Result.Reason == engine.ReasonFlagNotFound:
		return http.StatusNotFound, &OFREPError{Key: key, ErrorCode: "FLAG_NOT_FOUND", ErrorDetails: "flag " + key + " does not exist in this environment"}
	case e.Result.ErrorCode == engine.ErrTargetingKeyMissing:
		return http.StatusBadRequest, &OFREPError{Key: key, ErrorCode: "TARGETING_KEY_MISSING", ErrorDetails: dataplane.OFREPMissingKey}
	}
	return http.StatusOK, nil
}

// ofrepEvaluate godoc
//
//	@Summary		OFREP: evaluate one flag
//	@Description	OpenFeature Remote Evaluation Protocol. Authenticate with a server or client SDK key (X-API-Key or Authorization: Bearer). 400 carries PARSE_ERROR, INVALID_CONTEXT or TARGETING_KEY_MISSING; 404 FLAG_NOT_FOUND; 401/403 have no body.
//	@Tags			ofrep
//	@Accept			json
//	@Produce		json
//	@Security		ApiKeyAuth
//	@Param			key		path		string			true	"flag key"
//	@Param			body	body		OFREPRequest	true	"evaluation context"
//	@Success		200		{object}	OFREPSuccess
//	@Failure		400		{object}	OFREPError
//	@Failure		401
//	@Failure		404	{object}	OFREPError
//	@Router			/ofrep/v1/evaluate/flags/{key} [post]
func (h *handlers) ofrepEvaluate(c *gin.Context) {
	key := c.Param("key")
	ctx, code, details := ofrepContext(c)
	if code != "" {
		c.JSON(http.StatusBadRequest, OFREPError{Key: key, ErrorCode: code, ErrorDetails: details})
		return
	}
	e, err := h.plane.Evaluate(c.Request.Context(), sdkOf(c), key, ctx)
	if err != nil {
		logger(c).Error("ofrep evaluation failed", "err", err)
		c.JSON(http.StatusInternalServerError, OFREPError{Key: key, ErrorCode: "GENERAL", ErrorDetails: "internal error"})
		return
	}
	if status, failure := ofrepFailure(key, e); failure != nil {
		c.JSON(status, failure)
		return
	}
	bp := answerBuffer()
	writeAnswer(c, http.StatusOK, bp, appendOFREPSuccess((*bp)[:0], key, string(e.Result.Reason), e.VariationID(), e.Value(),
		e.Flag.RuleID(e.Result), e.Flag.Version))
}

// ofrepBulk godoc
//
//	@Summary		OFREP: evaluate every flag
//	@Description	Every flag of the SDK key's environment for one context. ETag changes with the environment's configuration and with the answers (two contexts served alike share it); If-None-Match answers 304. eventStreams advertises an SSE stream of {"type":"refetchEvaluation","etag":…} events.
//	@Tags			ofrep
//	@Accept			json
//	@Produce		json
//	@Security		ApiKeyAuth
//	@Param			If-None-Match	header		string			false	"the ETag already held"
//	@Param			body			body		OFREPRequest	true	"evaluation context"
//	@Success		200				{object}	OFREPBulk
//	@Success		304
//	@Failure		400	{object}	OFREPError
//	@Failure		401
//	@Router			/ofrep/v1/evaluate/flags [post]
func (h *handlers) ofrepBulk(c *gin.Context) {
	ctx, code, details := ofrepContext(c)
	if code != "" {
		c.JSON(http.StatusBadRequest, gin.H{"errorCode": code, "errorDetails": details})
		return
	}
	bulk, err := h.plane.Bulk(c.Request.Context(), sdkOf(c), ctx)
	if err != nil {
		logger(c).Error("ofrep bulk evaluation failed", "err", err)
		c.JSON(http.StatusInternalServerError, gin.H{"errorCode": "GENERAL", "errorDetails": "internal error"})
		return
	}
	if notModified(c, bulk) {
		return
	}
	out := append(bulk.Buffer(), `{"flags":[`...)
	out = bulk.AppendTo(out, dataplane.OFREPFlags)
	out = strconv.AppendInt(append(out, `],"metadata":{"version":`...), bulk.Version(), 10)
	out = append(out, ofrepBulkTail...)
	writeJSON(c, out)
	bulk.Release(out)
}

// ofrepBulkTail ends every bulk response: where to hear that evaluations should be fetched again.
var ofrepBulkTail = func() []byte {
	tail, _ := json.Marshal([]OFREPEventStream{{Type: "sse", URL: "/ofrep/v1/stream", InactivityDelaySec: 120}})
	return append(append([]byte(`},"eventStreams":`), tail...), '}')
}()

// ofrepStream godoc
//
//	@Summary		OFREP: hear when to evaluate again (Server-Sent Events)
//	@Description	Sends {"type":"refetchEvaluation","etag":"<version>"} on connect and after every configuration change of the SDK key's environment.
//	@Tags			ofrep
//	@Produce		text/event-stream
//	@Security		ApiKeyAuth
//	@Success		200
//	@Failure		401
//	@Router			/ofrep/v1/stream [get]
func (h *handlers) ofrepStream(c *gin.Context) {
	h.stream(c, func(_, snap *dataplane.Snapshot) (string, []byte) {
		b, _ := json.Marshal(map[string]string{"type": "refetchEvaluation", "etag": strconv.FormatInt(snap.Version, 10)})
		return "message", b
	})
}
