package dataplane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/clock"
	"github.com/vanehq/vane/sdk/go/engine"
)

// recordingSource keeps the evaluation counts the plane records.
type recordingSource struct {
	*memorySource
	mu  sync.Mutex
	got map[string]int64 // config id/variation → count
}

func (r *recordingSource) RecordEvaluations(_ context.Context, batch []dataplane.EvaluationCount) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range batch {
		r.got[b.ConfigID+"/"+b.Variation] += b.Count
	}
	return nil
}

// manyFlags is an environment of n boolean flags: every dynamicEvery-th has a rule on plan and a
// rollout (it depends on the context), flag 1 is off, flag 2 hidden from client keys, the others
// are on for everyone.
func manyFlags(src *memorySource, version int64, n, dynamicEvery int) {
	env := dataplane.Environment{ID: "env-1", Key: "production", OrgID: "org-1", ProjectID: "proj-1", Version: version,
		Keys: []dataplane.SDKKey{
			{ID: "k1", Key: "srv-known", Kind: dataplane.KindServer, OrgID: "org-1", ProjectID: "proj-1", EnvironmentID: "env-1"},
			{ID: "k2", Key: "cli-known", Kind: dataplane.KindClient, OrgID: "org-1", ProjectID: "proj-1", EnvironmentID: "env-1"},
		}}
	cfg := &dataplane.Config{Environment: env}
	for i := 0; i < n; i++ {
		f := engine.Flag{Key: fmt.Sprintf("flag-%05d", i), Type: engine.Boolean, Status: engine.Active, DefaultVariation: "false",
			OnVariation: "true", Variations: []engine.Variation{{ID: "true", Value: json.RawMessage("true")}, {ID: "false", Value: json.RawMessage("false")}},
			Fallthrough: engine.Serve{Variation: "true"}, Version: version}
		switch {
		case i%dynamicEvery == 0:
			f.Rules = []engine.Rule{{ID: "pro", Conditions: []engine.Condition{{Attribute: "plan", Operator: engine.OpEquals,
				Values: []json.RawMessage{json.RawMessage(`"pro"`)}}}, Serve: engine.Serve{Variation: "true"}}}
			f.Fallthrough = engine.Serve{Rollout: &engine.Rollout{Variations: []engine.WeightedVariation{{Variation: "true", Weight: 1}, {Variation: "false", Weight: 1}}}}
		case i == 1:
			f.Status = engine.Disabled
		}
		cfg.Flags = append(cfg.Flags, dataplane.FlagConfig{ConfigID: fmt.Sprintf("cfg-%d", i), Flag: f, ClientVisible: i != 2})
	}
	src.mu.Lock()
	src.envs = []dataplane.Environment{env}
	src.configs = map[string]*dataplane.Config{"env-1": cfg}
	subs := src.subs
	src.mu.Unlock()
	for _, fn := range subs {
		fn(dataplane.Change{OrgID: "org-1", ProjectID: "proj-1"})
	}
}

func startPlane(t testing.TB, src dataplane.Source, hooks dataplane.Hooks) *dataplane.Plane {
	p := dataplane.New(src, dataplane.Options{Clock: clock.NewFake(time.Now()), Poll: time.Hour, FlushEvery: time.Hour, Hooks: hooks})
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(ctx) })
	return p
}

func bulk(t testing.TB, p *dataplane.Plane, key string, ctx engine.Context, format dataplane.BulkFormat) (string, string) {
	k, err := p.ResolveKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Bulk(context.Background(), k, ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := b.AppendTo(b.Buffer(), format)
	body, tag := string(out), b.ETag()
	b.Release(out)
	return body, tag
}

// TestBulkCountsEveryFlag: flags encoded ahead are not evaluated per request, yet every one of
// them is counted, in insights (through the flush and Pending, which a kill reports) and in the
// metrics hook, as if each had been evaluated.
func TestBulkCountsEveryFlag(t *testing.T) {
	src := &recordingSource{memorySource: &memorySource{}, got: map[string]int64{}}
	manyFlags(src.memorySource, 1, 10, 5) // flags 0 and 5 depend on the context
	var mu sync.Mutex
	reasons := map[string]int{}
	p := startPlane(t, src, dataplane.Hooks{Evaluated: func(r string, n int) { mu.Lock(); reasons[r] += n; mu.Unlock() }})
	for i := 0; i < 3; i++ {
		bulk(t, p, "srv-known", engine.Context{"key": fmt.Sprint("u", i), "plan": "pro"}, dataplane.OFREPFlags)
	}
	bulk(t, p, "cli-known", engine.Context{"key": "u9", "plan": "pro"}, dataplane.ValueMap)
	if n := p.Pending("cfg-3"); n != 4 {
		t.Errorf("pending evaluations of a static flag = %d, want 4", n)
	}
	if n := p.Pending("cfg-2"); n != 3 {
		t.Errorf("pending evaluations of the server-only flag = %d, want 3", n)
	}
	// A change replaces the snapshot: what the old plan served is still counted.
	manyFlags(src.memorySource, 2, 10, 5)
	bulk(t, p, "srv-known", engine.Context{"key": "u1"}, dataplane.OFREPFlags)
	p.Flush(context.Background())
	want := map[string]int64{"cfg-1/false": 5, "cfg-2/true": 4, "cfg-3/true": 5, "cfg-9/true": 5}
	for k, n := range want {
		if src.got[k] != n {
			t.Errorf("recorded %s = %d, want %d (all: %v)", k, src.got[k], n, src.got)
		}
	}
	if src.got["cfg-0/false"]+src.got["cfg-0/true"] != 5 {
		t.Errorf("flag 0 counted %d times, want 5", src.got["cfg-0/false"]+src.got["cfg-0/true"])
	}
	if p.Pending("cfg-3") != 0 {
		t.Errorf("pending after the flush = %d", p.Pending("cfg-3"))
	}
	// 4 requests of 10 flags (the client key sees 9) and one of 10 after the change: 49.
	if reasons["DISABLED"] != 5 || reasons["TARGETING_MATCH"] != 8 || reasons["DEFAULT"]+reasons["SPLIT"] != 36 {
		t.Errorf("metrics hook = %v", reasons)
	}
}

// TestBulkETag: the tag changes with the version, the audience and the answers that depend on
// the context, and only with them.
func TestBulkETag(t *testing.T) {
	src := &memorySource{}
	manyFlags(src, 1, 4, 2)
	p := startPlane(t, src, dataplane.Hooks{})
	b1, t1 := bulk(t, p, "srv-known", engine.Context{"key": "u1", "plan": "pro"}, dataplane.ValueMap)
	b2, t2 := bulk(t, p, "srv-known", engine.Context{"key": "u2", "plan": "pro", "country": "FR"}, dataplane.ValueMap)
	if t1 != t2 || b1 != b2 {
		t.Errorf("same answers, different tags %s %s or bodies %s %s", t1, t2, b1, b2)
	}
	if !strings.HasPrefix(t1, `"1-s`) {
		t.Errorf("tag %s does not start with the version and audience", t1)
	}
	_, tc := bulk(t, p, "cli-known", engine.Context{"key": "u1", "plan": "pro"}, dataplane.ValueMap)
	_, tn := bulk(t, p, "srv-known", engine.Context{"plan": "pro"}, dataplane.OFREPFlags) // no key: the rollout is TARGETING_KEY_MISSING… but the rule matches first
	tags := map[string]bool{t1: true, tc: true}
	if len(tags) != 2 || tn != t1 {
		t.Errorf("client tag %s, no-key tag %s, server tag %s", tc, tn, t1)
	}
	seen := map[string]string{}
	for i := 0; i < 40; i++ { // the rollout splits users: different answers, different tags
		body, tag := bulk(t, p, "srv-known", engine.Context{"key": fmt.Sprint("user-", i)}, dataplane.ValueMap)
		if prev, ok := seen[tag]; ok && prev != body {
			t.Fatalf("tag %s for two different bodies:\n%s\n%s", tag, prev, body)
		}
		seen[tag] = body
	}
	if len(seen) < 2 {
		t.Errorf("40 users split by a rollout got %d tag(s)", len(seen))
	}
	manyFlags(src, 2, 4, 2)
	if _, t3 := bulk(t, p, "srv-known", engine.Context{"key": "u1", "plan": "pro"}, dataplane.ValueMap); !strings.HasPrefix(t3, `"2-s`) {
		t.Errorf("after a change the tag is %s", t3)
	}
}

// BenchmarkBulk is the bulk writer: evaluate what depends on the context, tag, write. One flag in
// 200 depends on the context, as in scripts/load/bulk.sh.
func BenchmarkBulk(b *testing.B) {
	for _, n := range []int{200, 2000, 20000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			src := &memorySource{}
			manyFlags(src, 1, n, 200)
			p := startPlane(b, src, dataplane.Hooks{Evaluated: func(string, int) {}})
			k, _ := p.ResolveKey("cli-known")
			ctx := engine.Context{"key": "user-1", "plan": "free", "country": "US"}
			bulk(b, p, "cli-known", ctx, dataplane.OFREPFlags)
			b.ReportAllocs()
			b.ResetTimer()
			var size int
			for i := 0; i < b.N; i++ {
				r, err := p.Bulk(context.Background(), k, ctx)
				if err != nil {
					b.Fatal(err)
				}
				_ = r.ETag()
				out := r.AppendTo(r.Buffer(), dataplane.OFREPFlags)
				size = len(out)
				r.Release(out)
			}
			b.ReportMetric(float64(size), "bytes/response")
		})
	}
}
