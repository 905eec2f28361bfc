package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// sdkKeys returns an environment's server and client SDK keys.
func (s *server) sdkKeys(a *tenant, project, env string) (string, string) {
	s.t.Helper()
	e, err := s.Svc.Environments.Get(context.Background(), services.SystemScope(a.org.ID), project, env)
	if err != nil {
		s.t.Fatal(err)
	}
	var srv, cli string
	for _, k := range e.Keys {
		if k.ExpiresAt == nil && k.Kind == models.SDKServer {
			srv = k.Key
		} else if k.ExpiresAt == nil {
			cli = k.Key
		}
	}
	return srv, cli
}

func (s *server) evaluate(key, sdk string, body any) api.EvaluateResponse {
	s.t.Helper()
	return decode[api.EvaluateResponse](s.t, s.req("POST", "/api/v1/feature-flags/"+key+"/evaluate", body, "X-API-Key", sdk).want(s.t, 200))
}

// TestSource000Walkthrough runs source 000's curl session as written, apart from host and credentials.
func TestSource000Walkthrough(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	// TOKEN=$(curl -s -X POST …/api/v1/auth/login -d '{"username":"your-username","password":"your-password"}' | jq -r '.access_token')
	token := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/login",
		`{"username":"dev@acme.test","password":"`+password+`"}`).want(t, 200)).AccessToken

	// Create the Flag → 201 with the body shown.
	r := s.req("POST", "/api/v1/feature-flags", `{
		"key": "new-checkout-flow",
		"name": "New Checkout Flow",
		"description": "Redesigned single-page checkout experience",
		"rollout_percentage": 0,
		"status": "DRAFT"
	}`, "auth", token).want(t, 201)
	var created map[string]any
	_ = json.Unmarshal(r.Body, &created)
	for field, want := range map[string]any{"key": "new-checkout-flow", "name": "New Checkout Flow",
		"description": "Redesigned single-page checkout experience", "status": "DRAFT", "rollout_percentage": 0.0} {
		if created[field] != want {
			t.Errorf("created %s = %v, want %v", field, created[field], want)
		}
	}
	if rules, ok := created["targeting_rules"].([]any); !ok || len(rules) != 0 {
		t.Errorf("targeting_rules = %v, want []", created["targeting_rules"])
	}
	for _, field := range []string{"id", "created_at", "updated_at"} {
		if created[field] == nil || created[field] == "" {
			t.Errorf("created has no %s", field)
		}
	}
	id := created["id"].(string)

	// Add Targeting Rules (PUT with only targeting_rules).
	r = s.req("PUT", "/api/v1/feature-flags/"+id, `{
		"targeting_rules": [
			{"attribute": "plan", "operator": "equals", "value": "enterprise"},
			{"attribute": "country", "operator": "in", "value": ["US", "CA", "GB"]}
		]
	}`, "auth", token).want(t, 200)
	if f := decode[services.SimpleFlag](t, r); len(f.TargetingRules) != 2 || f.Status != "DRAFT" {
		t.Errorf("after PUT targeting_rules = %+v", f)
	}
	// Activate the Flag at 10%.
	r = s.req("PUT", "/api/v1/feature-flags/"+id, `{"rollout_percentage": 10, "status": "ACTIVE"}`, "auth", token).want(t, 200)
	if f := decode[services.SimpleFlag](t, r); f.Status != "ACTIVE" || f.RolloutPercentage != 10 || len(f.TargetingRules) != 2 {
		t.Errorf("after activating = %+v", f)
	}

	// Evaluate with the environment's SDK key in X-API-Key.
	sdk, _ := s.sdkKeys(a, "default", "development")
	got := s.evaluate("new-checkout-flow", sdk, `{"user_id": "user-123", "attributes": {"plan": "enterprise", "country": "US"}}`)
	if got.FlagKey != "new-checkout-flow" || got.RolloutPercentage != 10 {
		t.Errorf("evaluate = %+v, want flag_key and rollout_percentage 10", got)
	}
	in, matching := 0, 2000
	for i := 0; i < matching; i++ {
		e := s.evaluate("new-checkout-flow", sdk, fmt.Sprintf(`{"user_id":"user-%d","attributes":{"plan":"enterprise","country":"CA"}}`, i))
		if e.Enabled {
			in++
		}
		if again := s.evaluate("new-checkout-flow", sdk, fmt.Sprintf(`{"user_id":"user-%d","attributes":{"plan":"enterprise","country":"CA"}}`, i)); again.Enabled != e.Enabled {
			t.Fatalf("user-%d flickered", i)
		}
	}
	if in < 140 || in > 260 {
		t.Errorf("%d of %d eligible users enabled at 10%%", in, matching)
	}
	// Default-value semantics: not matching the rules, and a draft, both get the default (false).
	if e := s.evaluate("new-checkout-flow", sdk, `{"user_id":"user-1","attributes":{"plan":"free","country":"US"}}`); e.Enabled || e.Reason != "DEFAULT" {
		t.Errorf("a user not matching the rules = %+v", e)
	}
	s.req("POST", "/api/v1/feature-flags", `{"key":"still-draft","name":"Still Draft","rollout_percentage":100,"status":"DRAFT"}`, "auth", token).want(t, 201)
	if e := s.evaluate("still-draft", sdk, `{"user_id":"user-1"}`); e.Enabled || e.Reason != "DISABLED" {
		t.Errorf("a draft flag = %+v", e)
	}
	// Key naming conventions are enforced; an API key with write scope may create flags too.
	s.req("POST", "/api/v1/feature-flags", `{"key":"New Checkout","name":"x"}`, "auth", token).want(t, 422)
	s.req("POST", "/api/v1/feature-flags", `{"key":"dark-mode-v2","name":"Dark mode"}`, "X-API-Key", a.keyWrite).want(t, 201)
	s.req("POST", "/api/v1/feature-flags", `{"key":"nope","name":"x"}`, "X-API-Key", a.keyRead).want(t, 403)
}

// TestSource001Concepts: types and variations, ordered rules, segments, the kill switch, and
// environments with their own keys and values.
func TestSource001Concepts(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	prodSDK, _ := s.sdkKeys(a, "default", "production")
	stagingSDK, _ := s.sdkKeys(a, "default", "staging")

	s.req("POST", flags, `{"key":"new-checkout","type":"boolean"}`, "auth", a.dev).want(t, 201)
	s.req("POST", o+"/projects/default/segments", `{"key":"beta-testers","conditions":[{"attribute":"user.email","operator":"ends_with","values":["@flagmint.com"]}]}`,
		"auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/new-checkout/environments/production", `{"status":"ACTIVE","rules":[
		{"id":"internal","description":"internal testing","conditions":[{"segment":"beta-testers"}],"serve":{"variation":"true"}},
		{"id":"pro","conditions":[{"attribute":"user.plan","operator":"equals","values":["pro"]}],"serve":{"variation":"true"}}],
		"fallthrough":{"variation":"false"}}`, "auth", a.dev).want(t, 200)
	for ctx, want := range map[string]bool{
		`{"key":"u1","user":{"email":"a@flagmint.com","plan":"free"}}`: true,
		`{"key":"u2","user":{"email":"b@else.com","plan":"pro"}}`:      true,
		`{"key":"u3","user":{"email":"c@else.com","plan":"free"}}`:     false,
	} {
		if e := s.evaluate("new-checkout", prodSDK, `{"context":`+ctx+`}`); e.Enabled != want {
			t.Errorf("%s → %+v, want enabled %v", ctx, e, want)
		}
	}
	// Each environment has its own values: staging is still a draft.
	if e := s.evaluate("new-checkout", stagingSDK, `{"context":{"key":"u1","user":{"email":"a@flagmint.com"}}}`); e.Enabled {
		t.Errorf("staging serves production's rules: %+v", e)
	}
	// String, number and JSON flags serve their variations' values.
	s.req("POST", flags, `{"key":"button","type":"string","variations":[{"id":"blue","value":"blue"},{"id":"green","value":"green"},{"id":"red","value":"red"}]}`, "auth", a.dev).want(t, 201)
	s.req("POST", flags, `{"key":"page-size","type":"number","variations":[{"id":"ten","value":10},{"id":"fifty","value":50}]}`, "auth", a.dev).want(t, 201)
	s.req("POST", flags, `{"key":"retry","type":"json","variations":[{"id":"std","value":{"maxRetries":3,"timeout":5000}},{"id":"agg","value":{"maxRetries":10,"timeout":1000}}]}`, "auth", a.dev).want(t, 201)
	for key, serve := range map[string]string{"button": "green", "page-size": "fifty", "retry": "agg"} {
		s.req("PATCH", flags+"/"+key+"/environments/production", `{"status":"ACTIVE","fallthrough":{"variation":"`+serve+`"}}`, "auth", a.dev).want(t, 200)
	}
	if e := s.evaluate("button", prodSDK, `{"user_id":"u1"}`); e.Value != "green" {
		t.Errorf("string flag = %+v", e)
	}
	if e := s.evaluate("page-size", prodSDK, `{"user_id":"u1"}`); e.Value != 50.0 {
		t.Errorf("number flag = %+v", e)
	}
	if e := s.evaluate("retry", prodSDK, `{"user_id":"u1"}`); fmt.Sprint(e.Value) != "map[maxRetries:10 timeout:1000]" {
		t.Errorf("json flag = %+v", e)
	}
	// The kill switch returns the off variation regardless of targeting.
	s.req("POST", flags+"/new-checkout/environments/production/disable", nil, "auth", a.dev).want(t, 200)
	if e := s.evaluate("new-checkout", prodSDK, `{"context":{"key":"u1","user":{"email":"a@flagmint.com"}}}`); e.Enabled || e.Reason != "DISABLED" {
		t.Errorf("after the kill switch = %+v", e)
	}
}

// TestSource002Amplitude: keys from names, bucketing by company with a salt, weighted variants,
// segment rules with their own rollouts, the "all other users" rollout, and QA before activating.
func TestSource002Amplitude(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "production")
	r := s.req("POST", flags, `{"name":"Onboarding Checklist","type":"string","variations":[
		{"name":"Control","value":"control","description":"the current flow"},
		{"name":"Treatment","value":"treatment","description":"the checklist"}]}`, "auth", a.dev).want(t, 201)
	f := decode[api.FlagResponse](t, r)
	if f.Key != "onboarding-checklist" || f.Variations[1].ID != "treatment" || f.Variations[1].Description != "the checklist" {
		t.Fatalf("created = %+v", f)
	}
	s.req("POST", o+"/projects/default/segments", `{"key":"enterprise","conditions":[{"attribute":"organization.plan","operator":"equals","values":["enterprise"]}]}`,
		"auth", a.dev).want(t, 201)
	cfg := flags + "/onboarding-checklist/environments/production"
	s.req("PATCH", cfg, `{"bucket_by":"organization.key","salt":"onboarding-2026","rules":[
		{"id":"ent","conditions":[{"segment":"enterprise"}],"serve":{"rollout":{"variations":[{"variation":"treatment","weight":80000},{"variation":"control","weight":20000}]}}}],
		"fallthrough":{"rollout":{"variations":[{"variation":"treatment","weight":20000},{"variation":"control","weight":80000}]}}}`, "auth", a.dev).want(t, 200)
	// QA before activating: the dry run answers as if enabled; real evaluation still serves the default.
	dry := decode[api.DryRunResponse](t, s.req("POST", cfg+"/evaluate", `{"context":{"key":"u1","organization":{"key":"47","plan":"enterprise"}}}`,
		"auth", a.dev).want(t, 200))
	if dry.Reason != "SPLIT" || dry.RuleID != "ent" {
		t.Errorf("dry run = %+v", dry)
	}
	if e := s.evaluate("onboarding-checklist", sdk, `{"context":{"key":"u1","organization":{"key":"47","plan":"enterprise"}}}`); e.Value != "control" || e.Reason != "DISABLED" {
		t.Errorf("before activation = %+v", e)
	}
	s.req("POST", cfg+"/activate", nil, "auth", a.dev).want(t, 200)
	// Everyone in one company gets the same variant.
	treated := map[string]int{"enterprise": 0, "free": 0}
	for org := 0; org < 400; org++ {
		plan := "free"
		if org%2 == 0 {
			plan = "enterprise"
		}
		var first any
		for u := 0; u < 3; u++ {
			e := s.evaluate("onboarding-checklist", sdk, fmt.Sprintf(`{"context":{"key":"u%d-%d","organization":{"key":"%d","plan":"%s"}}}`, org, u, org, plan))
			if u == 0 {
				first = e.Value
				if e.Value == "treatment" {
					treated[plan]++
				}
			} else if e.Value != first {
				t.Fatalf("organisation %d is split between variants", org)
			}
		}
	}
	if treated["enterprise"] < 130 || treated["enterprise"] > 190 || treated["free"] < 20 || treated["free"] > 60 {
		t.Errorf("treated organisations = %v, want ≈160 of 200 enterprise and ≈40 of 200 others", treated)
	}
	// off is reserved.
	s.req("POST", flags, `{"key":"x","type":"string","variations":[{"name":"OFF","value":"a"},{"name":"on","value":"b"}]}`, "auth", a.dev).want(t, 422)
}

// TestSource003Laravel walks source 003's scenarios through the simple API and the bulk map.
func TestSource003Laravel(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "development")
	flagsMap := func(q string) map[string]any {
		return decode[map[string]any](t, s.req("GET", "/api/v1/feature-flags/evaluate"+q, nil, "X-API-Key", sdk).want(t, 200))
	}
	isEnabledFor := func(org, user string) bool {
		q := "?"
		if org != "" {
			q += "org_id=" + org + "&"
		}
		if user != "" {
			q += "user_id=" + user
		}
		v, _ := flagsMap(q)["new_dashboard"].(bool)
		return v
	}
	// Scenario 1: a dashboard redesign for our own organisation first.
	s.req("POST", "/api/v1/feature-flags", `{"key":"new_dashboard","name":"New Dashboard","description":"Redesigned dashboard",
		"enabled":true,"rules":{"org_ids":[1]}}`, "auth", a.admin).want(t, 201)
	if !isEnabledFor("1", "5") || isEnabledFor("2", "5") || isEnabledFor("", "") {
		t.Errorf("org_ids [1]: org 1 %v, org 2 %v, nobody %v", isEnabledFor("1", "5"), isEnabledFor("2", "5"), isEnabledFor("", ""))
	}
	share := func() float64 {
		on := 0
		for u := 0; u < 1000; u++ {
			if isEnabledFor("9", fmt.Sprint(u)) {
				on++
			}
		}
		return float64(on) / 10
	}
	s.req("PUT", "/api/v1/feature-flags/new_dashboard", `{"rules":{"percentage":10}}`, "auth", a.admin).want(t, 200)
	if p := share(); p < 7 || p > 13 {
		t.Errorf("at 10%%, %.1f%% enabled", p)
	}
	in10 := map[int]bool{}
	for u := 0; u < 1000; u++ {
		in10[u] = isEnabledFor("9", fmt.Sprint(u))
	}
	s.req("PUT", "/api/v1/feature-flags/new_dashboard", `{"rules":{"percentage":50}}`, "auth", a.admin).want(t, 200)
	for u, was := range in10 {
		if was && !isEnabledFor("9", fmt.Sprint(u)) {
			t.Fatalf("user %d dropped out going from 10%% to 50%%", u)
		}
	}
	s.req("PUT", "/api/v1/feature-flags/new_dashboard", `{"rules":{"percentage":100}}`, "auth", a.admin).want(t, 200)
	if p := share(); p != 100 {
		t.Errorf("at 100%%, %.1f%% enabled", p)
	}
	// OR logic: a listed user sees the feature outside the percentage.
	s.req("PUT", "/api/v1/feature-flags/new_dashboard", `{"rules":{"user_ids":[42,87],"percentage":0}}`, "auth", a.admin).want(t, 200)
	if !isEnabledFor("", "42") || isEnabledFor("", "43") || !isEnabledFor("3", "87") {
		t.Errorf("user_ids [42, 87] with 0%%: 42 %v, 43 %v, 87 %v", isEnabledFor("", "42"), isEnabledFor("", "43"), isEnabledFor("3", "87"))
	}
	// Empty rules and enabled: everyone, even isEnabledFor(null, null).
	r := s.req("PUT", "/api/v1/feature-flags/new_dashboard", `{"rules":null}`, "auth", a.admin).want(t, 200)
	if f := decode[services.SimpleFlag](t, r); f.Rules != nil || !f.Enabled {
		t.Errorf("after rules null = %+v", f)
	}
	if !isEnabledFor("", "") || !isEnabledFor("5", "") || !isEnabledFor("", "5") {
		t.Error("an enabled flag without rules is not on for everyone")
	}

	// Scenario 3: the kill switch keeps the rules.
	s.req("POST", "/api/v1/feature-flags", `{"key":"realtime_collab","name":"Realtime","enabled":true,"rules":{"org_ids":[1,5,12],"user_ids":[42]}}`,
		"auth", a.admin).want(t, 201)
	if v := flagsMap("?org_id=5")["realtime_collab"]; v != true {
		t.Errorf("realtime_collab for org 5 = %v", v)
	}
	r = s.req("PUT", "/api/v1/feature-flags/realtime_collab", `{"enabled":false}`, "auth", a.admin).want(t, 200)
	if f := decode[services.SimpleFlag](t, r); f.Enabled || f.Rules == nil || len(f.Rules.OrgIDs) != 3 || len(f.Rules.UserIDs) != 1 {
		t.Errorf("killed = %+v, want disabled with the rules kept", f)
	}
	if v := flagsMap("?org_id=5&user_id=42")["realtime_collab"]; v != false {
		t.Errorf("killed flag serves %v", v)
	}
	s.req("PUT", "/api/v1/feature-flags/realtime_collab", `{"enabled":true}`, "auth", a.admin).want(t, 200)
	if v := flagsMap("?org_id=12")["realtime_collab"]; v != true {
		t.Errorf("re-enabled flag for org 12 = %v", v)
	}
	// POST form of the map, with numeric ids.
	m := decode[map[string]any](t, s.req("POST", "/api/v1/feature-flags/evaluate", `{"user_id":42,"org_id":99}`, "X-API-Key", sdk).want(t, 200))
	if m["realtime_collab"] != true || m["new_dashboard"] != true {
		t.Errorf("POST map = %v", m)
	}
	// Admin CRUD: list, then delete; a deleted flag is a safe false.
	list := decode[[]services.SimpleFlag](t, s.req("GET", "/api/v1/feature-flags", nil, "auth", a.admin).want(t, 200))
	if len(list) != 2 {
		t.Errorf("listed %d flags, want 2", len(list))
	}
	s.req("DELETE", "/api/v1/feature-flags/realtime_collab", nil, "auth", a.admin).want(t, 204)
	if _, present := flagsMap("?org_id=12")["realtime_collab"]; present {
		t.Error("a deleted flag is still in the map")
	}
	if e := s.evaluate("realtime_collab", sdk, `{"user_id":"42"}`); e.Enabled || e.Reason != "FLAG_NOT_FOUND" {
		t.Errorf("evaluating a deleted flag = %+v, want the safe default", e)
	}
}

// TestSource004Entity: the fields, validation before enabling, events, and finding flags by status
// sorted by evaluations.
func TestSource004Entity(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "production")
	for _, k := range []string{"onboarding-v2", "dark-mode", "quiet"} {
		s.req("POST", flags, `{"key":"`+k+`","experiment":"exp-42"}`, "auth", a.dev).want(t, 201)
		s.req("POST", flags+"/"+k+"/environments/production/activate", nil, "auth", a.dev).want(t, 200)
		s.req("POST", flags+"/"+k+"/environments/production/enable", nil, "auth", a.dev).want(t, 200)
	}
	for i := 0; i < 30; i++ {
		s.evaluate("dark-mode", sdk, `{"user_id":"u1"}`)
	}
	for i := 0; i < 10; i++ {
		s.evaluate("onboarding-v2", sdk, `{"user_id":"u1"}`)
	}
	s.Plane.Flush(context.Background())
	l := decode[api.FlagList](t, s.req("GET", flags+"?environment=production&status=ENABLED&sort=evaluations", nil, "auth", a.viewer).want(t, 200))
	var order []string
	for _, f := range l.Items {
		order = append(order, fmt.Sprintf("%s:%d", f.Key, f.Environments["production"].Evaluations))
	}
	if fmt.Sprint(order) != "[dark-mode:30 onboarding-v2:10 quiet:0]" {
		t.Errorf("by evaluations = %v", order)
	}
	f := decode[api.FlagResponse](t, s.req("GET", flags+"/dark-mode", nil, "auth", a.viewer).want(t, 200))
	if f.Evaluations != 30 || f.Environments["production"].LastEvaluatedAt == nil || f.Experiment != "exp-42" {
		t.Errorf("dark-mode = %+v", f)
	}
	// Stale: never evaluated in production.
	stale := decode[api.FlagList](t, s.req("GET", flags+"?environment=production&stale=true", nil, "auth", a.viewer).want(t, 200))
	if len(stale.Items) != 1 || stale.Items[0].Key != "quiet" {
		t.Errorf("stale = %+v", stale.Items)
	}
	// The before-enabling hook: no default value, no enabling.
	s.req("POST", flags, `{"key":"no-default"}`, "auth", a.dev).want(t, 201)
	r := s.req("PATCH", flags+"/no-default/environments/production", `{"default_variation":"","status":"ACTIVE"}`, "auth", a.dev).want(t, 422)
	if _, field := r.errorField(); field != "default_variation" {
		t.Errorf("enabling without a default: field %q", field)
	}
	// rollout sets everyone to the on variation; disable is audited as killed.
	s.req("POST", flags+"/dark-mode/environments/production/rollout", nil, "auth", a.dev).want(t, 200)
	if e := s.evaluate("dark-mode", sdk, `{}`); !e.Enabled {
		t.Errorf("rolled out flag = %+v", e)
	}
	s.req("POST", flags+"/dark-mode/environments/production/disable", nil, "auth", a.dev).want(t, 200)
	killed := decode[api.AuditEventList](t, s.req("GET", o+"/audit-events?action=feature_flag.killed", nil, "auth", a.admin).want(t, 200))
	if len(killed.Items) != 1 || killed.Items[0].Resource.Key != "dark-mode/production" {
		t.Errorf("killed events = %+v", killed.Items)
	}
}
