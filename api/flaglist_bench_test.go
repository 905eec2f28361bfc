package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/vanehq/vane/services"
)

// BenchmarkListFlagsPage is one page of 1 000 flags (of 5 000, three environments each) through the
// whole router, as the portal's flag list asks for it.
func BenchmarkListFlagsPage(b *testing.B) {
	s := newServer(b)
	a := s.newTenant("acme")
	sc := services.SystemScope(a.org.ID)
	for i := range 5000 {
		if _, err := s.Svc.Flags.Create(context.Background(), sc, "default", services.FlagInput{Key: fmt.Sprintf("flag-%04d", i),
			Name: fmt.Sprintf("Flag %04d", i), Description: "a flag of the benchmark", Tags: []string{"checkout"}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest("GET", flags+"?limit=1000&sort=key", nil)
		r.Header.Set("Authorization", "Bearer "+a.dev)
		w := httptest.NewRecorder()
		s.router.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
