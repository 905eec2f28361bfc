package api_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	vane "github.com/vanehq/vane/sdk/go"
)

// BenchmarkSDKPropagation: a write through the API until a streaming Go SDK serves it (the
// CONFIGURATION_CHANGED event). Reports p50 and p99 in ms.
func BenchmarkSDKPropagation(b *testing.B) {
	s := newServer(b)
	a := s.newTenant("acme")
	srvKey, _ := s.sdkKeys(a, "default", "production")
	for i := 0; i < 50; i++ {
		s.req("POST", flags, fmt.Sprintf(`{"key":"f%d"}`, i), "auth", a.dev).want(b, 201)
	}
	c, err := vane.NewClient(vane.Config{BaseURL: listen(b, s), SDKKey: srvKey, EventsInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	changed := make(chan struct{}, 16)
	defer c.Subscribe(func(e vane.Event) {
		if e.Kind == vane.EventChanged {
			changed <- struct{}{}
		}
	})()
	for !c.Ready() {
		time.Sleep(time.Millisecond)
	}
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pct := 10 + i%80
		start := time.Now()
		s.req("PATCH", flags+"/f1/environments/production", fmt.Sprintf(`{"status":"ACTIVE","rollout_percentage":%d}`, pct), "auth", a.dev).want(b, 200)
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			b.Fatal("the change never reached the SDK")
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
