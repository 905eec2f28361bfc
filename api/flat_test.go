package api_test

import (
	"fmt"
	"testing"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/services"
)

const flat = "/api/v1/feature-flags"

// share evaluates a flag for n users with the environment's SDK key and returns the share (in %)
// that got the feature.
func (s *server) share(flag, sdk string, n int, attrs string) float64 {
	s.t.Helper()
	on := 0
	for i := 0; i < n; i++ {
		if s.evaluate(flag, sdk, fmt.Sprintf(`{"user_id":"user-%d","attributes":%s}`, i, attrs)).Enabled {
			on++
		}
	}
	return float64(on) * 100 / float64(n)
}

// TestFlatEnabledWithoutRules: source 003's flag created enabled with no rules at all is on for
// everyone, as {"rules": {}} and {"rules": null} already were.
func TestFlatEnabledWithoutRules(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "development")
	for _, body := range []string{
		`{"key":"realtime_collab","name":"Realtime","enabled":true}`,
		`{"key":"empty_rules","name":"Empty","enabled":true,"rules":{}}`,
		`{"key":"null_rules","name":"Null","enabled":true,"rules":null}`,
	} {
		f := decode[services.SimpleFlag](t, s.req("POST", flat, body, "auth", a.admin).want(t, 201))
		if f.Status != "ENABLED" || !f.Enabled || f.RolloutPercentage != 100 {
			t.Errorf("POST %s = status %s enabled %v rollout %v, want ENABLED, true, 100", body, f.Status, f.Enabled, f.RolloutPercentage)
		}
		for _, ctx := range []string{`{}`, `{"user_id":"42"}`, `{"user_id":"7","attributes":{"country":"IE"}}`} {
			if e := s.evaluate(f.Key, sdk, ctx); !e.Enabled {
				t.Errorf("%s for %s = %+v, want enabled", f.Key, ctx, e)
			}
		}
	}
	// Source 000's explicit 0% stays off.
	f := decode[services.SimpleFlag](t, s.req("POST", flat, `{"key":"zero","name":"Zero","rollout_percentage":0,"status":"ACTIVE"}`, "auth", a.admin).want(t, 201))
	if f.RolloutPercentage != 0 || s.evaluate("zero", sdk, `{"user_id":"u1"}`).Enabled {
		t.Errorf("an ACTIVE flag at 0%% = %+v", f)
	}
}

// TestFlatIsActive: source 001's kill switch is is_active, a synonym of enabled both ways.
func TestFlatIsActive(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "development")
	f := decode[services.SimpleFlag](t, s.req("POST", flat, `{"key":"new-checkout","name":"New checkout","is_active":true,
		"rules":{"user_ids":[42]}}`, "auth", a.admin).want(t, 201))
	if !f.IsActive || !f.Enabled || f.Status != "ENABLED" {
		t.Errorf("created with is_active = %+v", f)
	}
	if !s.evaluate("new-checkout", sdk, `{"user_id":42}`).Enabled || s.evaluate("new-checkout", sdk, `{"user_id":43}`).Enabled {
		t.Error("user_ids [42] not served as written")
	}
	f = decode[services.SimpleFlag](t, s.req("PATCH", flat+"/new-checkout", `{"is_active":false}`, "auth", a.admin).want(t, 200))
	if f.IsActive || f.Enabled || f.Status != "DISABLED" || f.Rules == nil || len(f.Rules.UserIDs) != 1 {
		t.Errorf("after is_active false = %+v, want DISABLED with the rules kept", f)
	}
	if s.evaluate("new-checkout", sdk, `{"user_id":42}`).Enabled {
		t.Error("the kill switch did not stop serving")
	}
	got := s.req("GET", flat+"/new-checkout", nil, "auth", a.viewer).want(t, 200).JSON()
	if got["is_active"] != false || got["enabled"] != false {
		t.Errorf("GET shows is_active %v, enabled %v", got["is_active"], got["enabled"])
	}
	f = decode[services.SimpleFlag](t, s.req("PUT", flat+"/new-checkout", `{"is_active":true}`, "auth", a.admin).want(t, 200))
	if !f.IsActive || !s.evaluate("new-checkout", sdk, `{"user_id":42}`).Enabled {
		t.Errorf("after is_active true = %+v", f)
	}
	r := s.req("PATCH", flat+"/new-checkout", `{"is_active":false,"enabled":true}`, "auth", a.admin).want(t, 422)
	if _, field := r.errorField(); field != "is_active" {
		t.Errorf("contradicting enabled: field %q", field)
	}
}

// TestFlatDefaultOn: source 000's "Default: ON". rollout_percentage is always the share of eligible
// users who get true; the default value is what everyone else gets.
func TestFlatDefaultOn(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "development")
	f := decode[services.SimpleFlag](t, s.req("POST", flat, `{"key":"dark-mode","name":"Dark mode","default_value":true,
		"rollout_percentage":10,"status":"ACTIVE","targeting_rules":[{"attribute":"plan","operator":"equals","value":"pro"}]}`,
		"auth", a.admin).want(t, 201))
	if f.RolloutPercentage != 10 || f.DefaultValue != true {
		t.Fatalf("created = rollout %v default %v, want 10 and true", f.RolloutPercentage, f.DefaultValue)
	}
	if p := s.share("dark-mode", sdk, 2000, `{"plan":"pro"}`); p < 7 || p > 13 {
		t.Errorf("eligible users enabled: %.1f%%, want ≈ 10%%", p)
	}
	if p := s.share("dark-mode", sdk, 200, `{"plan":"free"}`); p != 100 {
		t.Errorf("users outside the rules enabled: %.1f%%, want 100%% (the default)", p)
	}
	// Draft: the default for everyone.
	s.req("PUT", flat+"/dark-mode", `{"status":"DRAFT"}`, "auth", a.admin).want(t, 409) // ACTIVE cannot go back to DRAFT
	s.req("PUT", flat+"/dark-mode", `{"enabled":false}`, "auth", a.admin).want(t, 200)
	if p := s.share("dark-mode", sdk, 200, `{"plan":"pro"}`); p != 100 {
		t.Errorf("killed Default: ON flag serves true to %.1f%%, want 100%%", p)
	}
	// The project API: a flag whose default variation is true, rolled out to 10% by rollout_percentage.
	s.req("POST", flags, `{"key":"beta-banner","default_variation":"true"}`, "auth", a.dev).want(t, 201)
	c := decode[api.ConfigResponse](t, s.req("PATCH", flags+"/beta-banner/environments/development",
		`{"rollout_percentage":10,"status":"ACTIVE"}`, "auth", a.dev).want(t, 200))
	if c.RolloutPercentage != 10 {
		t.Errorf("default true at 10%%: rollout_percentage %v, want 10", c.RolloutPercentage)
	}
	if p := s.share("beta-banner", sdk, 2000, `{}`); p < 7 || p > 13 {
		t.Errorf("default true at 10%%: %.1f%% enabled, want ≈ 10%%", p)
	}
	e := s.evaluate("beta-banner", sdk, `{"user_id":"u1"}`)
	if e.RolloutPercentage != 10 {
		t.Errorf("evaluation reports rollout_percentage %v, want 10", e.RolloutPercentage)
	}
	r := s.req("POST", flat, `{"key":"bad-default","name":"x","default_value":"maybe"}`, "auth", a.admin).want(t, 422)
	if _, field := r.errorField(); field != "default_value" {
		t.Errorf("a default that is no value of the flag: field %q", field)
	}
}

// TestFlatIfMatch: the flat API's writes honour If-Match as the README promises.
func TestFlatIfMatch(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	r := s.req("POST", flat, `{"key":"checkout","name":"Checkout","rollout_percentage":0,"status":"DRAFT"}`, "auth", a.admin).want(t, 201)
	tag := r.Header.Get("ETag")
	v1 := decode[services.SimpleFlag](t, r).Version
	if tag != fmt.Sprintf(`"%d"`, v1) {
		t.Fatalf("ETag %q, version %d", tag, v1)
	}
	s.req("PUT", flat+"/checkout", `{"rollout_percentage":10}`, "auth", a.admin, "If-Match", tag).want(t, 200)
	stale := s.req("PUT", flat+"/checkout", `{"rollout_percentage":50}`, "auth", a.dev, "If-Match", tag).want(t, 412)
	if cur := stale.JSON()["error"].(map[string]any)["current_version"]; cur != float64(v1+1) {
		t.Errorf("412 current_version = %v, want %d", cur, v1+1)
	}
	if f := decode[services.SimpleFlag](t, s.req("GET", flat+"/checkout", nil, "auth", a.viewer).want(t, 200)); f.RolloutPercentage != 10 {
		t.Errorf("a stale PUT overwrote: rollout %v, want 10", f.RolloutPercentage)
	}
	s.req("PATCH", flat+"/checkout", `{"name":"Renamed"}`, "auth", a.admin, "If-Match", tag).want(t, 412)
	if f := decode[services.SimpleFlag](t, s.req("GET", flat+"/checkout", nil, "auth", a.viewer)); f.Name != "Checkout" {
		t.Errorf("a stale PATCH renamed the flag to %q", f.Name)
	}
	s.req("DELETE", flat+"/checkout", nil, "auth", a.admin, "If-Match", tag).want(t, 412)
	s.req("DELETE", flat+"/checkout", nil, "auth", a.admin, "If-Match", fmt.Sprintf(`"%d"`, v1+1)).want(t, 204)
}

// TestFlatEnvironmentBinding: a key bound to one environment lists and creates only there, like
// get and update.
func TestFlatEnvironmentBinding(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	dev := decode[api.APIKeyResponse](t, s.req("POST", o+"/api-keys", `{"name":"dev only","scopes":["write"],"project":"default",
		"environment":"development"}`, "auth", a.admin).want(t, 201)).Secret
	s.req("POST", flat, `{"key":"shared","name":"Shared"}`, "auth", a.admin).want(t, 201)
	for _, tc := range []struct {
		method, path, body string
	}{
		{"GET", flat, ""},
		{"GET", flat + "/shared", ""},
		{"PUT", flat + "/shared", `{"rollout_percentage":5}`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			s.req(tc.method, tc.path, body, "X-API-Key", dev, "X-Vane-Environment", "acme/default/production").want(t, 404)
		})
	}
	// Creating a flag reaches every environment: an environment-bound key may not, whichever it names.
	s.req("POST", flat, `{"key":"sneaky","name":"Sneaky"}`, "X-API-Key", dev, "X-Vane-Environment", "acme/default/production").want(t, 404)
	s.req("POST", flat, `{"key":"sneaky","name":"Sneaky"}`, "X-API-Key", dev).want(t, 403)
	if n := s.count("flags", "org_id = ? AND key = ?", a.org.ID, "sneaky"); n != 0 {
		t.Errorf("%d flags created through an environment-bound key", n)
	}
	list := decode[[]services.SimpleFlag](t, s.req("GET", flat, nil, "X-API-Key", dev).want(t, 200))
	if len(list) != 1 || list[0].Environment != "development" {
		t.Errorf("the bound key's own environment lists %+v", list)
	}
}

// TestFlatStatusQuery: source 004's find({status: 'Enabled'}) sorted by evaluations, on both the
// project API and the flat API; unknown values are refused, never an empty 200.
func TestFlatStatusQuery(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	for _, k := range []string{"a-on", "b-on", "c-draft", "d-done"} {
		s.req("POST", flags, map[string]any{"key": k}, "auth", a.dev).want(t, 201)
	}
	for _, k := range []string{"a-on", "b-on", "d-done"} {
		s.req("POST", flags+"/"+k+"/environments/development/activate", nil, "auth", a.dev).want(t, 200)
		s.req("POST", flags+"/"+k+"/environments/development/enable", nil, "auth", a.dev).want(t, 200)
	}
	s.req("POST", flags+"/d-done/environments/development/rollout", nil, "auth", a.dev).want(t, 200)
	keys := func(r response) string {
		var out []string
		for _, f := range decode[api.FlagList](t, r).Items {
			out = append(out, f.Key)
		}
		return fmt.Sprint(out)
	}
	flatKeys := func(r response) string {
		var out []string
		for _, f := range decode[[]services.SimpleFlag](t, r) {
			out = append(out, f.Key)
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct{ status, want string }{
		{"Enabled", "[a-on b-on]"}, {"ENABLED", "[a-on b-on]"}, {"enabled", "[a-on b-on]"},
		{"RolledOut", "[d-done]"}, {"ROLLED_OUT", "[d-done]"}, {"rolled_out", "[d-done]"}, {"Draft", "[c-draft]"},
	} {
		t.Run(tc.status, func(t *testing.T) {
			got := keys(s.req("GET", flags+"?environment=development&sort=key&status="+tc.status, nil, "auth", a.viewer).want(t, 200))
			if got != tc.want {
				t.Errorf("project API status=%s = %s, want %s", tc.status, got, tc.want)
			}
			got = flatKeys(s.req("GET", flat+"?status="+tc.status, nil, "auth", a.viewer).want(t, 200))
			if got != tc.want {
				t.Errorf("flat API status=%s = %s, want %s", tc.status, got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ path, field string }{
		{flags + "?environment=development&status=Live", "status"},
		{flags + "?environment=development&sort=popularity", "sort"},
		{flags + "?limit=0", "limit"},
		{flags + "?limit=1001", "limit"},
		{flags + "?sort=key&offset=-1", "offset"},
		{flags + "?sort=key&offset=ten", "offset"},
		{flags + "?offset=2", "offset"},
		{flags + "?sort=key&limit=1&offset=1&cursor=b2Zmc2V0OjE", "offset"},
		{flat + "?status=Live", "status"},
		{flat + "?sort=popularity", "sort"},
		{flat + "?limit=0", "limit"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := s.req("GET", tc.path, nil, "auth", a.viewer).want(t, 422)
			if _, field := r.errorField(); field != tc.field {
				t.Errorf("field %q, want %q", field, tc.field)
			}
		})
	}
	if got := flatKeys(s.req("GET", flat+"?status=Enabled&sort=evaluations&limit=1", nil, "auth", a.viewer).want(t, 200)); got != "[a-on]" {
		t.Errorf("flat status=Enabled&sort=evaluations&limit=1 = %s", got)
	}
}
