package api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/services"
)

// TestEnvironmentBoundKeysAndTheProject: a key bound to one environment cannot reach the project
// as a whole: not its settings, not its other environments, not its deletion — and it cannot even
// ask about another environment's flags through a list filter.
func TestEnvironmentBoundKeysAndTheProject(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	s.req("POST", flags, `{"key":"checkout"}`, "auth", a.dev).want(t, 201)
	s.req("POST", flags+"/checkout/environments/production/activate", nil, "auth", a.dev).want(t, 200)
	admin := decode[api.APIKeyResponse](t, s.req("POST", o+"/api-keys", `{"name":"dev admin","scopes":["admin"],"project":"default",
		"environment":"development"}`, "auth", a.admin).want(t, 201)).Secret
	before := s.snapshot(a.org.ID)
	for _, tc := range []struct{ method, path, body string }{
		{"PATCH", o + "/projects/default", `{"client_visible_default":false}`},
		{"POST", o + "/projects/default/environments", `{"key":"qa"}`},
		{"DELETE", o + "/projects/default?confirm=default", ""},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		s.req(tc.method, tc.path, body, "X-API-Key", admin).want(t, 403)
	}
	if after := s.snapshot(a.org.ID); after != before {
		t.Errorf("refused writes changed rows")
	}
	r := s.req("GET", flags+"?environment=production&status=ACTIVE", nil, "X-API-Key", admin).want(t, 422)
	if _, field := r.errorField(); field != "environment" {
		t.Errorf("filtering by another environment: field %q", field)
	}
}

// TestRollingOutFalse: a plan may roll out the false variation of a boolean flag: each stage serves
// it to its share only, and a rollback to zero takes it away again.
func TestRollingOutFalse(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "production")
	cfg := flags + "/legacy-off/environments/production"
	s.req("POST", flags, `{"key":"legacy-off","default_variation":"true"}`, "auth", a.dev).want(t, 201)
	s.req("PATCH", cfg, `{"status":"ACTIVE","fallthrough":{"variation":"true"}}`, "auth", a.dev).want(t, 200)
	s.req("PUT", cfg+"/rollout-plan", `{"variation":"false","stages":[{"percentage":10},{"percentage":50,"after":"1h"}]}`, "auth", a.dev).want(t, 200)
	p := decode[api.PlanResponse](t, s.req("POST", cfg+"/rollout-plan/start", nil, "auth", a.dev).want(t, 200))
	if _, err := s.Svc.Rollouts.ApplyStage(context.Background(), p.ID, 0); err != nil {
		t.Fatal(err)
	}
	off := 0
	for i := 0; i < 1000; i++ {
		if e := s.evaluate("legacy-off", sdk, fmt.Sprintf(`{"user_id":"u%d"}`, i)); e.Value == false {
			off++
		}
	}
	if off < 70 || off > 130 {
		t.Errorf("at the 10%% stage %d of 1000 users get false, want ≈ 100", off)
	}
	g := decode[api.GuardResponse](t, s.req("POST", cfg+"/guards", `{"metric":"error_rate","threshold":0.5,"action":"rollback_to_zero"}`,
		"auth", a.dev).want(t, 201))
	s.req("POST", g.TriggerURL, nil).want(t, 200)
	for i := 0; i < 300; i++ {
		if e := s.evaluate("legacy-off", sdk, fmt.Sprintf(`{"user_id":"u%d"}`, i)); e.Value != true {
			t.Fatalf("after the rollback to zero u%d gets %v, want true", i, e.Value)
		}
	}
}

// TestRatioGuardWithDefaultOn: the control cohort of a boolean rollout is the other boolean, also
// when the default is on; the ratio compares the two.
func TestRatioGuardWithDefaultOn(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	cfg := flags + "/checkout/environments/production"
	s.req("POST", flags, `{"key":"checkout","default_variation":"true"}`, "auth", a.dev).want(t, 201)
	s.req("POST", cfg+"/activate", nil, "auth", a.dev).want(t, 200)
	s.req("PUT", cfg+"/rollout-plan", `{"stages":[{"percentage":30},{"percentage":100,"after":"1h"}]}`, "auth", a.dev).want(t, 200)
	p := decode[api.PlanResponse](t, s.req("POST", cfg+"/rollout-plan/start", nil, "auth", a.dev).want(t, 200))
	if _, err := s.Svc.Rollouts.ApplyStage(context.Background(), p.ID, 0); err != nil {
		t.Fatal(err)
	}
	s.req("POST", cfg+"/guards", `{"metric":"error_rate_ratio","threshold":2,"min_sample":100,"action":"rollback_to_zero"}`, "auth", a.dev).want(t, 201)
	srv, _ := s.sdkKeys(a, "default", "production")
	s.report(srv, "true", 1, 199)   // 0.5%
	s.report(srv, "false", 10, 390) // 2.5%: the rolled-out cohort does better than its control
	if n, err := s.Svc.Guards.Check(context.Background()); err != nil || n != 0 {
		t.Fatalf("Check = %d, %v; want no rollback (ratio 0.2 under 2)", n, err)
	}
	s.report(srv, "true", 40, 160) // now 41/400 ≈ 10%: four times the control's
	if n, err := s.Svc.Guards.Check(context.Background()); err != nil || n != 1 {
		t.Fatalf("Check = %d, %v; want 1 rollback", n, err)
	}
	got, _ := s.rollbackEvent(a)
	if got.ControlSample != 400 || got.ControlRate != 0.025 {
		t.Errorf("control %v over %d, want 0.025 over 400 (the false cohort)", got.ControlRate, got.ControlSample)
	}
}

// TestFlatDefaultValueFollowsTargeting: changing the default value reaches the users the targeting
// does not select.
func TestFlatDefaultValueFollowsTargeting(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "development")
	s.req("POST", flat, `{"key":"pro-only","name":"Pro","status":"ACTIVE","rollout_percentage":100,
		"targeting_rules":[{"attribute":"plan","operator":"equals","value":"pro"}]}`, "auth", a.admin).want(t, 201)
	if e := s.evaluate("pro-only", sdk, `{"user_id":"u1","attributes":{"plan":"free"}}`); e.Value != false {
		t.Fatalf("a free user = %+v before", e)
	}
	f := decode[services.SimpleFlag](t, s.req("PUT", flat+"/pro-only", `{"default_value":true}`, "auth", a.admin).want(t, 200))
	if f.DefaultValue != true || len(f.TargetingRules) != 1 || f.RolloutPercentage != 100 {
		t.Errorf("after default_value true = %+v", f)
	}
	if e := s.evaluate("pro-only", sdk, `{"user_id":"u1","attributes":{"plan":"free"}}`); e.Value != true {
		t.Errorf("a free user = %+v after default_value true, want true", e)
	}
}

// TestRolloutPercentageIsNotInput: a rollout slice's percentage is computed from the weights; one
// that the weights do not give is refused (reading a configuration and sending it back passes).
func TestRolloutPercentageIsNotInput(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	cfg := flags + "/f/environments/production"
	s.req("POST", flags, `{"key":"f"}`, "auth", a.dev).want(t, 201)
	r := s.req("PATCH", cfg, `{"fallthrough":{"rollout":{"variations":[{"variation":"true","percentage":30},{"variation":"false","weight":70}]}}}`,
		"auth", a.dev).want(t, 422)
	if _, field := r.errorField(); field != "fallthrough.rollout.variations[0].percentage" {
		t.Errorf("field %q", field)
	}
	s.req("PATCH", cfg, `{"fallthrough":{"rollout":{"variations":[{"variation":"true","weight":1},{"variation":"false","weight":3}]}}}`, "auth", a.dev).want(t, 200)
	got := s.req("GET", cfg, nil, "auth", a.dev).want(t, 200).JSON()
	s.req("PATCH", cfg, map[string]any{"fallthrough": got["fallthrough"]}, "auth", a.dev).want(t, 200)
}

// TestInvalidUTF8: bytes that are not UTF-8 in a path, query or X-Vane-Environment are a 422
// naming the parameter (Postgres refused them with a 500; SQLite stored them).
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	for _, tc := range []struct{ path, field string }{
		{flags + "/%ff", "flag"},
		{flags + "?tag=%c3", "tag"},
		{o + "/audit-events?actor=%ff", "actor"},
		{flat + "/%ff", "key"},
	} {
		r := s.req("GET", tc.path, nil, "auth", a.admin).want(t, 422)
		if _, field := r.errorField(); field != tc.field {
			t.Errorf("GET %s: field %q, want %q", tc.path, field, tc.field)
		}
	}
	r := s.req("GET", flat, nil, "auth", a.admin, "X-Vane-Environment", "acme/default/prod\xffuction").want(t, 422)
	if _, field := r.errorField(); field != "X-Vane-Environment" {
		t.Errorf("header: field %q", field)
	}
}

// TestDeactivatedWebhookSendsNothing: a delivery still pending when its webhook is deactivated is
// not sent: it fails with the reason (and can be redelivered once the webhook is active again).
func TestDeactivatedWebhookSendsNothing(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	hook := s.webhook(a)
	s.req("POST", flags, `{"key":"noisy"}`, "auth", a.dev).want(t, 201)
	var ids []string
	if err := s.DB.Table("webhook_deliveries").Where("webhook_id = ?", hook).Pluck("id", &ids).Error; err != nil || len(ids) != 1 {
		t.Fatalf("deliveries %v, %v", ids, err)
	}
	s.req("PATCH", o+"/webhooks/"+hook, `{"active":false}`, "auth", a.admin).want(t, 200)
	if retry, err := s.Svc.Webhooks.Deliver(context.Background(), ids[0], false); retry || err != nil {
		t.Fatalf("Deliver = %v, %v", retry, err)
	}
	var status, lastError string
	row := s.DB.Table("webhook_deliveries").Select("status, last_error").Where("id = ?", ids[0]).Row()
	if err := row.Scan(&status, &lastError); err != nil || status != "failed" || lastError != "the webhook is inactive" {
		t.Errorf("delivery = %s %q, %v; want failed because the webhook is inactive", status, lastError, err)
	}
}
