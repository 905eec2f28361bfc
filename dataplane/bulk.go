package dataplane

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/vanehq/vane/sdk/go/engine"
)

// Bulk evaluation answers every flag an SDK key sees for one context: the hottest path of a
// browser-heavy customer. Most flags of a real environment do not depend on the context (not
// serving, or serving one variation to everyone), so each snapshot prepares, once per audience
// (server keys, client keys) and on the first bulk request, a plan: those flags' parts of the
// response encoded ahead in runs, and for the others the pieces their answers are assembled from.
// A request evaluates only the flags that depend on the context, into a pooled buffer: no maps and
// no reflection, and the same few allocations whatever the number of flags.

// BulkFormat is the shape of a bulk response.
type BulkFormat uint8

const (
	// OFREPFlags is the items of OFREP's "flags" array, separated by commas, without the brackets.
	OFREPFlags BulkFormat = iota
	// ValueMap is source 003's {"flag_key": value} object: boolean flags (and flags serving
	// nothing) give whether the feature is on, the others their value.
	ValueMap
	numFormats
)

// reasons, indexed for counting without maps.
var reasonNames = [...]engine.Reason{engine.ReasonDisabled, engine.ReasonTargetingMatch, engine.ReasonSplit,
	engine.ReasonDefault, engine.ReasonStatic, engine.ReasonError, engine.ReasonFlagNotFound}

const numReasons = len(reasonNames)

func reasonIndex(r engine.Reason) int {
	for i, n := range reasonNames {
		if n == r {
			return i
		}
	}
	return len(reasonNames) - 1
}

// OFREPMissingKey is what OFREP says of a rollout evaluated without a targeting key.
const OFREPMissingKey = "this flag's rollout needs a targetingKey in the context"

// pieces are one flag's answers encoded ahead: everything but the choice of variation, reason
// and rule, which a request makes.
type pieces struct {
	f            *Flag
	ofrepHead    []byte   // {"key":"k","reason":"
	ofrepServe   [][]byte // per variation, then none: ","variant":"id","value":V,"metadata":{
	ofrepRules   [][]byte // per rule: "ruleId":"id",
	ofrepTail    []byte   // "version":N}}
	ofrepMissing []byte   // {"key":"k","errorCode":"TARGETING_KEY_MISSING","errorDetails":…}
	mapHead      []byte   // "k":
	mapServe     [][]byte // per variation, then none: what the map shows
}

func newPieces(f *Flag) *pieces {
	key := jsonOf(f.Key)
	pc := &pieces{f: f, mapHead: append(append([]byte(nil), key...), ':')}
	pc.ofrepHead = append(append([]byte(`{"key":`), key...), `,"reason":"`...)
	n := len(f.Variations)
	pc.ofrepServe = make([][]byte, n+1)
	pc.mapServe = make([][]byte, n+1)
	for i := 0; i <= n; i++ {
		r := engine.Result{Variation: i}
		if i == n {
			r.Variation = -1
		}
		e := Evaluation{Flag: f, Result: r}
		pc.ofrepServe[i] = append(append(append(append([]byte(`","variant":`), jsonOf(e.VariationID())...),
			`,"value":`...), jsonOf(e.Value())...), `,"metadata":{`...)
		if _, isBool := e.Value().(bool); isBool || e.Value() == nil {
			pc.mapServe[i] = jsonOf(e.Enabled())
		} else {
			pc.mapServe[i] = jsonOf(e.Value())
		}
	}
	pc.ofrepRules = make([][]byte, f.Rules())
	for i := range pc.ofrepRules {
		pc.ofrepRules[i] = append(append([]byte(`"ruleId":`), jsonOf(f.RuleID(engine.Result{RuleIndex: i}))...), ',')
	}
	pc.ofrepTail = append(strconv.AppendInt([]byte(`"version":`), f.Version, 10), "}}"...)
	pc.ofrepMissing = append(append(append(append([]byte(`{"key":`), key...), `,"errorCode":"`...),
		engine.ErrTargetingKeyMissing...), `","errorDetails":`...)
	pc.ofrepMissing = append(append(pc.ofrepMissing, jsonOf(OFREPMissingKey)...), '}')
	return pc
}

// jsonOf encodes a value the way the rest of the API does (encoding/json, HTML-safe).
func jsonOf(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // values come from validated JSON: cannot happen; serve null rather than fail
		return []byte("null")
	}
	return b
}

// appendItem appends the flag's answer for r, in one format.
func (pc *pieces) appendItem(dst []byte, format BulkFormat, r engine.Result) []byte {
	v := r.Variation
	if v < 0 || v >= len(pc.f.Variations) {
		v = len(pc.f.Variations)
	}
	if format == ValueMap {
		return append(append(dst, pc.mapHead...), pc.mapServe[v]...)
	}
	if r.ErrorCode == engine.ErrTargetingKeyMissing {
		return append(dst, pc.ofrepMissing...)
	}
	dst = append(append(append(dst, pc.ofrepHead...), r.Reason...), pc.ofrepServe[v]...)
	if r.RuleIndex >= 0 && r.RuleIndex < len(pc.ofrepRules) {
		dst = append(dst, pc.ofrepRules[r.RuleIndex]...)
	}
	return append(dst, pc.ofrepTail...)
}

// bulkPlan is one audience's bulk response for one snapshot.
type bulkPlan struct {
	runs    [numFormats][][]byte // runs[f][i] is written before dynamic[i]; the last run after them all
	dynamic []*pieces            // the flags that depend on the context, in key order
	static  []staticServe        // what every request serves without evaluating, for the counters
	reasons [numReasons]int      // static evaluations per request, by reason
	version int64
	client  bool
	envID   string
	served  atomic.Int64 // requests not yet folded into the counters
	last    atomic.Int64 // unix nanoseconds of the latest request
	listed  atomic.Bool  // in counters.plans
}

type staticServe struct {
	f         *Flag
	variation int
}

// plan returns the snapshot's bulk plan for an audience, preparing it on first use.
func (s *Snapshot) plan(client bool) *bulkPlan {
	i := 0
	if client {
		i = 1
	}
	b := &s.bulk[i]
	b.once.Do(func() { b.plan = newPlan(s, client) })
	return b.plan
}

func newPlan(s *Snapshot, client bool) *bulkPlan {
	keys := s.Keys
	if client {
		keys = s.ClientKeys
	}
	pl := &bulkPlan{version: s.Version, client: client, envID: s.EnvironmentID}
	items := make([]*bulkItem, len(keys))
	size := [numFormats]int{len(keys), len(keys)} // the separators
	for i, k := range keys {
		it := s.Flag(k).bulkItem()
		items[i] = it
		if it.static {
			size[OFREPFlags] += it.split
			size[ValueMap] += len(it.encoded) - it.split
		}
	}
	// Every run is a piece of one buffer per format, cut so that none can grow into the next.
	var buf [numFormats][]byte
	var start [numFormats]int
	for fm := range buf {
		buf[fm] = make([]byte, 0, size[fm])
	}
	cut := func() {
		for fm := range buf {
			pl.runs[fm] = append(pl.runs[fm], buf[fm][start[fm]:len(buf[fm]):len(buf[fm])])
			start[fm] = len(buf[fm])
		}
	}
	for i, it := range items {
		if i > 0 {
			for fm := range buf {
				buf[fm] = append(buf[fm], ',')
			}
		}
		if !it.static {
			cut()
			pl.dynamic = append(pl.dynamic, it.pieces)
			continue
		}
		buf[OFREPFlags] = append(buf[OFREPFlags], it.encoded[:it.split]...)
		buf[ValueMap] = append(buf[ValueMap], it.encoded[it.split:]...)
		pl.reasons[reasonIndex(it.result.Reason)]++
		if f := it.f; f.ConfigID != "" && it.result.Variation >= 0 && it.result.Variation < len(f.Variations) {
			pl.static = append(pl.static, staticServe{f: f, variation: it.result.Variation})
		}
	}
	cut()
	return pl
}

// bulkItem is a flag's part of every bulk response, encoded once per compiled flag, so that the
// snapshots sharing the flag share it and a plan is prepared by copying, not encoding: the
// answers of a flag that does not depend on the context, else the pieces a request assembles its
// answers from.
type bulkItem struct {
	f       *Flag
	static  bool
	result  engine.Result // static: what everyone is served
	encoded []byte        // static: the OFREP item, then the map item
	split   int           // static: where the map item begins
	pieces  *pieces       // dynamic: the flag's pieces
}

// bulkItem returns the flag's bulk item, encoding it on first use.
func (f *Flag) bulkItem() *bulkItem {
	if it := f.bulk.Load(); it != nil {
		return it
	}
	pc := newPieces(f)
	it := &bulkItem{f: f, pieces: pc}
	if r, static := f.Static(); static {
		it.static, it.result, it.pieces = true, r, nil
		it.encoded = pc.appendItem(nil, OFREPFlags, r)
		it.split = len(it.encoded)
		it.encoded = pc.appendItem(it.encoded, ValueMap, r)
	}
	if !f.bulk.CompareAndSwap(nil, it) {
		return f.bulk.Load()
	}
	return it
}

// Bulk is one bulk evaluation, ready to write. Release it once written.
type Bulk struct {
	plan    *bulkPlan
	results []engine.Result // one per dynamic flag
	buf     []byte
	hash    uint64
}

var bulkPool = sync.Pool{New: func() any { return &Bulk{} }}

// maxPooledBuffer bounds the response buffers kept for reuse.
const maxPooledBuffer = 4 << 20

// Bulk evaluates every served flag the SDK key may see (client keys: the client-visible ones) for
// one context. Only the flags that depend on the context are evaluated; the others were encoded
// when the snapshot's plan was prepared.
func (p *Plane) Bulk(ctx context.Context, key *SDKKey, evalCtx engine.Context) (*Bulk, error) {
	snap, err := p.Get(ctx, key.EnvironmentID)
	if err != nil {
		return nil, err
	}
	pl := snap.plan(key.Client())
	b := bulkPool.Get().(*Bulk)
	b.plan = pl
	b.results = b.results[:0]
	now := p.clock.Now()
	reasons := pl.reasons
	h := uint64(14695981039346656037) // FNV-1a over the outcomes that vary
	for _, pc := range pl.dynamic {
		r := pc.f.Evaluate(evalCtx)
		pc.f.count(&p.counters, snap.EnvironmentID, r, now)
		ri := reasonIndex(r.Reason)
		reasons[ri]++
		b.results = append(b.results, r)
		out := uint64(uint32(r.Variation+1)) | uint64(ri)<<32 | uint64(uint16(r.RuleIndex+1))<<40
		if r.ErrorCode != "" {
			out |= 1 << 56
		}
		h = (h ^ out) * 1099511628211
	}
	b.hash = h
	pl.served.Add(1)
	if t := now.UnixNano(); pl.last.Load() < t {
		pl.last.Store(t)
	}
	if !pl.listed.Load() && pl.listed.CompareAndSwap(false, true) {
		p.counters.plans.Store(pl, struct{}{})
	}
	if p.hooks.Evaluated != nil {
		for i, n := range reasons {
			if n > 0 {
				p.hooks.Evaluated(string(reasonNames[i]), n)
			}
		}
	}
	return b, nil
}

// Version is the configuration version the answers come from.
func (b *Bulk) Version() int64 { return b.plan.version }

// ETag identifies the response: the configuration version, the audience and a hash of the
// answers that depend on the context, so two contexts served alike share it.
func (b *Bulk) ETag() string {
	var tmp [48]byte
	t := append(tmp[:0], '"')
	t = strconv.AppendInt(t, b.plan.version, 10)
	if b.plan.client {
		t = append(t, "-c"...)
	} else {
		t = append(t, "-s"...)
	}
	t = strconv.AppendUint(t, b.hash, 36)
	return string(append(t, '"'))
}

// Buffer is an empty buffer to append the response to; give it back with Release.
func (b *Bulk) Buffer() []byte { return b.buf[:0] }

// AppendTo appends the answers in a format.
func (b *Bulk) AppendTo(dst []byte, format BulkFormat) []byte {
	if format == ValueMap {
		dst = append(dst, '{')
	}
	runs := b.plan.runs[format]
	for i, pc := range b.plan.dynamic {
		dst = append(dst, runs[i]...)
		dst = pc.appendItem(dst, format, b.results[i])
	}
	dst = append(dst, runs[len(runs)-1]...)
	if format == ValueMap {
		dst = append(dst, '}')
	}
	return dst
}

// Release returns the evaluation, and the buffer its response was written to, for reuse.
func (b *Bulk) Release(buf []byte) {
	if cap(buf) <= maxPooledBuffer {
		b.buf = buf[:0]
	} else {
		b.buf = nil
	}
	b.plan = nil
	bulkPool.Put(b)
}

// fold adds the static evaluations of the bulk requests served since the last fold to the flags'
// counters. A plan leaves the list when it served nothing since the last fold, and comes back
// with its next request.
func (cs *counters) fold() {
	cs.plans.Range(func(k, _ any) bool {
		pl := k.(*bulkPlan)
		n := pl.served.Swap(0)
		if n == 0 {
			cs.plans.Delete(pl)
			pl.listed.Store(false)
			// a request that saw the plan listed before it left: list it again
			if pl.served.Load() > 0 && pl.listed.CompareAndSwap(false, true) {
				cs.plans.Store(pl, struct{}{})
			}
			return true
		}
		last := pl.last.Load()
		for _, s := range pl.static {
			t := s.f.tallyOf(cs, pl.envID)
			t.counts[s.variation].Add(n)
			if t.counter.last.Load() < last {
				t.counter.last.Store(last)
			}
		}
		return true
	})
}
