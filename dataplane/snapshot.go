package dataplane

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/engine"
)

// Snapshot is everything one environment serves, compiled, immutable: evaluation reads only this.
type Snapshot struct {
	OrgID          string
	ProjectID      string
	EnvironmentID  string
	EnvironmentKey string
	Version        int64 // the environment's configuration version
	BuiltAt        time.Time
	Flags          map[string]*Flag
	Keys           []string // flag keys in order, for bulk evaluation
	ClientKeys     []string // the client-visible ones, for client-side SDK keys
	// Config is the environment's full configuration as JSON, for SDKs that evaluate locally.
	Config []byte
	parts  *parts      // Config piece by piece, for patches
	gen    int64       // the entry's generation when the build began
	bulk   [2]bulkSlot // bulk evaluation plans: server keys, client keys
}

// bulkSlot holds a bulk plan, prepared on the first bulk request that needs it.
type bulkSlot struct {
	once sync.Once
	plan *bulkPlan
}

// Flag is one compiled flag and its evaluation counters.
type Flag struct {
	*engine.Compiled
	// ConfigID is the flag configuration's id.
	ConfigID string
	// RolloutPercentage is the share getting the "on" variation (source 000's field).
	RolloutPercentage float64
	// ClientVisible is whether client-side SDK keys may evaluate the flag.
	ClientVisible bool
	counter       *configCounter
	counts        []*atomic.Int64 // one per variation, shared with the counter
}

// count records one evaluation for the batched flush (never a database write here).
func (f *Flag) count(r engine.Result, now time.Time) {
	if f.counter == nil || r.Variation < 0 || r.Variation >= len(f.counts) {
		return
	}
	f.counts[r.Variation].Add(1)
	// last_evaluated_at needs second precision at most: write the shared word rarely.
	if t := now.UnixNano(); t-f.counter.last.Load() > int64(time.Second) {
		f.counter.last.Store(t)
	}
}

// SDKConfig is the document /sdk/config serves: enough for an SDK to evaluate with the same
// engine. Its schema belongs to the SDK module (one definition, server and SDK).
type SDKConfig = vane.Configuration

// compile turns an environment's configuration into a snapshot.
func (p *Plane) compile(cfg *Config) (*Snapshot, error) {
	env := cfg.Environment
	segs := make(map[string]engine.Segment, len(cfg.Segments))
	for _, s := range cfg.Segments {
		segs[s.Key] = s
	}
	snap := &Snapshot{OrgID: env.OrgID, ProjectID: env.ProjectID, EnvironmentID: env.ID, EnvironmentKey: env.Key,
		Version: env.Version, BuiltAt: p.clock.Now(), Flags: make(map[string]*Flag, len(cfg.Flags))}
	served := make([]engine.Flag, 0, len(cfg.Flags))
	for i := range cfg.Flags {
		fc := &cfg.Flags[i]
		compiled, err := engine.Compile(fc.Flag, segs)
		if err != nil {
			p.log.Error("flag configuration no longer compiles; serving its default with reason ERROR",
				"flag", fc.Flag.Key, "environment", env.Key, "err", err)
			compiled = engine.Failed(fc.Flag)
		}
		f := &Flag{Compiled: compiled, ConfigID: fc.ConfigID, RolloutPercentage: fc.RolloutPercentage,
			ClientVisible: fc.ClientVisible}
		if fc.ConfigID != "" {
			f.counter = p.counters.of(fc.ConfigID, env.ID)
			f.counts = make([]*atomic.Int64, len(compiled.Variations))
			for j, v := range compiled.Variations {
				f.counts[j] = f.counter.variation(v.ID)
			}
		}
		snap.Flags[fc.Flag.Key] = f
		if fc.Flag.Status != engine.Archived {
			snap.Keys = append(snap.Keys, fc.Flag.Key)
			if fc.ClientVisible {
				snap.ClientKeys = append(snap.ClientKeys, fc.Flag.Key)
			}
			served = append(served, fc.Flag)
		}
	}
	sort.Strings(snap.Keys)
	sort.Strings(snap.ClientKeys)
	var err error
	if snap.parts, snap.Config, err = encodeParts(env.Key, env.Version, served, cfg.Segments); err != nil {
		return nil, fmt.Errorf("encode sdk config: %w", err)
	}
	return snap, nil
}
