package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestStreamsEndOnShutdown: a graceful stop ends open SDK streams at once (the server registers
// EndStreams on shutdown), so http.Server.Shutdown need not wait for its whole timeout.
func TestStreamsEndOnShutdown(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	server, _ := s.sdkKeys(a, "default", "production")
	ts := httptest.NewUnstartedServer(s.router)
	ts.Config.RegisterOnShutdown(s.Plane.EndStreams)
	ts.Start()
	defer ts.Close()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/sdk/stream", nil)
	req.Header.Set("X-API-Key", server)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	ended := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		close(ended)
	}()
	shut := make(chan error, 1)
	go func() { shut <- ts.Config.Shutdown(t.Context()) }()
	select {
	case <-ended:
	case <-time.After(30 * time.Second): // generous for a loaded machine; the heartbeat alone would never end it
		t.Fatal("the stream is still open after shutdown began")
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v, want a clean stop", err)
	}
}
