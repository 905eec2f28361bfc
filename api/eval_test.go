package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ofrep "github.com/open-feature/go-sdk-contrib/providers/ofrep"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/dataplane"
	vane "github.com/vanehq/vane/sdk/go"
)

// TestPropagationAcrossNodes: a write on node A is served by node B within a second.
func TestPropagationAcrossNodes(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.secondNode(t)
	sdk, _ := s.sdkKeys(a, "default", "production")

	s.req("POST", flags, `{"key":"rollout"}`, "auth", a.dev).want(t, 201)
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) { // B holds every snapshot already: the notice reaches it
		e := b.evaluate("rollout", sdk, `{"user_id":"u1"}`)
		if e.Reason == "DISABLED" {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("B still serves %+v 10 s after the flag was created", e)
		}
	}
	for i, step := range []string{`{"status":"ACTIVE","rollout_percentage":100}`, `{"enabled":false}`} {
		start := time.Now()
		s.req("PATCH", flags+"/rollout/environments/production", step, "auth", a.dev).want(t, 200)
		want := i == 0
		for {
			if e := b.evaluate("rollout", sdk, `{"user_id":"u1"}`); e.Enabled == want {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("step %d: node B still serves the old configuration after 1s", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("step %d reached node B in %v", i, time.Since(start))
	}
}

// TestSDKKeysSeeOneEnvironment: an SDK key opens its environment and nothing else.
func TestSDKKeysSeeOneEnvironment(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.newTenant("bravo")
	prod, prodClient := s.sdkKeys(a, "default", "production")
	staging, _ := s.sdkKeys(a, "default", "staging")
	bravo, _ := s.sdkKeys(b, "default", "production")
	s.req("POST", flags, `{"key":"secret-feature"}`, "auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/secret-feature/environments/production", `{"status":"ACTIVE","rollout_percentage":100}`, "auth", a.dev).want(t, 200)

	if e := s.evaluate("secret-feature", prod, `{"user_id":"u"}`); !e.Enabled {
		t.Errorf("production key = %+v", e)
	}
	if e := s.evaluate("secret-feature", staging, `{"user_id":"u"}`); e.Enabled || e.Reason != "DISABLED" {
		t.Errorf("staging key sees production's configuration: %+v", e)
	}
	if e := s.evaluate("secret-feature", bravo, `{"user_id":"u"}`); e.Reason != "FLAG_NOT_FOUND" {
		t.Errorf("another organisation's key sees the flag: %+v", e)
	}
	if m := decode[map[string]any](t, s.req("GET", "/api/v1/feature-flags/evaluate", nil, "X-API-Key", bravo).want(t, 200)); len(m) != 0 {
		t.Errorf("bravo's map = %v", m)
	}
	cfg := s.req("GET", "/api/v1/sdk/config", nil, "X-API-Key", bravo).want(t, 200)
	if strings.Contains(string(cfg.Body), "secret-feature") {
		t.Error("bravo's config download contains acme's flag")
	}
	s.req("GET", "/api/v1/sdk/config", nil, "X-API-Key", prodClient).want(t, 403) // client keys are public: no full config
	s.req("GET", "/api/v1/sdk/config", nil, "X-API-Key", "srv-unknown").want(t, 401)
	s.req("POST", "/api/v1/feature-flags/secret-feature/evaluate", `{"user_id":"u"}`, "X-API-Key", a.keyA).want(t, 401) // management keys do not evaluate
	s.req("POST", "/api/v1/feature-flags/secret-feature/evaluate", `{"user_id":"u"}`, "auth", a.admin).want(t, 401)

	// A rotated key stops at once without a grace period, on this node's cache too.
	s.req("POST", o+"/projects/default/environments/production/sdk-keys/rotate", `{"kind":"server"}`, "auth", a.admin).want(t, 200)
	s.req("POST", "/api/v1/feature-flags/secret-feature/evaluate", `{"user_id":"u"}`, "X-API-Key", prod).want(t, 401)
	// Bad contexts are the client's fault, never a 500.
	s.req("POST", "/api/v1/feature-flags/secret-feature/evaluate", `{"user_id":{"a":1}}`, "X-API-Key", prodClient).want(t, 422)
	s.req("POST", "/api/v1/feature-flags/secret-feature/evaluate", `{"attributes":`+strings.Repeat(`{"a":`, 30)+`1`+strings.Repeat(`}`, 30)+`}`,
		"X-API-Key", prodClient).want(t, 422)
	s.req("POST", "/api/v1/feature-flags/secret-feature/evaluate", `[1,2]`, "X-API-Key", prodClient).want(t, 400)
}

func TestOFREP(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	_, client := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"checkout"}`, "auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/checkout/environments/production", `{"status":"ACTIVE","rules":[{"id":"pro","conditions":[{"attribute":"plan","operator":"equals","values":["pro"]}],
		"serve":{"variation":"true"}}],"fallthrough":{"rollout":{"variations":[{"variation":"true","weight":50000},{"variation":"false","weight":50000}]}}}`,
		"auth", a.dev).want(t, 200)
	s.req("POST", flags, `{"key":"draft-one"}`, "auth", a.dev).want(t, 201)

	cases := []struct {
		name, path, body string
		code             int
		want             map[string]any
	}{
		{"match", "/ofrep/v1/evaluate/flags/checkout", `{"context":{"targetingKey":"u1","plan":"pro"}}`, 200,
			map[string]any{"key": "checkout", "reason": "TARGETING_MATCH", "variant": "true", "value": true}},
		{"split", "/ofrep/v1/evaluate/flags/checkout", `{"context":{"targetingKey":"u1"}}`, 200, map[string]any{"reason": "SPLIT"}},
		{"disabled", "/ofrep/v1/evaluate/flags/draft-one", `{"context":{"targetingKey":"u1"}}`, 200,
			map[string]any{"reason": "DISABLED", "value": false, "variant": "false"}},
		{"not found", "/ofrep/v1/evaluate/flags/nope", `{"context":{"targetingKey":"u1"}}`, 404, map[string]any{"key": "nope", "errorCode": "FLAG_NOT_FOUND"}},
		{"no targeting key", "/ofrep/v1/evaluate/flags/checkout", `{"context":{"plan":"free"}}`, 400, map[string]any{"errorCode": "TARGETING_KEY_MISSING"}},
		{"parse error", "/ofrep/v1/evaluate/flags/checkout", `{"context":`, 400, map[string]any{"errorCode": "PARSE_ERROR"}},
		{"invalid context", "/ofrep/v1/evaluate/flags/checkout", `{"context":"user-1"}`, 400, map[string]any{"errorCode": "INVALID_CONTEXT"}},
	}
	for _, tc := range cases {
		r := s.req("POST", tc.path, tc.body, "X-API-Key", client)
		got := r.JSON()
		if r.Code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Code, r.Body, tc.code)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v (%s)", tc.name, k, got[k], v, r.Body)
			}
		}
	}
	if r := s.req("POST", "/ofrep/v1/evaluate/flags/checkout", `{}`, "X-API-Key", "cli-wrong"); r.Code != 401 || len(r.Body) != 0 {
		t.Errorf("bad key = %d %q, want 401 without a body", r.Code, r.Body)
	}

	// Bulk, with ETag and 304.
	r := s.req("POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u1"}}`, "auth", client).want(t, 200)
	var bulk api.OFREPBulk
	_ = json.Unmarshal(r.Body, &bulk)
	if len(bulk.Flags) != 2 || len(bulk.EventStreams) != 1 || bulk.EventStreams[0].Type != "sse" {
		t.Errorf("bulk = %s", r.Body)
	}
	tag := r.Header.Get("ETag")
	s.req("POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u1"}}`, "auth", client, "If-None-Match", tag).want(t, 304)
	// The ETag names the answers, not the request: a context served alike shares it, one served
	// otherwise (a rule matches; no key for the rollout) does not.
	s.req("POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u1","country":"FR"}}`, "auth", client, "If-None-Match", tag).want(t, 304)
	pro := s.req("POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u1","plan":"pro"}}`, "auth", client, "If-None-Match", tag).want(t, 200)
	noKey := s.req("POST", "/ofrep/v1/evaluate/flags", `{"context":{}}`, "auth", client, "If-None-Match", tag).want(t, 200)
	if pt, nt := pro.Header.Get("ETag"), noKey.Header.Get("ETag"); pt == tag || nt == tag || pt == nt || !strings.Contains(string(noKey.Body), `"errorCode":"TARGETING_KEY_MISSING"`) {
		t.Errorf("ETags %s %s %s for different answers; no key: %s", tag, pt, nt, noKey.Body)
	}
	s.req("PATCH", flags+"/draft-one/environments/production", `{"status":"ACTIVE"}`, "auth", a.dev).want(t, 200)
	s.req("POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u1"}}`, "auth", client, "If-None-Match", tag).want(t, 200)

	// The official OpenFeature Go provider, unmodified, against a real listening server.
	srv := httptest.NewServer(s.router)
	t.Cleanup(srv.Close)
	if err := openfeature.SetNamedProviderAndWait("vane-ofrep-test", ofrep.NewProvider(srv.URL, ofrep.WithApiKeyAuth(client))); err != nil {
		t.Fatal(err)
	}
	of := openfeature.NewClient("vane-ofrep-test")
	bg := context.Background()
	d, err := of.BooleanValueDetails(bg, "checkout", false, openfeature.NewEvaluationContext("u1", map[string]any{"plan": "pro"}))
	if err != nil || !d.Value || d.Reason != openfeature.TargetingMatchReason || d.Variant != "true" {
		t.Errorf("provider: checkout for a pro user = %+v, %v", d, err)
	}
	d, err = of.BooleanValueDetails(bg, "nope", true, openfeature.NewEvaluationContext("u1", nil))
	if err == nil || d.ErrorCode != openfeature.FlagNotFoundCode || !d.Value {
		t.Errorf("provider: missing flag = %+v, %v; want FLAG_NOT_FOUND and the caller's default", d, err)
	}
	d, err = of.BooleanValueDetails(bg, "checkout", false, openfeature.NewEvaluationContext("", map[string]any{"plan": "free"}))
	if err == nil || d.ErrorCode != openfeature.TargetingKeyMissingCode {
		t.Errorf("provider: no targeting key = %+v, %v", d, err)
	}
	if _, err := openfeature.NewClient("vane-ofrep-test").StringValue(bg, "checkout", "x", openfeature.NewEvaluationContext("u1", nil)); err == nil {
		t.Error("provider: a boolean flag read as a string did not fail")
	}
}

// TestSDKConfigAndStream: the full configuration with ETag/304, and a stream that delivers changes.
func TestSDKConfigAndStream(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	srvKey, client := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"streamed"}`, "auth", a.dev).want(t, 201)
	r := s.req("GET", "/api/v1/sdk/config", nil, "auth", srvKey).want(t, 200)
	var cfg dataplane.SDKConfig
	_ = json.Unmarshal(r.Body, &cfg)
	if cfg.Environment != "production" || len(cfg.Flags) != 1 || cfg.Flags[0].Key != "streamed" {
		t.Fatalf("config = %s", r.Body)
	}
	tag := r.Header.Get("ETag")
	s.req("GET", "/api/v1/sdk/config", nil, "auth", srvKey, "If-None-Match", tag).want(t, 304)

	srv := httptest.NewServer(s.router)
	t.Cleanup(srv.Close)
	open := func(path, key string) (*bufio.Reader, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		req.Header.Set("X-API-Key", key)
		res, err := http.DefaultClient.Do(req) //nolint:bodyclose // closed by the function returned below
		if err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("open %s = %v, %v", path, res, err)
		}
		return bufio.NewReader(res.Body), func() { cancel(); _ = res.Body.Close() }
	}
	next := func(rd *bufio.Reader) (event, data string) {
		deadline := time.After(3 * time.Second)
		lines := make(chan string)
		go func() {
			for {
				l, err := rd.ReadString('\n')
				if err != nil {
					close(lines)
					return
				}
				lines <- strings.TrimRight(l, "\n")
				if l == "\n" {
					return
				}
			}
		}()
		for {
			select {
			case l, ok := <-lines:
				if !ok || l == "" {
					return
				}
				if v, found := strings.CutPrefix(l, "event: "); found {
					event = v
				}
				if v, found := strings.CutPrefix(l, "data: "); found {
					data = v
				}
			case <-deadline:
				t.Fatal("no event within 3s")
			}
		}
	}
	sdkStream, closeSDK := open("/api/v1/sdk/stream", srvKey)
	defer closeSDK()
	ofrepStream, closeOFREP := open("/ofrep/v1/stream", client)
	defer closeOFREP()
	if ev, data := next(sdkStream); ev != "config" || !strings.Contains(data, `"streamed"`) {
		t.Fatalf("first sdk event = %s %s", ev, data)
	}
	if ev, data := next(ofrepStream); ev != "message" || !strings.Contains(data, "refetchEvaluation") {
		t.Fatalf("first ofrep event = %s %s", ev, data)
	}
	s.req("POST", flags, `{"key":"second"}`, "auth", a.dev).want(t, 201)
	// A change is a patch: only what changed, with the version it follows.
	ev, data := next(sdkStream)
	var p vane.Patch
	if err := json.Unmarshal([]byte(data), &p); ev != "patch" || err != nil {
		t.Fatalf("after a change the sdk stream sent %s %s (%v)", ev, data, err)
	}
	if len(p.Flags) != 1 || p.Flags[0].Key != "second" || p.Version <= p.PreviousVersion || p.PreviousVersion == 0 ||
		len(p.DeletedFlags) != 0 || p.SchemaVersion != vane.SchemaVersion {
		t.Errorf("patch = %s", data)
	}
	s.req("DELETE", flags+"/second", nil, "auth", a.dev).want(t, 204)
	if ev, data := next(sdkStream); ev != "patch" || !strings.Contains(data, `"deleted_flags":["second"]`) || !strings.Contains(data, `"flags":[]`) {
		t.Errorf("after a delete the sdk stream sent %s %s", ev, data)
	}
	if ev, data := next(ofrepStream); !strings.Contains(data, `"type":"refetchEvaluation"`) {
		t.Errorf("after a change the ofrep stream sent %s %s", ev, data)
	}
}
