package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// listMembers godoc
//
//	@Summary	List members
//	@Tags		members
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		limit	query		int		false	"page size (1–200, default 50)"
//	@Param		cursor	query		string	false	"next_cursor of the previous page"
//	@Success	200		{object}	MemberList
//	@Failure	401		{object}	ErrorResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/members [get]
func (h *handlers) listMembers(c *gin.Context) {
	opt, err := listOptions(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.svc.Members.List(c.Request.Context(), scopeOf(c), opt)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, MemberList{Items: mapItems(page.Items, toMember), NextCursor: page.NextCursor})
}

// inviteMember godoc
//
//	@Summary		Invite a member
//	@Description	Creates a one-time invitation for an email with a role; the token in the response is shown once and redeemed at POST /api/v1/auth/accept-invite. It expires after 7 days.
//	@Tags			members
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string			true	"organisation slug or id"
//	@Param			body	body		InviteRequest	true	"who and with which role"
//	@Success		201		{object}	InvitationResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		403		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		409		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/members [post]
func (h *handlers) inviteMember(c *gin.Context) {
	var req InviteRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	inv, token, err := h.svc.Members.Invite(c.Request.Context(), scopeOf(c), req.Email, req.Role)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toInvitation(inv, token))
}

// getMember godoc
//
//	@Summary	Get a member
//	@Tags		members
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		member	path		string	true	"user id, membership id, email or username"
//	@Success	200		{object}	MemberResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/members/{member} [get]
func (h *handlers) getMember(c *gin.Context) {
	m, err := h.svc.Members.Get(c.Request.Context(), scopeOf(c), c.Param("member"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, m.Version)
	c.JSON(http.StatusOK, toMember(m))
}

// updateMember godoc
//
//	@Summary		Change a member's role
//	@Description	The last ADMIN cannot be demoted (409).
//	@Tags			members
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org			path		string		true	"organisation slug or id"
//	@Param			member		path		string		true	"user id, membership id, email or username"
//	@Param			If-Match	header		string		false	"expected version"
//	@Param			body		body		MemberPatch	true	"the new role"
//	@Success		200			{object}	MemberResponse
//	@Failure		400			{object}	ErrorResponse
//	@Failure		403			{object}	ErrorResponse
//	@Failure		404			{object}	ErrorResponse
//	@Failure		409			{object}	ErrorResponse
//	@Failure		412			{object}	ErrorResponse
//	@Failure		422			{object}	ErrorResponse
//	@Failure		429			{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/members/{member} [patch]
func (h *handlers) updateMember(c *gin.Context) {
	var req MemberPatch
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	v, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	m, err := h.svc.Members.UpdateRole(c.Request.Context(), scopeOf(c), c.Param("member"), req.Role, v)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, m.Version)
	c.JSON(http.StatusOK, toMember(m))
}

// removeMember godoc
//
//	@Summary		Remove a member
//	@Description	The last ADMIN cannot be removed (409).
//	@Tags			members
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path	string	true	"organisation slug or id"
//	@Param			member	path	string	true	"user id, membership id, email or username"
//	@Success		204
//	@Failure		403	{object}	ErrorResponse
//	@Failure		404	{object}	ErrorResponse
//	@Failure		409	{object}	ErrorResponse
//	@Failure		429	{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/members/{member} [delete]
func (h *handlers) removeMember(c *gin.Context) {
	if err := h.svc.Members.Remove(c.Request.Context(), scopeOf(c), c.Param("member")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// listInvitations godoc
//
//	@Summary	List pending invitations
//	@Tags		members
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		limit	query		int		false	"page size (1–200, default 50)"
//	@Param		cursor	query		string	false	"next_cursor of the previous page"
//	@Success	200		{object}	InvitationList
//	@Failure	403		{object}	ErrorResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/invitations [get]
func (h *handlers) listInvitations(c *gin.Context) {
	opt, err := listOptions(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.svc.Members.Invitations(c.Request.Context(), scopeOf(c), opt)
	if err != nil {
		fail(c, err)
		return
	}
	items := make([]InvitationResponse, len(page.Items))
	for i := range page.Items {
		items[i] = toInvitation(&page.Items[i], "")
	}
	c.JSON(http.StatusOK, InvitationList{Items: items, NextCursor: page.NextCursor})
}

// revokeInvitation godoc
//
//	@Summary	Revoke an invitation
//	@Tags		members
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org			path	string	true	"organisation slug or id"
//	@Param		invitation	path	string	true	"invitation id"
//	@Success	204
//	@Failure	403	{object}	ErrorResponse
//	@Failure	404	{object}	ErrorResponse
//	@Failure	429	{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/invitations/{invitation} [delete]
func (h *handlers) revokeInvitation(c *gin.Context) {
	if err := h.svc.Members.RevokeInvitation(c.Request.Context(), scopeOf(c), c.Param("invitation")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
