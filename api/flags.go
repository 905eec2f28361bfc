package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
	"github.com/vanehq/vane/services"
)

// maxFlagOffset bounds the offset of a flag list (far beyond any project's flags).
const maxFlagOffset = 1_000_000

// listFlags godoc
//
//	@Summary		List flags
//	@Description	A project's flags with each environment's status, and the total that pass the filters. Filter by q (key, name, description), tag, archived, and — with environment — status or stale=true (not evaluated for stale_days, default 30). Sort by key, updated_at or evaluations (needs environment).
//	@Tags			flags
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org			path		string	true	"organisation slug or id"
//	@Param			project		path		string	true	"project key or id"
//	@Param			q			query		string	false	"search key, name and description"
//	@Param			tag			query		string	false	"only flags with this tag"
//	@Param			archived	query		bool	false	"archived flags only (true) or none (false)"
//	@Param			environment	query		string	false	"environment for status, evaluations and stale"
//	@Param			status		query		string	false	"status in that environment"
//	@Param			stale		query		bool	false	"only flags not evaluated recently in that environment"
//	@Param			stale_days	query		int		false	"how many days without evaluations is stale (default 30)"
//	@Param			sort		query		string	false	"key, updated_at or evaluations"
//	@Param			limit		query		int		false	"page size (1–1000, default 50)"
//	@Param			cursor		query		string	false	"next_cursor of the previous page"
//	@Param			offset		query		int		false	"skip this many flags instead of a cursor (with sort key, updated_at or evaluations; up to 1000000): with total, every page can be asked for at once"
//	@Success		200			{object}	FlagList
//	@Failure		404			{object}	ErrorResponse
//	@Failure		422			{object}	ErrorResponse
//	@Failure		429			{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags [get]
func (h *handlers) listFlags(c *gin.Context) {
	opt, err := listOptionsUpTo(c, services.MaxFlagLimit)
	if err != nil {
		fail(c, err)
		return
	}
	o := services.FlagListOptions{ListOptions: opt, Q: c.Query("q"), Tag: c.Query("tag"), Environment: c.Query("environment"),
		Status: c.Query("status"), Sort: models.FlagSort(c.Query("sort"))}
	if v := c.Query("archived"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail(c, errs.Field("archived", "must be true or false"))
			return
		}
		o.Archived = &b
	}
	if v := c.Query("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxFlagOffset {
			fail(c, errs.Field("offset", "must be a whole number between 0 and %d", maxFlagOffset))
			return
		}
		o.Offset = n
	}
	if c.Query("stale") == "true" {
		o.StaleDays = 30
		if v := c.Query("stale_days"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 3650 {
				fail(c, errs.Field("stale_days", "must be a number of days between 1 and 3650"))
				return
			}
			o.StaleDays = n
		}
	}
	page, err := h.svc.Flags.List(c.Request.Context(), scopeOf(c), c.Param("project"), o)
	if err != nil {
		fail(c, err)
		return
	}
	h.pages.JSON(c, page.Stamp, func() any {
		return FlagList{Items: mapItems(page.Items, toFlag), NextCursor: page.NextCursor, Total: page.Total}
	})
}

// createFlag godoc
//
//	@Summary		Create a flag
//	@Description	Creates the flag and its configuration in every environment of the project (DRAFT, serving the default variation). The key is derived from the name when absent and cannot change later. A boolean flag gets variations true and false unless given.
//	@Tags			flags
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string		true	"organisation slug or id"
//	@Param			project	path		string		true	"project key or id"
//	@Param			body	body		FlagRequest	true	"the flag"
//	@Success		201		{object}	FlagResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		403		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		409		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags [post]
func (h *handlers) createFlag(c *gin.Context) {
	var req FlagRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	f, err := h.svc.Flags.Create(c.Request.Context(), scopeOf(c), c.Param("project"), services.FlagInput{Key: req.Key,
		Name: req.Name, Description: req.Description, Type: req.Type, Variations: req.Variations, Tags: req.Tags,
		Owner: req.Owner, Temporary: req.Temporary, Experiment: req.Experiment, DefaultVariation: req.DefaultVariation,
		OnVariation: req.OnVariation, ClientVisible: req.ClientVisible})
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, f.Version)
	c.JSON(http.StatusCreated, toFlag(f))
}

// getFlag godoc
//
//	@Summary	Get a flag
//	@Tags		flags
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		project	path		string	true	"project key or id"
//	@Param		flag	path		string	true	"flag key or id"
//	@Success	200		{object}	FlagResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/flags/{flag} [get]
func (h *handlers) getFlag(c *gin.Context) {
	f, err := h.svc.Flags.Get(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, f.Version)
	c.JSON(http.StatusOK, toFlag(f))
}

// updateFlag godoc
//
//	@Summary		Update a flag
//	@Description	Changes name, description, variations, tags, owner, temporary, archived or experiment. The key cannot change. New variations must still fit every environment's configuration.
//	@Tags			flags
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org			path		string				true	"organisation slug or id"
//	@Param			project		path		string				true	"project key or id"
//	@Param			flag		path		string				true	"flag key or id"
//	@Param			If-Match	header		string				false	"expected version"
//	@Param			body		body		FlagPatchRequest	true	"changes"
//	@Success		200			{object}	FlagResponse
//	@Failure		400			{object}	ErrorResponse
//	@Failure		403			{object}	ErrorResponse
//	@Failure		404			{object}	ErrorResponse
//	@Failure		412			{object}	ErrorResponse
//	@Failure		422			{object}	ErrorResponse
//	@Failure		429			{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag} [patch]
func (h *handlers) updateFlag(c *gin.Context) {
	var req FlagPatchRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	v, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	f, err := h.svc.Flags.Update(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), services.FlagPatch{
		Key: req.Key, Name: req.Name, Description: req.Description, Variations: req.Variations, Tags: req.Tags,
		Owner: req.Owner, Temporary: req.Temporary, Archived: req.Archived, Experiment: req.Experiment, ClientVisible: req.ClientVisible}, v)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, f.Version)
	c.JSON(http.StatusOK, toFlag(f))
}

// deleteFlag godoc
//
//	@Summary		Delete a flag
//	@Description	Deletes the flag from every environment. SDKs asking for it get FLAG_NOT_FOUND and their own default.
//	@Tags			flags
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path	string	true	"organisation slug or id"
//	@Param			project	path	string	true	"project key or id"
//	@Param			flag	path	string	true	"flag key or id"
//	@Success		204
//	@Failure		403	{object}	ErrorResponse
//	@Failure		404	{object}	ErrorResponse
//	@Failure		429	{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag} [delete]
func (h *handlers) deleteFlag(c *gin.Context) {
	if err := h.svc.Flags.Delete(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// getConfig godoc
//
//	@Summary	Get a flag's configuration in an environment
//	@Tags		flags
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		project	path		string	true	"project key or id"
//	@Param		flag	path		string	true	"flag key or id"
//	@Param		env		path		string	true	"environment key or id"
//	@Success	200		{object}	ConfigResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env} [get]
func (h *handlers) getConfig(c *gin.Context) {
	cfg, err := h.svc.Flags.GetConfig(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, cfg.Version)
	c.JSON(http.StatusOK, toConfig(cfg))
}

// patchConfig godoc
//
//	@Summary		Change a flag's configuration in an environment
//	@Description	Targets, ordered rules, fallthrough (a variation or a rollout, weights in thousandths of a percent summing to 100000), default and on variations, bucket_by, salt. "status" moves through the status machine (409 names the allowed moves); "enabled": false is the kill switch and keeps the rules; "rollout_percentage" is shorthand for a fallthrough rollout. The whole configuration must be valid or nothing changes (422 with the field).
//	@Tags			flags
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org			path		string				true	"organisation slug or id"
//	@Param			project		path		string				true	"project key or id"
//	@Param			flag		path		string				true	"flag key or id"
//	@Param			env			path		string				true	"environment key or id"
//	@Param			If-Match	header		string				false	"expected version"
//	@Param			body		body		ConfigPatchRequest	true	"changes"
//	@Success		200			{object}	ConfigResponse
//	@Failure		400			{object}	ErrorResponse
//	@Failure		403			{object}	ErrorResponse
//	@Failure		404			{object}	ErrorResponse
//	@Failure		409			{object}	ErrorResponse
//	@Failure		412			{object}	ErrorResponse
//	@Failure		422			{object}	ErrorResponse
//	@Failure		429			{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env} [patch]
func (h *handlers) patchConfig(c *gin.Context) {
	var req ConfigPatchRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	v, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	cfg, err := h.svc.Flags.PatchConfig(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"), req.toPatch(), v)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, cfg.Version)
	c.JSON(http.StatusOK, toConfig(cfg))
}

// transition godoc
//
//	@Summary		Change a flag's status in an environment
//	@Description	activate (DRAFT→ACTIVE), enable (ACTIVE or DISABLED→ENABLED; needs a default variation), disable — the kill switch (ACTIVE, ENABLED or ROLLED_OUT→DISABLED), pause (DISABLED→PAUSED), resume (PAUSED→ENABLED), rollout (ENABLED→ROLLED_OUT: the on variation for everyone), archive (ROLLED_OUT or DISABLED→ARCHIVED). Any other move is 409 naming the allowed ones. Each writes an audit event (feature_flag.enabled, feature_flag.killed, …).
//	@Tags			flags
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org			path		string	true	"organisation slug or id"
//	@Param			project		path		string	true	"project key or id"
//	@Param			flag		path		string	true	"flag key or id"
//	@Param			env			path		string	true	"environment key or id"
//	@Param			If-Match	header		string	false	"expected version"
//	@Success		200			{object}	ConfigResponse
//	@Failure		403			{object}	ErrorResponse
//	@Failure		404			{object}	ErrorResponse
//	@Failure		409			{object}	ErrorResponse
//	@Failure		412			{object}	ErrorResponse
//	@Failure		422			{object}	ErrorResponse
//	@Failure		429			{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/activate [post]
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/enable [post]
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/disable [post]
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/pause [post]
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/resume [post]
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/rollout [post]
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/archive [post]
func (h *handlers) transition(c *gin.Context) {
	v, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	verb := c.FullPath()[strings.LastIndexByte(c.FullPath(), '/')+1:]
	cfg, err := h.svc.Flags.Transition(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"), verb, v)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, cfg.Version)
	c.JSON(http.StatusOK, toConfig(cfg))
}

// dryRun godoc
//
//	@Summary		Evaluate a context against a configuration without serving it
//	@Description	QA before activating: evaluates as if the flag were ENABLED, whatever its status, counts nothing and changes nothing.
//	@Tags			flags
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string			true	"organisation slug or id"
//	@Param			project	path		string			true	"project key or id"
//	@Param			flag	path		string			true	"flag key or id"
//	@Param			env		path		string			true	"environment key or id"
//	@Param			body	body		DryRunRequest	true	"the evaluation context"
//	@Success		200		{object}	DryRunResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/flags/{flag}/environments/{env}/evaluate [post]
func (h *handlers) dryRun(c *gin.Context) {
	var req DryRunRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	evalCtx, err := dataplane.CheckContext(req.Context, "context")
	if err != nil {
		fail(c, err)
		return
	}
	cfg, compiled, r, err := h.svc.Flags.DryRun(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("flag"), c.Param("env"), evalCtx)
	if err != nil {
		fail(c, err)
		return
	}
	out := DryRunResponse{FlagKey: cfg.Flag.Key, Status: engine.Status(cfg.Status), Reason: r.Reason,
		RuleID: compiled.RuleID(r), ErrorCode: r.ErrorCode}
	if r.Variation >= 0 {
		out.Value, out.Variation = compiled.Values[r.Variation], compiled.Variations[r.Variation].ID
	}
	c.JSON(http.StatusOK, out)
}
