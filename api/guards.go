package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/services"
)

// MetricsRequest is a batch of evaluation outcomes from an SDK.
type MetricsRequest struct {
	Metrics []MetricPoint `json:"metrics"`
}

// MetricPoint is one flag variation's outcomes over a period.
type MetricPoint struct {
	FlagKey     string     `json:"flag_key" example:"new-checkout-flow"`
	Variation   string     `json:"variation" example:"true"`
	Evaluations int64      `json:"evaluations" example:"120"`
	Errors      int64      `json:"errors" example:"3"`
	Successes   int64      `json:"successes" example:"117"`
	Timestamp   *time.Time `json:"timestamp,omitempty"`
}

// MetricsResponse says how many points were accepted.
type MetricsResponse struct {
	Accepted int `json:"accepted"`
}

// ingestMetrics godoc
//
//	@Summary		Report evaluation outcomes
//	@Description	Batches (up to 1000 points) of evaluations, errors and successes per flag × variation, added to per-minute buckets that safety guards read (and that can roll a rollout back). Timestamps default to now and may be up to an hour old. Server SDK key only (a client key is 403); at most 1200 batches a minute per key (429 with Retry-After). Each bucket records the reporting key, which a guard's rollback names.
//	@Tags			sdk
//	@Accept			json
//	@Produce		json
//	@Security		ApiKeyAuth
//	@Param			body	body		MetricsRequest	true	"the batch"
//	@Success		202		{object}	MetricsResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		401		{object}	ErrorResponse
//	@Failure		403		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/sdk/metrics [post]
func (h *handlers) ingestMetrics(c *gin.Context) {
	var req MetricsRequest
	if err := bindLenient(c, &req); err != nil {
		fail(c, err)
		return
	}
	points := make([]services.MetricPoint, len(req.Metrics))
	for i, m := range req.Metrics {
		points[i] = services.MetricPoint{FlagKey: m.FlagKey, Variation: m.Variation, Evaluations: m.Evaluations,
			Errors: m.Errors, Successes: m.Successes, Timestamp: m.Timestamp}
	}
	n, err := h.svc.Metrics.Ingest(c.Request.Context(), sdkOf(c), points)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, MetricsResponse{Accepted: n})
}

// GuardRequest creates a safety guard. Durations are Go durations ("5m").
type GuardRequest struct {
	Metric     string  `json:"metric" example:"error_rate" enums:"error_rate,error_rate_ratio"`
	Comparator string  `json:"comparator,omitempty" example:"gt" enums:"gt,gte"`
	Threshold  float64 `json:"threshold" example:"0.05"`
	Window     string  `json:"window,omitempty" example:"5m"`
	MinSample  int     `json:"min_sample,omitempty" example:"100"`
	Action     string  `json:"action" example:"rollback_to_zero" enums:"rollback_to_previous_stage,rollback_to_zero,kill_switch"`
	Cooldown   string  `json:"cooldown,omitempty" example:"10m"`
}

// GuardResponse is a guard; TriggerURL is present only when it was just made or rotated.
type GuardResponse struct {
	ID              string     `json:"id"`
	Flag            string     `json:"flag"`
	Environment     string     `json:"environment"`
	Metric          string     `json:"metric"`
	Comparator      string     `json:"comparator"`
	Threshold       float64    `json:"threshold"`
	Window          string     `json:"window"`
	MinSample       int        `json:"min_sample"`
	Action          string     `json:"action"`
	Cooldown        string     `json:"cooldown"`
	LastTriggeredAt *time.Time `json:"last_triggered_at"`
	CreatedAt       time.Time  `json:"created_at"`
	TriggerURL      string     `json:"trigger_url,omitempty" example:"/api/v1/triggers/vtr_…"`
}

func toGuard(g *services.Guard, secret string) GuardResponse {
	r := GuardResponse{ID: g.ID, Flag: g.FlagKey, Environment: g.EnvKey, Metric: g.Metric, Comparator: g.Comparator,
		Threshold: g.Threshold, Window: (time.Duration(g.WindowSeconds) * time.Second).String(), MinSample: g.MinSample,
		Action: g.Action, Cooldown: (time.Duration(g.CooldownSeconds) * time.Second).String(), LastTriggeredAt: g.LastTriggeredAt,
		CreatedAt: g.CreatedAt}
	if secret != "" {
		r.TriggerURL = "/api/v1/triggers/" + secret
	}
	return r
}

func parseDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errs.Field(field, "must be a duration like 5m or 1h")
	}
	return d, nil
}

// createGuard godoc
//
//	@Summary		Add a safety guard
//	@Description	Watches the error rate of the cohort served the rolled-out variation (error_rate), optionally relative to the control cohort (error_rate_ratio), over a window with a minimum sample, while a rollout plan runs. A breach performs the action, marks the plan ROLLED_BACK and audits feature_flag.auto_rolled_back. The response's trigger_url (shown once) lets any monitoring tool force the action with a POST.
//	@Tags			rollouts
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string			true	"organisation slug or id"
//	@Param			project	path		string			true	"project key or id"
//	@Param			flag	path		string			true	"flag key or id"
//	@Param			env		path		string			true	"environment key or id"
//	@Param			body	body		GuardRequest	true	"the guard"
//	@Success		201		{object}	GuardResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/guards [post]
func (h *handlers) createGuard(c *gin.Context) {
	var req GuardRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	window, err := parseDuration("window", req.Window)
	if err != nil {
		fail(c, err)
		return
	}
	cooldown, err := parseDuration("cooldown", req.Cooldown)
	if err != nil {
		fail(c, err)
		return
	}
	g, secret, err := h.svc.Guards.Create(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"),
		services.GuardInput{Metric: req.Metric, Comparator: req.Comparator, Threshold: req.Threshold, Window: window,
			MinSample: req.MinSample, Action: req.Action, Cooldown: cooldown})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toGuard(g, secret))
}

// listGuards godoc
//
//	@Summary	List a flag's safety guards in an environment
//	@Tags		rollouts
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		project	path		string	true	"project key or id"
//	@Param		flag	path		string	true	"flag key or id"
//	@Param		env		path		string	true	"environment key or id"
//	@Success	200		{array}		GuardResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/guards [get]
func (h *handlers) listGuards(c *gin.Context) {
	gs, err := h.svc.Guards.List(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, mapItems(gs, func(g *services.Guard) GuardResponse { return toGuard(g, "") }))
}

// getGuard godoc
//
//	@Summary	Get a safety guard
//	@Tags		rollouts
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		project	path		string	true	"project key or id"
//	@Param		flag	path		string	true	"flag key or id"
//	@Param		env		path		string	true	"environment key or id"
//	@Param		guard	path		string	true	"guard id"
//	@Success	200		{object}	GuardResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/guards/{guard} [get]
func (h *handlers) getGuard(c *gin.Context) {
	g, err := h.svc.Guards.Get(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"), c.Param("guard"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toGuard(g, ""))
}

// deleteGuard godoc
//
//	@Summary	Delete a safety guard
//	@Tags		rollouts
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path	string	true	"organisation slug or id"
//	@Param		project	path	string	true	"project key or id"
//	@Param		flag	path	string	true	"flag key or id"
//	@Param		env		path	string	true	"environment key or id"
//	@Param		guard	path	string	true	"guard id"
//	@Success	204
//	@Failure	404	{object}	ErrorResponse
//	@Failure	429	{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/guards/{guard} [delete]
func (h *handlers) deleteGuard(c *gin.Context) {
	if err := h.svc.Guards.Delete(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"), c.Param("guard")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// rotateTrigger godoc
//
//	@Summary		Rotate a guard's trigger URL
//	@Description	The old URL stops working at once; the new one is in this response only.
//	@Tags			rollouts
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string	true	"organisation slug or id"
//	@Param			project	path		string	true	"project key or id"
//	@Param			flag	path		string	true	"flag key or id"
//	@Param			env		path		string	true	"environment key or id"
//	@Param			guard	path		string	true	"guard id"
//	@Success		200		{object}	GuardResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/guards/{guard}/trigger/rotate [post]
func (h *handlers) rotateTrigger(c *gin.Context) {
	g, secret, err := h.svc.Guards.RotateTrigger(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"), c.Param("guard"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toGuard(g, secret))
}

// TriggerResponse confirms a trigger call.
type TriggerResponse struct {
	Guard  string `json:"guard"`
	Action string `json:"action"`
}

// trigger godoc
//
//	@Summary		Call a guard's trigger URL
//	@Description	For monitoring tools: performs the guard's action (roll back to the previous stage or to zero, or the kill switch), marks a running plan ROLLED_BACK, and audits it. The secret in the path is the credential; an unknown or rotated one is 404. At most 30 calls a minute per URL (429).
//	@Tags			rollouts
//	@Produce		json
//	@Param			secret	path		string	true	"the trigger secret (vtr_…)"
//	@Success		200		{object}	TriggerResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/triggers/{secret} [post]
func (h *handlers) trigger(c *gin.Context) {
	g, err := h.svc.Guards.Trigger(c.Request.Context(), c.Param("secret"), c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, TriggerResponse{Guard: g.ID, Action: g.Action})
}

// ReporterResponse is an SDK key whose reports a guard read, and what it reported into one cohort.
type ReporterResponse struct {
	SDKKey    string `json:"sdk_key" example:"srv-…wxyz"`
	Variation string `json:"variation" example:"true"`
	Errors    int64  `json:"errors"`
	Sample    int64  `json:"sample"`
}

// RollbackResponse is one automatic rollback of a flag in an environment.
type RollbackResponse struct {
	At        time.Time          `json:"at"`
	Guard     string             `json:"guard"`
	Action    string             `json:"action" enums:"rollback_to_previous_stage,rollback_to_zero,kill_switch"`
	Reason    string             `json:"reason"`
	Trigger   bool               `json:"trigger"`
	Caller    string             `json:"caller,omitempty" example:"203.0.113.7"`
	Metric    string             `json:"metric,omitempty" example:"error_rate"`
	Value     float64            `json:"value"`
	Threshold float64            `json:"threshold"`
	Sample    int64              `json:"sample"`
	Reporters []ReporterResponse `json:"reporters"`
}

// RollbackList is a flag's rollbacks in an environment, newest first.
type RollbackList struct {
	Items []RollbackResponse `json:"items"`
}

func toRollback(r *services.Rollback) RollbackResponse {
	out := RollbackResponse{At: r.At, Guard: r.GuardID, Action: r.Action, Reason: r.Reason, Trigger: r.Trigger, Caller: r.IP,
		Metric: r.Metric, Value: r.Value, Threshold: r.Threshold, Sample: r.Sample, Reporters: make([]ReporterResponse, len(r.Reporters))}
	for i, p := range r.Reporters {
		out.Reporters[i] = ReporterResponse{SDKKey: p.SDKKey, Variation: p.Variation, Errors: p.Errors, Sample: p.Sample}
	}
	return out
}

// listRollbacks godoc
//
//	@Summary		List a flag's rollbacks in an environment
//	@Description	Every rollback its safety guards performed, newest first (the latest 100): when, which guard, the action, why (the measured value against the threshold, or the trigger URL and its caller's address), and which SDK keys reported the figures (masked). Readable by whoever may read the flag's rollout.
//	@Tags			rollouts
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string	true	"organisation slug or id"
//	@Param			project	path		string	true	"project key or id"
//	@Param			flag	path		string	true	"flag key or id"
//	@Param			env		path		string	true	"environment key or id"
//	@Success		200		{object}	RollbackList
//	@Failure		404		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollbacks [get]
func (h *handlers) listRollbacks(c *gin.Context) {
	rs, err := h.svc.Guards.Rollbacks(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, RollbackList{Items: mapItems(rs, toRollback)})
}
