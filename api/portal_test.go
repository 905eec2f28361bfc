package api_test

import (
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/policies"
)

// withPortal is the server with a built portal of two files served at /.
func withPortal(t *testing.T) *server {
	s := newServer(t)
	enf, err := policies.New()
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><title>Vane</title>")},
		"assets/app-abc1.js": {Data: []byte("console.log(1)")},
		"favicon.svg":        {Data: []byte("<svg/>")},
	}
	r, err := api.NewRouter(api.Deps{Services: s.Svc, Plane: s.Plane, Enforcer: enf, Log: testenv.Logger(t), Clock: s.Clock, Portal: files})
	if err != nil {
		t.Fatal(err)
	}
	s.router = r
	return s
}

func TestPortalServing(t *testing.T) {
	s := withPortal(t)
	for _, tc := range []struct {
		name, method, path string
		code               int
		body, cache        string
	}{
		{"root is the app", "GET", "/", 200, "<title>Vane</title>", "no-cache"},
		{"an app route is the app", "GET", "/orgs/acme/flags/new", 200, "<title>Vane</title>", "no-cache"},
		{"a hashed asset is immutable", "GET", "/assets/app-abc1.js", 200, "console.log(1)", "public, max-age=31536000, immutable"},
		{"another file is revalidated", "GET", "/favicon.svg", 200, "<svg/>", "no-cache"},
		{"a missing asset is 404", "GET", "/assets/gone.js", 404, `"not_found"`, ""},
		{"an unknown API path stays JSON", "GET", "/api/v1/nothing", 404, `"not_found"`, ""},
		{"an unknown OFREP path stays JSON", "GET", "/ofrep/v1/x", 404, `"not_found"`, ""},
		{"POST to an app path is not the app", "POST", "/flags", 404, `"not_found"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.req(tc.method, tc.path, nil)
			if r.Code != tc.code || !strings.Contains(string(r.Body), tc.body) {
				t.Fatalf("%s %s = %d %s, want %d with %q", tc.method, tc.path, r.Code, r.Body, tc.code, tc.body)
			}
			if got := r.Header.Get("Cache-Control"); tc.cache != "" && got != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cache)
			}
		})
	}
	// Without a built portal the API answers alone.
	if r := newServer(t).req("GET", "/", nil); r.Code != http.StatusNotFound {
		t.Errorf("GET / without a portal = %d, want 404", r.Code)
	}
}

// cookieOf is the Set-Cookie of the session cookie in a response.
func cookieOf(t *testing.T, r response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == api.RefreshCookie {
			return c
		}
	}
	return nil
}

func TestCookieSession(t *testing.T) {
	s := newServer(t)
	s.newTenant("acme")
	const session = api.SessionHeader
	login := s.req("POST", "/api/v1/auth/login", map[string]string{"username": "dev@acme.test", "password": password},
		session, "cookie").want(t, 200)
	tokens := decode[api.TokenResponse](t, login)
	ck := cookieOf(t, login)
	if ck == nil || ck.Value == "" || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/api/v1/auth" || ck.Secure {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/api/v1/auth, not Secure over http", ck)
	}
	if tokens.RefreshToken != "" || tokens.AccessToken == "" {
		t.Fatalf("cookie sign-in body has refresh_token %q (want none) and access token %q", tokens.RefreshToken, tokens.AccessToken)
	}
	cookie := api.RefreshCookie + "=" + ck.Value

	t.Run("https sets Secure", func(t *testing.T) {
		r := s.req("POST", "/api/v1/auth/login", map[string]string{"username": "viewer@acme.test", "password": password},
			session, "cookie", "X-Forwarded-Proto", "https").want(t, 200)
		if c := cookieOf(t, r); c == nil || !c.Secure {
			t.Fatalf("cookie over https = %+v, want Secure", c)
		}
	})
	for _, tc := range []struct {
		name    string
		headers []string
	}{
		{"without the session header", []string{"Cookie", cookie}},
		{"from another origin", []string{"Cookie", cookie, session, "cookie", "Origin", "https://evil.example"}},
		{"from another site", []string{"Cookie", cookie, session, "cookie", "Sec-Fetch-Site", "cross-site"}},
	} {
		t.Run("refused "+tc.name, func(t *testing.T) {
			r := s.req("POST", "/api/v1/auth/refresh", "{}", tc.headers...).want(t, 403)
			if code, _ := r.errorField(); code != "forbidden" {
				t.Errorf("code = %q, want forbidden", code)
			}
		})
	}
	// A reload: the cookie alone (same origin) gives a new access token and rotates the cookie.
	r := s.req("POST", "/api/v1/auth/refresh", "{}", "Cookie", cookie, session, "cookie",
		"Origin", "http://example.com", "Sec-Fetch-Site", "same-origin").want(t, 200)
	next := cookieOf(t, r)
	if next == nil || next.Value == "" || next.Value == ck.Value || decode[api.TokenResponse](t, r).AccessToken == "" {
		t.Fatalf("refresh by cookie: cookie %+v, body %s", next, r.Body)
	}
	s.req("GET", "/api/v1/me", nil, "auth", decode[api.TokenResponse](t, r).AccessToken).want(t, 200)

	// Sign-out clears the cookie and ends the session.
	out := s.req("POST", "/api/v1/auth/logout", "{}", "Cookie", api.RefreshCookie+"="+next.Value, session, "cookie").want(t, 204)
	if c := cookieOf(t, out); c == nil || c.MaxAge >= 0 {
		t.Fatalf("logout cookie = %+v, want it cleared", c)
	}
	r = s.req("POST", "/api/v1/auth/refresh", "{}", "Cookie", api.RefreshCookie+"="+next.Value, session, "cookie").want(t, 401)
	if c := cookieOf(t, r); c == nil || c.MaxAge >= 0 {
		t.Errorf("a refused refresh leaves the cookie %+v, want it cleared", c)
	}
	// Clients of the body token are unchanged.
	body := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/login",
		map[string]string{"username": "dev@acme.test", "password": password}).want(t, 200))
	if body.RefreshToken == "" {
		t.Fatal("a sign-in without the session header has no refresh_token")
	}
	s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": body.RefreshToken}).want(t, 200)
}

func TestChangePassword(t *testing.T) {
	s := newServer(t)
	tn := s.newTenant("acme")
	old := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/login",
		map[string]string{"username": "dev@acme.test", "password": password}).want(t, 200))
	const next = "a much longer passphrase 42"
	for _, tc := range []struct {
		name, current, next, field string
		code                       int
	}{
		{"wrong current password", "not it at all", next, "current_password", 422},
		{"no current password", "", next, "current_password", 422},
		{"too short", password, "short", "new_password", 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.req("POST", "/api/v1/auth/password", map[string]string{"current_password": tc.current, "new_password": tc.next},
				"auth", tn.dev).want(t, tc.code)
			if _, field := r.errorField(); field != tc.field {
				t.Errorf("field = %q, want %q", field, tc.field)
			}
		})
	}
	s.req("POST", "/api/v1/auth/password", map[string]string{"current_password": password, "new_password": next}, "X-API-Key", tn.keyA).want(t, 403)
	s.req("POST", "/api/v1/auth/password", map[string]string{"current_password": password, "new_password": next}).want(t, 401)

	r := s.req("POST", "/api/v1/auth/password", map[string]string{"current_password": password, "new_password": next},
		"auth", tn.dev, api.SessionHeader, "cookie").want(t, 200)
	if c := cookieOf(t, r); c == nil || c.Value == "" || decode[api.TokenResponse](t, r).AccessToken == "" {
		t.Fatalf("change password with the cookie session: cookie %+v body %s", c, r.Body)
	}
	// Every earlier session is over, and only the new password signs in.
	s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": old.RefreshToken}).want(t, 401)
	s.req("POST", "/api/v1/auth/login", map[string]string{"username": "dev@acme.test", "password": password}).want(t, 401)
	s.req("POST", "/api/v1/auth/login", map[string]string{"username": "dev@acme.test", "password": next}).want(t, 200)
}
