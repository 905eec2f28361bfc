package dataplane

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/engine"
)

// Snapshot is everything one environment serves, compiled, immutable: evaluation reads only this.
// A change makes a new snapshot from the previous one: the flags the change names, and those
// whose rules use a segment it names, are compiled again; every other flag is shared.
type Snapshot struct {
	OrgID          string
	ProjectID      string
	EnvironmentID  string
	EnvironmentKey string
	Version        int64 // the environment's configuration version
	BuiltAt        time.Time
	flags          *table[*Flag] // by key, archived flags included
	Keys           []string      // the served flags' keys in order, for bulk evaluation
	ClientKeys     []string      // the client-visible ones, for client-side SDK keys
	segments       map[string]engine.Segment
	parts          *parts       // the SDK configuration piece by piece, for /sdk/config and patches
	serial         uint64       // unique within the plane: what a derived snapshot names as its base
	gen            atomic.Int64 // the entry's generation this snapshot is current for
	compiled       int          // flags compiled to make it
	bulk           [2]bulkSlot  // bulk evaluation plans: server keys, client keys
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
	piece         []byte   // its JSON in the SDK configuration (nil: archived, not in it)
	segments      []string // the segments its rules name, to compile it again when one changes
	tally         atomic.Pointer[tally]
	bulk          atomic.Pointer[bulkItem] // its part of bulk responses, made on the first bulk request
}

// Flag returns a flag of the snapshot by key (archived flags included), or nil.
func (s *Snapshot) Flag(key string) *Flag {
	f, _ := s.flags.Get(key)
	return f
}

// NumFlags is how many flags the snapshot holds, archived ones included.
func (s *Snapshot) NumFlags() int { return s.flags.Len() }

// tally is where a flag's evaluations are counted: made on the first evaluation, so flags nobody
// evaluates cost no counters.
type tally struct {
	counter *configCounter
	counts  []*atomic.Int64 // one per variation, shared with the counter
}

// count records one evaluation for the batched flush (never a database write here).
func (f *Flag) count(cs *counters, envID string, r engine.Result, now time.Time) {
	if r.Variation < 0 {
		return
	}
	t := f.tally.Load()
	if t == nil {
		if t = f.tallyOf(cs, envID); t == nil {
			return
		}
	}
	if r.Variation >= len(t.counts) {
		return
	}
	t.counts[r.Variation].Add(1)
	// last_evaluated_at needs second precision at most: write the shared word rarely.
	if ns := now.UnixNano(); ns-t.counter.last.Load() > int64(time.Second) {
		t.counter.last.Store(ns)
	}
}

// tallyOf returns the flag's counters, making them on first use (nil for a flag with no
// configuration id, which nothing records).
func (f *Flag) tallyOf(cs *counters, envID string) *tally {
	if t := f.tally.Load(); t != nil || f.ConfigID == "" {
		return t
	}
	c := cs.of(f.ConfigID, envID)
	t := &tally{counter: c, counts: make([]*atomic.Int64, len(f.Variations))}
	for j, v := range f.Variations {
		t.counts[j] = c.variation(v.ID)
	}
	if !f.tally.CompareAndSwap(nil, t) {
		return f.tally.Load()
	}
	return t
}

// SDKConfig is the document /sdk/config serves: enough for an SDK to evaluate with the same
// engine. Its schema belongs to the SDK module (one definition, server and SDK).
type SDKConfig = vane.Configuration

// served reports whether a flag is in what the environment serves (archived flags are not).
func served(f *engine.Flag) bool { return f.Status != engine.Archived }

// derive makes the snapshot cfg describes. A whole configuration is compiled afresh; a partial
// one (only what changed since base) is applied to base: the flags it names are compiled again,
// and so are base's flags that use a segment it names (or a segment using one, transitively);
// every other flag, with its JSON and its counters, is shared with base.
func (p *Plane) derive(base *Snapshot, cfg *Config) (*Snapshot, error) {
	env := cfg.Environment
	partial := cfg.Partial && base != nil
	if !partial {
		base = &Snapshot{parts: &parts{}}
	}
	s := &Snapshot{OrgID: env.OrgID, ProjectID: env.ProjectID, EnvironmentID: env.ID, EnvironmentKey: env.Key,
		Version: env.Version, BuiltAt: p.clock.Now(), serial: p.serials.Add(1)}
	pt := &parts{segments: base.parts.segments, size: base.parts.size}
	if partial {
		pt.base = base.serial
	}
	s.parts = pt

	// Segments, and which segments changed: those named, and those using a changed one.
	s.segments = base.segments
	var changedSegs map[string]bool
	if len(cfg.Segments)+len(cfg.DeletedSegments) > 0 || !partial {
		s.segments = make(map[string]engine.Segment, len(base.segments)+len(cfg.Segments))
		maps.Copy(s.segments, base.segments)
		pt.segments = make(map[string][]byte, len(base.parts.segments)+len(cfg.Segments))
		maps.Copy(pt.segments, base.parts.segments)
		changedSegs = make(map[string]bool, len(cfg.Segments)+len(cfg.DeletedSegments))
		for i := range cfg.Segments {
			sg := cfg.Segments[i]
			b, err := json.Marshal(&sg)
			if err != nil {
				return nil, fmt.Errorf("encode segment %q: %w", sg.Key, err)
			}
			s.segments[sg.Key] = sg
			pt.putSegment(sg.Key, b)
			changedSegs[sg.Key] = true
		}
		for _, k := range cfg.DeletedSegments {
			delete(s.segments, k)
			pt.deleteSegment(k)
			changedSegs[k] = true
		}
		for grew := true; grew; {
			grew = false
			for k, sg := range s.segments {
				if !changedSegs[k] && usesAny(segmentsOfConditions(nil, sg.Conditions), changedSegs) {
					changedSegs[k], grew = true, true
				}
			}
		}
	}

	// Flags.
	flags := editTable(base.flags, len(cfg.Flags))
	keys := newKeyEdits(base.Keys, base.ClientKeys)
	named := make(map[string]bool, len(cfg.Flags))
	shared := variationSets{}
	for i := range cfg.Flags {
		fc := &cfg.Flags[i]
		named[fc.Flag.Key] = true
		fc.Flag.Variations = shared.of(fc.Flag.Variations)
		f := p.compileFlag(fc, s.segments, env.Key)
		if served(&fc.Flag) {
			b, err := json.Marshal(&fc.Flag)
			if err != nil {
				return nil, fmt.Errorf("encode flag %q: %w", fc.Flag.Key, err)
			}
			f.piece = b
		}
		old, _ := flags.get(fc.Flag.Key)
		pt.flagChanged(fc.Flag.Key, old, f)
		flags.set(fc.Flag.Key, f)
		keys.set(fc.Flag.Key, f.piece != nil, f.piece != nil && fc.ClientVisible)
	}
	for _, k := range cfg.DeletedFlags {
		if named[k] {
			continue
		}
		if old, ok := flags.get(k); ok {
			pt.flagChanged(k, old, nil)
			flags.delete(k)
			keys.set(k, false, false)
		}
	}
	var again []*Flag // flags compiled again for a changed segment
	if partial && len(changedSegs) > 0 {
		// A served flag is compiled again from its JSON; an archived one serves nothing, and is
		// compiled afresh by the change that brings it back.
		flags.t.All(func(k string, f *Flag) bool {
			if !named[k] && f.piece != nil && usesAny(f.segments, changedSegs) {
				again = append(again, f)
			}
			return true
		})
		for _, f := range again {
			var def engine.Flag
			if err := json.Unmarshal(f.piece, &def); err != nil {
				return nil, fmt.Errorf("decode flag %q: %w", f.Key, err)
			}
			next := p.compileFlag(&FlagConfig{ConfigID: f.ConfigID, Flag: def, RolloutPercentage: f.RolloutPercentage,
				ClientVisible: f.ClientVisible}, s.segments, env.Key)
			next.piece = f.piece
			next.tally.Store(f.tally.Load()) // same configuration, same variations: same counters
			flags.set(f.Key, next)
		}
	}
	s.flags = flags.done()
	s.Keys, s.ClientKeys = keys.apply()
	s.compiled = len(cfg.Flags) + len(again)
	p.compiles.Add(int64(s.compiled))
	if p.hooks.Compiled != nil {
		p.hooks.Compiled(s.compiled)
	}
	if err := pt.setHeader(env.Key, env.Version); err != nil {
		return nil, err
	}
	return s, nil
}

// compileFlag compiles one flag against the environment's segments. A configuration that no
// longer compiles serves its default with reason ERROR rather than failing the snapshot.
func (p *Plane) compileFlag(fc *FlagConfig, segs map[string]engine.Segment, envKey string) *Flag {
	compiled, err := engine.Compile(fc.Flag, segs)
	if err != nil {
		p.log.Error("flag configuration no longer compiles; serving its default with reason ERROR",
			"flag", fc.Flag.Key, "environment", envKey, "err", err)
		compiled = engine.Failed(fc.Flag)
	}
	var uses []string
	for i := range fc.Flag.Rules {
		uses = segmentsOfConditions(uses, fc.Flag.Rules[i].Conditions)
	}
	return &Flag{Compiled: compiled, ConfigID: fc.ConfigID, RolloutPercentage: fc.RolloutPercentage,
		ClientVisible: fc.ClientVisible, segments: uses}
}

// variationSets shares equal lists of variations between the flags of one build: most flags of
// an environment are booleans with the same two.
type variationSets map[string][]engine.Variation

func (vs variationSets) of(list []engine.Variation) []engine.Variation {
	if len(list) > 4 {
		return list
	}
	var key []byte
	for _, v := range list {
		key = append(append(append(append(key, v.ID...), 0), v.Name...), 0)
		key = append(append(append(key, v.Value...), 0), v.Description...)
		key = append(key, 1)
	}
	if shared, ok := vs[string(key)]; ok {
		if slices.EqualFunc(shared, list, sameVariation) {
			return shared
		}
		return list // another list with the same key (fields holding the separators): not shared
	}
	vs[string(key)] = list
	return list
}

func sameVariation(a, b engine.Variation) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Description == b.Description && string(a.Value) == string(b.Value)
}

// segmentsOfConditions appends the segments that conditions name.
func segmentsOfConditions(dst []string, conds []engine.Condition) []string {
	for _, c := range conds {
		if c.Segment != "" {
			dst = append(dst, c.Segment)
		}
		if c.NotSegment != "" {
			dst = append(dst, c.NotSegment)
		}
	}
	return dst
}

func usesAny(keys []string, set map[string]bool) bool {
	for _, k := range keys {
		if set[k] {
			return true
		}
	}
	return false
}

// keyEdits changes the sorted key lists of a snapshot: a few changes are spliced into a copy,
// many (a whole configuration) sort the lists again.
type keyEdits struct {
	keys, client []string
	// per key: whether it is in each list now
	in, inClient map[string]bool
}

// manyEdits is where sorting the lists again costs less than splicing them.
const manyEdits = 64

func newKeyEdits(keys, client []string) *keyEdits {
	return &keyEdits{keys: keys, client: client, in: map[string]bool{}, inClient: map[string]bool{}}
}

func (e *keyEdits) set(key string, served, client bool) {
	e.in[key], e.inClient[key] = served, client
}

func (e *keyEdits) apply() (keys, client []string) {
	return edit(e.keys, e.in), edit(e.client, e.inClient)
}

// edit returns sorted with each key of want added (true) or removed (false); sorted is not changed.
func edit(sorted []string, want map[string]bool) []string {
	var add, remove []string
	for k, in := range want {
		_, found := slices.BinarySearch(sorted, k)
		switch {
		case in && !found:
			add = append(add, k)
		case !in && found:
			remove = append(remove, k)
		}
	}
	if len(add)+len(remove) == 0 {
		return sorted
	}
	if len(add)+len(remove) > manyEdits {
		out := make([]string, 0, len(sorted)+len(add))
		for _, k := range sorted {
			if in, named := want[k]; !named || in {
				out = append(out, k)
			}
		}
		out = append(out, add...)
		sort.Strings(out)
		return out
	}
	out := make([]string, len(sorted), len(sorted)+len(add))
	copy(out, sorted)
	for _, k := range remove {
		if i, found := slices.BinarySearch(out, k); found {
			out = slices.Delete(out, i, i+1)
		}
	}
	for _, k := range add {
		i, _ := slices.BinarySearch(out, k)
		out = slices.Insert(out, i, k)
	}
	return out
}
