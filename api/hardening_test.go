package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/policies"
)

// TestEnvironmentBoundKeys: a key bound to one environment changes only that environment. Writes
// that reach every environment of the project — creating, redefining or deleting a flag, and
// segments — are refused; its flag reads show only its own environment.
func TestEnvironmentBoundKeys(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	s.req("POST", flags, `{"key":"checkout"}`, "auth", a.dev).want(t, 201)
	s.req("POST", o+"/projects/default/segments", `{"key":"beta"}`, "auth", a.dev).want(t, 201)
	dev := decode[api.APIKeyResponse](t, s.req("POST", o+"/api-keys", `{"name":"dev only","scopes":["write"],"project":"default",
		"environment":"development"}`, "auth", a.admin).want(t, 201)).Secret
	before := s.snapshot(a.org.ID)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", flags, `{"key":"new-one"}`},
		{"PATCH", flags + "/checkout", `{"variations":[{"value":true},{"value":false}],"name":"x"}`},
		{"PATCH", flags + "/checkout", `{"name":"Renamed"}`},
		{"DELETE", flags + "/checkout", ""},
		{"POST", o + "/projects/default/segments", `{"key":"gamma"}`},
		{"PATCH", o + "/projects/default/segments/beta", `{"name":"Beta 2"}`},
		{"DELETE", o + "/projects/default/segments/beta", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			s.req(tc.method, tc.path, body, "X-API-Key", dev).want(t, 403)
		})
	}
	if after := s.snapshot(a.org.ID); after != before {
		t.Errorf("refused writes changed rows:\nbefore %s\nafter %s", before, after)
	}
	// Its own environment: yes. Another: no.
	s.req("PATCH", flags+"/checkout/environments/development", `{"rollout_percentage":20}`, "X-API-Key", dev).want(t, 200)
	s.req("PATCH", flags+"/checkout/environments/production", `{"rollout_percentage":20}`, "X-API-Key", dev).want(t, 404)
	f := decode[api.FlagResponse](t, s.req("GET", flags+"/checkout", nil, "X-API-Key", dev).want(t, 200))
	if len(f.Environments) != 1 || f.Environments["development"].RolloutPercentage != 20 {
		t.Errorf("the bound key reads environments %v, want development only", f.Environments)
	}
	l := decode[api.FlagList](t, s.req("GET", flags, nil, "X-API-Key", dev).want(t, 200))
	if len(l.Items) != 1 || len(l.Items[0].Environments) != 1 {
		t.Errorf("the bound key lists %+v", l.Items)
	}
	// A project-wide key still may.
	s.req("PATCH", flags+"/checkout", `{"name":"Checkout v2"}`, "X-API-Key", a.keyWrite).want(t, 200)
}

// TestNULCharacters: a NUL character in any text input is a 422 naming the field, never a 500 (and
// never stored where one database keeps it and the other refuses it).
func TestNULCharacters(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	before := s.snapshot(a.org.ID)
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"login username", "POST", "/api/v1/auth/login", `{"username":"admin\u0000","password":"x"}`, "username"},
		{"flag name", "POST", flags, `{"key":"nul","name":"a\u0000b"}`, "name"},
		{"nested rule value", "PATCH", flags + "/x/environments/production",
			`{"rules":[{"conditions":[{"attribute":"country","operator":"in","values":["US","C\u0000A"]}],"serve":{"variation":"true"}}]}`,
			"rules[0].conditions[0].values[1]"},
		{"an object key", "POST", flags + "/x/environments/production/evaluate", `{"context":{"a\u0000":1}}`, "context.a\x00"},
		{"search", "GET", flags + "?q=a%00b", "", "q"},
		{"actor filter", "GET", o + "/audit-events?actor=x%00", "", "actor"},
		{"path", "GET", flags + "/a%00b", "", "flag"},
		{"flat API body", "POST", flat, `{"key":"nul2","name":"x","description":"\u0000"}`, "description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := s.req(tc.method, tc.path, body, "auth", a.admin).want(t, 422)
			if _, field := r.errorField(); field != tc.field {
				t.Errorf("field %q, want %q", field, tc.field)
			}
		})
	}
	if after := s.snapshot(a.org.ID); after != before {
		t.Errorf("refused writes changed rows")
	}
	// An escaped backslash followed by u0000 is just text.
	s.req("POST", flags, `{"key":"fine","name":"a\\u0000b"}`, "auth", a.admin).want(t, 201)
}

// TestSDKKeyRotationWithoutGrace: the leaked-key response — rotating again with no grace — ends
// every older key at once, including one still in an earlier rotation's grace period.
func TestSDKKeyRotationWithoutGrace(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	rotate := o + "/projects/default/environments/production/sdk-keys/rotate"
	first, _ := s.sdkKeys(a, "default", "production")
	s.req("POST", rotate, `{"kind":"server","grace_period":"24h"}`, "auth", a.admin).want(t, 200)
	second, _ := s.sdkKeys(a, "default", "production")
	s.req("POST", "/api/v1/feature-flags/evaluate", `{}`, "X-API-Key", first).want(t, 200) // in its grace period
	s.req("POST", rotate, `{"kind":"server","grace_period":"0s"}`, "auth", a.admin).want(t, 200)
	third, _ := s.sdkKeys(a, "default", "production")
	for name, k := range map[string]string{"first": first, "second": second} {
		s.req("POST", "/api/v1/feature-flags/evaluate", `{}`, "X-API-Key", k).want(t, 401)
		if n := s.count("sdk_keys", "key = ? AND (expires_at IS NULL OR expires_at > ?)", k, s.Clock.Now()); n != 0 {
			t.Errorf("the %s key still has time left", name)
		}
	}
	s.req("POST", "/api/v1/feature-flags/evaluate", `{}`, "X-API-Key", third).want(t, 200)
	// A second rotation with a shorter grace shortens the older keys' grace too, never lengthens it.
	s.req("POST", rotate, `{"kind":"server","grace_period":"48h"}`, "auth", a.admin).want(t, 200)
	s.req("POST", rotate, `{"kind":"server","grace_period":"1h"}`, "auth", a.admin).want(t, 200)
	if n := s.count("sdk_keys", "key = ? AND expires_at > ?", third, s.Clock.Now().Add(2*time.Hour)); n != 0 {
		t.Error("a key of an earlier rotation kept its 48h grace after a 1h rotation")
	}
}

// TestDepartedClient: a client that disconnects is a 499 logged at debug level, not a 500 ERROR.
func TestDepartedClient(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	enf, err := policies.New()
	if err != nil {
		t.Fatal(err)
	}
	r, err := api.NewRouter(api.Deps{Services: s.Svc, Plane: s.Plane, Enforcer: enf, Log: log, Clock: s.Clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client is gone before the handler reaches the database
	req := httptest.NewRequest("GET", flags, nil).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+a.viewer)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != 499 {
		t.Errorf("status %d, want 499", w.Code)
	}
	out := logs.String()
	if strings.Contains(out, "level=ERROR") || !strings.Contains(out, "level=DEBUG msg=request") || !strings.Contains(out, "status=499") {
		t.Errorf("log:\n%s\nwant one DEBUG request line with status 499 and no ERROR", out)
	}
}
