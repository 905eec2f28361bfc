package api_test

import (
	"fmt"
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

// BenchmarkBulkHTTP is a browser's bulk request through the whole router, for 200 flags of which
// one depends on the context (scripts/load/bulk.sh runs the same over the network).
func BenchmarkBulkHTTP(b *testing.B) {
	s := newServer(b)
	a := s.newTenant("acme")
	_, client := s.sdkKeys(a, "default", "production")
	for i := 0; i < 200; i++ {
		key := fmt.Sprintf("flag-%03d", i)
		s.req("POST", flags, `{"key":"`+key+`"}`, "auth", a.dev).want(b, 201)
		patch := `{"status":"ACTIVE"}`
		if i == 0 {
			patch = `{"status":"ACTIVE","rules":[{"id":"r","conditions":[{"attribute":"plan","operator":"equals","values":["pro"]}],
				"serve":{"variation":"true"}}],"fallthrough":{"rollout":{"variations":[{"variation":"true","weight":1},{"variation":"false","weight":3}]}}}`
		}
		s.req("PATCH", flags+"/"+key+"/environments/production", patch, "auth", a.dev).want(b, 200)
	}
	for _, tc := range []struct{ name, path, body string }{
		{"ofrep", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"user-123","plan":"pro","country":"US"}}`},
		{"map", "/api/v1/feature-flags/evaluate", `{"user_id":"user-123","attributes":{"plan":"pro","country":"US"}}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body))
				r.Header.Set("X-API-Key", client)
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				s.router.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}
