package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/policies"
	"github.com/vanehq/vane/services"
)

// authOnly is a router whose one route runs the real authentication and authorization middleware
// and then answers 204, so what is measured is the middleware alone.
func authOnly(tb testing.TB) (*gin.Engine, *testenv.Env, string, string) {
	tb.Helper()
	env := testenv.New(tb)
	enf, err := policies.New()
	if err != nil {
		tb.Fatal(err)
	}
	h := &handlers{svc: env.Svc, enforcer: enf, clock: env.Clock}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/api/v1/orgs/:org/projects", h.authenticate, h.authorize(policies.Projects, policies.Read, true),
		func(c *gin.Context) { c.Status(http.StatusNoContent) })

	ctx := context.Background()
	u, err := env.Svc.Auth.CreateUser(ctx, "bench@example.test", nil, "", "benchmark-password")
	if err != nil {
		tb.Fatal(err)
	}
	org, err := env.Svc.Orgs.Create(ctx, services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID}},
		services.OrgInput{Slug: "bench", Name: "Bench"})
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := env.Svc.Auth.Login(ctx, "bench@example.test", "benchmark-password", "")
	if err != nil {
		tb.Fatal(err)
	}
	_, key, err := env.Svc.APIKeys.Create(ctx, services.SystemScope(org.ID), services.APIKeyInput{Name: "b", Scopes: []string{"read"}})
	if err != nil {
		tb.Fatal(err)
	}
	return e, env, tok.AccessToken, key
}

// servedKey marks the requests serve makes, so countQueries counts their statements only.
type servedKey struct{}

func serve(e *gin.Engine, header, value string) int {
	r := httptest.NewRequest("GET", "/api/v1/orgs/bench/projects", nil)
	r = r.WithContext(context.WithValue(r.Context(), servedKey{}, true))
	r.Header.Set(header, value)
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w.Code
}

// countQueries counts the statements gorm sends from now on for the requests serve makes (not
// the background work of the data plane and the services: polls, sweeps, flushes).
func countQueries(db *gorm.DB) *atomic.Int64 {
	var n atomic.Int64
	inc := func(tx *gorm.DB) {
		if tx.Statement.Context != nil && tx.Statement.Context.Value(servedKey{}) != nil {
			n.Add(1)
		}
	}
	cb := db.Callback()
	_ = cb.Query().Before("gorm:query").Register("test:count", inc)
	_ = cb.Row().Before("gorm:row").Register("test:count", inc)
	_ = cb.Raw().Before("gorm:raw").Register("test:count", inc)
	_ = cb.Create().Before("gorm:create").Register("test:count", inc)
	_ = cb.Update().Before("gorm:update").Register("test:count", inc)
	_ = cb.Delete().Before("gorm:delete").Register("test:count", inc)
	return &n
}

func TestJWTRequestsQueryNoDatabase(t *testing.T) {
	e, env, jwt, key := authOnly(t)
	n := countQueries(env.DB)
	// Warm the caches. A read is cached only if no invalidation arrived while it ran (the setup's
	// own writes publish theirs, heard a moment later through Redis) and only once the node hears
	// the heartbeat of its invalidation channel: warm until a JWT request and an API key request
	// cost no statement, then count.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		before := n.Load()
		if code := serve(e, "Authorization", "Bearer "+jwt); code != 204 {
			t.Fatalf("JWT request = %d", code)
		}
		if code := serve(e, "X-API-Key", key); code != 204 {
			t.Fatalf("API key request = %d", code)
		}
		if n.Load() == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15s a JWT and an API key request still query the database (%d statements)", n.Load()-before)
		}
	}
	start := n.Load()
	for i := 0; i < 100; i++ {
		if serve(e, "Authorization", "Bearer "+jwt) != 204 || serve(e, "X-API-Key", key) != 204 {
			t.Fatal("request refused")
		}
	}
	if got := n.Load() - start; got != 0 {
		t.Errorf("200 authenticated requests made %d database queries, want 0", got)
	}
}

func BenchmarkAuthMiddlewareJWT(b *testing.B) {
	e, _, jwt, _ := authOnly(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if serve(e, "Authorization", "Bearer "+jwt) != 204 {
			b.Fatal("refused")
		}
	}
}

func BenchmarkAuthMiddlewareAPIKey(b *testing.B) {
	e, _, _, key := authOnly(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if serve(e, "X-API-Key", key) != 204 {
			b.Fatal("refused")
		}
	}
}
