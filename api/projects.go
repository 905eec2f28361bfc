package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/policies"
	"github.com/vanehq/vane/services"
)

// listProjects godoc
//
//	@Summary	List projects
//	@Tags		projects
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		limit	query		int		false	"page size (1–200, default 50)"
//	@Param		cursor	query		string	false	"next_cursor of the previous page"
//	@Success	200		{object}	ProjectList
//	@Failure	401		{object}	ErrorResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects [get]
func (h *handlers) listProjects(c *gin.Context) {
	opt, err := listOptions(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.svc.Projects.List(c.Request.Context(), scopeOf(c), opt)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ProjectList{Items: mapItems(page.Items, toProject), NextCursor: page.NextCursor})
}

// createProject godoc
//
//	@Summary		Create a project
//	@Description	Makes a project with the listed environments, or development, staging and production when none are listed. Each environment gets a server and a client SDK key. The key is derived from the name when absent.
//	@Tags			projects
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string			true	"organisation slug or id"
//	@Param			body	body		ProjectRequest	true	"the project"
//	@Success		201		{object}	ProjectResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		403		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		409		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects [post]
func (h *handlers) createProject(c *gin.Context) {
	var req ProjectRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	in := services.ProjectInput{Key: req.Key, Name: req.Name, Description: req.Description, ClientVisibleDefault: req.ClientVisibleDefault}
	if req.Environments != nil {
		in.Environments = make([]services.EnvironmentInput, len(req.Environments))
		for i, e := range req.Environments {
			in.Environments[i] = services.EnvironmentInput{Key: e.Key, Name: e.Name, Description: e.Description, Production: e.Production}
		}
	}
	ctx := c.Request.Context()
	sc := scopeOf(c)
	p, err := h.svc.Projects.Create(ctx, sc, in)
	if err != nil {
		fail(c, err)
		return
	}
	envs, err := h.svc.Environments.List(ctx, sc, p.ID, services.ListOptions{Limit: services.MaxLimit})
	if err != nil {
		fail(c, err)
		return
	}
	r := toProject(p)
	vis := h.keyVisibility(c)
	r.Environments = mapItems(envs.Items, func(e *services.Environment) EnvironmentResponse { return toEnvironment(e, vis) })
	etag(c, p.Version)
	c.JSON(http.StatusCreated, r)
}

// getProject godoc
//
//	@Summary	Get a project
//	@Tags		projects
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		project	path		string	true	"project key or id"
//	@Success	200		{object}	ProjectResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project} [get]
func (h *handlers) getProject(c *gin.Context) {
	p, err := h.svc.Projects.Get(c.Request.Context(), scopeOf(c), c.Param("project"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, p.Version)
	c.JSON(http.StatusOK, toProject(p))
}

// updateProject godoc
//
//	@Summary		Update a project
//	@Description	Changes the name or description; the key cannot change.
//	@Tags			projects
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org			path		string			true	"organisation slug or id"
//	@Param			project		path		string			true	"project key or id"
//	@Param			If-Match	header		string			false	"expected version"
//	@Param			body		body		ProjectPatch	true	"changes"
//	@Success		200			{object}	ProjectResponse
//	@Failure		400			{object}	ErrorResponse
//	@Failure		403			{object}	ErrorResponse
//	@Failure		404			{object}	ErrorResponse
//	@Failure		412			{object}	ErrorResponse
//	@Failure		422			{object}	ErrorResponse
//	@Failure		429			{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project} [patch]
func (h *handlers) updateProject(c *gin.Context) {
	var req ProjectPatch
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	v, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	p, err := h.svc.Projects.Update(c.Request.Context(), scopeOf(c), c.Param("project"),
		services.ProjectPatch{Name: req.Name, Description: req.Description, ClientVisibleDefault: req.ClientVisibleDefault}, v)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, p.Version)
	c.JSON(http.StatusOK, toProject(p))
}

// deleteProject godoc
//
//	@Summary		Delete a project
//	@Description	Deletes the project, its environments and everything in them. Needs ?confirm=<project key>.
//	@Tags			projects
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path	string	true	"organisation slug or id"
//	@Param			project	path	string	true	"project key or id"
//	@Param			confirm	query	string	true	"the project's key"
//	@Success		204
//	@Failure		403	{object}	ErrorResponse
//	@Failure		404	{object}	ErrorResponse
//	@Failure		422	{object}	ErrorResponse
//	@Failure		429	{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project} [delete]
func (h *handlers) deleteProject(c *gin.Context) {
	if err := h.svc.Projects.Delete(c.Request.Context(), scopeOf(c), c.Param("project"), c.Query("confirm")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// keyVisibility asks the enforcer which SDK keys the caller may see unmasked.
func (h *handlers) keyVisibility(c *gin.Context) keyVisibility {
	return keyVisibility{server: h.can(c, policies.SDKKeys, policies.ReadServer), client: h.can(c, policies.SDKKeys, policies.ReadClient)}
}

// listEnvironments godoc
//
//	@Summary		List environments
//	@Description	A project's environments with their SDK keys. ADMIN sees both keys; DEVELOPER sees the client key and a masked server key; VIEWER sees both masked.
//	@Tags			environments
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string	true	"organisation slug or id"
//	@Param			project	path		string	true	"project key or id"
//	@Param			limit	query		int		false	"page size (1–200, default 50)"
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	EnvironmentList
//	@Failure		404		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/environments [get]
func (h *handlers) listEnvironments(c *gin.Context) {
	opt, err := listOptions(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.svc.Environments.List(c.Request.Context(), scopeOf(c), c.Param("project"), opt)
	if err != nil {
		fail(c, err)
		return
	}
	vis := h.keyVisibility(c)
	c.JSON(http.StatusOK, EnvironmentList{
		Items:      mapItems(page.Items, func(e *services.Environment) EnvironmentResponse { return toEnvironment(e, vis) }),
		NextCursor: page.NextCursor})
}

// createEnvironment godoc
//
//	@Summary	Create an environment
//	@Tags		environments
//	@Accept		json
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string				true	"organisation slug or id"
//	@Param		project	path		string				true	"project key or id"
//	@Param		body	body		EnvironmentRequest	true	"the environment"
//	@Success	201		{object}	EnvironmentResponse
//	@Failure	400		{object}	ErrorResponse
//	@Failure	403		{object}	ErrorResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	409		{object}	ErrorResponse
//	@Failure	422		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/environments [post]
func (h *handlers) createEnvironment(c *gin.Context) {
	var req EnvironmentRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	e, err := h.svc.Environments.Create(c.Request.Context(), scopeOf(c), c.Param("project"),
		services.EnvironmentInput{Key: req.Key, Name: req.Name, Description: req.Description, Production: req.Production})
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, e.Version)
	c.JSON(http.StatusCreated, toEnvironment(e, h.keyVisibility(c)))
}

// getEnvironment godoc
//
//	@Summary	Get an environment
//	@Tags		environments
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		project	path		string	true	"project key or id"
//	@Param		env		path		string	true	"environment key or id"
//	@Success	200		{object}	EnvironmentResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/environments/{env} [get]
func (h *handlers) getEnvironment(c *gin.Context) {
	e, err := h.svc.Environments.Get(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("env"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, e.Version)
	c.JSON(http.StatusOK, toEnvironment(e, h.keyVisibility(c)))
}

// updateEnvironment godoc
//
//	@Summary	Update an environment
//	@Tags		environments
//	@Accept		json
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org			path		string				true	"organisation slug or id"
//	@Param		project		path		string				true	"project key or id"
//	@Param		env			path		string				true	"environment key or id"
//	@Param		If-Match	header		string				false	"expected version"
//	@Param		body		body		EnvironmentPatch	true	"changes"
//	@Success	200			{object}	EnvironmentResponse
//	@Failure	400			{object}	ErrorResponse
//	@Failure	403			{object}	ErrorResponse
//	@Failure	404			{object}	ErrorResponse
//	@Failure	412			{object}	ErrorResponse
//	@Failure	422			{object}	ErrorResponse
//	@Failure	429			{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/environments/{env} [patch]
func (h *handlers) updateEnvironment(c *gin.Context) {
	var req EnvironmentPatch
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	v, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	e, err := h.svc.Environments.Update(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("env"),
		services.EnvironmentPatch{Name: req.Name, Description: req.Description, Production: req.Production}, v)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, e.Version)
	c.JSON(http.StatusOK, toEnvironment(e, h.keyVisibility(c)))
}

// deleteEnvironment godoc
//
//	@Summary		Delete an environment
//	@Description	Needs ?confirm=<environment key>.
//	@Tags			environments
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path	string	true	"organisation slug or id"
//	@Param			project	path	string	true	"project key or id"
//	@Param			env		path	string	true	"environment key or id"
//	@Param			confirm	query	string	true	"the environment's key"
//	@Success		204
//	@Failure		403	{object}	ErrorResponse
//	@Failure		404	{object}	ErrorResponse
//	@Failure		422	{object}	ErrorResponse
//	@Failure		429	{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/environments/{env} [delete]
func (h *handlers) deleteEnvironment(c *gin.Context) {
	if err := h.svc.Environments.Delete(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("env"), c.Query("confirm")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// rotateSDKKeys godoc
//
//	@Summary		Rotate SDK keys
//	@Description	Replaces the environment's server key, client key, or both. With a grace period the old key keeps working until it ends (at most 720h).
//	@Tags			environments
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string			true	"organisation slug or id"
//	@Param			project	path		string			true	"project key or id"
//	@Param			env		path		string			true	"environment key or id"
//	@Param			body	body		RotateRequest	true	"which keys, and the grace period"
//	@Success		200		{object}	EnvironmentResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		403		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/environments/{env}/sdk-keys/rotate [post]
func (h *handlers) rotateSDKKeys(c *gin.Context) {
	var req RotateRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	var grace time.Duration
	if req.GracePeriod != "" {
		d, err := time.ParseDuration(req.GracePeriod)
		if err != nil {
			fail(c, errs.Field("grace_period", "must be a duration like 30m or 24h"))
			return
		}
		grace = d
	}
	e, err := h.svc.Environments.RotateKeys(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("env"),
		services.RotateInput{Kind: req.Kind, GracePeriod: grace})
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, e.Version)
	c.JSON(http.StatusOK, toEnvironment(e, h.keyVisibility(c)))
}
