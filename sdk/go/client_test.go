package vane

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vanehq/vane/sdk/go/engine"
)

func conformanceConfig(t testing.TB) *Configuration {
	t.Helper()
	c := LoadConformance(t).Configuration
	return &c
}

func TestNewClientRefusesABadConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {BaseURL: "http://x"}, {SDKKey: "srv-1"}, {BaseURL: "localhost:8000", SDKKey: "srv-1"},
		{Offline: true, Bootstrap: []byte("{")}, {Offline: true, BootstrapFile: "/no/such/file"},
		{Offline: true, Bootstrap: []byte(`{"schema_version":99}`)}} {
		if c, err := NewClient(cfg); err == nil {
			_ = c.Close()
			t.Errorf("NewClient(%+v) = nil error", cfg)
		}
	}
}

func TestFallbacks(t *testing.T) {
	c, err := NewClient(Config{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if d := c.Evaluate("nope", Context{"key": "u"}); d.Reason != ReasonError || d.ErrorCode != ErrorFlagNotFound {
		t.Errorf("unknown flag = %+v", d)
	}
	if !c.Bool("nope", nil, true) || c.String("nope", nil, "x") != "x" || c.Number("nope", nil, 2) != 2 || c.JSON("nope", nil, 7) != 7 {
		t.Error("fallbacks not returned")
	}
	// A server that never answers: not ready, and evaluation does not wait for it.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	nr, err := NewClient(Config{BaseURL: hang.URL, SDKKey: "srv-x", EventsInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nr.Close() }()
	if d := nr.Evaluate("f", nil); d.ErrorCode != ErrorProviderNotReady || nr.Ready() {
		t.Errorf("before any configuration = %+v", d)
	}
	if nr.IsFeatureEnabled("f", "u", nil) {
		t.Error("IsFeatureEnabled before any configuration = true")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := nr.WaitReady(ctx); err == nil {
		t.Error("WaitReady returned without a configuration")
	}
	// Type mismatches are the fallback.
	conf := conformanceClient(t)
	if got := conf.String("op-00-equals", Context{"key": "u"}, "fb"); got != "fb" {
		t.Errorf("String on a boolean flag = %q", got)
	}
}

func conformanceClient(t testing.TB) *Client {
	return offlineClient(t, conformanceConfig(t))
}

// TestGoValuesInContexts: a Go program's ints, string slices and nested string maps evaluate as
// their JSON forms do, and the caller's map is never written to.
func TestGoValuesInContexts(t *testing.T) {
	c := conformanceClient(t)
	goCtx := Context{"targetingKey": "user-1", "age": 31, "score": float32(2.5), "tags": []string{"pro", "eu"},
		"country": "US", "user": map[string]string{"plan": "pro"}, "organization": map[string]any{"key": 47, "plan": "enterprise"}}
	var jsonCtx Context
	b, _ := json.Marshal(goCtx)
	_ = json.Unmarshal(b, &jsonCtx)
	for _, f := range c.Flags() {
		if a, b := c.Evaluate(f, goCtx), c.Evaluate(f, jsonCtx); !reflect.DeepEqual(a, b) {
			t.Errorf("%s: Go context %+v, JSON context %+v", f, a, b)
		}
	}
	if _, written := goCtx["key"]; written {
		t.Error("the SDK wrote a key into the caller's context")
	}
	if got := c.Evaluate("rollout-half", Context{"key": 42}); got.Reason != "SPLIT" {
		t.Errorf("numeric key = %+v", got)
	}
}

// fakeServer is the server's SDK protocol, scripted: a stream of events, and /sdk/config.
type fakeServer struct {
	mu       sync.Mutex
	conf     *Configuration
	streams  chan chan string // each connection gets a channel of raw events to send
	lastIDs  []string
	noStream bool
	fetches  int
	notMod   int
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-API-Key") != "srv-good" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/api/v1/sdk/config":
		f.mu.Lock()
		f.fetches++
		conf := f.conf
		tag := fmt.Sprintf(`"%d"`, conf.Version)
		if r.Header.Get("If-None-Match") == tag {
			f.notMod++
			f.mu.Unlock()
			w.WriteHeader(http.StatusNotModified)
			return
		}
		f.mu.Unlock()
		w.Header().Set("ETag", tag)
		_ = json.NewEncoder(w).Encode(conf)
	case "/api/v1/sdk/stream":
		if f.noStream {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		f.lastIDs = append(f.lastIDs, r.Header.Get("Last-Event-ID"))
		conf, _ := json.Marshal(f.conf)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = fmt.Fprintf(w, "event: config\ndata: %s\n\n", conf)
		w.(http.Flusher).Flush()
		events := make(chan string, 8)
		select {
		case f.streams <- events:
		case <-r.Context().Done():
			return
		}
		for {
			select {
			case e, ok := <-events:
				if !ok {
					return // the server ends the stream
				}
				_, _ = fmt.Fprint(w, e)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	default:
		http.NotFound(w, r)
	}
}

func boolFlag(key string, on bool, version int64) engine.Flag {
	def := "false"
	if on {
		def = "true"
	}
	return engine.Flag{Key: key, Type: engine.Boolean, Status: engine.Enabled, DefaultVariation: def, Version: version,
		Variations:  []engine.Variation{{ID: "true", Name: "Yes", Value: json.RawMessage("true")}, {ID: "false", Name: "No", Value: json.RawMessage("false")}},
		Fallthrough: engine.Serve{Variation: def}}
}

func patchEvent(p Patch) string {
	b, _ := json.Marshal(p)
	return fmt.Sprintf("id: %d\nevent: patch\ndata: %s\n\n", p.Version, b)
}

func nextEvent(t *testing.T, events chan Event, kind EventKind) Event {
	t.Helper()
	for {
		select {
		case e := <-events:
			if e.Kind == kind {
				return e
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event of kind %d within 5s", kind)
		}
	}
}

// TestStreamPatchesAndGaps: patches apply in place (recompiling what changed); a patch that does
// not follow the held version makes the client reconnect (Last-Event-ID) for the whole
// configuration; the last good configuration is saved and a restart without the server serves it.
func TestStreamPatchesAndGaps(t *testing.T) {
	fs := &fakeServer{conf: &Configuration{SchemaVersion: 1, Environment: "production", Version: 1,
		Flags: []engine.Flag{boolFlag("a", false, 1), boolFlag("b", false, 1)}}, streams: make(chan chan string)}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	saved := filepath.Join(t.TempDir(), "vane.json")
	c, err := NewClient(Config{BaseURL: srv.URL, SDKKey: "srv-good", EventsInterval: -1, PersistPath: saved})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	events := make(chan Event, 16)
	defer c.Subscribe(func(e Event) { events <- e })()
	stream := <-fs.streams
	if err := c.WaitReady(context.Background()); err != nil || c.Version() != 1 {
		t.Fatalf("ready: %v, version %d", err, c.Version())
	}
	stream <- patchEvent(Patch{Version: 2, PreviousVersion: 1, Flags: []engine.Flag{boolFlag("a", true, 2)}})
	if e := nextEvent(t, events, EventChanged); !reflect.DeepEqual(e.Flags, []string{"a"}) {
		t.Fatalf("changed %v, want [a]", e.Flags)
	}
	if !c.Bool("a", nil, false) || c.Bool("b", nil, true) || c.Version() != 2 {
		t.Fatalf("after the patch: a=%v b=%v version=%d", c.Bool("a", nil, false), c.Bool("b", nil, true), c.Version())
	}
	stream <- patchEvent(Patch{Version: 3, PreviousVersion: 2, DeletedFlags: []string{"b"}})
	if e := nextEvent(t, events, EventChanged); !reflect.DeepEqual(e.Flags, []string{"b"}) {
		t.Fatalf("changed %v, want [b]", e.Flags)
	}
	// A gap: version 4 was missed. The server now holds version 5.
	fs.mu.Lock()
	fs.conf = &Configuration{SchemaVersion: 1, Environment: "production", Version: 5,
		Flags: []engine.Flag{boolFlag("a", true, 2), boolFlag("c", true, 5)}}
	fs.mu.Unlock()
	stream <- patchEvent(Patch{Version: 5, PreviousVersion: 4, Flags: []engine.Flag{boolFlag("c", true, 5)}})
	<-fs.streams // reconnected
	nextEvent(t, events, EventChanged)
	if !c.Bool("c", nil, false) || c.Version() != 5 {
		t.Fatalf("after the gap: c=%v version %d", c.Bool("c", nil, false), c.Version())
	}
	fs.mu.Lock()
	ids := fs.lastIDs
	fs.mu.Unlock()
	// The gap ends the stream; the client fetches the whole configuration at once, then reconnects
	// from it.
	if len(ids) != 2 || ids[0] != "" || ids[1] != "5" {
		t.Errorf("Last-Event-ID of the connections = %q, want none then 5", ids)
	}
	_ = c.Close()
	srv.Close()

	// The server is gone: a new client starts from the saved configuration.
	if _, err := os.Stat(saved); err != nil {
		t.Fatal(err)
	}
	again, err := NewClient(Config{BaseURL: srv.URL, SDKKey: "srv-good", EventsInterval: -1, PersistPath: saved})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = again.Close() }()
	if !again.Ready() || !again.Bool("c", nil, false) || again.Version() != 5 {
		t.Fatalf("restart from the saved file: ready=%v c=%v version=%d", again.Ready(), again.Bool("c", nil, false), again.Version())
	}
}

// TestStaleAndBack: a stream lost beyond StaleAfter is reported STALE (the last configuration
// still served), and READY again once the server answers.
func TestStaleAndBack(t *testing.T) {
	fs := &fakeServer{conf: &Configuration{SchemaVersion: 1, Version: 1, Flags: []engine.Flag{boolFlag("a", true, 1)}},
		streams: make(chan chan string)}
	var down sync.Mutex
	isDown := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		down.Lock()
		d := isDown
		down.Unlock()
		if d {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := NewClient(Config{BaseURL: srv.URL, SDKKey: "srv-good", EventsInterval: -1, StaleAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	events := make(chan Event, 16)
	defer c.Subscribe(func(e Event) { events <- e })()
	stream := <-fs.streams
	down.Lock()
	isDown = true
	down.Unlock()
	close(stream)
	nextEvent(t, events, EventStale)
	if !c.Bool("a", nil, false) {
		t.Fatal("stale: the last configuration is no longer served")
	}
	down.Lock()
	isDown = false
	down.Unlock()
	go func() { <-fs.streams }()
	nextEvent(t, events, EventReady)
}

// TestPollingWhenTheServerDoesNotStream: with no stream, the client polls with If-None-Match.
func TestPollingWhenTheServerDoesNotStream(t *testing.T) {
	fs := &fakeServer{conf: &Configuration{SchemaVersion: 1, Version: 1, Flags: []engine.Flag{boolFlag("a", false, 1)}}, noStream: true}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	c, err := NewClient(Config{BaseURL: srv.URL, SDKKey: "srv-good", EventsInterval: -1, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := c.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	fs.conf = &Configuration{SchemaVersion: 1, Version: 2, Flags: []engine.Flag{boolFlag("a", true, 2)}}
	fs.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for !c.Bool("a", nil, false) {
		if time.Now().After(deadline) {
			t.Fatal("the polled change never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.notMod == 0 {
		t.Error("no conditional request answered 304")
	}
}

func TestBadKeyIsAnErrorEvent(t *testing.T) {
	srv := httptest.NewServer(&fakeServer{conf: &Configuration{}})
	defer srv.Close()
	c, err := NewClient(Config{BaseURL: srv.URL, SDKKey: "srv-revoked", EventsInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	events := make(chan Event, 4)
	defer c.Subscribe(func(e Event) { events <- e })()
	if e := nextEvent(t, events, EventError); e.Err == nil || !strings.Contains(e.Err.Error(), "401") {
		t.Fatalf("error event %+v", e)
	}
}

// benchFlag is the benchmark flag: three rules (a segment, a regex, an `in` list) and a
// rollout.
func benchConfig() *Configuration {
	f := boolFlag("bench", false, 1)
	f.Rules = []engine.Rule{
		{ID: "seg", Conditions: []engine.Condition{{Segment: "staff"}}, Serve: engine.Serve{Variation: "true"}},
		{ID: "re", Conditions: []engine.Condition{cond("email", engine.OpMatchesRegex, `@corp\.example$`)}, Serve: engine.Serve{Variation: "true"}},
		{ID: "in", Conditions: []engine.Condition{cond("country", engine.OpIn, "NZ", "AU", "JP", "KR", "SG")}, Serve: engine.Serve{Variation: "true"}},
	}
	f.Fallthrough = engine.Serve{Rollout: split("", "true", 20000, "false", 80000)}
	return &Configuration{SchemaVersion: 1, Version: 1, Flags: []engine.Flag{f},
		Segments: []engine.Segment{{Key: "staff", Included: []string{"ops-1", "ops-2"}}}}
}

// BenchmarkBool: (*Client).Bool on a flag with three rules and a rollout, for a context that
// reaches the rollout (the longest path).
func BenchmarkBool(b *testing.B) {
	c := offlineClient(b, benchConfig())
	ctx := Context{"key": "user-123", "email": "ada@example.com", "country": "FR"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Bool("bench", ctx, false)
	}
}

func TestBoolDoesNotAllocate(t *testing.T) {
	c := offlineClient(t, benchConfig())
	ctx := Context{"key": "user-123", "email": "ada@example.com", "country": "FR"}
	if n := testing.AllocsPerRun(1000, func() { c.Bool("bench", ctx, false) }); n != 0 {
		t.Errorf("Bool allocates %v times per call", n)
	}
}

// BenchmarkMemoryPerFlag reports the heap a compiled simple flag takes (bytes/flag).
func BenchmarkMemoryPerFlag(b *testing.B) {
	const n = 10000
	conf := &Configuration{SchemaVersion: 1, Version: 1}
	for i := 0; i < n; i++ {
		conf.Flags = append(conf.Flags, boolFlag(fmt.Sprintf("flag-%05d", i), i%2 == 0, 1))
	}
	var keep *store
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		keep = compile(conf)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/flag")
	}
	runtime.KeepAlive(keep)
}
