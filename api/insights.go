package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
)

// InsightsResponse is a flag's evaluations in an environment per hour and variation.
type InsightsResponse struct {
	Buckets         []InsightBucket `json:"buckets"`
	LastEvaluatedAt *time.Time      `json:"last_evaluated_at"`
}

// InsightBucket is one hour: variation id → evaluations.
type InsightBucket struct {
	Hour   time.Time        `json:"hour" example:"2026-11-22T05:00:00Z"`
	Counts map[string]int64 `json:"counts"`
}

// getInsights godoc
//
//	@Summary		Evaluations of a flag per hour and variation
//	@Description	How often each variation (by id) was served in the environment, per hour, in [from, to) (default: the last 7 days; at most 90 days). Hours without evaluations are left out. Each node records its counts in batches (every 10 s), so the latest seconds may be missing.
//	@Tags			flags
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string	true	"organisation slug or id"
//	@Param			project	path		string	true	"project key or id"
//	@Param			flag	path		string	true	"flag key or id"
//	@Param			env		path		string	true	"environment key or id"
//	@Param			from	query		string	false	"RFC 3339 time, inclusive (default: to minus 7 days)"
//	@Param			to		query		string	false	"RFC 3339 time, exclusive (default: now)"
//	@Success		200		{object}	InsightsResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/insights [get]
func (h *handlers) getInsights(c *gin.Context) {
	var window [2]time.Time
	for i, name := range []string{"from", "to"} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				fail(c, errs.Field(name, "must be an RFC 3339 time like 2026-01-02T15:04:05Z"))
				return
			}
			window[i] = t.UTC()
		}
	}
	in, err := h.svc.Flags.Insights(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"), window[0], window[1])
	if err != nil {
		fail(c, err)
		return
	}
	out := InsightsResponse{Buckets: make([]InsightBucket, len(in.Buckets)), LastEvaluatedAt: in.LastEvaluatedAt}
	for i, b := range in.Buckets {
		out.Buckets[i] = InsightBucket{Hour: b.Hour, Counts: b.Counts}
	}
	c.JSON(http.StatusOK, out)
}
