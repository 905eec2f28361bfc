package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/metrics"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/jobs"
	"github.com/vanehq/vane/policies"
	"github.com/vanehq/vane/services"
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

	node, _ := s.metered(t)
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
		`vane_snapshot_flags_compiled_total `,
		`go_sql_max_open_connections{db_name="vane"}`,
		`vane_sse_connections 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "vane_snapshot_flags_compiled_total 0\n") {
		t.Error("no flag compiled although the node built the environment")
	}
	for _, never := range []string{"checkout", "acme", "/api/v1/orgs/acme"} {
		if strings.Contains(body, never) {
			t.Errorf("/metrics carries an unbounded label value %q", never)
		}
	}
}

// metered is a node on s's services and database with its own data plane and a metrics registry
// served at /metrics, wired as `vane serve` wires them; the services report into it too.
func (s *server) metered(t *testing.T) (*server, *metrics.Metrics) {
	t.Helper()
	sqlDB, err := s.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(sqlDB)
	s.Svc.SetHooks(services.Hooks{ChangeLag: m.ChangeLag, GuardChecked: m.GuardChecked, RolledBack: m.RolledBack,
		WebhookDelivered: m.WebhookDelivered})
	plane := dataplane.New(s.Svc.Source, dataplane.Options{Clock: s.Clock, Log: testenv.Logger(t),
		Hooks: dataplane.Hooks{Rebuilt: m.Rebuilt, Compiled: m.Compiled, Evaluated: m.Evaluated, Streams: m.Streams, Changed: m.ChangeNotice}})
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
	return &server{t: t, Env: s.Env, router: r}, m
}

// scrapeUntil scrapes /metrics until every line wanted is in it (background work such as a worker's
// tasks and Redis notices takes its time) and returns the last scrape.
func (s *server) scrapeUntil(t *testing.T, wanted ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		body := string(s.req("GET", "/metrics", nil).want(t, 200).Body)
		var missing []string
		for _, w := range wanted {
			if !strings.Contains(body, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s /metrics still lacks:\n%s", strings.Join(missing, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPrometheusControlPlaneMetrics: after the events happen, a scrape shows the change-notice lag,
// guard checks by outcome and rollbacks by cause, webhook deliveries by outcome, the worker's tasks
// by type and outcome, and the job queues' sizes; labels stay bounded (no organisation, flag or URL).
func TestPrometheusControlPlaneMetrics(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.WebhookAllowPrivate = true })
	a := s.newTenant("acme")
	node, m := s.metered(t)

	received := make(chan struct{}, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		select {
		case received <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(receiver.Close)
	if _, err := s.Svc.Webhooks.Create(context.Background(), services.SystemScope(a.org.ID),
		services.WebhookInput{URL: receiver.URL + "/hook", Events: []string{"feature_flag.auto_rolled_back"}}); err != nil {
		t.Fatal(err)
	}
	// A worker on a Redis of its own (see queueRedis), reporting its tasks; the queue's sizes are
	// scraped from it.
	opts := queueRedis(t)
	w, err := jobs.NewWorker(opts, s.Svc, testenv.Logger(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	w.Observe(m.TaskDone)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	q := jobs.NewQueue(opts)
	t.Cleanup(q.Close)
	m.WatchQueues(q.Sizes)
	if err := q.ScheduleStage(context.Background(), "plan-in-a-day", 1, time.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}

	sdk, _, trigger := s.guarded(a, `{"metric":"error_rate","threshold":0.05,"window":"5m","min_sample":100,"action":"rollback_to_zero"}`)
	s.report(sdk, "true", 40, 10)
	if n, err := s.Svc.Guards.Check(context.Background()); err != nil || n != 0 {
		t.Fatalf("check with 50 samples = %d, %v; want no rollback", n, err)
	}
	s.report(sdk, "true", 0, 150)
	if n, err := s.Svc.Guards.Check(context.Background()); err != nil || n != 1 {
		t.Fatalf("check after the breach = %d, %v; want 1 rollback", n, err)
	}
	s.req("POST", trigger, nil).want(t, 200)

	body := node.scrapeUntil(t,
		`vane_guard_checks_total{outcome="too_few_samples"} 1`,
		`vane_guard_checks_total{outcome="breached"} 1`,
		`vane_guard_rollbacks_total{cause="guard"} 1`,
		`vane_guard_rollbacks_total{cause="trigger"} 1`,
		`vane_webhook_deliveries_total{outcome="succeeded"}`,
		`vane_tasks_total{outcome="ok",type="webhooks:deliver"}`,
		`vane_queue_tasks{queue="default",state="scheduled"} 1`,
		`vane_change_notice_lag_seconds_count`,
		`go_sql_open_connections{db_name="vane"}`,
	)
	select {
	case <-received:
	default:
		t.Error("the webhook receiver got nothing, yet a delivery counted as succeeded")
	}
	for _, never := range []string{"acme", "checkout", receiver.URL, "plan-in-a-day"} {
		if strings.Contains(body, never) {
			t.Errorf("/metrics carries an unbounded label value %q", never)
		}
	}
}
