package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	vane "github.com/vanehq/vane/sdk/go"
)

// sdkFixture is a listening server with an environment worth evaluating: a segment, a targeted
// multivariate flag, a boolean rollout, a rule rollout bucketed by organisation, a killed flag.
func sdkFixture(t *testing.T) (*server, *tenant, string, string) {
	t.Helper()
	s := newServer(t)
	a := s.newTenant("acme")
	srvKey, cliKey := s.sdkKeys(a, "default", "production")
	s.req("POST", o+"/projects/default/segments", `{"key":"beta","included":["user-7"],"conditions":[{"attribute":"email","operator":"ends_with","values":["@example.com"]}]}`,
		"auth", a.dev).want(t, 201)
	s.req("POST", flags, `{"key":"layout","type":"string","variations":[{"id":"classic","value":"classic"},{"id":"wizard","value":"wizard"},{"id":"one-page","value":"one-page"}],"default_variation":"classic"}`,
		"auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/layout/environments/production", `{"status":"ACTIVE",
		"targets":[{"variation":"one-page","values":["user-1","user-2"]}],
		"rules":[{"id":"beta","conditions":[{"segment":"beta"}],"serve":{"variation":"wizard"}},
		         {"id":"big","conditions":[{"attribute":"age","operator":"greater_than","values":[40]},{"attribute":"country","operator":"in","values":["US","CA"]}],
		          "serve":{"rollout":{"variations":[{"variation":"wizard","weight":1},{"variation":"one-page","weight":3}]}}}],
		"fallthrough":{"variation":"classic"}}`, "auth", a.dev).want(t, 200)
	s.req("POST", flags, `{"key":"checkout"}`, "auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/checkout/environments/production", `{"status":"ACTIVE","rollout_percentage":30}`, "auth", a.dev).want(t, 200)
	s.req("POST", flags, `{"key":"org-pricing"}`, "auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/org-pricing/environments/production", `{"status":"ACTIVE","bucket_by":"organization.key",
		"rules":[{"id":"eu","conditions":[{"attribute":"country","operator":"in","values":["FR","DE"]}],
		          "serve":{"rollout":{"variations":[{"variation":"true","weight":50000},{"variation":"false","weight":50000}]}}}]}`, "auth", a.dev).want(t, 200)
	s.req("POST", flags, `{"key":"killed"}`, "auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/killed/environments/production", `{"status":"ACTIVE","rollout_percentage":100}`, "auth", a.dev).want(t, 200)
	s.req("POST", flags+"/killed/environments/production/disable", nil, "auth", a.dev).want(t, 200)
	return s, a, srvKey, cliKey
}

func listen(t testing.TB, s *server) string {
	t.Helper()
	srv := httptest.NewServer(s.router)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newSDK(t *testing.T, cfg vane.Config) *vane.Client {
	t.Helper()
	c, err := vane.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return c
}

// randomContext draws a context from attributes the fixture's rules look at, with every key form.
func randomContext(r *rand.Rand, i int) map[string]any {
	ctx := map[string]any{}
	id := fmt.Sprintf("user-%d", r.IntN(50))
	switch i % 5 {
	case 0:
		ctx["key"] = id
	case 1:
		ctx["targetingKey"] = id
	case 2:
		ctx["user_id"] = id
	case 3:
		ctx["user"] = map[string]any{"key": id}
	case 4:
		ctx["key"] = float64(r.IntN(1000)) // a numeric id (source 003)
	}
	if r.IntN(3) > 0 {
		ctx["country"] = []string{"US", "CA", "FR", "DE", "GB"}[r.IntN(5)]
	}
	if r.IntN(2) == 0 {
		ctx["age"] = float64(r.IntN(80))
	}
	if r.IntN(3) == 0 {
		ctx["email"] = id + []string{"@example.com", "@example.org"}[r.IntN(2)]
	}
	if r.IntN(2) == 0 {
		ctx["organization"] = map[string]any{"key": fmt.Sprintf("org-%d", r.IntN(20))}
	}
	return ctx
}

// TestGoSDKMatchesTheServer: the SDK, evaluating locally, answers exactly what the server answers
// (OFREP bulk: value, variant, reason, error code) for every flag over a thousand random contexts.
func TestGoSDKMatchesTheServer(t *testing.T) {
	t.Parallel()
	s, _, srvKey, _ := sdkFixture(t)
	c := newSDK(t, vane.Config{BaseURL: listen(t, s), SDKKey: srvKey, EventsInterval: -1})
	r := rand.New(rand.NewPCG(1, 2))
	type ofrepFlag struct {
		Key       string `json:"key"`
		Value     any    `json:"value"`
		Variant   string `json:"variant"`
		Reason    string `json:"reason"`
		ErrorCode string `json:"errorCode"`
	}
	n, differ := 1000, 0
	for i := 0; i < n; i++ {
		ctx := randomContext(r, i)
		body, _ := json.Marshal(map[string]any{"context": ctx})
		res := s.req("POST", "/ofrep/v1/evaluate/flags", string(body), "X-API-Key", srvKey).want(t, 200)
		var bulk struct {
			Flags []ofrepFlag `json:"flags"`
		}
		if err := json.Unmarshal(res.Body, &bulk); err != nil {
			t.Fatal(err)
		}
		if len(bulk.Flags) != 4 {
			t.Fatalf("the server served %d flags, want 4: %s", len(bulk.Flags), res.Body)
		}
		for _, f := range bulk.Flags {
			d := c.Evaluate(f.Key, ctx)
			same := d.ErrorCode == f.ErrorCode
			if f.ErrorCode != "" { // OFREP answers an error without a value: the caller's default is served
				same = same && d.Reason == vane.ReasonError
			} else {
				same = same && fmt.Sprint(d.Value) == fmt.Sprint(f.Value) && d.Variation == f.Variant && d.Reason == f.Reason
			}
			if !same {
				differ++
				if differ < 5 {
					t.Errorf("%s for %v: SDK %+v, server %+v", f.Key, ctx, d, f)
				}
			}
		}
	}
	if differ > 0 {
		t.Fatalf("%d of %d evaluations differ", differ, 4*n)
	}
	if c.IsFeatureEnabled("checkout", "user-3", nil) != s.evaluate("checkout", srvKey, `{"user_id":"user-3"}`).Enabled {
		t.Error("IsFeatureEnabled disagrees with the server's evaluate")
	}
}

// TestGoSDKStreamsChanges: a change made through the API reaches a streaming client as a
// CONFIGURATION_CHANGED event naming the flag, and evaluation follows.
func TestGoSDKStreamsChanges(t *testing.T) {
	t.Parallel()
	s, a, srvKey, _ := sdkFixture(t)
	c := newSDK(t, vane.Config{BaseURL: listen(t, s), SDKKey: srvKey, EventsInterval: -1})
	events := make(chan vane.Event, 16)
	defer c.Subscribe(func(e vane.Event) { events <- e })()
	user := vane.Context{"key": "user-9"}
	if !c.Bool("checkout", vane.Context{"key": "user-1"}, false) && !c.Bool("checkout", user, false) {
		t.Log("neither user is in the 30%: fine, the kill switch below is what is checked")
	}
	s.req("PATCH", flags+"/checkout/environments/production", `{"rollout_percentage":100}`, "auth", a.dev).want(t, 200)
	waitEvent(t, events, "checkout")
	if !c.Bool("checkout", user, false) {
		t.Fatal("after 100%: the SDK still serves false")
	}
	s.req("POST", flags+"/checkout/environments/production/disable", nil, "auth", a.dev).want(t, 200)
	waitEvent(t, events, "checkout")
	if d := c.Evaluate("checkout", user); d.Value != false || d.Reason != "DISABLED" {
		t.Fatalf("after the kill switch: %+v", d)
	}
	// A segment change reaches the flags that use it.
	s.req("PATCH", o+"/projects/default/segments/beta", `{"included":["user-7","user-9"]}`, "auth", a.dev).want(t, 200)
	waitEvent(t, events, "layout")
	if got := c.String("layout", user, "?"); got != "wizard" {
		t.Fatalf("user-9 added to the segment: layout = %q, want wizard", got)
	}
}

func waitEvent(t *testing.T, events chan vane.Event, flag string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == vane.EventChanged && slices.Contains(e.Flags, flag) {
				return
			}
		case <-deadline:
			t.Fatalf("no change event for %s within 10s", flag)
		}
	}
}

// TestGoSDKReportsEvaluations: counts and reported outcomes reach the server's metric buckets
// (what safety guards read) on Close; a bad key is an ERROR event and every evaluation the fallback.
func TestGoSDKReportsEvaluations(t *testing.T) {
	t.Parallel()
	s, _, srvKey, _ := sdkFixture(t)
	url := listen(t, s)
	c := newSDK(t, vane.Config{BaseURL: url, SDKKey: srvKey, EventsInterval: time.Hour})
	for i := 0; i < 25; i++ {
		d := c.Evaluate("checkout", vane.Context{"key": fmt.Sprint("user-", i)})
		if i < 5 {
			c.RecordError("checkout", d.Variation)
		} else {
			c.RecordSuccess("checkout", d.Variation)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var got struct{ Evaluations, Errors, Successes int64 }
	if err := s.DB.Table("metric_buckets").Select("SUM(evaluations) AS evaluations, SUM(errors) AS errors, SUM(successes) AS successes").
		Where("flag_key = ?", "checkout").Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	if got.Evaluations != 25 || got.Errors != 5 || got.Successes != 20 {
		t.Fatalf("metric buckets = %+v, want 25 evaluations, 5 errors, 20 successes", got)
	}

	bad, err := vane.NewClient(vane.Config{BaseURL: url, SDKKey: "srv-not-a-real-key-000000000000", EventsInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bad.Close() }()
	errs := make(chan vane.Event, 4)
	defer bad.Subscribe(func(e vane.Event) { errs <- e })()
	select {
	case e := <-errs:
		if e.Kind != vane.EventError {
			t.Fatalf("first event for a bad key = %+v, want an error", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error event for a bad key")
	}
	if d := bad.Evaluate("checkout", vane.Context{"key": "u"}); d.ErrorCode != vane.ErrorProviderNotReady || !bad.Bool("checkout", nil, true) {
		t.Fatalf("a client without configuration = %+v, want the fallback (PROVIDER_NOT_READY)", d)
	}
}
