package api_test

import (
	"strings"
	"testing"
	"time"
)

func TestBadInputIsRefusedWithTheField(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		code, field        string
	}{
		{"project key with spaces", "POST", o + "/projects", `{"key":"Bad Key"}`, nil, 422, "validation_failed", "key"},
		{"project key too long", "POST", o + "/projects", `{"key":"` + strings.Repeat("a", 65) + `"}`, nil, 422, "validation_failed", "key"},
		{"project key starting with a dash", "POST", o + "/projects", `{"key":"-web"}`, nil, 422, "validation_failed", "key"},
		{"project without key or name", "POST", o + "/projects", `{}`, nil, 422, "validation_failed", "key"},
		{"environment key bad", "POST", o + "/projects", `{"key":"web","environments":[{"key":"dev"},{"key":"QA!"}]}`, nil, 422, "validation_failed", "environments[1].key"},
		{"duplicate environment keys", "POST", o + "/projects", `{"key":"web","environments":[{"key":"dev"},{"key":"dev"}]}`, nil, 422, "validation_failed", "environments[1].key"},
		{"no environments", "POST", o + "/projects", `{"key":"web","environments":[]}`, nil, 422, "validation_failed", "environments"},
		{"unknown field", "POST", o + "/projects", `{"key":"web","colour":"red"}`, nil, 400, "malformed_request", "colour"},
		{"unknown nested field", "POST", o + "/projects", `{"key":"web","environments":[{"key":"dev","tier":1}]}`, nil, 400, "malformed_request", "tier"},
		{"number for a string", "POST", o + "/projects", `{"key":5}`, nil, 400, "malformed_request", "key"},
		{"string for an array", "POST", o + "/projects", `{"key":"web","environments":"dev"}`, nil, 400, "malformed_request", "environments"},
		{"string for a bool", "POST", o + "/projects/default/environments", `{"key":"qa","production":"yes"}`, nil, 400, "malformed_request", "production"},
		{"not JSON", "POST", o + "/projects", `{"key":`, nil, 400, "malformed_request", ""},
		{"an array body", "POST", o + "/projects", `[{"key":"web"}]`, nil, 400, "malformed_request", ""},
		{"empty body", "POST", o + "/projects", ``, nil, 400, "malformed_request", ""},
		{"two objects", "POST", o + "/projects", `{"key":"web"}{"key":"web2"}`, nil, 400, "malformed_request", ""},
		{"API key without name and scopes", "POST", o + "/api-keys", `{}`, nil, 422, "validation_failed", "name"},
		{"API key with unknown scope", "POST", o + "/api-keys", `{"name":"x","scopes":["read","root"]}`, nil, 422, "validation_failed", "scopes[1]"},
		{"API key expired at birth", "POST", o + "/api-keys", `{"name":"x","scopes":["read"],"expires_at":"` + past + `"}`, nil, 422, "validation_failed", "expires_at"},
		{"API key bad time", "POST", o + "/api-keys", `{"name":"x","scopes":["read"],"expires_at":"tomorrow"}`, nil, 400, "malformed_request", ""},
		{"API key environment without project", "POST", o + "/api-keys", `{"name":"x","scopes":["read"],"environment":"production"}`, nil, 422, "validation_failed", "environment"},
		{"invite bad email", "POST", o + "/members", `{"email":"not-an-email","role":"VIEWER"}`, nil, 422, "validation_failed", "email"},
		{"invite bad role", "POST", o + "/members", `{"email":"x@y.test","role":"OWNER"}`, nil, 422, "validation_failed", "role"},
		{"role change to nonsense", "PATCH", o + "/members/admin@acme.test", `{"role":"root"}`, nil, 422, "validation_failed", "role"},
		{"rotate bad kind", "POST", o + "/projects/default/environments/production/sdk-keys/rotate", `{"kind":"all"}`, nil, 422, "validation_failed", "kind"},
		{"rotate bad grace", "POST", o + "/projects/default/environments/production/sdk-keys/rotate", `{"grace_period":"forever"}`, nil, 422, "validation_failed", "grace_period"},
		{"rotate grace too long", "POST", o + "/projects/default/environments/production/sdk-keys/rotate", `{"grace_period":"9999h"}`, nil, 422, "validation_failed", "grace_period"},
		{"org rename to empty", "PATCH", o, `{"name":"  "}`, nil, 422, "validation_failed", "name"},
		{"limit too big", "GET", o + "/projects?limit=500", nil, nil, 422, "validation_failed", "limit"},
		{"limit not a number", "GET", o + "/projects?limit=ten", nil, nil, 422, "validation_failed", "limit"},
		{"cursor not ours", "GET", o + "/projects?cursor=not*base64", nil, nil, 422, "validation_failed", "cursor"},
		{"audit since not a time", "GET", o + "/audit-events?since=yesterday", nil, nil, 422, "validation_failed", "since"},
		{"If-Match garbage", "PATCH", o + "/projects/default", `{"name":"x"}`, []string{"If-Match", "latest"}, 422, "validation_failed", "If-Match"},
		{"delete project without confirm", "DELETE", o + "/projects/default", nil, nil, 422, "validation_failed", "confirm"},
		{"delete org with wrong confirm", "DELETE", o + "?confirm=ACME", nil, nil, 422, "validation_failed", "confirm"},
	}
	before := s.snapshot(a.org.ID)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != nil {
				body = tc.body
			}
			r := s.req(tc.method, tc.path, body, append([]string{"auth", a.admin}, tc.headers...)...)
			code, field := r.errorField()
			if r.Code != tc.status || code != tc.code || field != tc.field {
				t.Errorf("%s %s = %d %s %q, want %d %s %q; body %s", tc.method, tc.path, r.Code, code, field,
					tc.status, tc.code, tc.field, r.Body)
			}
			if e, _ := r.JSON()["error"].(map[string]any); e == nil || e["message"] == "" {
				t.Errorf("no message in %s", r.Body)
			}
		})
	}
	if after := s.snapshot(a.org.ID); after != before {
		t.Errorf("refused requests wrote rows:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestSignupValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	cases := []struct {
		name  string
		body  string
		field string
	}{
		{"bad email", `{"email":"nope","password":"long-enough"}`, "email"},
		{"short password", `{"email":"a@b.test","password":"short"}`, "password"},
		{"username with @", `{"email":"a@b.test","password":"long-enough","username":"a@b"}`, "username"},
		{"bad organisation slug", `{"email":"a@b.test","password":"long-enough","organization":{"name":"A","slug":"A B"}}`, "organization.slug"},
	}
	for _, tc := range cases {
		r := s.req("POST", "/api/v1/auth/signup", tc.body).want(t, 422)
		if _, field := r.errorField(); field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.name, field, tc.field)
		}
	}
	// A sign-up whose organisation slug is taken writes nothing: not even the user.
	s.newTenant("taken")
	users := s.count("users", "1 = 1")
	r := s.req("POST", "/api/v1/auth/signup", `{"email":"new@b.test","password":"long-enough","organization":{"name":"T","slug":"taken"}}`).want(t, 409)
	if code, _ := r.errorField(); code != "conflict" {
		t.Errorf("code %q, want conflict", code)
	}
	if n := s.count("users", "1 = 1"); n != users {
		t.Errorf("users went from %d to %d after a refused sign-up", users, n)
	}
}

func TestOversizedBody(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	big := `{"key":"web","description":"` + strings.Repeat("x", 2<<20) + `"}`
	r := s.req("POST", o+"/projects", big, "auth", a.admin).want(t, 413)
	if code, _ := r.errorField(); code != "payload_too_large" {
		t.Errorf("code %q, want payload_too_large", code)
	}
	if n := s.count("projects", "key = ?", "web"); n != 0 {
		t.Errorf("an oversized body wrote %d projects", n)
	}
	// Chunked (no Content-Length) is cut off while reading.
	s.req("POST", "/api/v1/auth/login", strings.NewReader(big)).want(t, 413)
}
