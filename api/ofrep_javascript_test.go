package api_test

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestOFREPJavaScriptProvider runs the official OpenFeature OFREP provider for JavaScript,
// unmodified (sdk/js-compat, versions pinned in its lockfile), against a listening Vane server.
// It needs node and the packages (`make test` installs them with npm ci); VANE_REQUIRE_JS=1 turns
// their absence into a failure, which CI sets.
func TestOFREPJavaScriptProvider(t *testing.T) {
	t.Parallel()
	dir, _ := filepath.Abs("../sdk/js-compat")
	node := nodeOrSkip(t, filepath.Join(dir, "node_modules", "@openfeature", "ofrep-provider"), "run npm ci in sdk/js-compat")
	s := newServer(t)
	a := s.newTenant("acme")
	_, client := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"checkout"}`, "auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/checkout/environments/production", `{"status":"ACTIVE","rules":[{"id":"pro","conditions":[
		{"attribute":"plan","operator":"equals","values":["pro"]}],"serve":{"variation":"true"}}],
		"fallthrough":{"rollout":{"variations":[{"variation":"true","weight":50000},{"variation":"false","weight":50000}]}}}`,
		"auth", a.dev).want(t, 200)
	srv := httptest.NewServer(s.router)
	t.Cleanup(srv.Close)

	cmd := exec.Command(node, "check.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "VANE_URL="+srv.URL, "VANE_SDK_KEY="+client)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the JavaScript OFREP provider failed against Vane: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
