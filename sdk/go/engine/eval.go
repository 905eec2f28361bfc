package engine

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Context is what a flag is evaluated for: a JSON object with a "key" (the targeting key) and any
// attributes, nested objects allowed ({"key":"user-123","organization":{"key":"47","plan":"pro"}}).
type Context map[string]any

// Key is the context's targeting key, if it has a usable one.
func (c Context) Key() (string, bool) {
	switch k := c["key"].(type) {
	case string:
		return k, k != ""
	case float64, json.Number:
		return "", false // numbers are bucketable (see bucketValue) but not targets' string keys
	}
	return "", false
}

// input is what one evaluation reads: the context, with its "key" looked up at most once however
// many targets, segments, conditions and rollouts read it.
type input struct {
	ctx    Context
	key    any // ctx["key"], nil when absent
	looked bool
}

// keyValue is ctx["key"] (nil when absent), looked up on first use.
func (in *input) keyValue() any {
	if !in.looked {
		in.key, in.looked = in.ctx["key"], true
	}
	return in.key
}

// targetKey is Context.Key of the input's context.
func (in *input) targetKey() (string, bool) {
	k, ok := in.keyValue().(string)
	return k, ok && k != ""
}

func (p *path) lookup(in *input) (any, bool) {
	if p.isKey {
		v := in.keyValue()
		return v, v != nil
	}
	ctx := in.ctx
	if v, ok := ctx[p.full]; ok {
		return v, v != nil
	}
	if p.parts == nil {
		return nil, false
	}
	var cur any = map[string]any(ctx)
	for _, part := range p.parts {
		var ok bool
		switch m := cur.(type) {
		case map[string]any:
			cur, ok = m[part]
		case map[string]string: // Go programs' own nested attributes (the SDK)
			cur, ok = m[part]
		case Context:
			cur, ok = m[part]
		}
		if !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

// Result is one evaluation: which variation (an index into the flag's Variations; -1 for none)
// and why.
type Result struct {
	Variation int
	Reason    Reason
	RuleIndex int // the matching rule, -1 if none
	ErrorCode string
}

// Evaluate serves ctx according to the flag's status and targeting. It never panics and does not
// allocate; an internal problem serves the default variation with reason ERROR.
func (f *Compiled) Evaluate(ctx Context) Result {
	in := input{ctx: ctx}
	return f.evaluate(&in, false)
}

// EvaluateKeyed is Evaluate for a caller that has already looked up key = ctx["key"] (nil when
// absent), which spares the engine that lookup. key must be what ctx holds.
func (f *Compiled) EvaluateKeyed(ctx Context, key any) Result {
	in := input{ctx: ctx, key: key, looked: true}
	return f.evaluate(&in, false)
}

// DryRun evaluates ctx as if the flag were ENABLED, whatever its status: QA before activating.
func (f *Compiled) DryRun(ctx Context) Result {
	in := input{ctx: ctx}
	return f.evaluate(&in, true)
}

func (f *Compiled) evaluate(in *input, dry bool) (res Result) {
	defer func() {
		if recover() != nil {
			res = Result{Variation: f.defaultIdx, Reason: ReasonError, RuleIndex: -1, ErrorCode: ErrGeneral}
		}
	}()
	if f.broken {
		if f.Status == Archived {
			return Result{Variation: -1, Reason: ReasonFlagNotFound, RuleIndex: -1}
		}
		return Result{Variation: f.defaultIdx, Reason: ReasonError, RuleIndex: -1, ErrorCode: ErrGeneral}
	}
	if !dry {
		switch f.Status {
		case Archived:
			return Result{Variation: -1, Reason: ReasonFlagNotFound, RuleIndex: -1}
		case RolledOut:
			return Result{Variation: f.onIdx, Reason: ReasonStatic, RuleIndex: -1}
		case Active, Enabled:
		default:
			return Result{Variation: f.defaultIdx, Reason: ReasonDisabled, RuleIndex: -1}
		}
	}
	if !f.targets.empty() {
		if key, ok := in.targetKey(); ok {
			if idx, ok := f.targets.find(key); ok {
				return Result{Variation: idx, Reason: ReasonTargetingMatch, RuleIndex: -1}
			}
		}
	}
	for i := range f.rules {
		r := &f.rules[i]
		if matchAll(r.conds, in) {
			res = f.serve(&r.serve, in, ReasonTargetingMatch)
			res.RuleIndex = i
			return res
		}
	}
	res = f.serve(&f.fall, in, ReasonDefault)
	res.RuleIndex = -1
	return res
}

// RuleID names the rule a result matched, "" for none.
func (f *Compiled) RuleID(r Result) string {
	if r.RuleIndex < 0 || r.RuleIndex >= len(f.rules) {
		return ""
	}
	return f.rules[r.RuleIndex].id
}

func (f *Compiled) serve(s *compiledServe, in *input, fixed Reason) Result {
	if s.rollout == nil {
		return Result{Variation: s.variation, Reason: fixed}
	}
	var buf [32]byte
	v, _ := s.rollout.by.lookup(in) // nil when absent
	value, ok := v.(string)         // the commonest bucketing value, without a call
	if ok {
		ok = value != ""
	} else {
		value, ok = bucketValue(v, buf[:0])
	}
	if !ok {
		return Result{Variation: f.defaultIdx, Reason: ReasonError, ErrorCode: ErrTargetingKeyMissing}
	}
	b := f.salted.bucket(value)
	for i, sum := range s.rollout.cumulative {
		if b < sum {
			return Result{Variation: s.rollout.variations[i], Reason: ReasonSplit}
		}
	}
	return Result{Variation: s.rollout.variations[len(s.rollout.variations)-1], Reason: ReasonSplit}
}

// bucketValue turns a bucketing attribute into the string that is hashed: strings as they are,
// integral numbers without a fraction ("47", like their string form). buf backs number strings.
func bucketValue(v any, buf []byte) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			buf = strconv.AppendInt(buf, int64(x), 10)
		} else {
			buf = strconv.AppendFloat(buf, x, 'g', -1, 64)
		}
		return unsafe.String(unsafe.SliceData(buf), len(buf)), true
	case json.Number:
		return string(x), x != ""
	}
	if n, ok := number(v); ok && n == math.Trunc(n) && math.Abs(n) < 1<<53 { // Go integers (the SDK)
		buf = strconv.AppendInt(buf, int64(n), 10)
		return unsafe.String(unsafe.SliceData(buf), len(buf)), true
	}
	return "", false
}

func matchAll(conds []compiledCond, in *input) bool {
	for i := range conds {
		if !conds[i].match(in) {
			return false
		}
	}
	return true
}

func (c *compiledCond) match(in *input) bool {
	if c.op == opSegment {
		m := c.seg != nil && c.seg.match(in)
		return m != (c.invert != c.negate)
	}
	v, present := c.path.lookup(in)
	if !present {
		// A missing attribute never matches, except for the not_* operators and exists negated.
		if c.op == opExists {
			return c.negate
		}
		return c.invert && !c.negate
	}
	var m, comparable bool
	if s, isString := v.(string); isString && c.op == opEquals { // the commonest test, without a call
		m, comparable = c.hasString(s), len(c.strSet.small) > 0 || c.strSet.m != nil
	} else {
		m, comparable = c.test(v)
	}
	if !comparable {
		return false // a type mismatch never matches
	}
	if c.invert {
		m = !m
	}
	return m != c.negate
}

// test applies the operator to a present value; comparable is false on a type mismatch.
func (c *compiledCond) test(v any) (matched, comparable bool) {
	if _, isString := v.(string); !isString && (c.op == opEquals || c.op == opContains) {
		switch arr := v.(type) {
		case []any:
			// A list attribute matches when any element does ("roles contains admin", "tags in [...]").
			any := false
			for _, e := range arr {
				if m, ok := c.test(e); ok {
					any = true
					if m {
						return true, true
					}
				}
			}
			return false, any
		case []string: // a Go program's list
			for _, e := range arr {
				if m, _ := c.test(e); m {
					return true, true
				}
			}
			return false, c.hasStrings()
		}
	}
	switch c.op {
	case opExists:
		return true, true
	case opEquals:
		switch x := v.(type) {
		case string:
			return c.hasString(x), c.hasStrings()
		case float64:
			return c.hasNumber(x), len(c.nums) > 0
		case json.Number:
			n, err := x.Float64()
			return err == nil && c.hasNumber(n), err == nil && len(c.nums) > 0
		case bool:
			bit := uint8(1)
			if x {
				bit = 2
			}
			return c.bools&bit != 0, c.bools != 0
		}
		if n, ok := number(v); ok { // Go integers (the SDK)
			return c.hasNumber(n), len(c.nums) > 0
		}
		return false, false
	case opContains, opStartsWith, opEndsWith, opMatchesRegex:
		s, ok := v.(string)
		if !ok {
			return false, false
		}
		switch c.op {
		case opContains:
			for _, x := range c.strs {
				if strings.Contains(s, x) {
					return true, true
				}
			}
		case opStartsWith:
			for _, x := range c.strs {
				if strings.HasPrefix(s, x) {
					return true, true
				}
			}
		case opEndsWith:
			for _, x := range c.strs {
				if strings.HasSuffix(s, x) {
					return true, true
				}
			}
		case opMatchesRegex:
			res := c.x().res
			for i := range res {
				if res[i].match(s) {
					return true, true
				}
			}
		}
		return false, true
	case opGreaterThan, opGreaterThanOrEqual, opLessThan, opLessThanOrEqual:
		n, ok := number(v)
		if !ok {
			return false, false
		}
		for _, x := range c.nums {
			if (c.op == opGreaterThan && n > x) || (c.op == opGreaterThanOrEqual && n >= x) ||
				(c.op == opLessThan && n < x) || (c.op == opLessThanOrEqual && n <= x) {
				return true, true
			}
		}
		return false, true
	case opBefore, opAfter:
		var t int64
		switch x := v.(type) {
		case string:
			parsed, err := time.Parse(time.RFC3339, x)
			if err != nil {
				return false, false
			}
			t = parsed.UnixNano()
		default:
			n, ok := number(v)
			if !ok {
				return false, false
			}
			t = int64(n) * int64(time.Millisecond)
		}
		for _, x := range c.x().times {
			if (c.op == opBefore && t < x) || (c.op == opAfter && t > x) {
				return true, true
			}
		}
		return false, true
	case opSemverEquals, opSemverGreaterThan, opSemverLessThan:
		s, ok := v.(string)
		if !ok {
			return false, false
		}
		sv, ok := parseSemver(s)
		if !ok {
			return false, false
		}
		for _, x := range c.x().vers {
			cmp := sv.compare(x)
			if (c.op == opSemverEquals && cmp == 0) || (c.op == opSemverGreaterThan && cmp > 0) || (c.op == opSemverLessThan && cmp < 0) {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case json.Number:
		n, err := x.Float64()
		return n, err == nil
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	case float32:
		return float64(x), !math.IsNaN(float64(x))
	}
	return 0, false
}

func (c *compiledCond) hasString(s string) bool { return c.strSet.has(s) }

func (c *compiledCond) hasNumber(n float64) bool {
	if c.extra != nil && c.extra.numSet != nil {
		_, ok := c.extra.numSet[n]
		return ok
	}
	for _, x := range c.nums {
		if x == n {
			return true
		}
	}
	return false
}

func (s *compiledSegment) match(in *input) bool {
	if key, ok := in.targetKey(); ok {
		if s.included.has(key) {
			return true
		}
		if s.excluded.has(key) {
			return false
		}
	}
	return len(s.conds) > 0 && matchAll(s.conds, in)
}

// Enabled is what "the feature is on" means for a result (source 000's isFeatureEnabled): a
// boolean flag served true, or another flag served something other than its default while
// serving. Nothing served (not found) is off.
func (f *Compiled) Enabled(r Result) bool {
	if f == nil || r.Variation < 0 || r.Variation >= len(f.Values) {
		return false
	}
	if b, ok := f.Values[r.Variation].(bool); ok {
		return b
	}
	return (f.Status.Serving() || f.Status == RolledOut) && r.Variation != f.defaultIdx
}
