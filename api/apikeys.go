package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// listAPIKeys godoc
//
//	@Summary		List API keys
//	@Description	Every key of the organisation with its prefix, scopes, binding, status and last use; never the secret.
//	@Tags			api-keys
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string	true	"organisation slug or id"
//	@Param			limit	query		int		false	"page size (1–200, default 50)"
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	APIKeyList
//	@Failure		403		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/api-keys [get]
func (h *handlers) listAPIKeys(c *gin.Context) {
	opt, err := listOptions(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.svc.APIKeys.List(c.Request.Context(), scopeOf(c), opt)
	if err != nil {
		fail(c, err)
		return
	}
	now := h.now()
	c.JSON(http.StatusOK, APIKeyList{Items: mapItems(page.Items, func(k *models.APIKey) APIKeyResponse { return toAPIKey(k, now) }),
		NextCursor: page.NextCursor})
}

// createAPIKey godoc
//
//	@Summary		Create an API key
//	@Description	Scopes are read, write and admin (as VIEWER, DEVELOPER and ADMIN). A key may be restricted to one project, or one environment of it. The secret is in this response only.
//	@Tags			api-keys
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string			true	"organisation slug or id"
//	@Param			body	body		APIKeyRequest	true	"the key"
//	@Success		201		{object}	APIKeyResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		403		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/api-keys [post]
func (h *handlers) createAPIKey(c *gin.Context) {
	var req APIKeyRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	k, secret, err := h.svc.APIKeys.Create(c.Request.Context(), scopeOf(c), services.APIKeyInput{Name: req.Name,
		Scopes: req.Scopes, Project: req.Project, Environment: req.Environment, ExpiresAt: req.ExpiresAt})
	if err != nil {
		fail(c, err)
		return
	}
	r := toAPIKey(k, h.now())
	r.Secret = secret
	c.JSON(http.StatusCreated, r)
}

// getAPIKey godoc
//
//	@Summary	Get an API key
//	@Tags		api-keys
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org	path		string	true	"organisation slug or id"
//	@Param		key	path		string	true	"API key id"
//	@Success	200	{object}	APIKeyResponse
//	@Failure	403	{object}	ErrorResponse
//	@Failure	404	{object}	ErrorResponse
//	@Failure	429	{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/api-keys/{key} [get]
func (h *handlers) getAPIKey(c *gin.Context) {
	k, err := h.svc.APIKeys.Get(c.Request.Context(), scopeOf(c), c.Param("key"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAPIKey(k, h.now()))
}

// revokeAPIKey godoc
//
//	@Summary		Revoke an API key
//	@Description	The key stops working on every node at once; it stays listed as revoked.
//	@Tags			api-keys
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org	path		string	true	"organisation slug or id"
//	@Param			key	path		string	true	"API key id"
//	@Success		200	{object}	APIKeyResponse
//	@Failure		403	{object}	ErrorResponse
//	@Failure		404	{object}	ErrorResponse
//	@Failure		429	{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/api-keys/{key} [delete]
func (h *handlers) revokeAPIKey(c *gin.Context) {
	k, err := h.svc.APIKeys.Revoke(c.Request.Context(), scopeOf(c), c.Param("key"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAPIKey(k, h.now()))
}
