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
