package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/services"
)

// login godoc
//
//	@Summary		Sign in
//	@Description	Exchanges a username (or email) and password for a short-lived access token and a rotating refresh token. Unknown users and wrong passwords get the same 401. Repeated failures are limited per username and per client IP (429 with Retry-After).
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		LoginRequest	true	"credentials"
//	@Success		200		{object}	TokenResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		401		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/auth/login [post]
func (h *handlers) login(c *gin.Context) {
	var req LoginRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	login := req.Username
	if login == "" {
		login = req.Email
	}
	t, err := h.svc.Auth.Login(c.Request.Context(), login, req.Password, c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toTokens(t, nil))
}

// refresh godoc
//
//	@Summary		Refresh a session
//	@Description	Exchanges a refresh token for a new access token and a new refresh token. Each refresh token works once; presenting a used one revokes every token of that login.
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		RefreshRequest	true	"refresh token"
//	@Success		200		{object}	TokenResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		401		{object}	ErrorResponse
//	@Router			/api/v1/auth/refresh [post]
func (h *handlers) refresh(c *gin.Context) {
	var req RefreshRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	t, err := h.svc.Auth.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toTokens(t, nil))
}

// logout godoc
//
//	@Summary		Sign out
//	@Description	Revokes the refresh token and every token rotated from the same login. Access tokens already issued expire on their own (VANE_ACCESS_TOKEN_TTL).
//	@Tags			auth
//	@Accept			json
//	@Param			body	body	RefreshRequest	true	"refresh token"
//	@Success		204
//	@Failure		400	{object}	ErrorResponse
//	@Router			/api/v1/auth/logout [post]
func (h *handlers) logout(c *gin.Context) {
	var req RefreshRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	if err := h.svc.Auth.Logout(c.Request.Context(), req.RefreshToken); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// signup godoc
//
//	@Summary		Sign up
//	@Description	Creates a user and a new organisation (with project "default" and its development, staging and production environments) where the user is ADMIN, and signs them in. Off when VANE_ALLOW_SIGNUP=false (403).
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		SignupRequest	true	"the new user and organisation"
//	@Success		201		{object}	TokenResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		403		{object}	ErrorResponse
//	@Failure		409		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Router			/api/v1/auth/signup [post]
func (h *handlers) signup(c *gin.Context) {
	var req SignupRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	t, org, err := h.svc.Auth.Signup(c.Request.Context(), services.SignupInput{Email: req.Email, Username: req.Username,
		Name: req.Name, Password: req.Password, OrganizationName: req.Organization.Name, OrganizationSlug: req.Organization.Slug},
		c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toTokens(t, org))
}

// acceptInvite godoc
//
//	@Summary		Accept an invitation
//	@Description	Redeems a one-time invitation token. A new user chooses a password (and optionally a username); an existing user gives their current password. Signs the user in.
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		AcceptInviteRequest	true	"token and password"
//	@Success		200		{object}	TokenResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		401		{object}	ErrorResponse
//	@Failure		404		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Router			/api/v1/auth/accept-invite [post]
func (h *handlers) acceptInvite(c *gin.Context) {
	var req AcceptInviteRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	t, org, err := h.svc.Auth.AcceptInvite(c.Request.Context(), services.AcceptInviteInput{Token: req.Token,
		Password: req.Password, Username: req.Username, Name: req.Name}, c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toTokens(t, org))
}

// me godoc
//
//	@Summary		Who am I
//	@Description	The signed-in user and their organisations with roles, or the API key making the request.
//	@Tags			auth
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Success		200	{object}	MeResponse
//	@Failure		401	{object}	ErrorResponse
//	@Router			/api/v1/me [get]
func (h *handlers) me(c *gin.Context) {
	p := principalOf(c)
	ctx := c.Request.Context()
	if p.Kind == services.PrincipalAPIKey {
		k, err := h.svc.APIKeys.Get(ctx, services.Scope{OrgID: p.OrgID, Principal: p}, p.ID)
		if err != nil {
			fail(c, err)
			return
		}
		r := toAPIKey(k, h.now())
		c.JSON(http.StatusOK, MeResponse{Kind: p.Kind, APIKey: &r})
		return
	}
	me, err := h.svc.Auth.Me(ctx, p.ID)
	if err != nil {
		fail(c, err)
		return
	}
	u := toUser(me.User)
	r := MeResponse{Kind: p.Kind, User: &u, Memberships: []MembershipResponse{}}
	for _, m := range me.Memberships {
		r.Memberships = append(r.Memberships, MembershipResponse{Organization: toOrg(&m.Org), Role: m.Role})
	}
	c.JSON(http.StatusOK, r)
}
