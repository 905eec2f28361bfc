package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// guarded is a flag "checkout" in production with a running plan (stages 10% and 30% applied,
// 100% still to come), as a worker would have left it.
func (s *server) guarded(a *tenant, guard string) (sdk string, planID string, trigger string) {
	s.t.Helper()
	ctx := context.Background()
	sc := services.SystemScope(a.org.ID)
	s.req("POST", flags, `{"key":"checkout"}`, "auth", a.dev).want(s.t, 201)
	s.req("POST", flags+"/checkout/environments/production/activate", nil, "auth", a.dev).want(s.t, 200)
	s.req("PUT", flags+"/checkout/environments/production/rollout-plan", `{"stages":[{"percentage":10},{"percentage":30,"after":"1s"},{"percentage":100,"after":"1h"}]}`,
		"auth", a.dev).want(s.t, 200)
	p := decode[api.PlanResponse](s.t, s.req("POST", flags+"/checkout/environments/production/rollout-plan/start", nil, "auth", a.dev).want(s.t, 200))
	for _, pos := range []int{0, 1} {
		if _, err := s.Svc.Rollouts.ApplyStage(ctx, p.ID, pos); err != nil {
			s.t.Fatal(err)
		}
	}
	g := decode[api.GuardResponse](s.t, s.req("POST", flags+"/checkout/environments/production/guards", guard, "auth", a.dev).want(s.t, 201))
	_ = sc
	sdk, _ = s.sdkKeys(a, "default", "production")
	return sdk, p.ID, g.TriggerURL
}

func (s *server) report(sdk, variation string, errors, successes int) {
	s.t.Helper()
	s.req("POST", "/api/v1/sdk/metrics", fmt.Sprintf(`{"metrics":[{"flag_key":"checkout","variation":%q,"evaluations":%d,"errors":%d,"successes":%d}]}`,
		variation, errors+successes, errors, successes), "X-API-Key", sdk).want(s.t, 202)
}

func (s *server) onShare(sdk string) int {
	s.t.Helper()
	on := 0
	for u := 0; u < 1000; u++ {
		if s.evaluate("checkout", sdk, fmt.Sprintf(`{"user_id":"user-%d"}`, u)).Enabled {
			on++
		}
	}
	return on / 10
}

func TestGuardRollsBackOnBreach(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	hook, err := s.Svc.Webhooks.Create(context.Background(), services.SystemScope(a.org.ID),
		services.WebhookInput{URL: exampleHook, Events: []string{"feature_flag.auto_rolled_back"}})
	if err != nil {
		t.Fatal(err)
	}
	sdk, planID, _ := s.guarded(a, `{"metric":"error_rate","threshold":0.05,"window":"5m","min_sample":100,"action":"rollback_to_zero"}`)
	if p := s.onShare(sdk); p < 25 || p > 35 {
		t.Fatalf("before the breach %d%% are on, want ≈30", p)
	}
	ctx := context.Background()
	// Too few samples: nothing happens, however bad.
	s.report(sdk, "true", 40, 10)
	if n, err := s.Svc.Guards.Check(ctx); err != nil || n != 0 {
		t.Fatalf("check with 50 samples = %d, %v; want no rollback", n, err)
	}
	// Enough samples, 15% errors: one check rolls back.
	s.report(sdk, "true", 0, 150)
	if n, err := s.Svc.Guards.Check(ctx); err != nil || n != 1 {
		t.Fatalf("check after the breach = %d, %v; want 1 rollback", n, err)
	}
	plan := decode[api.PlanResponse](t, s.req("GET", flags+"/checkout/environments/production/rollout-plan", nil, "auth", a.viewer).want(t, 200))
	if plan.State != models.PlanRolledBack || !strings.Contains(plan.Reason, "error_rate") || !strings.Contains(plan.Reason, "sample 200") {
		t.Errorf("plan after the breach = %s %q", plan.State, plan.Reason)
	}
	if p := s.onShare(sdk); p != 0 {
		t.Errorf("after rollback_to_zero %d%% are on", p)
	}
	ev := decode[api.AuditEventList](t, s.req("GET", o+"/audit-events?action=feature_flag.auto_rolled_back", nil, "auth", a.admin).want(t, 200))
	if len(ev.Items) != 1 || !strings.Contains(string(ev.Items[0].After), `"value":0.2`) {
		t.Errorf("auto_rolled_back events = %+v", ev.Items)
	}
	if n, _ := s.Svc.Guards.Check(ctx); n != 0 {
		t.Error("a rolled-back plan was rolled back again")
	}
	// The rollback history, readable by a VIEWER (the audit log is not): what, why, who reported.
	rbs := decode[api.RollbackList](t, s.req("GET", flags+"/checkout/environments/production/rollbacks", nil, "auth", a.viewer).want(t, 200))
	if len(rbs.Items) != 1 {
		t.Fatalf("rollbacks = %+v, want 1", rbs.Items)
	}
	rb := rbs.Items[0]
	if rb.Action != "rollback_to_zero" || rb.Trigger || rb.Metric != "error_rate" || rb.Value != 0.2 || rb.Threshold != 0.05 ||
		rb.Sample != 200 || rb.Reason != plan.Reason || rb.At.IsZero() {
		t.Errorf("rollback = %+v", rb)
	}
	if len(rb.Reporters) != 1 || rb.Reporters[0].Variation != "true" || rb.Reporters[0].Errors != 40 || rb.Reporters[0].Sample != 200 ||
		!strings.HasPrefix(rb.Reporters[0].SDKKey, "srv-") || strings.Contains(rb.Reporters[0].SDKKey, sdk[4:]) {
		t.Errorf("reporters = %+v, want the server key (masked) with 40 errors in 200", rb.Reporters)
	}
	// Another organisation's people see no such flag; a development environment has no rollbacks.
	b := s.newTenant("globex")
	s.req("GET", flags+"/checkout/environments/production/rollbacks", nil, "auth", b.admin).want(t, 404)
	if rbs := decode[api.RollbackList](t, s.req("GET", flags+"/checkout/environments/development/rollbacks", nil, "auth", a.viewer).want(t, 200)); len(rbs.Items) != 0 {
		t.Errorf("development rollbacks = %+v, want none", rbs.Items)
	}
	// The rollback queued exactly one webhook delivery, for the one event the hook asked for.
	if n := s.count("webhook_deliveries", "webhook_id = ? AND event = ?", hook.ID, "feature_flag.auto_rolled_back"); n != 1 {
		t.Errorf("%d webhook deliveries for the rollback, want 1", n)
	}
	if n := s.count("webhook_deliveries", "webhook_id = ?", hook.ID); n != 1 {
		t.Errorf("%d deliveries in all; the filter let other events through", n)
	}
	_ = planID
}

func TestGuardSparesPausedPlansAndRatios(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	ctx := context.Background()
	sdk, _, _ := s.guarded(a, `{"metric":"error_rate_ratio","threshold":2,"min_sample":100,"action":"rollback_to_previous_stage"}`)
	// The control cohort errs as much: a ratio of 1 is no breach.
	s.report(sdk, "true", 10, 190)
	s.report(sdk, "false", 10, 190)
	if n, _ := s.Svc.Guards.Check(ctx); n != 0 {
		t.Fatal("equal error rates breached a ratio guard")
	}
	// Paused plans are left alone.
	s.req("POST", flags+"/checkout/environments/production/rollout-plan/pause", nil, "auth", a.dev).want(t, 200)
	s.report(sdk, "true", 100, 100)
	if n, _ := s.Svc.Guards.Check(ctx); n != 0 {
		t.Fatal("a paused plan was rolled back")
	}
	s.req("POST", flags+"/checkout/environments/production/rollout-plan/resume", nil, "auth", a.dev).want(t, 200)
	if n, err := s.Svc.Guards.Check(ctx); err != nil || n != 1 {
		t.Fatalf("ratio breach on a running plan = %d, %v", n, err)
	}
	if p := s.onShare(sdk); p < 5 || p > 15 {
		t.Errorf("after rollback_to_previous_stage %d%% are on, want ≈10 (the stage before 30%%)", p)
	}
}

func TestTriggerURL(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _, trigger := s.guarded(a, `{"metric":"error_rate","threshold":0.5,"action":"kill_switch"}`)
	if !strings.HasPrefix(trigger, "/api/v1/triggers/vtr_") {
		t.Fatalf("trigger url = %q", trigger)
	}
	r := decode[api.TriggerResponse](t, s.req("POST", trigger, nil).want(t, 200))
	if r.Action != "kill_switch" {
		t.Errorf("trigger answered %+v", r)
	}
	if e := s.evaluate("checkout", sdk, `{"user_id":"u1"}`); e.Reason != "DISABLED" {
		t.Errorf("after the trigger the flag serves %+v", e)
	}
	s.req("POST", flags+"/checkout/environments/production/enable", nil, "auth", a.dev).want(t, 200)
	s.req("POST", trigger, nil).want(t, 200) // acts again on every call
	if e := s.evaluate("checkout", sdk, `{"user_id":"u1"}`); e.Reason != "DISABLED" {
		t.Errorf("a second call did not act: %+v", e)
	}
	s.req("POST", "/api/v1/triggers/vtr_notarealsecret12345", nil).want(t, 404)
	guards := decode[[]api.GuardResponse](t, s.req("GET", flags+"/checkout/environments/production/guards", nil, "auth", a.viewer).want(t, 200))
	if len(guards) != 1 || guards[0].TriggerURL != "" || guards[0].LastTriggeredAt == nil {
		t.Fatalf("guards = %+v (trigger URLs must not be listed)", guards)
	}
	rot := decode[api.GuardResponse](t, s.req("POST", flags+"/checkout/environments/production/guards/"+guards[0].ID+"/trigger/rotate", nil, "auth", a.dev).want(t, 200))
	s.req("POST", trigger, nil).want(t, 404)
	s.req("POST", rot.TriggerURL, nil).want(t, 200)
	if n := s.count("audit_events", "org_id = ? AND action = ?", a.org.ID, "feature_flag.auto_rolled_back"); n != 3 {
		t.Errorf("%d trigger uses audited, want 3", n)
	}
	rbs := decode[api.RollbackList](t, s.req("GET", flags+"/checkout/environments/production/rollbacks", nil, "auth", a.viewer).want(t, 200))
	if len(rbs.Items) != 3 || !rbs.Items[0].Trigger || rbs.Items[0].Action != "kill_switch" || rbs.Items[0].Caller == "" ||
		!strings.Contains(rbs.Items[0].Reason, "trigger URL was called") || rbs.Items[0].At.Before(rbs.Items[2].At) {
		t.Errorf("rollbacks after three trigger calls = %+v, want 3, newest first, each naming its caller", rbs.Items)
	}
	// Rate-limited per URL.
	limited := false
	for i := 0; i < 40 && !limited; i++ {
		limited = s.req("POST", rot.TriggerURL, nil).Code == 429
	}
	if !limited {
		t.Error("40 calls a minute were not limited")
	}
}

func TestMetricsValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "production")
	old := time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	cases := map[string]string{
		`{"metrics":[]}`: "metrics",
		`{"metrics":[{"flag_key":"f","variation":"true","errors":-1}]}`:               "metrics[0].errors",
		`{"metrics":[{"flag_key":"","variation":"true","errors":1}]}`:                 "metrics[0].flag_key",
		`{"metrics":[{"flag_key":"f","variation":"true","timestamp":"` + old + `"}]}`: "metrics[0].timestamp",
	}
	for body, field := range cases {
		r := s.req("POST", "/api/v1/sdk/metrics", body, "X-API-Key", sdk).want(t, 422)
		if _, f := r.errorField(); f != field {
			t.Errorf("%s: field %q, want %q", body, f, field)
		}
	}
	big := `{"metrics":[` + strings.TrimSuffix(strings.Repeat(`{"flag_key":"f","variation":"v","evaluations":1},`, 1001), ",") + `]}`
	s.req("POST", "/api/v1/sdk/metrics", big, "X-API-Key", sdk).want(t, 422)
	if n := s.count("metric_buckets", "1 = 1"); n != 0 {
		t.Errorf("refused metrics wrote %d buckets", n)
	}
	// Points of one minute add up in one bucket.
	for i := 0; i < 3; i++ {
		s.req("POST", "/api/v1/sdk/metrics", `{"metrics":[{"flag_key":"f","variation":"v","evaluations":5,"errors":1,"successes":4},
			{"flag_key":"f","variation":"v","evaluations":5,"errors":1,"successes":4}]}`, "X-API-Key", sdk).want(t, 202)
	}
	var b models.MetricBucket
	if err := s.DB.Take(&b).Error; err != nil || b.Evaluations != 30 || b.Errors != 6 {
		t.Errorf("bucket = %+v, %v; want 30 evaluations, 6 errors", b, err)
	}
}

func TestPlanStageVariationAndValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	s.req("POST", flags, `{"key":"color","type":"string","variations":[{"id":"blue","value":"blue"},{"id":"green","value":"green"},{"id":"red","value":"red"}]}`,
		"auth", a.dev).want(t, 201)
	plan := flags + "/color/environments/production/rollout-plan"
	for body, field := range map[string]string{
		`{"stages":[{"percentage":50},{"percentage":20,"after":"1h"}]}`: "stages[1].percentage",
		`{"stages":[{"percentage":150}]}`:                               "stages[0].percentage",
		`{"stages":[{"percentage":10,"after":"soon"}]}`:                 "stages[0].after",
		`{"stages":[{"percentage":10,"at":"2020-01-01T00:00:00Z"}]}`:    "stages[0].at",
		`{"stages":[{"percentage":10,"variation":"purple"}]}`:           "stages[0].variation",
		`{"stages":[]}`: "stages",
		`{"stages":[{"percentage":10,"after":"2h"},{"percentage":20,"after":"1h"}]}`: "stages[1]",
	} {
		r := s.req("PUT", plan, body, "auth", a.dev).want(t, 422)
		if _, f := r.errorField(); f != field {
			t.Errorf("%s: field %q, want %q", body, f, field)
		}
	}
	s.req("GET", plan, nil, "auth", a.dev).want(t, 404) // nothing was stored
	s.req("POST", flags+"/color/environments/production/activate", nil, "auth", a.dev).want(t, 200)
	s.req("PUT", plan, `{"stages":[{"percentage":100,"variation":"red"}]}`, "auth", a.dev).want(t, 200)
	p := decode[api.PlanResponse](t, s.req("POST", plan+"/start", nil, "auth", a.dev).want(t, 200))
	if _, err := s.Svc.Rollouts.ApplyStage(context.Background(), p.ID, 0); err != nil {
		t.Fatal(err)
	}
	sdk, _ := s.sdkKeys(a, "default", "production")
	if e := s.evaluate("color", sdk, `{"user_id":"u1"}`); e.Value != "red" {
		t.Errorf("after a stage serving red at 100%%: %+v", e)
	}
	s.req("PUT", plan, `{"stages":[{"percentage":10}]}`, "auth", a.dev).want(t, 200) // a completed plan may be replaced
	s.req("POST", plan+"/start", nil, "auth", a.dev).want(t, 200)
	s.req("PUT", plan, `{"stages":[{"percentage":10}]}`, "auth", a.dev).want(t, 409) // a running one may not
	s.req("DELETE", plan, nil, "auth", a.dev).want(t, 409)
}

func TestGuardAndWebhookValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	s.req("POST", flags, `{"key":"f"}`, "auth", a.dev).want(t, 201)
	g := flags + "/f/environments/production/guards"
	cases := []struct {
		path, body string
		token      string
		status     int
		field      string
	}{
		{g, `{"metric":"latency","threshold":0.1,"action":"kill_switch"}`, a.dev, 422, "metric"},
		{g, `{"metric":"error_rate","threshold":1.5,"action":"kill_switch"}`, a.dev, 422, "threshold"},
		{g, `{"metric":"error_rate","threshold":0.1,"action":"panic"}`, a.dev, 422, "action"},
		{g, `{"metric":"error_rate","threshold":0.1,"action":"kill_switch","window":"5 minutes"}`, a.dev, 422, "window"},
		{g, `{"metric":"error_rate","threshold":0.1,"action":"kill_switch","window":"10s"}`, a.dev, 422, "window"},
		{g, `{"metric":"error_rate","threshold":0.1,"action":"kill_switch","comparator":"lt"}`, a.dev, 422, "comparator"},
		{g, `{"metric":"error_rate","threshold":"high","action":"kill_switch"}`, a.dev, 400, "threshold"},
		{o + "/webhooks", `{"url":"ftp://example.com/x"}`, a.admin, 422, "url"},
		{o + "/webhooks", `{"url":"not a url"}`, a.admin, 422, "url"},
		{o + "/webhooks", `{"url":"` + exampleHook + `","events":["has space"]}`, a.admin, 422, "events[0]"},
		{o + "/webhooks", `{"url":"` + exampleHook + `","secret":"short"}`, a.admin, 422, "secret"},
		{o + "/webhooks", `{"url":"` + exampleHook + `","retries":3}`, a.admin, 400, "retries"},
	}
	before := s.snapshot(a.org.ID)
	for _, tc := range cases {
		r := s.req("POST", tc.path, tc.body, "auth", tc.token)
		if _, f := r.errorField(); r.Code != tc.status || f != tc.field {
			t.Errorf("POST %s %s = %d %q, want %d %q (%s)", tc.path, tc.body, r.Code, f, tc.status, tc.field, r.Body)
		}
	}
	if after := s.snapshot(a.org.ID); after != before {
		t.Errorf("refused guard and webhook writes changed rows")
	}
	// A webhook's secret is shown once; lists and reads never show it.
	w := decode[api.WebhookResponse](t, s.req("POST", o+"/webhooks", `{"url":"`+exampleHook+`"}`, "auth", a.admin).want(t, 201))
	if !strings.HasPrefix(w.Secret, "whsec_") {
		t.Fatalf("created webhook = %+v", w)
	}
	if body := string(s.req("GET", o+"/webhooks", nil, "auth", a.admin).want(t, 200).Body); strings.Contains(body, w.Secret) {
		t.Error("the webhook list shows the secret")
	}
}
