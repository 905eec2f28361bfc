package browser

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vanehq/vane/api"
)

// evaluation is the SDK-key evaluation answer of source 000.
type evaluation struct {
	FlagKey string `json:"flag_key"`
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason"`
}

// TestSource000Dashboard is source 000's dashboard walkthrough end to end: sign in → Feature Flags →
// New Flag → Key/Name/Description → Default: OFF → Add Rule → 10% → Activate; then the SDK key's
// evaluations answer as the management API's dry run says; then the kill switch, which keeps the
// rules; then sign-out.
func TestSource000Dashboard(t *testing.T) {
	s := newSite(t)
	tm := s.newTeam("acme")
	b := s.newBrowser(t)

	b.open("/")
	b.waitText("Sign in to Vane")
	b.readme("sign-in")
	b.signIn("dev@acme.test")

	// A reload keeps the session (the refresh cookie), with no token in web storage.
	b.run("reload", chromedp.Reload())
	b.waitText("Feature Flags")
	var stored int
	b.run("web storage", chromedp.Evaluate(`localStorage.length + sessionStorage.length`, &stored))
	if stored != 0 {
		t.Errorf("web storage holds %d items, want none", stored)
	}

	b.click("Feature Flags")
	b.readme("flags")
	b.choose("Environment", "production")
	b.wait("the production badge", `!!document.querySelector('[aria-label="Production environment"]')`)
	b.click("New Flag")
	b.waitText("New Flag")
	b.fill("Name", "New Checkout Flow")
	if got := b.value("Key"); got != "new-checkout-flow" {
		t.Errorf("Key generated from the name = %q, want new-checkout-flow", got)
	}
	b.fill("Description", "Redesigned single-page checkout experience")
	b.click("Default: OFF")
	b.click("Add Rule")
	b.fill("Attribute", "country")
	b.choose("Operator", "in")
	b.typeKeys("Values", "US\rCA\r")
	b.fill("Rollout percentage", "10")
	b.readme("new-flag")
	b.click("Activate")
	b.wait("status ACTIVE", `(document.querySelector('[data-testid="flag-status"]')||{}).innerText === 'ACTIVE'`)
	b.readme("flag")

	// What the portal saved is what source 000's API calls would have saved.
	tok := s.token("dev@acme.test")
	var simple struct {
		Status            string  `json:"status"`
		RolloutPercentage float64 `json:"rollout_percentage"`
		Description       string  `json:"description"`
	}
	if code := s.call("GET", "/api/v1/feature-flags/new-checkout-flow", nil, &simple,
		"Authorization", "Bearer "+tok, "X-Vane-Environment", "acme/default/production"); code != 200 {
		t.Fatalf("GET the flag = %d", code)
	}
	if simple.Status != "ACTIVE" || simple.RolloutPercentage != 10 || simple.Description != "Redesigned single-page checkout experience" {
		t.Errorf("the flag as the simple API shows it = %+v", simple)
	}
	var saved api.ConfigResponse
	s.call("GET", "/api/v1/orgs/acme/projects/default/flags/new-checkout-flow/environments/production", nil, &saved, "Authorization", "Bearer "+tok)
	if len(saved.Rules) != 1 || len(saved.Rules[0].Conditions) != 1 || saved.Rules[0].Conditions[0].Attribute != "country" ||
		saved.Rules[0].Conditions[0].Operator != "in" || fmt.Sprintf("%s", saved.Rules[0].Conditions[0].Values) != "[\"US\" \"CA\"]" ||
		saved.Fallthrough.Variation != saved.DefaultVariation {
		t.Errorf("the flag's rules as the API shows them = %+v, fallthrough %+v", saved.Rules, saved.Fallthrough)
	}

	// The SDK key evaluates as the management API's dry run says, user by user.
	evaluate := func(user, country string) evaluation {
		var e evaluation
		s.call("POST", "/api/v1/feature-flags/new-checkout-flow/evaluate",
			map[string]any{"user_id": user, "attributes": map[string]string{"country": country}}, &e, "X-API-Key", tm.sdkServer)
		return e
	}
	// The evaluation snapshot follows the portal's three writes (create, rules, activate) one by one:
	// a snapshot that has the flag may not have its activation yet (DISABLED for everyone). Wait for
	// the activated flag: user-0 in the US matches the country rule, whose 10% rollout is a SPLIT.
	deadline := time.Now().Add(30 * time.Second)
	for evaluate("user-0", "US").Reason != "SPLIT" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	on := 0
	for i := range 200 {
		user, country := fmt.Sprintf("user-%d", i), []string{"US", "CA", "FR"}[i%3]
		var dry api.DryRunResponse
		s.call("POST", "/api/v1/orgs/acme/projects/default/flags/new-checkout-flow/environments/production/evaluate",
			map[string]any{"context": map[string]string{"key": user, "country": country}}, &dry, "Authorization", "Bearer "+tok)
		got := evaluate(user, country)
		if got.Enabled != (dry.Value == true) {
			t.Errorf("%s in %s: SDK evaluation enabled=%v, the API's dry run says %v", user, country, got.Enabled, dry.Value)
		}
		if got.Enabled && country == "FR" {
			t.Errorf("%s in FR is in the rollout but matches no rule", user)
		}
		if got.Enabled {
			on++
		}
	}
	if on == 0 || on > 40 { // 10% of ~133 eligible users
		t.Errorf("%d of 200 users enabled, want about 13", on)
	}

	// The kill switch: a confirmation that says the rules are kept; everyone gets the default.
	b.click("Kill switch")
	b.waitText("The rules are kept")
	b.click("Turn off")
	b.wait("status DISABLED", `(document.querySelector('[data-testid="flag-status"]')||{}).innerText === 'DISABLED'`)
	deadline = time.Now().Add(30 * time.Second)
	for evaluate("user-0", "US").Reason != "DISABLED" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 50 {
		if e := evaluate(fmt.Sprintf("user-%d", i), "US"); e.Enabled {
			t.Fatalf("user-%d is enabled after the kill switch: %+v", i, e)
		}
	}
	var cfg api.ConfigResponse
	s.call("GET", "/api/v1/orgs/acme/projects/default/flags/new-checkout-flow/environments/production", nil, &cfg, "Authorization", "Bearer "+tok)
	if len(cfg.Rules) != 1 {
		t.Errorf("after the kill switch the flag has %d rules, want its 1 rule kept", len(cfg.Rules))
	}

	// Sign-out ends the session: a reload lands on the sign-in page.
	b.click("User menu")
	b.waitText("Change password")
	b.click("Sign out")
	b.waitText("Sign in to Vane")
	b.run("reload", chromedp.Reload())
	b.waitText("Sign in to Vane")
	if b.has("Feature Flags") {
		t.Error("signed out, the page still shows Feature Flags")
	}
}
