package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
)

const flags = o + "/projects/default/flags"

func TestCreateFlag(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	r := s.req("POST", flags, map[string]any{"name": "New Checkout Flow", "description": "single page", "tags": []string{"checkout"}},
		"auth", a.dev).want(t, 201)
	f := decode[api.FlagResponse](t, r)
	if f.Key != "new-checkout-flow" || f.Type != "boolean" || len(f.Variations) != 2 || len(f.Environments) != 3 || !f.Temporary {
		t.Fatalf("created = %+v", f)
	}
	for env, st := range f.Environments {
		if st.Status != "DRAFT" || st.DefaultVariation != "false" || st.RolloutPercentage != 0 {
			t.Errorf("%s = %+v, want DRAFT serving false", env, st)
		}
	}
	s.req("POST", flags, map[string]any{"key": "new-checkout-flow"}, "auth", a.dev).want(t, 409)
	s.req("POST", o+"/projects", map[string]any{"key": "mobile", "environments": []map[string]string{{"key": "prod"}}}, "auth", a.admin).want(t, 201)
	s.req("POST", o+"/projects/mobile/flags", map[string]any{"key": "new-checkout-flow"}, "auth", a.dev).want(t, 201) // same key, other project

	r = s.req("PATCH", flags+"/new-checkout-flow", map[string]any{"key": "renamed"}, "auth", a.dev).want(t, 422)
	if _, field := r.errorField(); field != "key" {
		t.Errorf("renaming the key: field %q", field)
	}
	// A new environment gets a configuration for every existing flag.
	s.req("POST", o+"/projects/default/environments", map[string]string{"key": "qa"}, "auth", a.admin).want(t, 201)
	s.req("GET", flags+"/new-checkout-flow/environments/qa", nil, "auth", a.viewer).want(t, 200)

	// Multivariate flags, with ids generated from names (source 002).
	r = s.req("POST", flags, map[string]any{"key": "button-color", "type": "string", "variations": []map[string]any{
		{"name": "Blue", "value": "blue", "description": "control"}, {"name": "Green", "value": "green"}}}, "auth", a.dev).want(t, 201)
	mv := decode[api.FlagResponse](t, r)
	if mv.Variations[0].ID != "blue" || mv.Variations[1].Description != "" || mv.Environments["production"].DefaultVariation != "blue" {
		t.Errorf("multivariate flag = %+v", mv)
	}
}

func TestFlagValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	s.req("POST", flags, map[string]any{"key": "f"}, "auth", a.dev).want(t, 201)
	cases := []struct {
		name, method, path string
		body               string
		status             int
		field              string
	}{
		{"bad key", "POST", flags, `{"key":"Bad Key"}`, 422, "key"},
		{"wrong type of value", "POST", flags, `{"key":"n","type":"number","variations":[{"id":"a","value":"ten"},{"id":"b","value":20}]}`, 422, "variations[0].value"},
		{"off is reserved", "POST", flags, `{"key":"s","type":"string","variations":[{"name":"off","value":"x"},{"name":"on","value":"y"}]}`, 422, "variations[0].name"},
		{"one variation", "POST", flags, `{"key":"s","type":"string","variations":[{"id":"a","value":"x"}]}`, 422, "variations"},
		{"unknown type", "POST", flags, `{"key":"s","type":"date"}`, 422, "type"},
		{"unknown operator", "PATCH", flags + "/f/environments/production",
			`{"rules":[{"conditions":[{"attribute":"country","operator":"resembles","values":["US"]}],"serve":{"variation":"true"}}]}`, 422, "rules[0].conditions[0].operator"},
		{"bad regex", "PATCH", flags + "/f/environments/production",
			`{"rules":[{"conditions":[{"attribute":"email","operator":"matches_regex","values":["(["]}],"serve":{"variation":"true"}}]}`, 422, "rules[0].conditions[0].values[0]"},
		{"weights adding up to nothing", "PATCH", flags + "/f/environments/production",
			`{"fallthrough":{"rollout":{"variations":[{"variation":"true","weight":0},{"variation":"false","weight":0}]}}}`, 422, "fallthrough.rollout.variations"},
		{"negative weight", "PATCH", flags + "/f/environments/production",
			`{"fallthrough":{"rollout":{"variations":[{"variation":"true","weight":-1},{"variation":"false","weight":2}]}}}`, 422, "fallthrough.rollout.variations[0].weight"},
		{"missing variation", "PATCH", flags + "/f/environments/production", `{"fallthrough":{"variation":"maybe"}}`, 422, "fallthrough.variation"},
		{"missing segment", "PATCH", flags + "/f/environments/production",
			`{"rules":[{"conditions":[{"segment":"ghosts"}],"serve":{"variation":"true"}}]}`, 422, "rules[0].conditions[0].segment"},
		{"percentage out of range", "PATCH", flags + "/f/environments/production", `{"rollout_percentage":120}`, 422, "rollout_percentage"},
		{"unknown rule field", "PATCH", flags + "/f/environments/production", `{"rules":[{"priority":1}]}`, 400, "priority"},
		{"unknown status", "PATCH", flags + "/f/environments/production", `{"status":"LIVE"}`, 422, "status"},
		{"nested context too deep", "POST", flags + "/f/environments/production/evaluate",
			`{"context":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`, 422, "context" + strings.Repeat(".a", 16)},
		{"segment cycle", "POST", o + "/projects/default/segments", `{"key":"loop","conditions":[{"segment":"loop"}]}`, 422, "conditions[0]"},
	}
	before := s.snapshot(a.org.ID)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.req(tc.method, tc.path, tc.body, "auth", a.dev)
			_, field := r.errorField()
			if r.Code != tc.status || field != tc.field {
				t.Errorf("%s %s = %d field %q, want %d %q: %s", tc.method, tc.path, r.Code, field, tc.status, tc.field, r.Body)
			}
		})
	}
	if after := s.snapshot(a.org.ID); after != before {
		t.Errorf("refused flag writes changed rows:\nbefore %s\nafter %s", before, after)
	}
}

func TestStatusMachine(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	s.req("POST", flags, map[string]any{"key": "realtime_collab"}, "auth", a.dev).want(t, 201)
	cfg := flags + "/realtime_collab/environments/production"
	status := func(r response) string { return decode[api.ConfigResponse](t, r).Status.String() }

	r := s.req("POST", cfg+"/enable", nil, "auth", a.dev).want(t, 409)
	var e api.ErrorResponse
	_ = json.Unmarshal(r.Body, &e)
	if len(e.Error.Allowed) != 1 || e.Error.Allowed[0] != "ACTIVE" {
		t.Errorf("enable from DRAFT: allowed %v, want [ACTIVE]", e.Error.Allowed)
	}
	steps := []struct {
		verb, want string
		code       int
	}{
		{"activate", "ACTIVE", 200},
		{"enable", "ENABLED", 200},
		{"pause", "", 409}, // only from DISABLED
		{"disable", "DISABLED", 200},
		{"pause", "PAUSED", 200},
		{"resume", "ENABLED", 200},
		{"resume", "", 409},
		{"rollout", "ROLLED_OUT", 200},
		{"disable", "DISABLED", 200}, // the kill switch works from ROLLED_OUT
		{"enable", "ENABLED", 200},
		{"archive", "", 409},
		{"disable", "DISABLED", 200},
		{"archive", "ARCHIVED", 200},
		{"enable", "", 409},
	}
	for _, st := range steps {
		r := s.req("POST", cfg+"/"+st.verb, nil, "auth", a.dev)
		if r.Code != st.code || (st.want != "" && status(r) != st.want) {
			t.Fatalf("%s = %d %s, want %d %s", st.verb, r.Code, r.Body, st.code, st.want)
		}
	}
	// The kill switch of source 003 keeps the rules; status ACTIVE as in source 000.
	s.req("POST", flags, map[string]any{"key": "bulk_export"}, "auth", a.dev).want(t, 201)
	cfg = flags + "/bulk_export/environments/production"
	rules := `[{"id":"beta","conditions":[{"attribute":"organization.key","operator":"in","values":["47"]}],"serve":{"variation":"true"}}]`
	s.req("PATCH", cfg, `{"status":"ACTIVE","rules":`+rules+`}`, "auth", a.dev).want(t, 200)
	s.req("PATCH", cfg, `{"enabled":false}`, "auth", a.dev).want(t, 200)
	got := decode[api.ConfigResponse](t, s.req("GET", cfg, nil, "auth", a.viewer).want(t, 200))
	if got.Status != "DISABLED" || got.Enabled || len(got.Rules) != 1 || got.Rules[0].ID != "beta" {
		t.Errorf("after the kill switch = %+v, want DISABLED with the rule kept", got)
	}
	got = decode[api.ConfigResponse](t, s.req("PATCH", cfg, `{"enabled":true}`, "auth", a.dev).want(t, 200))
	if got.Status != "ENABLED" || !got.Enabled {
		t.Errorf("enabled again = %+v", got)
	}
	// Every verb is in the audit log under source 004's names.
	list := decode[api.AuditEventList](t, s.req("GET", o+"/audit-events?limit=200", nil, "auth", a.admin).want(t, 200))
	seen := map[string]bool{}
	for _, ev := range list.Items {
		seen[ev.Action] = true
	}
	for _, want := range []string{"feature_flag.created", "feature_flag.activated", "feature_flag.enabled", "feature_flag.killed",
		"feature_flag.paused", "feature_flag.rolled_out", "feature_flag.archived", "feature_flag.updated"} {
		if !seen[want] {
			t.Errorf("no %s event in the audit log", want)
		}
	}
	// A stale If-Match is refused.
	s.req("PATCH", cfg, `{"rollout_percentage":50}`, "auth", a.dev, "If-Match", `"1"`).want(t, 412)
	s.req("DELETE", flags+"/bulk_export", nil, "auth", a.dev).want(t, 204)
	s.req("GET", cfg, nil, "auth", a.dev).want(t, 404)
}

func TestSegmentsAndDryRun(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	segs := o + "/projects/default/segments"
	s.req("POST", segs, map[string]any{"key": "beta-testers", "conditions": []map[string]any{
		{"attribute": "email", "operator": "ends_with", "values": []string{"@flagmint.com"}}}, "included": []string{"friend-1"}},
		"auth", a.dev).want(t, 201)
	s.req("POST", flags, map[string]any{"key": "ai-assistant"}, "auth", a.dev).want(t, 201)
	cfg := flags + "/ai-assistant/environments/staging"
	s.req("PATCH", cfg, `{"rules":[{"id":"beta","conditions":[{"segment":"beta-testers"}],"serve":{"variation":"true"}}]}`, "auth", a.dev).want(t, 200)

	dry := func(ctx string) api.DryRunResponse {
		return decode[api.DryRunResponse](t, s.req("POST", cfg+"/evaluate", `{"context":`+ctx+`}`, "auth", a.viewer).want(t, 200))
	}
	if d := dry(`{"key":"u1","email":"ada@flagmint.com"}`); d.Value != true || d.Reason != "TARGETING_MATCH" || d.RuleID != "beta" || d.Status != "DRAFT" {
		t.Errorf("dry run of a segment member = %+v", d)
	}
	if d := dry(`{"targetingKey":"friend-1"}`); d.Value != true {
		t.Errorf("dry run of an included key = %+v", d)
	}
	if d := dry(`{"key":"u2","email":"x@else.com"}`); d.Value != false || d.Reason != "DEFAULT" {
		t.Errorf("dry run of an outsider = %+v", d)
	}
	// The dry run served nothing: the configuration is still a DRAFT with no evaluations.
	if c := decode[api.ConfigResponse](t, s.req("GET", cfg, nil, "auth", a.viewer)); c.Status != "DRAFT" || c.Evaluations != 0 {
		t.Errorf("after dry runs = %+v", c)
	}

	r := s.req("DELETE", segs+"/beta-testers", nil, "auth", a.dev).want(t, 409)
	var e api.ErrorResponse
	_ = json.Unmarshal(r.Body, &e)
	if len(e.Error.UsedBy) != 1 || e.Error.UsedBy[0] != "flag ai-assistant in staging" {
		t.Errorf("used_by = %v", e.Error.UsedBy)
	}
	s.req("PATCH", segs+"/beta-testers", map[string]any{"excluded": []string{"u1"}}, "auth", a.dev).want(t, 200)
	if d := dry(`{"key":"u1","email":"ada@flagmint.com"}`); d.Value != false {
		t.Errorf("an excluded key still matches: %+v", d)
	}
	s.req("PATCH", cfg, `{"rules":[]}`, "auth", a.dev).want(t, 200)
	s.req("DELETE", segs+"/beta-testers", nil, "auth", a.dev).want(t, 204)
}

func TestListFlags(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	for _, f := range []map[string]any{
		{"key": "alpha", "tags": []string{"checkout"}, "description": "payments page"},
		{"key": "beta", "tags": []string{"search"}},
		{"key": "gamma", "tags": []string{"checkout", "search"}},
	} {
		s.req("POST", flags, f, "auth", a.dev).want(t, 201)
	}
	s.req("POST", flags+"/beta/environments/production/activate", nil, "auth", a.dev).want(t, 200)
	if err := s.DB.Exec(`UPDATE flag_configs SET evaluations = 500, last_evaluated_at = CURRENT_TIMESTAMP WHERE flag_id IN
		(SELECT id FROM flags WHERE key = 'gamma') AND environment_id = ?`, a.env.ID).Error; err != nil {
		t.Fatal(err)
	}
	tok := a.viewer
	keys := func(q string) string {
		l := decode[api.FlagList](t, s.req("GET", flags+q, nil, "auth", tok).want(t, 200))
		var out []string
		for _, f := range l.Items {
			out = append(out, f.Key)
		}
		return strings.Join(out, ",")
	}
	cases := map[string]string{
		"":                                      "alpha,beta,gamma",
		"?tag=checkout":                         "alpha,gamma",
		"?q=payments":                           "alpha",
		"?environment=production&status=ACTIVE": "beta",
		"?environment=production&sort=evaluations": "gamma,alpha,beta",
		"?environment=production&stale=true":       "alpha,beta",
		"?sort=key&limit=2":                        "alpha,beta",
	}
	for q, want := range cases {
		if got := keys(q); got != want {
			t.Errorf("GET flags%s = %s, want %s", q, got, want)
		}
	}
	page := decode[api.FlagList](t, s.req("GET", flags+"?sort=key&limit=2", nil, "auth", tok))
	if got := keys("?sort=key&limit=2&cursor=" + page.NextCursor); got != "gamma" {
		t.Errorf("second page = %s", got)
	}
	// Every page carries the total that pass the filters, and an offset reaches any page at once.
	for q, want := range map[string]int64{"?sort=key&limit=1": 3, "?tag=search&sort=key&limit=1": 2, "?environment=production&status=ACTIVE": 1} {
		if l := decode[api.FlagList](t, s.req("GET", flags+q, nil, "auth", tok).want(t, 200)); l.Total != want {
			t.Errorf("GET flags%s: total %d, want %d", q, l.Total, want)
		}
	}
	for q, want := range map[string]string{
		"?sort=key&limit=1&offset=1":                                "beta",
		"?sort=key&limit=2&offset=2":                                "gamma",
		"?sort=key&offset=3":                                        "",
		"?tag=search&sort=key&limit=1&offset=1":                     "gamma",
		"?environment=production&sort=evaluations&limit=1&offset=1": "alpha",
	} {
		if got := keys(q); got != want {
			t.Errorf("GET flags%s = %q, want %q", q, got, want)
		}
	}
	if l := decode[api.FlagList](t, s.req("GET", flags+"?sort=key&limit=1&offset=1", nil, "auth", tok).want(t, 200)); l.NextCursor == "" ||
		keys("?sort=key&limit=1&cursor="+l.NextCursor) != "gamma" {
		t.Errorf("the page at offset 1 leads on to %q, want gamma", l.NextCursor)
	}
	// Constant for 30 days counts as stale too: gamma is evaluated, but rolled out and untouched.
	s.req("POST", flags+"/gamma/environments/production/activate", nil, "auth", a.dev).want(t, 200)
	s.req("POST", flags+"/gamma/environments/production/enable", nil, "auth", a.dev).want(t, 200)
	s.req("POST", flags+"/gamma/environments/production/rollout", nil, "auth", a.dev).want(t, 200)
	s.req("PATCH", flags+"/beta/environments/production", `{"rollout_percentage":50}`, "auth", a.dev).want(t, 200)
	// The list's summary of each environment: status, rollout, evaluations, last evaluation.
	byKey := map[string]api.FlagResponse{}
	for _, f := range decode[api.FlagList](t, s.req("GET", flags+"?sort=key", nil, "auth", tok).want(t, 200)).Items {
		byKey[f.Key] = f
	}
	if b := byKey["beta"].Environments["production"]; b.RolloutPercentage != 50 || b.Status != "ACTIVE" {
		t.Errorf("beta in production = %+v, want ACTIVE at 50%%", b)
	}
	if g := byKey["gamma"].Environments["production"]; g.Status != "ROLLED_OUT" || g.RolloutPercentage != 100 || g.Evaluations != 500 ||
		g.LastEvaluatedAt == nil || len(byKey["gamma"].Environments) != 3 {
		t.Errorf("gamma in production = %+v (of %d environments), want ROLLED_OUT at 100%%, 500 evaluations, a last evaluation", g,
			len(byKey["gamma"].Environments))
	}
	if got := keys("?environment=production&stale=true"); got != "alpha,beta" {
		t.Errorf("stale right after the rollout = %s", got)
	}
	s.Clock.Advance(31 * 24 * time.Hour)
	tok = s.login("viewer@acme.test")
	if err := s.DB.Exec(`UPDATE flag_configs SET last_evaluated_at = ? WHERE environment_id = ?`, s.Clock.Now(), a.env.ID).Error; err != nil {
		t.Fatal(err)
	}
	// All evaluated lately; alpha (a draft) and gamma (rolled out) serve one value to everyone and
	// have not changed in 30 days; beta still splits its users.
	if got := keys("?environment=production&stale=true&stale_days=30"); got != "alpha,gamma" {
		t.Errorf("stale after 31 days, all evaluated = %s, want alpha,gamma (constant)", got)
	}
	r := s.req("GET", flags+"?status=ACTIVE", nil, "auth", tok).want(t, 422)
	if _, field := r.errorField(); field != "environment" {
		t.Errorf("status without environment: field %q", field)
	}
}
