package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/services"
)

// BenchmarkListAllFlags reads all 5 000 flags of a project (three environments each) through the
// whole router, as the portal's flag list does: before, pages of 200 one after another, following
// the cursor; now, a first page of 1 000 that gives the total, then the other pages at once by offset.
func BenchmarkListAllFlags(b *testing.B) {
	s := newServer(b)
	a := s.newTenant("acme")
	sc := services.SystemScope(a.org.ID)
	const n = 5000
	for i := range n {
		if _, err := s.Svc.Flags.Create(context.Background(), sc, "default", services.FlagInput{Key: fmt.Sprintf("flag-%04d", i),
			Name: fmt.Sprintf("Flag %04d", i), Description: "a flag of the benchmark", Tags: []string{"checkout"}}); err != nil {
			b.Fatal(err)
		}
	}
	get := func(b *testing.B, query string) api.FlagList {
		r := httptest.NewRequest("GET", flags+"?sort=key&"+query, nil)
		r.Header.Set("Authorization", "Bearer "+a.dev)
		w := httptest.NewRecorder()
		s.router.ServeHTTP(w, r)
		var l api.FlagList
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &l) != nil {
			b.Fatal(w.Code, w.Body.String())
		}
		return l
	}
	b.Run("pages of 200 by cursor", func(b *testing.B) {
		defer cpuPerOp(b)()
		for range b.N {
			got, cursor := 0, ""
			for {
				l := get(b, "limit=200&cursor="+url.QueryEscape(cursor))
				got += len(l.Items)
				if cursor = l.NextCursor; cursor == "" {
					break
				}
			}
			if got != n {
				b.Fatalf("%d flags, want %d", got, n)
			}
		}
	})
	b.Run("pages of 1000 at once by offset", func(b *testing.B) {
		defer cpuPerOp(b)()
		for range b.N {
			first := get(b, "limit=1000")
			var (
				wg  sync.WaitGroup
				mu  sync.Mutex
				got = len(first.Items)
			)
			for off := 1000; off < int(first.Total); off += 1000 {
				wg.Go(func() {
					l := get(b, fmt.Sprintf("limit=1000&offset=%d", off))
					mu.Lock()
					got += len(l.Items)
					mu.Unlock()
				})
			}
			wg.Wait()
			if got != n {
				b.Fatalf("%d flags, want %d", got, n)
			}
		}
	})
}

// cpuPerOp reports the process's CPU time (user and system) per operation: on a shared machine the
// wall time measures the neighbours as much as the code. Call its result when the loop is done.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64((cpu()-start).Milliseconds())/float64(b.N), "cpu-ms/op") }
}
