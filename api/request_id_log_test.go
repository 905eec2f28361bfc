package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/logctx"
	"github.com/vanehq/vane/policies"
	"github.com/vanehq/vane/services"
)

// TestRequestIDOnServiceLogLines: a line the services log while handling a request (here the
// reuse of a refresh token, which revokes its family) carries that request's id, as the access
// log line of the same request does, with the logger `vane serve` uses (JSON through logctx).
func TestRequestIDOnServiceLogLines(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.user("cy@example.test")
	var buf bytes.Buffer
	log := slog.New(logctx.Handler{Handler: slog.NewJSONHandler(&lockedWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug})})
	svc := services.New(services.Deps{DB: s.DB, Redis: s.Redis.Client, Config: s.Config, Clock: s.Clock, Log: log})
	plane := dataplane.New(svc.Source, dataplane.Options{Clock: s.Clock, Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	svc.Start(ctx)
	if err := plane.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); plane.Close(context.Background()); svc.Close(context.Background()) })
	enf, err := policies.New()
	if err != nil {
		t.Fatal(err)
	}
	r, err := api.NewRouter(api.Deps{Services: svc, Plane: plane, Enforcer: enf, Log: log, Clock: s.Clock})
	if err != nil {
		t.Fatal(err)
	}
	node := &server{t: t, Env: s.Env, router: r}

	first := decode[api.TokenResponse](t, node.req("POST", "/api/v1/auth/login",
		map[string]string{"username": "cy@example.test", "password": password}).want(t, 200))
	node.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": first.RefreshToken}).want(t, 200)
	s.Clock.Advance(services.RefreshGrace + time.Second)
	reuse := node.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": first.RefreshToken},
		"X-Request-ID", "reuse-42").want(t, 401)
	if got := reuse.Header.Get("X-Request-ID"); got != "reuse-42" {
		t.Fatalf("X-Request-ID echoed %q, want reuse-42", got)
	}

	var service, access int
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch {
		case rec["msg"] == "refresh token reused; token family revoked":
			service++
			if rec["request_id"] != "reuse-42" {
				t.Errorf("service line %s: request_id %v, want reuse-42", line, rec["request_id"])
			}
		case rec["request_id"] == "reuse-42":
			access++
		}
	}
	if service != 1 || access == 0 {
		t.Errorf("%d service lines about the reuse and %d other lines of that request; want 1 and at least 1 (the access log):\n%s",
			service, access, buf.String())
	}
}
