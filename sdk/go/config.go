package vane

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"

	"github.com/vanehq/vane/sdk/go/engine"
)

// SchemaVersion is the version of the configuration schema this SDK reads. The server serves it in
// every configuration; a configuration of a newer schema is refused (the SDK keeps what it has).
const SchemaVersion = 1

// Configuration is one environment's flags and segments as the server serves them at
// /api/v1/sdk/config and in the stream's full events: what an SDK needs to evaluate locally.
type Configuration struct {
	SchemaVersion int              `json:"schema_version"`
	Environment   string           `json:"environment"`
	Version       int64            `json:"version"`
	Flags         []engine.Flag    `json:"flags"`
	Segments      []engine.Segment `json:"segments"`
}

// Patch is what changed in an environment between two versions (the stream's "patch" event):
// flags and segments in full, and the keys of those deleted.
type Patch struct {
	SchemaVersion   int              `json:"schema_version"`
	Version         int64            `json:"version"`
	PreviousVersion int64            `json:"previous_version"`
	Flags           []engine.Flag    `json:"flags,omitempty"`
	Segments        []engine.Segment `json:"segments,omitempty"`
	DeletedFlags    []string         `json:"deleted_flags,omitempty"`
	DeletedSegments []string         `json:"deleted_segments,omitempty"`
}

// ParseConfiguration reads a configuration and checks its schema version.
func ParseConfiguration(data []byte) (*Configuration, error) {
	var c Configuration
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("vane: read configuration: %w", err)
	}
	if c.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("vane: configuration schema %d is newer than this SDK's (%d): upgrade the SDK", c.SchemaVersion, SchemaVersion)
	}
	return &c, nil
}

// Apply returns the configuration with the patch applied (c is not changed).
func (c *Configuration) Apply(p *Patch) *Configuration {
	out := &Configuration{SchemaVersion: c.SchemaVersion, Environment: c.Environment, Version: p.Version}
	if p.SchemaVersion > 0 {
		out.SchemaVersion = p.SchemaVersion
	}
	gone := make(map[string]bool, len(p.DeletedFlags)+len(p.Flags))
	for _, k := range p.DeletedFlags {
		gone[k] = true
	}
	for _, f := range p.Flags {
		gone[f.Key] = true
	}
	for _, f := range c.Flags {
		if !gone[f.Key] {
			out.Flags = append(out.Flags, f)
		}
	}
	out.Flags = append(out.Flags, p.Flags...)
	goneSeg := make(map[string]bool, len(p.DeletedSegments)+len(p.Segments))
	for _, k := range p.DeletedSegments {
		goneSeg[k] = true
	}
	for _, s := range p.Segments {
		goneSeg[s.Key] = true
	}
	for _, s := range c.Segments {
		if !goneSeg[s.Key] {
			out.Segments = append(out.Segments, s)
		}
	}
	out.Segments = append(out.Segments, p.Segments...)
	return out
}

// store is a configuration compiled for evaluation; immutable once built.
type store struct {
	cfg      *Configuration
	flags    map[string]*flagState
	segments map[string]engine.Segment
}

// flagState is one compiled flag and its evaluation counters per variation index.
type flagState struct {
	*engine.Compiled
	def    engine.Flag
	counts []atomic.Int64
}

func newFlagState(f engine.Flag, segments map[string]engine.Segment) *flagState {
	cf, err := engine.Compile(f, segments)
	if err != nil {
		cf = engine.Failed(f) // serves its default with reason ERROR, as on the server
	}
	return &flagState{Compiled: cf, def: f, counts: make([]atomic.Int64, len(f.Variations))}
}

// compile builds a store from a whole configuration.
func compile(c *Configuration) *store {
	s := &store{cfg: c, flags: make(map[string]*flagState, len(c.Flags)), segments: make(map[string]engine.Segment, len(c.Segments))}
	for _, seg := range c.Segments {
		s.segments[seg.Key] = seg
	}
	for _, f := range c.Flags {
		s.flags[f.Key] = newFlagState(f, s.segments)
	}
	return s
}

// patched builds the store after a patch, recompiling only the flags that changed and those that
// use a segment (when a segment changed). It also returns the flag states it replaced or dropped
// (their counters still hold evaluations to report) and the keys of the flags that changed.
func (s *store) patched(p *Patch) (next *store, retired []*flagState, changed []string) {
	cfg := s.cfg.Apply(p)
	next = &store{cfg: cfg, flags: make(map[string]*flagState, len(cfg.Flags)), segments: make(map[string]engine.Segment, len(cfg.Segments))}
	for _, seg := range cfg.Segments {
		next.segments[seg.Key] = seg
	}
	segmentsChanged := len(p.Segments)+len(p.DeletedSegments) > 0
	fresh := make(map[string]bool, len(p.Flags))
	for _, f := range p.Flags {
		fresh[f.Key] = true
	}
	for _, f := range cfg.Flags {
		old := s.flags[f.Key]
		if old != nil && !fresh[f.Key] && !(segmentsChanged && usesSegments(f)) {
			next.flags[f.Key] = old
			continue
		}
		next.flags[f.Key] = newFlagState(f, next.segments)
		changed = append(changed, f.Key)
		if old != nil {
			retired = append(retired, old)
		}
	}
	for _, k := range p.DeletedFlags {
		if old := s.flags[k]; old != nil {
			retired = append(retired, old)
			changed = append(changed, k)
		}
	}
	return next, retired, changed
}

func usesSegments(f engine.Flag) bool {
	for _, r := range f.Rules {
		for _, c := range r.Conditions {
			if c.Segment != "" || c.NotSegment != "" {
				return true
			}
		}
	}
	return false
}

// sameSegments reports whether two stores hold the same segments.
func sameSegments(a, b *store) bool {
	if len(a.segments) != len(b.segments) {
		return false
	}
	for k, s := range a.segments {
		o, ok := b.segments[k]
		if !ok || !reflect.DeepEqual(s, o) {
			return false
		}
	}
	return true
}
