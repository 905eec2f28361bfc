package api_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/services"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	u := s.user("ada@example.test")

	for _, login := range []map[string]string{
		{"email": "ada@example.test", "password": password},
		{"username": "ADA@example.test", "password": password}, // the username field takes an email too, any case
	} {
		r := s.req("POST", "/api/v1/auth/login", login).want(t, 200)
		tok := decode[api.TokenResponse](t, r)
		if tok.TokenType != "Bearer" || tok.ExpiresIn != 900 || tok.AccessToken == "" || tok.RefreshToken == "" || tok.User.ID != u.ID {
			t.Errorf("login(%v) = %+v, want Bearer tokens for %s expiring in 900s", login, tok, u.ID)
		}
		me := s.req("GET", "/api/v1/me", nil, "auth", tok.AccessToken).want(t, 200)
		if got := decode[api.MeResponse](t, me); got.User == nil || got.User.Email != "ada@example.test" {
			t.Errorf("GET /me = %s, want ada", me.Body)
		}
	}

	wrong := s.req("POST", "/api/v1/auth/login", map[string]string{"username": "ada@example.test", "password": "nope-nope"})
	unknown := s.req("POST", "/api/v1/auth/login", map[string]string{"username": "nobody@example.test", "password": "nope-nope"})
	if wrong.Code != 401 || unknown.Code != 401 {
		t.Fatalf("wrong password = %d, unknown user = %d; want 401 and 401", wrong.Code, unknown.Code)
	}
	wc, wm := wrong.JSON()["error"].(map[string]any), unknown.JSON()["error"].(map[string]any)
	if wc["code"] != wm["code"] || wc["message"] != wm["message"] {
		t.Errorf("wrong password says %v, unknown user says %v: they must not differ", wc, wm)
	}

	r := s.req("POST", "/api/v1/auth/login", map[string]string{"username": "ada@example.test"}).want(t, 422)
	if code, field := r.errorField(); code != "validation_failed" || field != "password" {
		t.Errorf("login without password: code %q field %q, want validation_failed password", code, field)
	}
}

func TestAccessTokensThatMustNotWork(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	u := s.user("bob@example.test")
	now := s.Clock.Now()
	claims := func(mod func(*jwt.RegisteredClaims)) jwt.RegisteredClaims {
		c := jwt.RegisteredClaims{Issuer: "vane", Subject: u.ID, Audience: jwt.ClaimStrings{"vane-api"},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now), ID: "x"}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	secret := s.Config.JWTSecret
	sign := func(m jwt.SigningMethod, key any, c jwt.RegisteredClaims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(jwt.SigningMethodHS256, secret, claims(nil))
	s.req("GET", "/api/v1/me", nil, "auth", good).want(t, 200) // the forger's baseline works

	cases := map[string]string{
		"alg none":          sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"HS512, our secret": sign(jwt.SigningMethodHS512, secret, claims(nil)),
		"another secret":    sign(jwt.SigningMethodHS256, []byte("another-secret-another-secret-0123456789"), claims(nil)),
		"wrong issuer":      sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.RegisteredClaims) { c.Issuer = "evil" })),
		"wrong audience":    sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"other"} })),
		"no expiry":         sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil })),
		"expired":           sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.RegisteredClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Second)) })),
		"issued in future":  sign(jwt.SigningMethodHS256, secret, claims(func(c *jwt.RegisteredClaims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) })),
		"garbage":           "not-a-token",
	}
	for name, tok := range cases {
		r := s.req("GET", "/api/v1/me", nil, "auth", tok)
		if code, _ := r.errorField(); r.Code != 401 || code != "unauthorized" {
			t.Errorf("%s: GET /me = %d %s, want 401 unauthorized", name, r.Code, r.Body)
		}
	}

	// A real token stops working once its 15 minutes are over.
	access := s.login("bob@example.test")
	s.req("GET", "/api/v1/me", nil, "auth", access).want(t, 200)
	s.Clock.Advance(15*time.Minute + time.Second)
	r := s.req("GET", "/api/v1/me", nil, "auth", access).want(t, 401)
	if msg := r.JSON()["error"].(map[string]any)["message"]; msg != "the access token has expired; refresh it" {
		t.Errorf("expired token message = %q", msg)
	}
}

func TestRefreshRotatesAndReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.user("cy@example.test")
	first := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/login",
		map[string]string{"username": "cy@example.test", "password": password}).want(t, 200))

	second := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/refresh",
		map[string]string{"refresh_token": first.RefreshToken}).want(t, 200))
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
		t.Fatalf("refresh returned the same refresh token")
	}
	s.req("GET", "/api/v1/me", nil, "auth", second.AccessToken).want(t, 200)
	third := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/refresh",
		map[string]string{"refresh_token": second.RefreshToken}).want(t, 200))

	// The first token again, after the grace for concurrent refreshes: someone copied it. Every
	// token of the family dies, the newest too.
	s.Clock.Advance(services.RefreshGrace + time.Second)
	s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": first.RefreshToken}).want(t, 401)
	s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": third.RefreshToken}).want(t, 401)
	if n := s.count("refresh_tokens", "revoked_at IS NULL"); n != 0 {
		t.Errorf("%d refresh tokens still live after reuse, want 0", n)
	}

	// Another login is a separate family and is untouched; logout ends it.
	other := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/login",
		map[string]string{"username": "cy@example.test", "password": password}).want(t, 200))
	s.req("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": other.RefreshToken}).want(t, 204)
	s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": other.RefreshToken}).want(t, 401)

	// Expired refresh tokens do not work.
	late := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/login",
		map[string]string{"username": "cy@example.test", "password": password}).want(t, 200))
	s.Clock.Advance(721 * time.Hour)
	s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": late.RefreshToken}).want(t, 401)
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.LoginMaxFailures, c.LoginIPMaxFailures = 3, 12 })
	s.user("dee@example.test")
	bad := map[string]string{"username": "dee@example.test", "password": "wrong-password"}
	for i := 0; i < 3; i++ {
		s.req("POST", "/api/v1/auth/login", bad).want(t, 401)
	}
	r := s.req("POST", "/api/v1/auth/login", map[string]string{"username": "dee@example.test", "password": password}).want(t, 429)
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 15*60 {
		t.Errorf("Retry-After = %q, want seconds within the 15 minute window", r.Header.Get("Retry-After"))
	}
	if code, _ := r.errorField(); code != "rate_limited" {
		t.Errorf("code = %q, want rate_limited", code)
	}
	// Another user is not affected by dee's limit.
	s.user("eve@example.test")
	s.login("eve@example.test")

	// Per IP: failures spread over many usernames still hit the IP limit (12 in all; 3 so far).
	for i := 0; i < 9; i++ {
		s.req("POST", "/api/v1/auth/login", map[string]string{"username": "ghost" + strconv.Itoa(i), "password": "x-x-x-x-x"}).want(t, 401)
	}
	s.req("POST", "/api/v1/auth/login", map[string]string{"username": "eve@example.test", "password": password}).want(t, 429)

	if s.Redis.Mini != nil { // the window passes (miniredis needs its clock moved)
		s.Redis.Mini.FastForward(16 * time.Minute)
		s.login("eve@example.test")
	}
}

func TestSignup(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	body := map[string]any{"email": "fay@example.test", "password": password, "username": "fay",
		"organization": map[string]string{"name": "Fay's Flags"}}
	r := s.req("POST", "/api/v1/auth/signup", body).want(t, 201)
	tok := decode[api.TokenResponse](t, r)
	if tok.Organization == nil || tok.Organization.Slug != "fay-s-flags" {
		t.Fatalf("signup organisation = %+v, want slug fay-s-flags", tok.Organization)
	}
	me := decode[api.MeResponse](t, s.req("GET", "/api/v1/me", nil, "auth", tok.AccessToken).want(t, 200))
	if len(me.Memberships) != 1 || me.Memberships[0].Role != "ADMIN" {
		t.Errorf("memberships = %+v, want ADMIN of one organisation", me.Memberships)
	}
	envs := decode[api.EnvironmentList](t, s.req("GET", "/api/v1/orgs/fay-s-flags/projects/default/environments", nil,
		"auth", tok.AccessToken).want(t, 200))
	if len(envs.Items) != 3 || envs.Items[0].Key != "development" || envs.Items[2].Key != "production" {
		t.Errorf("default environments = %+v", envs.Items)
	}
	s.req("POST", "/api/v1/auth/login", map[string]string{"username": "fay", "password": password}).want(t, 200)

	s.req("POST", "/api/v1/auth/signup", body).want(t, 409)
	if n := s.count("organizations", "slug = ?", "fay-s-flags"); n != 1 {
		t.Errorf("a refused duplicate sign-up left %d organisations, want 1", n)
	}

	off := newServer(t, func(c *config.Config) { c.AllowSignup = false })
	off.req("POST", "/api/v1/auth/signup", body).want(t, 403)
	if n := off.count("users", "1 = 1"); n != 0 {
		t.Errorf("sign-up while disabled wrote %d users", n)
	}
}

func TestInvitations(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	r := s.req("POST", "/api/v1/orgs/acme/members", map[string]string{"email": "gus@example.test", "role": "DEVELOPER"},
		"auth", a.admin).want(t, 201)
	inv := decode[api.InvitationResponse](t, r)
	if inv.Token == "" || inv.Role != "DEVELOPER" {
		t.Fatalf("invitation = %+v", inv)
	}
	list := decode[api.InvitationList](t, s.req("GET", "/api/v1/orgs/acme/invitations", nil, "auth", a.admin).want(t, 200))
	if len(list.Items) != 1 || list.Items[0].Token != "" {
		t.Errorf("pending invitations = %+v, want one without its token", list.Items)
	}
	accepted := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/accept-invite",
		map[string]any{"token": inv.Token, "password": password, "username": "gus"}).want(t, 200))
	me := decode[api.MeResponse](t, s.req("GET", "/api/v1/me", nil, "auth", accepted.AccessToken).want(t, 200))
	if len(me.Memberships) != 1 || me.Memberships[0].Role != "DEVELOPER" || me.Memberships[0].Organization.Slug != "acme" {
		t.Errorf("memberships after accepting = %+v", me.Memberships)
	}
	s.req("POST", "/api/v1/auth/accept-invite", map[string]any{"token": inv.Token, "password": password}).want(t, 404)

	// Inviting an existing member is a conflict; an existing user accepts while signed in as
	// themselves, never with a password (auth_security_test.go has every case).
	s.req("POST", "/api/v1/orgs/acme/members", map[string]string{"email": "gus@example.test", "role": "VIEWER"},
		"auth", a.admin).want(t, 409)
	b := s.newTenant("bravo")
	inv2 := decode[api.InvitationResponse](t, s.req("POST", "/api/v1/orgs/bravo/members",
		map[string]string{"email": "gus@example.test", "role": "VIEWER"}, "auth", b.admin).want(t, 201))
	s.req("POST", "/api/v1/auth/accept-invite", map[string]any{"token": inv2.Token, "password": password}).want(t, 422)
	s.req("POST", "/api/v1/auth/accept-invite", map[string]any{"token": inv2.Token}, "auth", s.login("gus")).want(t, 200)
	me = decode[api.MeResponse](t, s.req("GET", "/api/v1/me", nil, "auth", s.login("gus")).want(t, 200))
	if len(me.Memberships) != 2 {
		t.Errorf("gus belongs to %d organisations, want 2", len(me.Memberships))
	}
}
