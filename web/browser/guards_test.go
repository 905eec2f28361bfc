package browser

import (
	"context"
	"net/url"
	"regexp"
	"testing"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/keys"
)

// TestGuardsAndRollbackHistory: a DEVELOPER adds a safety guard on the flag page and sees its trigger
// URL once (gone after a reload); calling that URL rolls back and the rollback history says so; a
// guard's breach during a running plan appears there too, with the measured rate and the SDK key
// that reported it; a deleted guard is gone; a VIEWER reads the history and is offered no control.
func TestGuardsAndRollbackHistory(t *testing.T) {
	s := newSite(t)
	tm := s.newTeam("acme")
	s.withWorker()
	s.newFlag(tm, "checkout", "Checkout")
	s.activate("checkout", "production")
	const page = "/orgs/acme/projects/default/flags/checkout?env=production"
	const flagAPI = "/api/v1/orgs/acme/projects/default/flags/checkout/environments/production"
	dev := "Bearer " + s.token("dev@acme.test")

	b := s.newBrowser(t)
	b.signIn("dev@acme.test")
	b.open(page)
	b.waitText("No guards")
	b.fill("Threshold (%)", "5")
	b.choose("Action", "kill_switch")
	b.click("Add guard")
	b.wait("the trigger URL", `!!document.querySelector('[data-testid="guard-trigger-url"]')`)
	var shown string
	b.run("read the trigger URL", evaluate(`document.querySelector('[data-testid="guard-trigger-url"]').innerText`, &shown))
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(s.url) + `/api/v1/triggers/vtr_\w+$`).MatchString(shown) {
		t.Fatalf("trigger URL shown = %q, want %s/api/v1/triggers/vtr_…", shown, s.url)
	}
	b.waitText("Error rate of the rolled-out cohort > 5% over 5m, at least 100 evaluations")
	if !b.has("Copy trigger URL") {
		t.Error("the trigger URL has no copy button")
	}
	// Shown once: after a reload the guard is listed without it.
	b.run("reload", reload())
	b.waitText("Turn the flag off (kill switch)")
	if b.hasText("vtr_") {
		t.Error("the trigger URL is still shown after a reload")
	}

	// A monitoring tool calls the URL: the flag is turned off and the history says why.
	u, err := url.Parse(shown)
	if err != nil {
		t.Fatal(err)
	}
	if code := s.call("POST", u.Path, nil, nil); code != 200 {
		t.Fatalf("POST the trigger URL = %d", code)
	}
	b.run("reload", reload())
	b.waitText("Its trigger URL was called")
	b.waitText("the trigger URL, called from 127.0.0.1")
	b.wait("the flag turned off", `(document.querySelector('[data-testid="flag-status"]')||{}).innerText === 'DISABLED'`)

	// The guard is deleted through its confirmation.
	b.click("Delete guard 1")
	b.waitText("Nothing watches for it any more")
	b.click("Delete guard")
	b.waitText("No guards")

	// A guard breached while a plan runs: the history shows the rate, the threshold and who reported.
	if code := s.call("POST", flagAPI+"/enable", nil, nil, "Authorization", dev); code != 200 {
		t.Fatalf("enable = %d", code)
	}
	var g api.GuardResponse
	if code := s.call("POST", flagAPI+"/guards", map[string]any{"metric": "error_rate", "threshold": 0.05, "min_sample": 100,
		"action": "rollback_to_zero"}, &g, "Authorization", dev); code != 201 {
		t.Fatalf("create guard = %d", code)
	}
	if code := s.call("PUT", flagAPI+"/rollout-plan", map[string]any{"stages": []map[string]any{{"percentage": 10}, {"percentage": 50, "after": "1h"}}},
		nil, "Authorization", dev); code != 200 {
		t.Fatalf("put plan = %d", code)
	}
	s.syncClock()
	if code := s.call("POST", flagAPI+"/rollout-plan/start", nil, nil, "Authorization", dev); code != 200 {
		t.Fatalf("start plan = %d", code)
	}
	b.run("reload", reload())
	b.wait("stage 1 applied", `/Stage 1: 10%\s+applied/.test(document.body.innerText)`)
	metrics := map[string]any{"metrics": []map[string]any{{"flag_key": "checkout", "variation": "true", "evaluations": 200, "errors": 40, "successes": 160}}}
	if code := s.call("POST", "/api/v1/sdk/metrics", metrics, nil, "X-API-Key", tm.sdkServer); code != 202 {
		t.Fatalf("report metrics = %d", code)
	}
	if _, err := s.env.Svc.Guards.Check(context.Background()); err != nil { // the worker's periodic check may get there first
		t.Fatal(err)
	}
	b.wait("the plan rolled back", `(document.querySelector('[data-testid="plan-state"]')||{}).innerText === 'ROLLED_BACK'`)
	b.waitText("20% errors, threshold 5%, over 200 evaluations")
	b.waitText(keys.Mask(tm.sdkServer) + " reported 40 errors in 200 evaluations of true")
	b.readme("rollout-guards", "Safety guards")

	// A VIEWER reads the guards and the history, and is offered none of their controls.
	v := s.newBrowser(t)
	v.signIn("viewer@acme.test")
	v.open(page)
	v.waitText("Its trigger URL was called")
	v.waitText("20% errors, threshold 5%")
	for _, control := range []string{"Add guard", "Delete guard 1", "New trigger URL for guard 1"} {
		if v.has(control) {
			t.Errorf("a VIEWER sees %q", control)
		}
	}
	if v.hasText("vtr_") {
		t.Error("a VIEWER sees a trigger URL")
	}
}
