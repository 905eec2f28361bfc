package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/metrics"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/policies"
)

// TestPrometheusMetrics: /metrics serves the evaluation counter by reason and request latency by
// route template (never a raw path, never a flag key or an organisation), and the pool's stats.
func TestPrometheusMetrics(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"checkout"}`, "auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/checkout/environments/production", `{"status":"ACTIVE","rollout_percentage":100}`, "auth", a.dev).want(t, 200)

	sqlDB, err := s.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(sqlDB)
	plane := dataplane.New(s.Svc.Source, dataplane.Options{Clock: s.Clock, Log: testenv.Logger(t),
		Hooks: dataplane.Hooks{Rebuilt: m.Rebuilt, Evaluated: m.Evaluated, Streams: m.Streams, Changed: m.ChangeNotice}})
	ctx, cancel := context.WithCancel(context.Background())
	if err := plane.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); plane.Close(context.Background()) })
	enf, err := policies.New()
	if err != nil {
		t.Fatal(err)
	}
	r, err := api.NewRouter(api.Deps{Services: s.Svc, Plane: plane, Enforcer: enf, Log: testenv.Logger(t), Clock: s.Clock,
		Metrics: m, MetricsRoute: true})
	if err != nil {
		t.Fatal(err)
	}
	node := &server{t: t, Env: s.Env, router: r}
	for i := 0; i < 3; i++ {
		node.evaluate("checkout", sdk, `{"user_id":"u1"}`)
	}
	node.evaluate("no-such-flag", sdk, `{"user_id":"u1"}`)
	node.req("GET", "/api/v1/orgs/acme/projects/default/flags/checkout", nil, "auth", a.viewer).want(t, 200)

	body := string(node.req("GET", "/metrics", nil).want(t, 200).Body)
	for _, want := range []string{
		`vane_evaluations_total{reason="DEFAULT"} 3`,
		`vane_evaluations_total{reason="FLAG_NOT_FOUND"} 1`,
		`vane_http_request_duration_seconds_count{code="200",method="POST",route="/api/v1/feature-flags/:key/evaluate"} 4`,
		`vane_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/orgs/:org/projects/:project/flags/:flag"} 1`,
		`vane_snapshot_rebuild_duration_seconds_count{outcome="ok"}`,
		`go_sql_max_open_connections{db_name="vane"}`,
		`vane_sse_connections 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, never := range []string{"checkout", "acme", "/api/v1/orgs/acme"} {
		if strings.Contains(body, never) {
			t.Errorf("/metrics carries an unbounded label value %q", never)
		}
	}
}
