package api_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkEvaluateHTTP is source 000's evaluation through the whole router: middleware, SDK key,
// JSON in and out, the snapshot, the counters.
func BenchmarkEvaluateHTTP(b *testing.B) {
	s := newServer(b)
	a := s.newTenant("acme")
	sdk, _ := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"load"}`, "auth", a.dev).want(b, 201)
	s.req("PATCH", flags+"/load/environments/production", `{"status":"ACTIVE","rules":[{"id":"r","conditions":[
		{"attribute":"plan","operator":"equals","values":["pro"]}],"serve":{"rollout":{"variations":[
		{"variation":"true","weight":50000},{"variation":"false","weight":50000}]}}}]}`, "auth", a.dev).want(b, 200)
	body := `{"user_id":"user-123","attributes":{"plan":"pro","country":"US"}}`
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest("POST", "/api/v1/feature-flags/load/evaluate", strings.NewReader(body))
		r.Header.Set("X-API-Key", sdk)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.router.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
