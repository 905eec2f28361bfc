package api

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
)

// The portal keeps no token in browser storage: its access token lives in memory and its refresh
// token in an HttpOnly cookie that only the auth routes receive. A client opts in with the header
// SessionHeader: cookie on sign-in; the cookie is then accepted by refresh and logout only with that
// header again (a cross-site form cannot set it, and a cross-site script needs a CORS preflight the
// auth routes never grant) and from the same origin.
const (
	// SessionHeader asks for (and proves) the cookie session of the portal.
	SessionHeader = "X-Vane-Session"
	// RefreshCookie is the name of the refresh-token cookie.
	RefreshCookie     = "vane_refresh"
	refreshCookiePath = "/api/v1/auth"
)

// wantsCookie reports whether the client asked for the cookie session.
func wantsCookie(c *gin.Context) bool {
	return strings.EqualFold(strings.TrimSpace(c.GetHeader(SessionHeader)), "cookie")
}

// secureRequest reports whether the client reached us over https (directly or through a proxy).
func secureRequest(c *gin.Context) bool {
	return c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
}

// setRefreshCookie stores the refresh token in the session cookie; an empty token clears it.
func setRefreshCookie(c *gin.Context, token string, ttl time.Duration) {
	ck := &http.Cookie{Name: RefreshCookie, Value: token, Path: refreshCookiePath, HttpOnly: true,
		Secure: secureRequest(c), SameSite: http.SameSiteStrictMode}
	if token == "" {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(ttl / time.Second)
	}
	http.SetCookie(c.Writer, ck)
}

// sameOrigin checks the browser's own statements about where the request comes from: Origin (sent
// with every cross-origin and every POST request by current browsers) must be this host, and
// Sec-Fetch-Site, when sent, must say same-origin.
func sameOrigin(c *gin.Context) bool {
	if site := c.GetHeader("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	origin := c.GetHeader("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, c.Request.Host)
}

// cookieRefreshToken is the refresh token of a cookie session, refused (403) without the session
// header or from another origin. It is "" when the request carries no session cookie.
func cookieRefreshToken(c *gin.Context) (string, error) {
	var token string
	for _, ck := range c.Request.Cookies() {
		if ck.Name == RefreshCookie && ck.Value != "" {
			token = ck.Value
		}
	}
	if token == "" {
		return "", nil
	}
	if !wantsCookie(c) {
		return "", errs.Forbiddenf("the session cookie needs the %s: cookie header", SessionHeader)
	}
	if !sameOrigin(c) {
		return "", errs.Forbiddenf("the session cookie is accepted from this origin only")
	}
	return token, nil
}

// renderTokens answers a sign-in: for a cookie session the refresh token goes into the cookie and
// not into the body.
func (h *handlers) renderTokens(c *gin.Context, status int, r TokenResponse) {
	if wantsCookie(c) {
		setRefreshCookie(c, r.RefreshToken, h.svc.Auth.RefreshTTL())
		r.RefreshToken = ""
	}
	c.JSON(status, r)
}
