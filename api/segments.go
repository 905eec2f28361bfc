package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/services"
)

// listSegments godoc
//
//	@Summary	List segments
//	@Tags		segments
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		project	path		string	true	"project key or id"
//	@Param		limit	query		int		false	"page size (1–200, default 50)"
//	@Param		cursor	query		string	false	"next_cursor of the previous page"
//	@Success	200		{object}	SegmentList
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/segments [get]
func (h *handlers) listSegments(c *gin.Context) {
	opt, err := listOptions(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.svc.Segments.List(c.Request.Context(), scopeOf(c), c.Param("project"), opt)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, SegmentList{Items: mapItems(page.Items, toSegment), NextCursor: page.NextCursor})
}

// createSegment godoc
//
//	@Summary		Create a segment
//	@Description	A reusable audience: conditions (all must match) plus included and excluded context keys, which win over the conditions. Rules use it with {"segment": KEY} or {"not_segment": KEY}, in every environment.
//	@Tags			segments
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string			true	"organisation slug or id"
//	@Param			project	path		string			true	"project key or id"
//	@Param			body	body		SegmentRequest	true	"the segment"
//	@Success		201		{object}	SegmentResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		403		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		409		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/segments [post]
func (h *handlers) createSegment(c *gin.Context) {
	var req SegmentRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	s, err := h.svc.Segments.Create(c.Request.Context(), scopeOf(c), c.Param("project"), services.SegmentInput{Key: req.Key,
		Name: req.Name, Description: req.Description, Conditions: req.Conditions, Included: req.Included, Excluded: req.Excluded})
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, s.Version)
	c.JSON(http.StatusCreated, toSegment(s))
}

// getSegment godoc
//
//	@Summary	Get a segment
//	@Tags		segments
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		project	path		string	true	"project key or id"
//	@Param		segment	path		string	true	"segment key or id"
//	@Success	200		{object}	SegmentResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/projects/{project}/segments/{segment} [get]
func (h *handlers) getSegment(c *gin.Context) {
	s, err := h.svc.Segments.Get(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("segment"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, s.Version)
	c.JSON(http.StatusOK, toSegment(s))
}

// updateSegment godoc
//
//	@Summary		Update a segment
//	@Description	Every flag using the segment serves the new audience at once, in every environment.
//	@Tags			segments
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org			path		string				true	"organisation slug or id"
//	@Param			project		path		string				true	"project key or id"
//	@Param			segment		path		string				true	"segment key or id"
//	@Param			If-Match	header		string				false	"expected version"
//	@Param			body		body		SegmentPatchRequest	true	"changes"
//	@Success		200			{object}	SegmentResponse
//	@Failure		400			{object}	ErrorResponse
//	@Failure		403			{object}	ErrorResponse
//	@Failure		404			{object}	ErrorResponse
//	@Failure		412			{object}	ErrorResponse
//	@Failure		422			{object}	ErrorResponse
//	@Failure		429			{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/segments/{segment} [patch]
func (h *handlers) updateSegment(c *gin.Context) {
	var req SegmentPatchRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	v, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	s, err := h.svc.Segments.Update(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("segment"), services.SegmentPatch{
		Name: req.Name, Description: req.Description, Conditions: req.Conditions, Included: req.Included, Excluded: req.Excluded}, v)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, s.Version)
	c.JSON(http.StatusOK, toSegment(s))
}

// deleteSegment godoc
//
//	@Summary		Delete a segment
//	@Description	Refused (409, listing them in used_by) while a flag rule or another segment uses it.
//	@Tags			segments
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path	string	true	"organisation slug or id"
//	@Param			project	path	string	true	"project key or id"
//	@Param			segment	path	string	true	"segment key or id"
//	@Success		204
//	@Failure		403	{object}	ErrorResponse
//	@Failure		404	{object}	ErrorResponse
//	@Failure		409	{object}	ErrorResponse
//	@Failure		429	{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/projects/{project}/segments/{segment} [delete]
func (h *handlers) deleteSegment(c *gin.Context) {
	if err := h.svc.Segments.Delete(c.Request.Context(), scopeOf(c), c.Param("project"), c.Param("segment")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
