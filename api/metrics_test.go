package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

const metricsPath = "/api/v1/sdk/metrics"

// sdkKeyID is the id of an SDK key, by its secret.
func (s *server) sdkKeyID(secret string) string {
	s.t.Helper()
	k, err := models.SDKKeyByKey(s.DB, secret)
	if err != nil {
		s.t.Fatal(err)
	}
	return k.ID
}

// rollbackEvent is the one feature_flag.auto_rolled_back event's data.
type rollbackEvent struct {
	Reason        string              `json:"reason"`
	Value         float64             `json:"value"`
	Sample        int64               `json:"sample"`
	OnRate        float64             `json:"on_rate"`
	ControlRate   float64             `json:"control_rate"`
	ControlSample int64               `json:"control_sample"`
	Reporters     []services.Reporter `json:"reporters"`
}

func (s *server) rollbackEvent(a *tenant) (rollbackEvent, string) {
	s.t.Helper()
	ev := decode[api.AuditEventList](s.t, s.req("GET", o+"/audit-events?action=feature_flag.auto_rolled_back", nil, "auth", a.admin).want(s.t, 200))
	if len(ev.Items) != 1 {
		s.t.Fatalf("%d auto_rolled_back events, want 1", len(ev.Items))
	}
	var got rollbackEvent
	if err := json.Unmarshal(ev.Items[0].After, &got); err != nil {
		s.t.Fatalf("decode %s: %v", ev.Items[0].After, err)
	}
	return got, string(ev.Items[0].After)
}

// TestMetricsNeedAServerKey: the figures that can roll a plan back come from the environment's
// server key only; the public client key (it ships in browsers) is refused and writes nothing.
func TestMetricsNeedAServerKey(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	srv, cli := s.sdkKeys(a, "default", "production")
	body := `{"metrics":[{"flag_key":"checkout","variation":"true","evaluations":1000,"errors":1000}]}`
	r := s.req("POST", metricsPath, body, "X-API-Key", cli)
	if code, _ := r.errorField(); r.Code != 403 || code != "forbidden" {
		t.Fatalf("POST %s with the client key = %d %s, want 403 forbidden", metricsPath, r.Code, r.Body)
	}
	if n := s.count("metric_buckets", "1 = 1"); n != 0 {
		t.Fatalf("the client key's report wrote %d buckets", n)
	}
	s.req("POST", metricsPath, body, "auth", srv).want(t, 202) // Authorization: Bearer works as well as X-API-Key
	var b models.MetricBucket
	if err := s.DB.Take(&b).Error; err != nil {
		t.Fatal(err)
	}
	want := models.MetricBucket{EnvironmentID: a.env.ID, FlagKey: "checkout", Variation: "true", Minute: b.Minute,
		SDKKeyID: s.sdkKeyID(srv), SDKKeyMasked: keys.Mask(srv), Evaluations: 1000, Errors: 1000}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("bucket = %+v, want %+v", b, want)
	}
	if strings.Contains(b.SDKKeyMasked, srv[len(srv)-8:len(srv)-4]) {
		t.Errorf("the bucket keeps more of the secret than its masked form: %q", b.SDKKeyMasked)
	}
}

// TestMetricsRateLimitedPerKey: one key may send MetricsPerKeyPerMinute batches a minute; the next
// is a 429 with Retry-After, and another environment's key is unaffected.
func TestMetricsRateLimitedPerKey(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	srv, _ := s.sdkKeys(a, "default", "production")
	staging, _ := s.sdkKeys(a, "default", "staging")
	for i := 0; i < services.MetricsPerKeyPerMinute; i++ {
		// Refused batches count too (and cost nothing to send here).
		if r := s.req("POST", metricsPath, `{"metrics":[]}`, "X-API-Key", srv); r.Code != 422 {
			t.Fatalf("batch %d = %d %s, want 422 (still under the limit)", i+1, r.Code, r.Body)
		}
	}
	r := s.req("POST", metricsPath, `{"metrics":[{"flag_key":"f","variation":"true","successes":1}]}`, "X-API-Key", srv)
	if code, _ := r.errorField(); r.Code != 429 || code != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("batch %d = %d (Retry-After %q) %s, want 429 with Retry-After", services.MetricsPerKeyPerMinute+1, r.Code,
			r.Header.Get("Retry-After"), r.Body)
	}
	if n := s.count("metric_buckets", "1 = 1"); n != 0 {
		t.Errorf("a rate-limited batch wrote %d buckets", n)
	}
	s.req("POST", metricsPath, `{"metrics":[{"flag_key":"f","variation":"true","successes":1}]}`, "X-API-Key", staging).want(t, 202)
}

// TestGuardRollbackNamesTheReporter: the rollback's reason, its audit event and the webhook payload
// made from it name the SDK key that reported into the breaching cohort (id and masked form, never
// the secret).
func TestGuardRollbackNamesTheReporter(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	hook := s.webhook(a, "feature_flag.auto_rolled_back")
	srv, _, _ := s.guarded(a, `{"metric":"error_rate","threshold":0.05,"window":"5m","min_sample":100,"action":"rollback_to_zero"}`)
	s.report(srv, "true", 30, 170)
	if n, err := s.Svc.Guards.Check(context.Background()); err != nil || n != 1 {
		t.Fatalf("Check = %d, %v; want 1 rollback", n, err)
	}
	got, raw := s.rollbackEvent(a)
	want := []services.Reporter{{SDKKeyID: s.sdkKeyID(srv), SDKKey: keys.Mask(srv), Variation: "true", Errors: 30, Sample: 200}}
	if !reflect.DeepEqual(got.Reporters, want) {
		t.Errorf("reporters in the audit event = %+v, want %+v", got.Reporters, want)
	}
	if !strings.Contains(got.Reason, "reported by "+keys.Mask(srv)) {
		t.Errorf("reason %q does not name the reporting key %s", got.Reason, keys.Mask(srv))
	}
	plan := decode[api.PlanResponse](t, s.req("GET", flags+"/checkout/environments/production/rollout-plan", nil, "auth", a.viewer).want(t, 200))
	if !strings.Contains(plan.Reason, "reported by "+keys.Mask(srv)) {
		t.Errorf("plan reason %q does not name the reporting key", plan.Reason)
	}
	var d models.WebhookDelivery
	if err := s.DB.Where("webhook_id = ? AND event = ?", hook, "feature_flag.auto_rolled_back").Take(&d).Error; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Payload, `"sdk_key_id":"`+s.sdkKeyID(srv)+`"`) || !strings.Contains(d.Payload, `"sdk_key":"`+keys.Mask(srv)+`"`) {
		t.Errorf("webhook payload does not name the reporter: %s", d.Payload)
	}
	for what, text := range map[string]string{"audit event": raw, "webhook payload": d.Payload, "plan reason": plan.Reason} {
		if strings.Contains(text, srv) {
			t.Errorf("the %s contains the server key's secret", what)
		}
	}
}

// TestGuardReasonReportsTheControlCohort: the control cohort's error rate is measured whenever it
// had traffic, for error_rate guards too, and shows in the reason and the audit figures.
func TestGuardReasonReportsTheControlCohort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		metric, threshold string
		value             float64
	}{
		{"error_rate", "0.05", 0.15},
		{"error_rate_ratio", "2", 6},
	} {
		t.Run(tc.metric, func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			a := s.newTenant("acme")
			srv, _, _ := s.guarded(a, fmt.Sprintf(`{"metric":%q,"threshold":%s,"window":"5m","min_sample":100,"action":"rollback_to_zero"}`,
				tc.metric, tc.threshold))
			s.report(srv, "true", 30, 170)  // 15% errors over 200
			s.report(srv, "false", 10, 390) // 2.5% errors over 400
			if n, err := s.Svc.Guards.Check(context.Background()); err != nil || n != 1 {
				t.Fatalf("Check = %d, %v; want 1 rollback", n, err)
			}
			got, _ := s.rollbackEvent(a)
			if got.ControlRate != 0.025 || got.ControlSample != 400 || got.OnRate != 0.15 || got.Sample != 200 || math.Abs(got.Value-tc.value) > 1e-9 {
				t.Errorf("figures = control %v over %d, on %v over %d, value %v; want control 0.025 over 400, on 0.15 over 200, value %v",
					got.ControlRate, got.ControlSample, got.OnRate, got.Sample, got.Value, tc.value)
			}
			if !strings.Contains(got.Reason, "control 0.025") || !strings.Contains(got.Reason, "control sample 400") {
				t.Errorf("reason %q does not report the control cohort", got.Reason)
			}
		})
	}
}
