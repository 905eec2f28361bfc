package api_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/policies"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	r := s.req("GET", "/healthz", nil, "X-Request-ID", "abc-123")
	if got := r.Header.Get("X-Request-ID"); got != "abc-123" {
		t.Errorf("X-Request-ID echoed as %q, want abc-123", got)
	}
	r = s.req("GET", "/healthz", nil, "X-Request-ID", "bad id with spaces and <script>")
	if got := r.Header.Get("X-Request-ID"); got == "" || strings.ContainsAny(got, " <>") {
		t.Errorf("an unsafe request id was kept: %q", got)
	}
	if a, b := s.req("GET", "/healthz", nil).Header.Get("X-Request-ID"), s.req("GET", "/healthz", nil).Header.Get("X-Request-ID"); a == b {
		t.Errorf("two requests got the same id %q", a)
	}
	r = s.req("GET", "/api/v1/nowhere", nil)
	var e api.ErrorResponse
	if err := decodeInto(r.Body, &e); err != nil || r.Code != 404 || e.Error.Code != "not_found" || e.Error.RequestID != r.Header.Get("X-Request-ID") {
		t.Errorf("unknown route = %d %s", r.Code, r.Body)
	}
	r = s.req("PUT", "/api/v1/auth/login", nil)
	if r.Code != 405 || !strings.Contains(string(r.Body), "method_not_allowed") {
		t.Errorf("wrong method = %d %s", r.Code, r.Body)
	}
}

func decodeInto(b []byte, v any) error { return jsonUnmarshal(b, v) }

func TestPanicBecomes500WithoutStack(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.router.GET("/boom", func(*gin.Context) { panic("secret internals") })
	r := s.req("GET", "/boom", nil, "X-Request-ID", "boom-1")
	if r.Code != 500 {
		t.Fatalf("panic = %d", r.Code)
	}
	body := string(r.Body)
	if strings.Contains(body, "secret internals") || strings.Contains(body, "goroutine") || !strings.Contains(body, "boom-1") {
		t.Errorf("panic body = %s, want the request id and nothing of the panic", body)
	}
	s.req("GET", "/healthz", nil).want(t, 200) // and the server goes on
}

func TestCORS(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	r := s.req("OPTIONS", "/api/v1/orgs", nil, "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST")
	if r.Code != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "X-API-Key") {
		t.Errorf("preflight from an allowed origin = %d %v", r.Code, r.Header)
	}
	r = s.req("GET", "/healthz", nil, "Origin", "https://evil.example.com")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin was allowed: %v", r.Header)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.req("GET", "/healthz", nil).want(t, 200)
	r := s.req("GET", "/readyz", nil).want(t, 200)
	if c := r.JSON()["checks"].(map[string]any); c["database"] != "ok" || c["redis"] != "ok" {
		t.Errorf("readyz = %s", r.Body)
	}
	if s.Redis.Mini == nil {
		return
	}
	s.Redis.Kill(t)
	r = s.req("GET", "/readyz", nil).want(t, 503)
	if c := r.JSON()["checks"].(map[string]any); c["redis"] != "unreachable" || c["database"] != "ok" {
		t.Errorf("readyz with redis down = %s", r.Body)
	}
}

func TestSwaggerIsServed(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.req("GET", "/swagger/index.html", nil).want(t, 200)
	doc := s.req("GET", "/swagger/doc.json", nil).want(t, 200)
	// Every declared route is in the document.
	for _, r := range s.router.Routes {
		if strings.HasPrefix(r.Path, "/swagger") {
			continue
		}
		path := r.Path
		for _, seg := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		if !bytes.Contains(doc.Body, []byte(`"`+path+`"`)) {
			t.Errorf("%s %s is not in the swagger document", r.Method, path)
		}
	}
}

// TestLogsHoldNoSecrets runs the flows that handle secrets and reads every log line they made.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	env := testenv.New(t)
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	enf, _ := policies.New()
	r, err := api.NewRouter(api.Deps{Services: env.Svc, Plane: env.Plane, Enforcer: enf, Log: log, Clock: env.Clock})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, Env: env, router: r}
	a := s.newTenant("acme")
	tok := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/login", map[string]string{"username": a.adminEmail, "password": password}).want(t, 200))
	s.req("POST", "/api/v1/auth/login", map[string]string{"username": a.adminEmail, "password": "wrong-" + password}).want(t, 401)
	s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}).want(t, 200)
	key := decode[api.APIKeyResponse](t, s.req("POST", o+"/api-keys", map[string]any{"name": "k", "scopes": []string{"read"}}, "auth", tok.AccessToken).want(t, 201))
	s.req("GET", o+"/projects?confirm=x", nil, "X-API-Key", key.Secret).want(t, 200)
	s.req("GET", o+"/projects/default/environments", nil, "auth", tok.AccessToken).want(t, 200)
	s.req("GET", o+"/projects", nil, "X-API-Key", a.sdkServer).want(t, 401)
	logs := buf.String()
	if !strings.Contains(logs, `"route":"/api/v1/auth/login"`) {
		t.Fatalf("no access log was written: %q", logs)
	}
	for name, secret := range map[string]string{"password": password, "access token": tok.AccessToken, "refresh token": tok.RefreshToken,
		"api key": key.Secret, "sdk key": a.sdkServer, "client key": a.sdkClient} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain the %s", name)
		}
	}
}

// TestTwoNodesShareInvalidation runs two nodes on one database and one Redis: a role change or a key
// revocation on one is enforced on the other at once, although both cache.
func TestTwoNodesShareInvalidation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.secondNode(t)

	// Warm node B's caches.
	b.req("POST", o+"/projects", map[string]string{"key": "one"}, "auth", a.admin).want(t, 201)
	b.req("GET", o+"/projects", nil, "X-API-Key", a.keyRead).want(t, 200)

	s.req("PATCH", o+"/members/dev@acme.test", map[string]string{"role": "ADMIN"}, "auth", a.admin).want(t, 200)
	s.req("PATCH", o+"/members/admin@acme.test", map[string]string{"role": "VIEWER"}, "auth", a.dev).want(t, 200)
	keyID := decode[api.APIKeyList](t, s.req("GET", o+"/api-keys", nil, "auth", a.dev).want(t, 200))
	for _, k := range keyID.Items {
		if k.Name == "key-read" {
			s.req("DELETE", o+"/api-keys/"+k.ID, nil, "auth", a.dev).want(t, 200)
		}
	}
	deadline := time.Now().Add(time.Second)
	for {
		demoted := b.req("POST", o+"/projects", map[string]string{"key": "two"}, "auth", a.admin).Code == 403
		revoked := b.req("GET", o+"/projects", nil, "X-API-Key", a.keyRead).Code == 401
		if demoted && revoked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 1s node B still has demoted=%v revoked=%v", demoted, revoked)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServerEndToEnd(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	srv := httptest.NewServer(s.router)
	t.Cleanup(srv.Close)
	res, err := http.Get(srv.URL + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /healthz over TCP = %v, %v", res, err)
	}
	_ = res.Body.Close()
}
