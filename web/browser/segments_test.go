package browser

import (
	"testing"

	"github.com/vanehq/vane/api"
)

// TestSegmentRuleWithWeightedRollout: a segment made by pasting keys, then a rule of a flag that
// targets it and serves a weighted rollout (relative weights 1 and 3 preview as 25% and 75%); the
// saved configuration is what the API returns, and the dry run answers by it.
func TestSegmentRuleWithWeightedRollout(t *testing.T) {
	s := newSite(t)
	tm := s.newTeam("acme")
	s.newFlag(tm, "new-search", "New search")
	b := s.newBrowser(t)
	b.signIn("dev@acme.test")

	b.click("Segments")
	b.click("New Segment")
	b.fill("Segment name", "Beta testers")
	b.fill("Included keys", "u1\nu2, u3")
	b.waitText("3 keys")
	b.click("Save segment")
	b.waitText("beta-testers")

	b.open("/orgs/acme/projects/default/flags/new-search?env=development")
	b.waitText("Targeting rules")
	b.click("Add Rule")
	b.click("Remove condition")
	b.click("Add segment condition")
	b.choose("Segment", "beta-testers")
	b.choose("Rule 1 serves", "__rollout")
	b.fill("Weight of True", "1")
	b.fill("Weight of False", "3")
	b.waitText("25.0%")
	b.waitText("75.0%")
	b.click("Save changes")
	b.wait("saved", `!document.body.innerText.includes('You have unsaved changes')`)

	tok := s.token("dev@acme.test")
	var cfg api.ConfigResponse
	s.call("GET", "/api/v1/orgs/acme/projects/default/flags/new-search/environments/development", nil, &cfg, "Authorization", "Bearer "+tok)
	if len(cfg.Rules) != 1 || len(cfg.Rules[0].Conditions) != 1 || cfg.Rules[0].Conditions[0].Segment != "beta-testers" ||
		cfg.Rules[0].Serve.Rollout == nil || len(cfg.Rules[0].Serve.Rollout.Variations) != 2 ||
		cfg.Rules[0].Serve.Rollout.Variations[0].Weight != 1 || cfg.Rules[0].Serve.Rollout.Variations[1].Weight != 3 {
		t.Fatalf("saved rules = %+v", cfg.Rules)
	}
	for _, tc := range []struct {
		user, reason string
	}{{"u1", "SPLIT"}, {"u2", "SPLIT"}, {"someone-else", "DEFAULT"}} {
		var dry api.DryRunResponse
		s.call("POST", "/api/v1/orgs/acme/projects/default/flags/new-search/environments/development/evaluate",
			map[string]any{"context": map[string]string{"key": tc.user}}, &dry, "Authorization", "Bearer "+tok)
		if string(dry.Reason) != tc.reason {
			t.Errorf("dry run for %s: reason %s, want %s (%+v)", tc.user, dry.Reason, tc.reason, dry)
		}
	}
}

// TestSegmentConditions: a segment's conditions are edited as rows (attribute, operator, values as
// chips), like a rule's: an invalid regex is refused naming the condition, a fixed one is saved and
// decides who is in the segment where a rule uses it, and removing the row removes the condition.
func TestSegmentConditions(t *testing.T) {
	s := newSite(t)
	tm := s.newTeam("acme")
	s.newFlag(tm, "priority-support", "Priority support")
	tok := "Bearer " + s.token("dev@acme.test")
	b := s.newBrowser(t)
	b.signIn("dev@acme.test")
	b.click("Segments")
	b.click("New Segment")
	b.fill("Segment name", "Enterprise customers")
	b.click("Add condition")
	b.fill("Attribute", "plan")
	b.choose("Operator", "matches_regex")
	b.typeKeys("Values", "([a-z,") // a comma ends a chip (chromedp's Enter would also submit the form: its key events are not a person's)
	b.click("Save segment")
	b.waitText("conditions[0]")

	b.click("Remove condition")
	b.click("Add condition")
	b.fill("Attribute", "plan")
	b.choose("Operator", "in")
	b.typeKeys("Values", "enterprise,")
	b.click("Save segment")
	b.waitText("enterprise-customers")
	const seg = "/api/v1/orgs/acme/projects/default/segments/enterprise-customers"
	var got api.SegmentResponse
	if code := s.call("GET", seg, nil, &got, "Authorization", tok); code != 200 || len(got.Conditions) != 1 ||
		got.Conditions[0].Attribute != "plan" || got.Conditions[0].Operator != "in" || len(got.Conditions[0].Values) != 1 || string(got.Conditions[0].Values[0]) != `"enterprise"` {
		t.Fatalf("saved segment = %d %+v", code, got.Conditions)
	}

	// A rule that uses the segment: the condition decides who matches.
	const cfg = "/api/v1/orgs/acme/projects/default/flags/priority-support/environments/development"
	if code := s.call("PATCH", cfg, map[string]any{"rules": []map[string]any{{"conditions": []map[string]string{{"segment": "enterprise-customers"}},
		"serve": map[string]string{"variation": "true"}}}}, nil, "Authorization", tok); code != 200 {
		t.Fatalf("PATCH rules = %d", code)
	}
	for plan, want := range map[string]string{"enterprise": "TARGETING_MATCH", "free": "DEFAULT"} {
		var dry api.DryRunResponse
		s.call("POST", cfg+"/evaluate", map[string]any{"context": map[string]string{"key": "c1", "plan": plan}}, &dry, "Authorization", tok)
		if string(dry.Reason) != want {
			t.Errorf("dry run with plan %s: reason %s, want %s", plan, dry.Reason, want)
		}
	}

	// Editing shows the row as saved; removing it removes the condition.
	b.click("Edit enterprise-customers")
	if v := b.value("Attribute"); v != "plan" {
		t.Errorf("the editor shows attribute %q, want plan", v)
	}
	b.click("Remove condition")
	b.click("Save segment")
	b.wait("the editor closed", `!document.body.innerText.includes('Save segment')`)
	if s.call("GET", seg, nil, &got, "Authorization", tok); len(got.Conditions) != 0 {
		t.Errorf("after removing the row the segment has conditions %+v", got.Conditions)
	}
}
