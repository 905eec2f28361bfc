package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/services"
)

// StageRequest is one stage of a plan: a percentage, due at an RFC 3339 time or after a Go
// duration from the plan's start ("24h"); neither means at once.
type StageRequest struct {
	Percentage float64    `json:"percentage" example:"25"`
	At         *time.Time `json:"at,omitempty"`
	After      string     `json:"after,omitempty" example:"24h"`
	Variation  string     `json:"variation,omitempty"`
}

// PlanRequest creates or replaces a flag's rollout plan in one environment.
type PlanRequest struct {
	Stages        []StageRequest `json:"stages"`
	Variation     string         `json:"variation,omitempty"`
	MarkRolledOut bool           `json:"mark_rolled_out"`
}

// StageResponse is one stage and where it stands.
type StageResponse struct {
	Position   int        `json:"position"`
	Percentage float64    `json:"percentage"`
	Variation  string     `json:"variation,omitempty"`
	At         *time.Time `json:"at,omitempty"`
	After      string     `json:"after,omitempty"`
	DueAt      *time.Time `json:"due_at"`
	AppliedAt  *time.Time `json:"applied_at"`
}

// PlanResponse is a rollout plan.
type PlanResponse struct {
	ID            string          `json:"id"`
	Flag          string          `json:"flag"`
	Environment   string          `json:"environment"`
	State         string          `json:"state" example:"RUNNING" enums:"DRAFT,RUNNING,PAUSED,COMPLETED,CANCELLED,ROLLED_BACK"`
	Variation     string          `json:"variation"`
	MarkRolledOut bool            `json:"mark_rolled_out"`
	Reason        string          `json:"reason,omitempty"`
	StartedAt     *time.Time      `json:"started_at"`
	PausedAt      *time.Time      `json:"paused_at"`
	FinishedAt    *time.Time      `json:"finished_at"`
	Stages        []StageResponse `json:"stages"`
	Version       int64           `json:"version"`
}

func toPlan(p *services.Plan) PlanResponse {
	r := PlanResponse{ID: p.ID, Flag: p.FlagKey, Environment: p.EnvKey, State: p.State, Variation: p.Variation,
		MarkRolledOut: p.MarkRolledOut, Reason: p.Reason, StartedAt: p.StartedAt, PausedAt: p.PausedAt, FinishedAt: p.FinishedAt,
		Stages: make([]StageResponse, len(p.Stages)), Version: p.Version}
	for i, s := range p.Stages {
		sr := StageResponse{Position: s.Position, Percentage: float64(s.Weight) / 1000, Variation: s.Variation, At: s.At,
			DueAt: s.DueAt, AppliedAt: s.AppliedAt}
		if s.AfterSeconds != nil {
			sr.After = (time.Duration(*s.AfterSeconds) * time.Second).String()
		}
		r.Stages[i] = sr
	}
	return r
}

// getPlan godoc
//
//	@Summary	Get a flag's rollout plan in an environment
//	@Tags		rollouts
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		project	path		string	true	"project key or id"
//	@Param		flag	path		string	true	"flag key or id"
//	@Param		env		path		string	true	"environment key or id"
//	@Success	200		{object}	PlanResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan [get]
func (h *handlers) getPlan(c *gin.Context) {
	p, err := h.svc.Rollouts.Get(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, p.Version)
	c.JSON(http.StatusOK, toPlan(p))
}

// putPlan godoc
//
//	@Summary		Create or replace a rollout plan
//	@Description	Ordered stages (1–20), percentages 0–100 never going down, each due at a future time or after a delay from the start (canary 5% now, 25% after 24h, 50% after 48h, 100% after 72h). A running or paused plan cannot be replaced (409: cancel it first). mark_rolled_out marks the flag ROLLED_OUT when a last stage of 100% is applied.
//	@Tags			rollouts
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string		true	"organisation slug or id"
//	@Param			project	path		string		true	"project key or id"
//	@Param			flag	path		string		true	"flag key or id"
//	@Param			env		path		string		true	"environment key or id"
//	@Param			body	body		PlanRequest	true	"the plan"
//	@Success		200		{object}	PlanResponse
//	@Success		201		{object}	PlanResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		409		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan [put]
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan [post]
func (h *handlers) putPlan(c *gin.Context) {
	var req PlanRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	in := services.PlanInput{Variation: req.Variation, MarkRolledOut: req.MarkRolledOut, Stages: make([]services.StageInput, len(req.Stages))}
	for i, s := range req.Stages {
		in.Stages[i] = services.StageInput{Percentage: s.Percentage, At: s.At, Variation: s.Variation}
		if s.After != "" {
			d, err := time.ParseDuration(s.After)
			if err != nil {
				fail(c, errs.Field(fmt.Sprintf("stages[%d].after", i), "must be a duration like 30m or 24h"))
				return
			}
			in.Stages[i].After = &d
		}
	}
	p, err := h.svc.Rollouts.Put(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"), in)
	if err != nil {
		fail(c, err)
		return
	}
	code := http.StatusOK
	if c.Request.Method == http.MethodPost {
		code = http.StatusCreated
	}
	etag(c, p.Version)
	c.JSON(code, toPlan(p))
}

// deletePlan godoc
//
//	@Summary		Delete a rollout plan
//	@Description	Only a plan that is not running or paused (409 otherwise: cancel it first).
//	@Tags			rollouts
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path	string	true	"organisation slug or id"
//	@Param			project	path	string	true	"project key or id"
//	@Param			flag	path	string	true	"flag key or id"
//	@Param			env		path	string	true	"environment key or id"
//	@Success		204
//	@Failure		404	{object}	ErrorResponse
//	@Failure		409	{object}	ErrorResponse
//	@Failure		429	{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan [delete]
func (h *handlers) deletePlan(c *gin.Context) {
	if err := h.svc.Rollouts.Delete(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// planVerb godoc
//
//	@Summary		Start, pause, resume or cancel a rollout plan
//	@Description	start (DRAFT → RUNNING; the flag must be ACTIVE or ENABLED) schedules every stage as a job; pause takes the pending stages off the queue; resume schedules the rest again — after-stages keep their spacing from now, overdue at-stages apply at once, one by one; cancel ends the plan.
//	@Tags			rollouts
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string	true	"organisation slug or id"
//	@Param			project	path		string	true	"project key or id"
//	@Param			flag	path		string	true	"flag key or id"
//	@Param			env		path		string	true	"environment key or id"
//	@Success		200		{object}	PlanResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		409		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan/start [post]
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan/pause [post]
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan/resume [post]
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout-plan/cancel [post]
func (h *handlers) planVerb(c *gin.Context) {
	path := c.FullPath()
	verb := path[strings.LastIndexByte(path, '/')+1:]
	ro := h.svc.Rollouts
	fn := map[string]func(context.Context, services.Scope, string, string, string) (*services.Plan, error){
		"start": ro.Start, "pause": ro.Pause, "resume": ro.Resume, "cancel": ro.Cancel,
	}[verb]
	p, err := fn(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, p.Version)
	c.JSON(http.StatusOK, toPlan(p))
}
