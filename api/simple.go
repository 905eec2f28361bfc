package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/policies"
	"github.com/vanehq/vane/services"
)

const ctxSimpleEnv = "vane.simple_env"

type simpleEnv struct{ project, env string }

// simpleAccess resolves the environment a simple-API request works on (X-Vane-Environment, or
// the credential's default) and authorizes the principal there, like authorize does for /orgs.
func (h *handlers) simpleAccess(res policies.Resource, act policies.Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		org, project, env, err := h.svc.Simple.Environment(c.Request.Context(), principalOf(c), c.GetHeader("X-Vane-Environment"))
		if err != nil {
			fail(c, err)
			return
		}
		sc, err := h.scopeIn(c, org, res, act, true)
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(ctxScope, sc)
		c.Set(ctxSimpleEnv, simpleEnv{project: project, env: env})
		c.Next()
	}
}

func simpleEnvOf(c *gin.Context) simpleEnv { return c.MustGet(ctxSimpleEnv).(simpleEnv) }

// SimpleRequest is a flag in the flat shapes of sources 000 and 003; every field is optional on
// update (PUT takes partial bodies).
type SimpleRequest struct {
	Key         *string `json:"key,omitempty" example:"new-checkout-flow"`
	Name        *string `json:"name,omitempty" example:"New Checkout Flow"`
	Description *string `json:"description,omitempty"`
	Status      *string `json:"status,omitempty" example:"DRAFT"`
	Enabled     *bool   `json:"enabled,omitempty"`
	// IsActive is enabled under another name: false is the kill switch, rules are kept.
	IsActive *bool `json:"is_active,omitempty"`
	// DefaultValue is what everyone outside the rollout gets (false unless given: Default: OFF).
	DefaultValue      json.RawMessage        `json:"default_value,omitempty" swaggertype:"boolean"`
	ClientVisible     *bool                  `json:"client_visible,omitempty"`
	RolloutPercentage *float64               `json:"rollout_percentage,omitempty" example:"10"`
	TargetingRules    *[]services.SimpleRule `json:"targeting_rules,omitempty"`
	Rules             json.RawMessage        `json:"rules,omitempty" swaggertype:"object"`
}

func (r SimpleRequest) input() (services.SimpleInput, error) {
	in := services.SimpleInput{Key: r.Key, Name: r.Name, Description: r.Description, Status: r.Status, Enabled: r.Enabled,
		RolloutPercentage: r.RolloutPercentage, TargetingRules: r.TargetingRules, ClientVisible: r.ClientVisible}
	if r.IsActive != nil {
		if r.Enabled != nil && *r.Enabled != *r.IsActive {
			return in, errs.Field("is_active", "contradicts enabled; send one of them")
		}
		in.Enabled = r.IsActive
	}
	if len(r.DefaultValue) > 0 && !bytes.Equal(bytes.TrimSpace(r.DefaultValue), []byte("null")) {
		in.DefaultValue = r.DefaultValue
	}
	if len(r.Rules) > 0 {
		in.RulesSet = true
		if !bytes.Equal(bytes.TrimSpace(r.Rules), []byte("null")) {
			dec := json.NewDecoder(bytes.NewReader(r.Rules))
			dec.DisallowUnknownFields()
			var rules services.SimpleRules
			if err := dec.Decode(&rules); err != nil {
				return in, errs.Field("rules", "must be an object like {\"org_ids\": [1], \"user_ids\": [42], \"percentage\": 25}")
			}
			in.Rules = &rules
		}
	}
	return in, nil
}

// listSimpleFlags godoc
//
//	@Summary		List flags of one environment (simple API)
//	@Description	The flags of one environment in the flat shape of sources 000 and 003. The environment is the API key's, or X-Vane-Environment (org/project/env), or the user's first.
//	@Tags			simple
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			X-Vane-Environment	header		string	false	"organization/project/environment"
//	@Param			status				query		string	false	"only flags in this status (ENABLED, Enabled, RolledOut …)"
//	@Param			q					query		string	false	"search key, name and description"
//	@Param			tag					query		string	false	"only flags with this tag"
//	@Param			sort				query		string	false	"key (default), updated_at or evaluations"
//	@Param			limit				query		int		false	"at most this many (1–200)"
//	@Success		200					{array}		services.SimpleFlag
//	@Failure		401					{object}	ErrorResponse
//	@Failure		404					{object}	ErrorResponse
//	@Failure		422					{object}	ErrorResponse
//	@Failure		429					{object}	ErrorResponse
//	@Router			/api/v1/feature-flags [get]
func (h *handlers) listSimpleFlags(c *gin.Context) {
	e := simpleEnvOf(c)
	opt, err := listOptions(c)
	if err != nil {
		fail(c, err)
		return
	}
	list, err := h.svc.Simple.List(c.Request.Context(), scopeOf(c), e.project, e.env, services.SimpleListOptions{
		Status: c.Query("status"), Q: c.Query("q"), Tag: c.Query("tag"), Sort: models.FlagSort(c.Query("sort")), Limit: opt.Limit})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, list)
}

// createSimpleFlag godoc
//
//	@Summary		Create a flag (simple API)
//	@Description	Source 000's {key, name, description, rollout_percentage, status, targeting_rules} or source 003's {key, name, description, enabled, rules: {org_ids, user_ids, percentage}}. The flag exists in every environment of the project; this body configures it in the request's environment.
//	@Tags			simple
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			X-Vane-Environment	header		string			false	"organization/project/environment"
//	@Param			body				body		SimpleRequest	true	"the flag"
//	@Success		201					{object}	services.SimpleFlag
//	@Failure		400					{object}	ErrorResponse
//	@Failure		403					{object}	ErrorResponse
//	@Failure		409					{object}	ErrorResponse
//	@Failure		422					{object}	ErrorResponse
//	@Failure		429					{object}	ErrorResponse
//	@Router			/api/v1/feature-flags [post]
func (h *handlers) createSimpleFlag(c *gin.Context) {
	var req SimpleRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	in, err := req.input()
	if err != nil {
		fail(c, err)
		return
	}
	e := simpleEnvOf(c)
	f, err := h.svc.Simple.Create(c.Request.Context(), scopeOf(c), e.project, e.env, in)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, f.Version)
	c.JSON(http.StatusCreated, f)
}

// getSimpleFlag godoc
//
//	@Summary	Get a flag of one environment (simple API)
//	@Tags		simple
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		X-Vane-Environment	header		string	false	"organization/project/environment"
//	@Param		key					path		string	true	"flag key or id"
//	@Success	200					{object}	services.SimpleFlag
//	@Failure	404					{object}	ErrorResponse
//	@Failure	429					{object}	ErrorResponse
//	@Router		/api/v1/feature-flags/{key} [get]
func (h *handlers) getSimpleFlag(c *gin.Context) {
	e := simpleEnvOf(c)
	f, err := h.svc.Simple.Get(c.Request.Context(), scopeOf(c), e.project, e.env, c.Param("key"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, f.Version)
	c.JSON(http.StatusOK, f)
}

// updateSimpleFlag godoc
//
//	@Summary		Update a flag of one environment (simple API)
//	@Description	Partial bodies, as in source 000's PUT examples ({"targeting_rules": …}, {"rollout_percentage": 10, "status": "ACTIVE"}) and source 003's ({"rules": {"percentage": 25}}, {"enabled": false} — the kill switch, which keeps the rules).
//	@Tags			simple
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			X-Vane-Environment	header		string			false	"organization/project/environment"
//	@Param			key					path		string			true	"flag key or id"
//	@Param			If-Match			header		string			false	"the version (ETag) last read; 412 when stale"
//	@Param			body				body		SimpleRequest	true	"changes"
//	@Success		200					{object}	services.SimpleFlag
//	@Failure		400					{object}	ErrorResponse
//	@Failure		403					{object}	ErrorResponse
//	@Failure		404					{object}	ErrorResponse
//	@Failure		409					{object}	ErrorResponse
//	@Failure		412					{object}	ErrorResponse
//	@Failure		422					{object}	ErrorResponse
//	@Failure		429					{object}	ErrorResponse
//	@Router			/api/v1/feature-flags/{key} [put]
//	@Router			/api/v1/feature-flags/{key} [patch]
func (h *handlers) updateSimpleFlag(c *gin.Context) {
	var req SimpleRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	in, err := req.input()
	if err != nil {
		fail(c, err)
		return
	}
	version, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	e := simpleEnvOf(c)
	f, err := h.svc.Simple.Update(c.Request.Context(), scopeOf(c), e.project, e.env, c.Param("key"), in, version)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, f.Version)
	c.JSON(http.StatusOK, f)
}

// deleteSimpleFlag godoc
//
//	@Summary		Delete a flag (simple API)
//	@Description	Deletes the flag from every environment; evaluations then get the safe default.
//	@Tags			simple
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			X-Vane-Environment	header	string	false	"organization/project/environment"
//	@Param			key					path	string	true	"flag key or id"
//	@Param			If-Match			header	string	false	"the version (ETag) last read; 412 when stale"
//	@Success		204
//	@Failure		403	{object}	ErrorResponse
//	@Failure		404	{object}	ErrorResponse
//	@Failure		412	{object}	ErrorResponse
//	@Failure		429	{object}	ErrorResponse
//	@Router			/api/v1/feature-flags/{key} [delete]
func (h *handlers) deleteSimpleFlag(c *gin.Context) {
	version, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	e := simpleEnvOf(c)
	if err := h.svc.Simple.Delete(c.Request.Context(), scopeOf(c), e.project, e.env, c.Param("key"), version); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
