package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/services"
)

// login godoc
//
//	@Summary		Sign in
//	@Description	Exchanges a username (or email) and password for a short-lived access token and a rotating refresh token. Unknown users and wrong passwords get the same 401. Failed attempts are limited per account and client IP (VANE_LOGIN_MAX_FAILURES), per account from every IP (VANE_LOGIN_ACCOUNT_MAX_FAILURES) and per client IP (VANE_LOGIN_IP_MAX_FAILURES), each in VANE_LOGIN_WINDOW: 429 with Retry-After. Username and email of one account share its counters.
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			X-Vane-Session	header		string			false	"cookie: keep the refresh token in the HttpOnly session cookie (path /api/v1/auth), not in the body"
//	@Param			body			body		LoginRequest	true	"credentials"
//	@Success		200				{object}	TokenResponse
//	@Failure		400				{object}	ErrorResponse
//	@Failure		401				{object}	ErrorResponse
//	@Failure		422				{object}	ErrorResponse
//	@Failure		429				{object}	ErrorResponse
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
	h.renderTokens(c, http.StatusOK, toTokens(t, nil))
}

// refresh godoc
//
//	@Summary		Refresh a session
//	@Description	Exchanges a refresh token for a new access token and a new refresh token. Each refresh token rotates once. Presented again within 10 seconds (two tabs refreshing at once) it returns the same new refresh token with a fresh access token; presented later it counts as stolen and revokes every token of that login. The portal's session sends no body token: its refresh token is the HttpOnly cookie vane_refresh, accepted only with the header X-Vane-Session: cookie and from the same origin (403 otherwise); the answer then sets the rotated cookie and leaves refresh_token empty.
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			X-Vane-Session	header		string			false	"cookie: use and renew the session cookie"
//	@Param			body			body		RefreshRequest	false	"refresh token (not with the session cookie)"
//	@Success		200				{object}	TokenResponse
//	@Failure		400				{object}	ErrorResponse
//	@Failure		401				{object}	ErrorResponse
//	@Failure		403				{object}	ErrorResponse
//	@Router			/api/v1/auth/refresh [post]
func (h *handlers) refresh(c *gin.Context) {
	token, err := refreshTokenOf(c)
	if err != nil {
		fail(c, err)
		return
	}
	t, err := h.svc.Auth.Refresh(c.Request.Context(), token)
	if err != nil {
		if wantsCookie(c) && errs.KindOf(err) == errs.Unauthorized {
			setRefreshCookie(c, "", 0)
		}
		fail(c, err)
		return
	}
	h.renderTokens(c, http.StatusOK, toTokens(t, nil))
}

// logout godoc
//
//	@Summary		Sign out
//	@Description	Revokes the refresh token and every token rotated from the same login. Access tokens already issued expire on their own (VANE_ACCESS_TOKEN_TTL). The portal's session (header X-Vane-Session: cookie, same origin) signs out with its cookie, which the answer clears.
//	@Tags			auth
//	@Accept			json
//	@Param			X-Vane-Session	header	string			false	"cookie: end the session of the cookie"
//	@Param			body			body	RefreshRequest	false	"refresh token (not with the session cookie)"
//	@Success		204
//	@Failure		400	{object}	ErrorResponse
//	@Failure		403	{object}	ErrorResponse
//	@Router			/api/v1/auth/logout [post]
func (h *handlers) logout(c *gin.Context) {
	token, err := refreshTokenOf(c)
	if err != nil {
		fail(c, err)
		return
	}
	if err := h.svc.Auth.Logout(c.Request.Context(), token); err != nil {
		fail(c, err)
		return
	}
	if wantsCookie(c) {
		setRefreshCookie(c, "", 0)
	}
	c.Status(http.StatusNoContent)
}

// refreshTokenOf is the refresh token of a request: the session cookie (checked by
// cookieRefreshToken) or else the body's refresh_token.
func refreshTokenOf(c *gin.Context) (string, error) {
	token, err := cookieRefreshToken(c)
	if err != nil || token != "" {
		return token, err
	}
	var req RefreshRequest
	if err := bindJSON(c, &req); err != nil {
		return "", err
	}
	return req.RefreshToken, nil
}

// changePassword godoc
//
//	@Summary		Change my password
//	@Description	Replaces the signed-in user's password after checking the current one (422 on current_password when wrong; failures count like failed sign-ins, 429 with Retry-After). The new password follows the sign-up rules. Every session of the user is signed out and a new one begins: the answer carries its tokens (with X-Vane-Session: cookie, the refresh token goes into the session cookie).
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			X-Vane-Session	header		string					false	"cookie: keep the new refresh token in the session cookie"
//	@Param			body			body		ChangePasswordRequest	true	"current and new password"
//	@Success		200				{object}	TokenResponse
//	@Failure		400				{object}	ErrorResponse
//	@Failure		401				{object}	ErrorResponse
//	@Failure		403				{object}	ErrorResponse
//	@Failure		422				{object}	ErrorResponse
//	@Failure		429				{object}	ErrorResponse
//	@Router			/api/v1/auth/password [post]
func (h *handlers) changePassword(c *gin.Context) {
	var req ChangePasswordRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	t, err := h.svc.Auth.ChangePassword(c.Request.Context(), principalOf(c), req.CurrentPassword, req.NewPassword, c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	h.renderTokens(c, http.StatusOK, toTokens(t, nil))
}

// signup godoc
//
//	@Summary		Sign up
//	@Description	Creates a user and a new organisation (with project "default" and its development, staging and production environments) where the user is ADMIN, and signs them in. Off when VANE_ALLOW_SIGNUP=false (403). The password needs at least 10 characters, must not be the email or username, and must not be a commonly breached password (422). Limited to VANE_SIGNUP_MAX_PER_IP sign-ups per client IP per hour (429 with Retry-After).
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			X-Vane-Session	header		string			false	"cookie: keep the refresh token in the HttpOnly session cookie (path /api/v1/auth), not in the body"
//	@Param			body			body		SignupRequest	true	"the new user and organisation"
//	@Success		201				{object}	TokenResponse
//	@Failure		400				{object}	ErrorResponse
//	@Failure		403				{object}	ErrorResponse
//	@Failure		409				{object}	ErrorResponse
//	@Failure		422				{object}	ErrorResponse
//	@Failure		429				{object}	ErrorResponse
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
	h.renderTokens(c, http.StatusCreated, toTokens(t, org))
}

// acceptInvite godoc
//
//	@Summary		Accept an invitation
//	@Description	Redeems a one-time invitation token and signs the user in. For an email without an account, the new user chooses a password (at least 10 characters, not the email or username, not a commonly breached one) and optionally a username. For an email that already has an account, the user signs in first and accepts while signed in (Authorization: Bearer with that account's access token) without a password: a password for an existing account is refused (422, field password), no credential is 401, and another account's token or an API key is 403. Limited per client IP (VANE_INVITE_ACCEPT_MAX_PER_IP) and per invitation token (10) in VANE_LOGIN_WINDOW (429 with Retry-After).
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			X-Vane-Session	header		string				false	"cookie: keep the refresh token in the HttpOnly session cookie (path /api/v1/auth), not in the body"
//	@Param			body			body		AcceptInviteRequest	true	"token, and a password for a new account"
//	@Success		200				{object}	TokenResponse
//	@Failure		400				{object}	ErrorResponse
//	@Failure		401				{object}	ErrorResponse
//	@Failure		403				{object}	ErrorResponse
//	@Failure		404				{object}	ErrorResponse
//	@Failure		422				{object}	ErrorResponse
//	@Failure		429				{object}	ErrorResponse
//	@Router			/api/v1/auth/accept-invite [post]
func (h *handlers) acceptInvite(c *gin.Context) {
	var req AcceptInviteRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	in := services.AcceptInviteInput{Token: req.Token, Password: req.Password, Username: req.Username, Name: req.Name}
	if cred := credential(c); cred != "" { // an existing account accepts while signed in
		p, err := h.svc.Auth.AuthenticateFrom(c.Request.Context(), cred, c.ClientIP())
		if err != nil {
			fail(c, err)
			return
		}
		in.Caller = p
	}
	t, org, err := h.svc.Auth.AcceptInvite(c.Request.Context(), in, c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	h.renderTokens(c, http.StatusOK, toTokens(t, org))
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
//	@Failure		429	{object}	ErrorResponse
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
