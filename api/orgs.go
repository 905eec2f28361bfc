package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/services"
)

// listOrgs godoc
//
//	@Summary		List organisations
//	@Description	The organisations the user belongs to (an API key: its own).
//	@Tags			organizations
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			limit	query		int		false	"page size (1–200, default 50)"
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	OrganizationList
//	@Failure		401		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs [get]
func (h *handlers) listOrgs(c *gin.Context) {
	opt, err := listOptions(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.svc.Orgs.List(c.Request.Context(), principalOf(c), opt)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, OrganizationList{Items: mapItems(page.Items, toOrg), NextCursor: page.NextCursor})
}

// createOrg godoc
//
//	@Summary		Create an organisation
//	@Description	Makes an organisation where the signed-in user is ADMIN, with project "default" and its three environments. API keys cannot create organisations.
//	@Tags			organizations
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			body	body		OrganizationRequest	true	"the organisation"
//	@Success		201		{object}	OrganizationResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		401		{object}	ErrorResponse
//	@Failure		403		{object}	ErrorResponse
//	@Failure		409		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs [post]
func (h *handlers) createOrg(c *gin.Context) {
	var req OrganizationRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	org, err := h.svc.Orgs.Create(c.Request.Context(), baseScope(c), services.OrgInput{Name: req.Name, Slug: req.Slug})
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, org.Version)
	c.JSON(http.StatusCreated, toOrg(org))
}

// getOrg godoc
//
//	@Summary	Get an organisation
//	@Tags		organizations
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org	path		string	true	"organisation slug or id"
//	@Success	200	{object}	OrganizationResponse
//	@Failure	401	{object}	ErrorResponse
//	@Failure	404	{object}	ErrorResponse
//	@Failure	429	{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org} [get]
func (h *handlers) getOrg(c *gin.Context) {
	org, err := h.svc.Orgs.Get(c.Request.Context(), scopeOf(c))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, org.Version)
	c.JSON(http.StatusOK, toOrg(org))
}

// updateOrg godoc
//
//	@Summary		Rename an organisation
//	@Description	The slug cannot change. Send If-Match with the version to refuse a stale edit (412).
//	@Tags			organizations
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org			path		string				true	"organisation slug or id"
//	@Param			If-Match	header		string				false	"expected version"
//	@Param			body		body		OrganizationPatch	true	"changes"
//	@Success		200			{object}	OrganizationResponse
//	@Failure		400			{object}	ErrorResponse
//	@Failure		403			{object}	ErrorResponse
//	@Failure		404			{object}	ErrorResponse
//	@Failure		412			{object}	ErrorResponse
//	@Failure		422			{object}	ErrorResponse
//	@Failure		429			{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org} [patch]
func (h *handlers) updateOrg(c *gin.Context) {
	var req OrganizationPatch
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	v, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	org, err := h.svc.Orgs.Update(c.Request.Context(), scopeOf(c), services.OrgPatch{Name: req.Name}, v)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, org.Version)
	c.JSON(http.StatusOK, toOrg(org))
}

// deleteOrg godoc
//
//	@Summary		Delete an organisation
//	@Description	Deletes the organisation and everything in it. Needs ?confirm=<slug>.
//	@Tags			organizations
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path	string	true	"organisation slug or id"
//	@Param			confirm	query	string	true	"the organisation's slug"
//	@Success		204
//	@Failure		403	{object}	ErrorResponse
//	@Failure		404	{object}	ErrorResponse
//	@Failure		422	{object}	ErrorResponse
//	@Failure		429	{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org} [delete]
func (h *handlers) deleteOrg(c *gin.Context) {
	if err := h.svc.Orgs.Delete(c.Request.Context(), scopeOf(c), c.Query("confirm")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
