package dataplane_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/clock"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/sdk/go/engine"
)

// memorySource is a Source held in memory, as a relay's would be; down makes every call fail.
type memorySource struct {
	mu      sync.Mutex
	envs    []dataplane.Environment
	configs map[string]*dataplane.Config
	subs    []func(dataplane.Change)
	down    atomic.Bool
	calls   atomic.Int64
}

var errDown = errors.New("dial tcp: connection refused")

func (m *memorySource) Environments(_ context.Context, s dataplane.Scope) ([]dataplane.Environment, error) {
	m.calls.Add(1)
	if m.down.Load() {
		return nil, errDown
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []dataplane.Environment
	for _, e := range m.envs {
		if (s.OrgID == "" || s.OrgID == e.OrgID) && (s.ProjectID == "" || s.ProjectID == e.ProjectID) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memorySource) Config(_ context.Context, envID string, _ int64) (*dataplane.Config, error) {
	m.calls.Add(1)
	if m.down.Load() {
		return nil, errDown
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.configs[envID]
	if c == nil {
		return nil, errs.NotFoundf("environment not found")
	}
	cp := *c
	return &cp, nil
}

func (m *memorySource) Subscribe(fn func(dataplane.Change)) func() {
	m.mu.Lock()
	m.subs = append(m.subs, fn)
	m.mu.Unlock()
	return func() {}
}

func (m *memorySource) RecordEvaluations(context.Context, []dataplane.EvaluationCount) error {
	if m.down.Load() {
		return errDown
	}
	return nil
}

// set replaces the environment's one flag (serving value on) and publishes the change.
func (m *memorySource) set(version int64, on bool) {
	env := dataplane.Environment{ID: "env-1", Key: "production", OrgID: "org-1", ProjectID: "proj-1", Version: version,
		Keys: []dataplane.SDKKey{
			{ID: "k1", Key: "srv-known", Kind: dataplane.KindServer, OrgID: "org-1", ProjectID: "proj-1", EnvironmentID: "env-1"},
			{ID: "k2", Key: "cli-known", Kind: dataplane.KindClient, OrgID: "org-1", ProjectID: "proj-1", EnvironmentID: "env-1"},
		}}
	serve := "false"
	if on {
		serve = "true"
	}
	flag := engine.Flag{Key: "checkout", Type: engine.Boolean, Status: engine.Active, DefaultVariation: "false", OnVariation: "true",
		Variations:  []engine.Variation{{ID: "true", Value: json.RawMessage("true")}, {ID: "false", Value: json.RawMessage("false")}},
		Fallthrough: engine.Serve{Variation: serve}, Version: version}
	m.mu.Lock()
	m.envs = []dataplane.Environment{env}
	m.configs = map[string]*dataplane.Config{"env-1": {Environment: env, Flags: []dataplane.FlagConfig{
		{ConfigID: "cfg-1", Flag: flag, ClientVisible: true}}}}
	subs := m.subs
	m.mu.Unlock()
	for _, fn := range subs {
		fn(dataplane.Change{OrgID: "org-1", ProjectID: "proj-1"})
	}
}

func TestKeysAndSnapshotsFromMemory(t *testing.T) {
	src := &memorySource{}
	src.set(1, true)
	p := dataplane.New(src, dataplane.Options{Clock: clock.NewFake(time.Now()), Poll: time.Hour, FlushEvery: time.Hour})
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	evaluate := func(key string) (bool, error) {
		k, err := p.ResolveKey(key)
		if err != nil {
			return false, err
		}
		e, err := p.Evaluate(ctx, k, "checkout", engine.Context{"key": "u1"})
		return e.Enabled(), err
	}

	before := src.calls.Load()
	for _, bad := range []string{"srv-unknown", "cli-unknown", "vk_not-an-sdk-key", "", "srv-" + string(make([]byte, 200))} {
		if _, err := p.ResolveKey(bad); errs.KindOf(err) != errs.Unauthorized {
			t.Errorf("ResolveKey(%.20q) = %v, want unauthorized", bad, err)
		}
	}
	if on, err := evaluate("srv-known"); !on || err != nil {
		t.Fatalf("evaluate = %v, %v, want true", on, err)
	}
	if n := src.calls.Load() - before; n != 0 {
		t.Errorf("%d source calls for key checks and an evaluation, want 0", n)
	}

	// The source goes down: a change notice cannot be applied, and the last snapshot is served
	// to both keys (the client key never used before).
	src.down.Store(true)
	for _, fn := range src.subs {
		fn(dataplane.Change{OrgID: "org-1", ProjectID: "proj-1"})
	}
	for _, key := range []string{"cli-known", "srv-known"} {
		if on, err := evaluate(key); !on || err != nil {
			t.Errorf("during the outage, %s: evaluate = %v, %v, want the last snapshot (true)", key, on, err)
		}
	}
	p.Flush(ctx) // kept for later, not lost
	if n := p.Pending("cfg-1"); n != 3 {
		t.Errorf("pending = %d after a failed flush, want 3", n)
	}

	// Back: the next change is served at once.
	src.down.Store(false)
	src.set(2, false)
	if on, err := evaluate("srv-known"); on || err != nil {
		t.Errorf("after the outage: evaluate = %v, %v, want the new configuration (false)", on, err)
	}
}
