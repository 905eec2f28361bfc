package api_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
)

// TestInsights: evaluations are recorded per hour and variation by the batched flush, served for
// the flag in that environment only, within the window asked; another organisation sees nothing.
func TestInsights(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.newTenant("bravo")
	sdk, _ := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"theme","type":"string","variations":[{"id":"light","value":"light"},{"id":"dark","value":"dark"}]}`, "auth", a.dev).want(t, 201)
	cfg := flags + "/theme/environments/production"
	s.req("PATCH", cfg, `{"status":"ACTIVE","targets":[{"variation":"light","values":["u0","u1"]}],"fallthrough":{"variation":"dark"}}`, "auth", a.dev).want(t, 200)
	for i := 0; i < 5; i++ {
		s.evaluate("theme", sdk, fmt.Sprintf(`{"user_id":"u%d"}`, i))
	}
	s.Plane.Flush(context.Background())
	s.evaluate("theme", sdk, `{"user_id":"u9"}`) // not flushed yet: not counted
	hour := s.Clock.Now().UTC().Truncate(time.Hour)

	got := decode[api.InsightsResponse](t, s.req("GET", cfg+"/insights", nil, "auth", a.viewer).want(t, 200))
	want := []api.InsightBucket{{Hour: hour, Counts: map[string]int64{"light": 2, "dark": 3}}}
	if !reflect.DeepEqual(got.Buckets, want) {
		t.Errorf("buckets = %+v, want %+v", got.Buckets, want)
	}
	if got.LastEvaluatedAt == nil {
		t.Error("last_evaluated_at is null after a flush")
	}
	for _, c := range []struct {
		name, query string
		code, n     int
	}{
		{"window before the evaluations", "?to=" + hour.Format(time.RFC3339), 200, 0},
		{"window around them", "?from=" + hour.Add(-time.Hour).Format(time.RFC3339) + "&to=" + hour.Add(time.Hour).Format(time.RFC3339), 200, 1},
		{"bad from", "?from=yesterday", 422, 0},
		{"from after to", "?from=" + hour.Format(time.RFC3339) + "&to=" + hour.Add(-time.Hour).Format(time.RFC3339), 422, 0},
		{"over 90 days", "?from=" + hour.Add(-91*24*time.Hour).Format(time.RFC3339), 422, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.req("GET", cfg+"/insights"+c.query, nil, "auth", a.viewer).want(t, c.code)
			if c.code == 200 {
				if n := len(decode[api.InsightsResponse](t, r).Buckets); n != c.n {
					t.Errorf("%d buckets, want %d", n, c.n)
				}
			}
		})
	}
	staging := decode[api.InsightsResponse](t, s.req("GET", flags+"/theme/environments/staging/insights", nil, "auth", a.viewer).want(t, 200))
	if len(staging.Buckets) != 0 || staging.LastEvaluatedAt != nil {
		t.Errorf("staging = %+v, want nothing", staging)
	}
	s.req("GET", cfg+"/insights", nil, "auth", b.admin).want(t, 404) // another organisation
}
