package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/services"
)

// TestRelativeWeights: source 002's weights are relative ("variant A weight 1 and variant B weight 4
// → four times as many users see B"), in rules and in the fallthrough; responses show the shares.
func TestRelativeWeights(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"checkout-copy","type":"string","variations":[{"name":"A","value":"a"},{"name":"B","value":"b"}]}`,
		"auth", a.dev).want(t, 201)
	c := decode[api.ConfigResponse](t, s.req("PATCH", flags+"/checkout-copy/environments/production", `{"status":"ACTIVE",
		"rules":[{"id":"eu","conditions":[{"attribute":"country","operator":"in","values":["IE","NL"]}],
		          "serve":{"rollout":{"variations":[{"variation":"a","weight":3},{"variation":"b","weight":1}]}}}],
		"fallthrough":{"rollout":{"variations":[{"variation":"a","weight":1},{"variation":"b","weight":4}]}}}`, "auth", a.dev).want(t, 200))
	pct := func(serve map[string]any) []float64 {
		var out []float64
		for _, v := range serve["rollout"].(map[string]any)["variations"].([]any) {
			out = append(out, v.(map[string]any)["percentage"].(float64))
		}
		return out
	}
	raw := s.req("GET", flags+"/checkout-copy/environments/production", nil, "auth", a.viewer).want(t, 200).JSON()
	if got := pct(raw["fallthrough"].(map[string]any)); fmt.Sprint(got) != "[20 80]" {
		t.Errorf("fallthrough percentages = %v, want [20 80]", got)
	}
	if got := pct(raw["rules"].([]any)[0].(map[string]any)["serve"].(map[string]any)); fmt.Sprint(got) != "[75 25]" {
		t.Errorf("rule percentages = %v, want [75 25]", got)
	}
	if c.Fallthrough.Rollout.Variations[1].Weight != 4 {
		t.Errorf("the weights as given are kept: %+v", c.Fallthrough.Rollout.Variations)
	}
	count := func(country string) (a, b int) {
		for i := 0; i < 2000; i++ {
			e := s.evaluate("checkout-copy", sdk, fmt.Sprintf(`{"user_id":"u%d","attributes":{"country":%q}}`, i, country))
			if e.Value == "b" {
				b++
			} else {
				a++
			}
		}
		return a, b
	}
	if na, nb := count("US"); nb < 1500 || nb > 1700 {
		t.Errorf("everyone else: a %d, b %d; want b ≈ 4 × a (1600 of 2000)", na, nb)
	}
	if na, nb := count("IE"); na < 1400 || na > 1600 {
		t.Errorf("the eu rule: a %d, b %d; want a ≈ 3 × b (1500 of 2000)", na, nb)
	}
}

// TestVariationsFromValues: source 001 lists variations by value only; ids and names come from the
// values, and a mistake is reported alone.
func TestVariationsFromValues(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	for _, tc := range []struct {
		body string
		ids  string
	}{
		{`{"key":"color","type":"string","variations":[{"value":"blue"},{"value":"green"},{"value":"red"}]}`, "[blue green red]"},
		{`{"key":"retries","type":"number","variations":[{"value":10},{"value":25},{"value":50}]}`, "[10 25 50]"},
		{`{"key":"switch","type":"boolean","variations":[{"value":true},{"value":false}]}`, "[true false]"},
		{`{"key":"limits","type":"json","variations":[{"value":{"maxRetries":3,"timeout":5000}},{"value":{"maxRetries":1}}]}`, "[variation-1 variation-2]"},
	} {
		f := decode[api.FlagResponse](t, s.req("POST", flags, tc.body, "auth", a.dev).want(t, 201))
		var ids []string
		for _, v := range f.Variations {
			ids = append(ids, v.ID)
			if v.Name == "" {
				t.Errorf("%s: variation %s has no name", f.Key, v.ID)
			}
		}
		if fmt.Sprint(ids) != tc.ids {
			t.Errorf("%s: ids %v, want %s", f.Key, ids, tc.ids)
		}
	}
	r := s.req("POST", flags, `{"key":"mixed","type":"string","variations":[{"value":"blue"},{"value":5}]}`, "auth", a.dev).want(t, 422)
	var e api.ErrorResponse
	_ = json.Unmarshal(r.Body, &e)
	if len(e.Error.Details) != 1 || e.Error.Details[0].Field != "variations[1].value" {
		t.Errorf("errors = %+v, want only variations[1].value", e.Error.Details)
	}
	r = s.req("PATCH", flags+"/color", `{"variations":[{"value":"blue"},{"value":7}]}`, "auth", a.dev).want(t, 422)
	_ = json.Unmarshal(r.Body, &e)
	if len(e.Error.Details) != 1 || e.Error.Details[0].Field != "variations[1].value" {
		t.Errorf("update errors = %+v, want only variations[1].value", e.Error.Details)
	}
}

// TestKeysFromNames: a key derived from a name transliterates rather than mangles.
func TestKeysFromNames(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	for name, key := range map[string]string{"Crème brûlée": "creme-brulee", "Über Straße": "uber-strasse", "Señor Dev": "senor-dev"} {
		f := decode[api.FlagResponse](t, s.req("POST", flags, map[string]string{"name": name}, "auth", a.dev).want(t, 201))
		if f.Key != key || f.Name != name {
			t.Errorf("name %q → key %q (name %q), want %q", name, f.Key, f.Name, key)
		}
	}
	p := decode[api.ProjectResponse](t, s.req("POST", o+"/projects", `{"name":"Café Mobile"}`, "auth", a.admin).want(t, 201))
	if p.Key != "cafe-mobile" {
		t.Errorf("project key %q, want cafe-mobile", p.Key)
	}
}

// TestContextKeys: source 001's rollouts need a user.key: without a top-level key, targetingKey or
// user_id, the user's key buckets (also in LaunchDarkly's shapes); org_id works for one flag too.
func TestContextKeys(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"half"}`, "auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/half/environments/production", `{"status":"ACTIVE","rollout_percentage":50}`, "auth", a.dev).want(t, 200)
	for i := 0; i < 50; i++ {
		want := s.evaluate("half", sdk, fmt.Sprintf(`{"user_id":"u%d"}`, i))
		for _, body := range []string{
			fmt.Sprintf(`{"attributes":{"user":{"key":"u%d","email":"x@example.com"}}}`, i),
			fmt.Sprintf(`{"context":{"kind":"user","key":"u%d"}}`, i),
			fmt.Sprintf(`{"context":{"kind":"multi","user":{"key":"u%d"},"organization":{"key":"o1"}}}`, i),
			fmt.Sprintf(`{"context":{"targetingKey":"u%d"}}`, i),
		} {
			got := s.evaluate("half", sdk, body)
			if got.Reason != "SPLIT" || got.Enabled != want.Enabled {
				t.Fatalf("%s = %+v, want %v by SPLIT like user_id u%d", body, got, want.Enabled, i)
			}
		}
	}
	if e := s.evaluate("half", sdk, `{"attributes":{"user":{"email":"x@example.com"}}}`); e.Reason != "ERROR" || e.ErrorCode != "TARGETING_KEY_MISSING" {
		t.Errorf("no key anywhere = %+v", e)
	}
	// Source 003's isEnabledFor(org, null) for one flag.
	s.req("POST", flat, `{"key":"bulk_export","name":"Bulk export","enabled":true,"rules":{"org_ids":[47]}}`, "auth", a.admin,
		"X-Vane-Environment", "acme/default/production").want(t, 201)
	if e := s.evaluate("bulk_export", sdk, `{"org_id":47}`); !e.Enabled || e.Reason != "TARGETING_MATCH" {
		t.Errorf("isEnabledFor(47, null) = %+v", e)
	}
	if e := s.evaluate("bulk_export", sdk, `{"org_id":"48","user_id":"u1"}`); e.Enabled {
		t.Errorf("isEnabledFor(48, u1) = %+v", e)
	}
	s.req("POST", "/api/v1/feature-flags/bulk_export/evaluate", `{"org_id":1.5}`, "X-API-Key", sdk).want(t, 422)
}

// TestStatusEventData: source 004's events carry their data: feature_flag.killed the evaluations at
// the kill, feature_flag.enabled the rollout percentage — in the audit log and in webhook payloads.
func TestStatusEventData(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "production")
	s.req("POST", o+"/webhooks", `{"url":"`+exampleHook+`","events":["feature_flag.*"]}`, "auth", a.admin).want(t, 201)
	s.req("POST", flags, `{"key":"onboarding-v2"}`, "auth", a.dev).want(t, 201)
	cfg := flags + "/onboarding-v2/environments/production"
	s.req("PATCH", cfg, `{"status":"ACTIVE","rollout_percentage":25}`, "auth", a.dev).want(t, 200)
	s.req("POST", cfg+"/enable", nil, "auth", a.dev).want(t, 200)
	for i := 0; i < 7; i++ {
		s.evaluate("onboarding-v2", sdk, fmt.Sprintf(`{"user_id":"u%d"}`, i))
	}
	s.Plane.Flush(context.Background())
	for i := 0; i < 5; i++ { // counted in memory, not yet flushed
		s.evaluate("onboarding-v2", sdk, fmt.Sprintf(`{"user_id":"v%d"}`, i))
	}
	s.req("POST", cfg+"/disable", nil, "auth", a.dev).want(t, 200)

	event := func(action string) map[string]any {
		l := decode[api.AuditEventList](t, s.req("GET", o+"/audit-events?action="+action, nil, "auth", a.admin).want(t, 200))
		if len(l.Items) != 1 {
			t.Fatalf("%d %s events", len(l.Items), action)
		}
		b, _ := json.Marshal(l.Items[0].After)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	if e := event("feature_flag.enabled"); e["rollout_percentage"] != 25.0 || e["key"] != "onboarding-v2" {
		t.Errorf("feature_flag.enabled data = %v, want key and rollout_percentage 25", e)
	}
	if e := event("feature_flag.killed"); e["evaluations_at_kill"] != 12.0 || e["key"] != "onboarding-v2" {
		t.Errorf("feature_flag.killed data = %v, want evaluations_at_kill 12", e)
	}
	var payloads []string
	if err := s.DB.Table("webhook_deliveries").Where("org_id = ? AND event = ?", a.org.ID, "feature_flag.killed").Pluck("payload", &payloads).Error; err != nil {
		t.Fatal(err)
	}
	if len(payloads) != 1 || !strings.Contains(payloads[0], `"evaluations_at_kill":12`) {
		t.Errorf("killed webhook payloads = %v", payloads)
	}
}

// TestEvaluationsOfNewVariations: a variation added after the flag was first evaluated is counted.
func TestEvaluationsOfNewVariations(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"theme","type":"string","variations":[{"id":"light","value":"light"},{"id":"dark","value":"dark"}]}`, "auth", a.dev).want(t, 201)
	cfg := flags + "/theme/environments/production"
	s.req("PATCH", cfg, `{"status":"ACTIVE","fallthrough":{"variation":"dark"}}`, "auth", a.dev).want(t, 200)
	for i := 0; i < 3; i++ {
		s.evaluate("theme", sdk, `{"user_id":"u1"}`)
	}
	s.req("PATCH", flags+"/theme", `{"variations":[{"id":"light","value":"light"},{"id":"dark","value":"dark"},{"id":"sepia","value":"sepia"}]}`, "auth", a.dev).want(t, 200)
	s.req("PATCH", cfg, `{"fallthrough":{"variation":"sepia"}}`, "auth", a.dev).want(t, 200)
	for i := 0; i < 4; i++ {
		if e := s.evaluate("theme", sdk, `{"user_id":"u1"}`); e.Value != "sepia" {
			t.Fatalf("served %v, want sepia", e.Value)
		}
	}
	s.Plane.Flush(context.Background())
	if c := decode[api.ConfigResponse](t, s.req("GET", cfg, nil, "auth", a.viewer).want(t, 200)); c.Evaluations != 7 {
		t.Errorf("evaluations = %d, want 7 (3 before the new variation, 4 of it)", c.Evaluations)
	}
}

// TestStatusVerbTable: every status × verb, from a configuration put in that status first; an
// illegal move is a 409 (never a panic), and a legal one lands where the machine says.
func TestStatusVerbTable(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	// The shortest way to each status from DRAFT.
	paths := map[string][]string{
		"DRAFT":      nil,
		"ACTIVE":     {"activate"},
		"ENABLED":    {"activate", "enable"},
		"DISABLED":   {"activate", "enable", "disable"},
		"PAUSED":     {"activate", "enable", "disable", "pause"},
		"ROLLED_OUT": {"activate", "enable", "rollout"},
		"ARCHIVED":   {"activate", "enable", "disable", "archive"},
	}
	// verb → status reached, from each status that allows it.
	legal := map[string]map[string]string{
		"activate": {"DRAFT": "ACTIVE", "ACTIVE": "ACTIVE"},
		"enable":   {"ACTIVE": "ENABLED", "ENABLED": "ENABLED", "DISABLED": "ENABLED", "PAUSED": "ENABLED"},
		"disable":  {"ACTIVE": "DISABLED", "ENABLED": "DISABLED", "ROLLED_OUT": "DISABLED", "DISABLED": "DISABLED"},
		"pause":    {"DISABLED": "PAUSED", "PAUSED": "PAUSED"},
		"resume":   {"PAUSED": "ENABLED"},
		"rollout":  {"ENABLED": "ROLLED_OUT", "ROLLED_OUT": "ROLLED_OUT"},
		"archive":  {"ROLLED_OUT": "ARCHIVED", "DISABLED": "ARCHIVED", "ARCHIVED": "ARCHIVED"},
	}
	n := 0
	for from, path := range paths {
		for verb, to := range legal {
			n++
			t.Run(from+"/"+verb, func(t *testing.T) {
				key := fmt.Sprintf("flag-%d", n)
				s.req("POST", flags, map[string]string{"key": key}, "auth", a.dev).want(t, 201)
				cfg := flags + "/" + key + "/environments/production/"
				for _, v := range path {
					s.req("POST", cfg+v, nil, "auth", a.dev).want(t, 200)
				}
				r := s.req("POST", cfg+verb, nil, "auth", a.dev)
				want, ok := to[from]
				switch {
				case ok && r.Code != 200:
					t.Fatalf("%s from %s = %d %s, want 200 → %s", verb, from, r.Code, r.Body, want)
				case ok:
					if got := decode[api.ConfigResponse](t, r).Status.String(); got != want {
						t.Errorf("%s from %s → %s, want %s", verb, from, got, want)
					}
				case r.Code != 409:
					t.Errorf("%s from %s = %d %s, want 409", verb, from, r.Code, r.Body)
				}
			})
		}
	}
}

// TestClientVisibleFlags: client keys (public, in browsers) evaluate only client-visible flags;
// the project's default decides for new flags.
func TestClientVisibleFlags(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	srv, cli := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"public-banner"}`, "auth", a.dev).want(t, 201)
	f := decode[api.FlagResponse](t, s.req("POST", flags, `{"key":"internal-pricing","client_visible":false}`, "auth", a.dev).want(t, 201))
	if f.ClientVisible {
		t.Fatal("client_visible false was not kept")
	}
	for _, k := range []string{"public-banner", "internal-pricing"} {
		s.req("PATCH", flags+"/"+k+"/environments/production", `{"status":"ACTIVE","rollout_percentage":100}`, "auth", a.dev).want(t, 200)
	}
	if e := s.evaluate("internal-pricing", cli, `{"user_id":"u1"}`); e.Reason != "FLAG_NOT_FOUND" || e.Enabled {
		t.Errorf("client key, hidden flag = %+v, want FLAG_NOT_FOUND", e)
	}
	if e := s.evaluate("internal-pricing", srv, `{"user_id":"u1"}`); !e.Enabled {
		t.Errorf("server key, hidden flag = %+v, want enabled", e)
	}
	m := decode[map[string]any](t, s.req("GET", "/api/v1/feature-flags/evaluate?user_id=u1", nil, "X-API-Key", cli).want(t, 200))
	if _, seen := m["internal-pricing"]; seen || m["public-banner"] != true {
		t.Errorf("client map = %v", m)
	}
	m = decode[map[string]any](t, s.req("GET", "/api/v1/feature-flags/evaluate?user_id=u1", nil, "X-API-Key", srv).want(t, 200))
	if m["internal-pricing"] != true {
		t.Errorf("server map = %v", m)
	}
	s.req("POST", "/ofrep/v1/evaluate/flags/internal-pricing", `{"context":{"targetingKey":"u1"}}`, "X-API-Key", cli).want(t, 404)
	s.req("POST", "/ofrep/v1/evaluate/flags/internal-pricing", `{"context":{"targetingKey":"u1"}}`, "X-API-Key", srv).want(t, 200)
	bulk := s.req("POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u1"}}`, "X-API-Key", cli).want(t, 200)
	if strings.Contains(string(bulk.Body), "internal-pricing") || !strings.Contains(string(bulk.Body), "public-banner") {
		t.Errorf("client OFREP bulk = %s", bulk.Body)
	}
	// Turning it visible takes effect at once; the project default applies to new flags only.
	s.req("PATCH", flags+"/internal-pricing", `{"client_visible":true}`, "auth", a.dev).want(t, 200)
	if e := s.evaluate("internal-pricing", cli, `{"user_id":"u1"}`); !e.Enabled {
		t.Errorf("after client_visible true = %+v", e)
	}
	p := decode[api.ProjectResponse](t, s.req("PATCH", o+"/projects/default", `{"client_visible_default":false}`, "auth", a.admin).want(t, 200))
	if p.ClientVisibleDefault {
		t.Error("client_visible_default false was not kept")
	}
	if f := decode[api.FlagResponse](t, s.req("POST", flags, `{"key":"new-secret"}`, "auth", a.dev).want(t, 201)); f.ClientVisible {
		t.Error("a new flag ignored the project's default")
	}
	if f := decode[api.FlagResponse](t, s.req("GET", flags+"/public-banner", nil, "auth", a.viewer).want(t, 200)); !f.ClientVisible {
		t.Error("changing the default changed an existing flag")
	}
	if sf := decode[services.SimpleFlag](t, s.req("POST", flat, `{"key":"flat-one","name":"x","client_visible":true}`, "auth", a.admin).want(t, 201)); !sf.ClientVisible {
		t.Error("the flat API ignored client_visible")
	}
}
