package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"
	"time"
)

// Limits that keep compilation and evaluation bounded for configurations written by strangers.
const (
	MaxVariations    = 100
	MaxRules         = 1000
	MaxConditions    = 100
	MaxValues        = 10000
	MaxTargets       = 100
	MaxTargetValues  = 10000
	MaxRegexLen      = 1000
	MaxAttributeLen  = 256
	MaxAttributePath = 16
	MaxSegmentDepth  = 8
	// MaxWeight bounds one rollout weight (weights are relative; 100000 in all means thousandths of a percent).
	MaxWeight = 1_000_000_000
)

// Compiled is a flag ready to evaluate. It is immutable and safe for concurrent use.
type Compiled struct {
	Key        string
	Type       Type
	Status     Status
	Version    int64
	Variations []Variation
	// Values are the variations' values decoded once (bool, float64, string, map, slice).
	Values []any

	defaultIdx int
	onIdx      int
	targets    strIndex
	rules      []compiledRule
	fall       compiledServe
	salted     murmurState // salt + "." hashed once; bucketing adds the value
	broken     bool
}

// DefaultIndex is the index of the default variation, -1 if none.
func (f *Compiled) DefaultIndex() int { return f.defaultIdx }

// Failed stands in for a flag whose configuration no longer compiles (say, a segment it uses
// changed): it serves the default variation with reason ERROR instead of failing the request.
func Failed(f Flag) *Compiled {
	c := &Compiled{Key: f.Key, Type: f.Type, Status: f.Status, Version: f.Version, Variations: f.Variations,
		Values: make([]any, len(f.Variations)), defaultIdx: -1, onIdx: -1, broken: true}
	for i, v := range f.Variations {
		_ = json.Unmarshal(v.Value, &c.Values[i])
		if v.ID == f.DefaultVariation {
			c.defaultIdx = i
		}
	}
	return c
}

type compiledServe struct {
	variation int // -1 when a rollout decides
	rollout   *compiledRollout
}

type compiledRollout struct {
	by         path
	cumulative []int // running sums of the weights
	variations []int
}

type compiledRule struct {
	id    string
	conds []compiledCond
	serve compiledServe
}

type opcode uint8

const (
	opEquals opcode = iota
	opContains
	opStartsWith
	opEndsWith
	opGreaterThan
	opGreaterThanOrEqual
	opLessThan
	opLessThanOrEqual
	opMatchesRegex
	opBefore
	opAfter
	opSemverEquals
	opSemverGreaterThan
	opSemverLessThan
	opExists
	opSegment
)

var operators = map[string]struct {
	op     opcode
	invert bool // the not_* form: true on a missing attribute, else the negation
}{
	OpEquals: {opEquals, false}, OpNotEquals: {opEquals, true}, OpIn: {opEquals, false}, OpNotIn: {opEquals, true},
	OpContains: {opContains, false}, OpNotContains: {opContains, true},
	OpStartsWith: {opStartsWith, false}, OpEndsWith: {opEndsWith, false},
	OpGreaterThan: {opGreaterThan, false}, OpGreaterThanOrEqual: {opGreaterThanOrEqual, false},
	OpLessThan: {opLessThan, false}, OpLessThanOrEqual: {opLessThanOrEqual, false},
	OpMatchesRegex: {opMatchesRegex, false}, OpBefore: {opBefore, false}, OpAfter: {opAfter, false},
	OpSemverEquals: {opSemverEquals, false}, OpSemverGreaterThan: {opSemverGreaterThan, false},
	OpSemverLessThan: {opSemverLessThan, false}, OpExists: {opExists, false},
}

// compiledCond is one condition ready to test. What the common operators (equality, string
// tests, numbers, segments) need is inline; the rest hangs off extra, so a condition stays small
// in snapshots of many flags.
type compiledCond struct {
	path   path
	op     opcode
	invert bool     // not_* operator
	negate bool     //
	bools  uint8    // bit 0: false listed, bit 1: true listed
	strs   []string // the strings of contains, starts_with, ends_with (equality keeps them in strSet only)
	strSet strIndex // the strings of equals and in
	nums   []float64
	seg    *compiledSegment
	extra  *condExtra
}

// condExtra is what the rarer operators need.
type condExtra struct {
	numSet map[float64]struct{} // nums, when there are many
	res    []matcher
	times  []int64 // unix nanoseconds
	vers   []semver
}

// noExtra stands in for a condition without extras; never written.
var noExtra condExtra

func (c *compiledCond) x() *condExtra {
	if c.extra != nil {
		return c.extra
	}
	return &noExtra
}

func (c *compiledCond) more() *condExtra {
	if c.extra == nil {
		c.extra = &condExtra{}
	}
	return c.extra
}

// hasStrings reports whether the condition lists strings (it compares with strings at all).
func (c *compiledCond) hasStrings() bool {
	return len(c.strs) > 0 || len(c.strSet.small) > 0 || c.strSet.m != nil
}

type compiledSegment struct {
	key      string
	included strIndex
	excluded strIndex
	conds    []compiledCond
}

// path is a dotted attribute reference ("organization.plan").
type path struct {
	full  string
	parts []string // the dotted parts (nil for an attribute without dots)
	isKey bool     // "key": read through the evaluation's one lookup of it
}

func newPath(attr string) path {
	p := path{full: attr, isKey: attr == "key"}
	if strings.Contains(attr, ".") {
		p.parts = strings.Split(attr, ".")
	}
	return p
}

func validAttribute(attr string) string {
	switch {
	case attr == "":
		return "is required"
	case len(attr) > MaxAttributeLen:
		return fmt.Sprintf("must be at most %d characters", MaxAttributeLen)
	case strings.Count(attr, ".") >= MaxAttributePath:
		return fmt.Sprintf("may have at most %d dotted parts", MaxAttributePath)
	}
	for _, p := range strings.Split(attr, ".") {
		if p == "" {
			return "has an empty part between dots"
		}
	}
	return ""
}

// compiler carries what a compilation needs: the segments it may reference and where it is.
type compiler struct {
	v        *validation
	segments map[string]Segment
	compiled map[string]*compiledSegment
	visiting map[string]bool
}

// Compile validates a flag and prepares it for evaluation. segments are the project's segments by
// key; rules may reference only those. Every problem is reported with its field path.
func Compile(f Flag, segments map[string]Segment) (*Compiled, error) {
	var v validation
	c := &compiler{v: &v, segments: segments, compiled: map[string]*compiledSegment{}, visiting: map[string]bool{}}
	out := &Compiled{Key: f.Key, Type: f.Type, Status: f.Status, Version: f.Version, Variations: f.Variations,
		defaultIdx: -1, onIdx: -1}
	salt := f.Salt
	if salt == "" {
		salt = f.Key
	}
	out.salted.write(salt)
	out.salted.write(".")
	if f.Key == "" {
		v.Add("key", "is required")
	}
	switch f.Status {
	case Draft, Active, Enabled, Disabled, Paused, RolledOut, Archived:
	case "":
		out.Status = Draft
	default:
		v.Add("status", "must be one of DRAFT, ACTIVE, ENABLED, DISABLED, PAUSED, ROLLED_OUT, ARCHIVED")
	}
	index := c.variations(f, out)
	variation := func(field, id string, required bool) int {
		if id == "" {
			if required {
				v.Add(field, "is required")
			}
			return -1
		}
		i, ok := index[id]
		if !ok {
			v.Add(field, "no variation has id %q", id)
			return -1
		}
		return i
	}
	out.defaultIdx = variation("default_variation", f.DefaultVariation, false)
	out.onIdx = variation("on_variation", f.OnVariation, false)
	if f.Status == RolledOut && out.onIdx < 0 {
		v.Add("on_variation", "a rolled-out flag needs the variation it serves to everyone")
	}

	bucketBy := f.BucketBy
	if bucketBy == "" {
		bucketBy = "key"
	} else if p := validAttribute(bucketBy); p != "" {
		v.Add("bucket_by", "%s", p)
	}

	if len(f.Targets) > MaxTargets {
		v.Add("targets", "at most %d", MaxTargets)
	} else if len(f.Targets) > 0 {
		total := 0
		for i, t := range f.Targets {
			field := fmt.Sprintf("targets[%d]", i)
			idx := variation(field+".variation", t.Variation, true)
			total += len(t.Values)
			for j, key := range t.Values {
				if key == "" {
					v.Add(fmt.Sprintf("%s.values[%d]", field, j), "must not be empty")
				}
				out.targets.add(key, idx)
			}
		}
		if total > MaxTargetValues {
			v.Add("targets", "at most %d keys in all", MaxTargetValues)
		}
	}

	if len(f.Rules) > MaxRules {
		v.Add("rules", "at most %d", MaxRules)
	} else {
		ids := map[string]bool{}
		for i, r := range f.Rules {
			field := fmt.Sprintf("rules[%d]", i)
			if r.ID == "" {
				v.Add(field+".id", "is required")
			} else if ids[r.ID] {
				v.Add(field+".id", "duplicates another rule's id")
			}
			ids[r.ID] = true
			cr := compiledRule{id: r.ID, conds: c.conditions(field+".conditions", r.Conditions)}
			cr.serve = c.serve(field+".serve", r.Serve, index, bucketBy, true)
			out.rules = append(out.rules, cr)
		}
	}
	out.fall = c.serve("fallthrough", f.Fallthrough, index, bucketBy, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *compiler) variations(f Flag, out *Compiled) map[string]int {
	v := c.v
	switch f.Type {
	case Boolean, String, Number, JSON:
	default:
		v.Add("type", "must be boolean, string, number or json")
	}
	if len(f.Variations) < 2 {
		v.Add("variations", "a flag needs at least two variations")
	}
	if len(f.Variations) > MaxVariations {
		v.Add("variations", "at most %d", MaxVariations)
		return map[string]int{}
	}
	index := map[string]int{}
	seenBool := map[bool]bool{}
	out.Values = make([]any, len(f.Variations))
	for i, va := range f.Variations {
		field := fmt.Sprintf("variations[%d]", i)
		if va.ID == "" {
			v.Add(field+".id", "is required")
		} else if _, dup := index[va.ID]; dup {
			v.Add(field+".id", "duplicates another variation's id")
		} else {
			index[va.ID] = i
		}
		if strings.EqualFold(strings.TrimSpace(va.Name), "off") {
			v.Add(field+".name", `"off" is reserved for the value served when a flag is off`)
		}
		if strings.EqualFold(va.ID, "off") {
			v.Add(field+".id", `"off" is reserved for the value served when a flag is off`)
		}
		if len(bytes.TrimSpace(va.Value)) == 0 {
			v.Add(field+".value", "is required")
			continue
		}
		var val any
		if err := json.Unmarshal(va.Value, &val); err != nil {
			v.Add(field+".value", "is not valid JSON")
			continue
		}
		out.Values[i] = val
		switch f.Type {
		case Boolean:
			b, ok := val.(bool)
			if !ok {
				v.Add(field+".value", "must be true or false for a boolean flag")
			} else if seenBool[b] {
				v.Add(field+".value", "a boolean flag has exactly one true and one false variation")
			}
			seenBool[b] = true
		case String:
			if _, ok := val.(string); !ok {
				v.Add(field+".value", "must be a string for a string flag")
			}
		case Number:
			if _, ok := val.(float64); !ok {
				v.Add(field+".value", "must be a number for a number flag")
			}
		case JSON:
			switch val.(type) {
			case map[string]any, []any:
			default:
				v.Add(field+".value", "must be a JSON object or array for a json flag")
			}
		}
	}
	if f.Type == Boolean && len(f.Variations) != 2 {
		v.Add("variations", "a boolean flag has exactly two variations, true and false")
	}
	return index
}

func (c *compiler) serve(field string, s Serve, index map[string]int, bucketBy string, inRule bool) compiledServe {
	v := c.v
	out := compiledServe{variation: -1}
	switch {
	case s.Variation != "" && s.Rollout != nil:
		v.Add(field, "serve either a variation or a rollout, not both")
		return out
	case s.Variation != "":
		i, ok := index[s.Variation]
		if !ok {
			v.Add(field+".variation", "no variation has id %q", s.Variation)
		}
		out.variation = i
		return out
	case s.Rollout == nil:
		if inRule {
			v.Add(field, "a rule must serve a variation or a rollout")
		} else {
			v.Add(field, "say what everyone else gets: a variation or a rollout")
		}
		return out
	}
	r := s.Rollout
	rf := field + ".rollout"
	if len(r.Variations) == 0 {
		v.Add(rf+".variations", "a rollout needs at least one variation")
		return out
	}
	if len(r.Variations) > MaxVariations {
		v.Add(rf+".variations", "at most %d", MaxVariations)
		return out
	}
	by := bucketBy
	if r.BucketBy != "" {
		if p := validAttribute(r.BucketBy); p != "" {
			v.Add(rf+".bucket_by", "%s", p)
		}
		by = r.BucketBy
	}
	cr := &compiledRollout{by: newPath(by)}
	sum, only, nonZero := 0, -1, 0
	for i, wv := range r.Variations {
		wf := fmt.Sprintf("%s.variations[%d]", rf, i)
		idx, ok := index[wv.Variation]
		if !ok {
			v.Add(wf+".variation", "no variation has id %q", wv.Variation)
		}
		if wv.Weight < 0 || wv.Weight > MaxWeight {
			v.Add(wf+".weight", "must be between 0 and %d", MaxWeight)
			continue
		}
		sum += wv.Weight
		if wv.Weight > 0 {
			nonZero++
			only = idx
		}
		cr.cumulative = append(cr.cumulative, sum)
		cr.variations = append(cr.variations, idx)
	}
	if sum <= 0 {
		v.Add(rf+".variations", "the weights must add up to more than 0")
		return out
	}
	// Weights are relative: bucket boundaries are the running sums scaled to the bucket range, so
	// weights adding up to 100000 (thousandths of a percent) are used as they are.
	for i := range cr.cumulative {
		cr.cumulative[i] = int(int64(cr.cumulative[i]) * BucketScale / int64(sum))
	}
	if nonZero == 1 { // 100% one variation: no bucket needed, so no key needed either
		out.variation = only
		return out
	}
	out.rollout = cr
	return out
}

func (c *compiler) conditions(field string, conds []Condition) []compiledCond {
	if len(conds) > MaxConditions {
		c.v.Add(field, "at most %d conditions", MaxConditions)
		return nil
	}
	out := make([]compiledCond, 0, len(conds))
	for i, cond := range conds {
		out = append(out, c.condition(fmt.Sprintf("%s[%d]", field, i), cond))
	}
	return out
}

func (c *compiler) condition(field string, cond Condition) compiledCond {
	v := c.v
	out := compiledCond{negate: cond.Negate}
	if cond.Segment != "" || cond.NotSegment != "" {
		if cond.Attribute != "" || cond.Operator != "" || len(cond.Values) > 0 || (cond.Segment != "" && cond.NotSegment != "") {
			v.Add(field, "a segment condition has only segment or not_segment")
			return out
		}
		key, sf := cond.Segment, field+".segment"
		if key == "" {
			key, sf, out.invert = cond.NotSegment, field+".not_segment", true
		}
		out.op = opSegment
		out.seg = c.segment(sf, key, 0)
		return out
	}
	if p := validAttribute(cond.Attribute); p != "" {
		v.Add(field+".attribute", "%s", p)
	}
	out.path = newPath(cond.Attribute)
	spec, ok := operators[cond.Operator]
	if !ok {
		v.Add(field+".operator", "unknown operator %q; use one of %s", cond.Operator, strings.Join(Operators, ", "))
		return out
	}
	out.op, out.invert = spec.op, spec.invert
	if out.op == opExists {
		if len(cond.Values) > 0 {
			v.Add(field+".values", "exists takes no values")
		}
		return out
	}
	if len(cond.Values) == 0 {
		v.Add(field+".values", "%s needs at least one value", cond.Operator)
		return out
	}
	if len(cond.Values) > MaxValues {
		v.Add(field+".values", "at most %d values", MaxValues)
		return out
	}
	for i, raw := range cond.Values {
		vf := fmt.Sprintf("%s.values[%d]", field, i)
		var val any
		if err := json.Unmarshal(raw, &val); err != nil {
			v.Add(vf, "is not valid JSON")
			continue
		}
		c.value(&out, vf, cond.Operator, val)
	}
	if out.op == opEquals {
		out.strSet, out.strs = set(out.strs), nil
	}
	if len(out.nums) > 8 {
		x := out.more()
		x.numSet = make(map[float64]struct{}, len(out.nums))
		for _, n := range out.nums {
			x.numSet[n] = struct{}{}
		}
	}
	return out
}

// value parses one value of a condition for its operator.
func (c *compiler) value(out *compiledCond, field, op string, val any) {
	v := c.v
	str, isStr := val.(string)
	num, isNum := val.(float64)
	switch out.op {
	case opEquals:
		switch x := val.(type) {
		case string:
			out.strs = append(out.strs, x)
		case float64:
			out.nums = append(out.nums, x)
		case bool:
			if x {
				out.bools |= 2
			} else {
				out.bools |= 1
			}
		default:
			v.Add(field, "%s compares with strings, numbers or booleans", op)
		}
	case opContains, opStartsWith, opEndsWith:
		if !isStr {
			v.Add(field, "%s needs a string", op)
			return
		}
		out.strs = append(out.strs, str)
	case opGreaterThan, opGreaterThanOrEqual, opLessThan, opLessThanOrEqual:
		if !isNum || math.IsNaN(num) {
			v.Add(field, "%s needs a number", op)
			return
		}
		out.nums = append(out.nums, num)
	case opMatchesRegex:
		if !isStr {
			v.Add(field, "matches_regex needs a regular expression string")
			return
		}
		if len(str) > MaxRegexLen {
			v.Add(field, "the regular expression is longer than %d characters", MaxRegexLen)
			return
		}
		re, err := regexp.Compile(str)
		if err != nil {
			v.Add(field, "is not a valid regular expression: %v", err)
			return
		}
		x := out.more()
		x.res = append(x.res, newMatcher(re))
	case opBefore, opAfter:
		switch {
		case isStr:
			t, err := time.Parse(time.RFC3339, str)
			if err != nil {
				v.Add(field, "%s needs an RFC 3339 time like 2026-01-02T15:04:05Z", op)
				return
			}
			x := out.more()
			x.times = append(x.times, t.UnixNano())
		case isNum:
			x := out.more()
			x.times = append(x.times, int64(num)*int64(time.Millisecond))
		default:
			v.Add(field, "%s needs an RFC 3339 time or Unix milliseconds", op)
		}
	case opSemverEquals, opSemverGreaterThan, opSemverLessThan:
		sv, ok := parseSemver(str)
		if !isStr || !ok {
			v.Add(field, "%s needs a semantic version like 1.2.3", op)
			return
		}
		x := out.more()
		x.vers = append(x.vers, sv)
	}
}

// segment compiles a referenced segment once, refusing unknown ones and reference cycles.
func (c *compiler) segment(field, key string, depth int) *compiledSegment {
	if s, ok := c.compiled[key]; ok {
		return s
	}
	seg, ok := c.segments[key]
	if !ok {
		c.v.Add(field, "no segment has key %q", key)
		return nil
	}
	if c.visiting[key] {
		c.v.Add(field, "segment %q refers to itself through its conditions", key)
		return nil
	}
	if depth > MaxSegmentDepth {
		c.v.Add(field, "segments nest more than %d deep", MaxSegmentDepth)
		return nil
	}
	c.visiting[key] = true
	defer delete(c.visiting, key)
	out := &compiledSegment{key: key, included: set(seg.Included), excluded: set(seg.Excluded)}
	// Problems inside the segment are reported against the segment, from wherever it is used.
	sub := &compiler{v: &validation{}, segments: c.segments, compiled: c.compiled, visiting: c.visiting}
	out.conds = make([]compiledCond, 0, len(seg.Conditions))
	for i, cond := range seg.Conditions {
		cf := fmt.Sprintf("segments[%s].conditions[%d]", key, i)
		if cond.Segment != "" || cond.NotSegment != "" {
			ref := cond.Segment
			if ref == "" {
				ref = cond.NotSegment
			}
			cc := compiledCond{op: opSegment, invert: cond.NotSegment != "", negate: cond.Negate}
			cc.seg = sub.segment(cf+".segment", ref, depth+1)
			out.conds = append(out.conds, cc)
			continue
		}
		out.conds = append(out.conds, sub.condition(cf, cond))
	}
	c.v.details = append(c.v.details, sub.v.details...)
	c.compiled[key] = out
	return out
}

// ValidateSegment checks a segment on its own and against the project's other segments (for
// references and cycles), reporting fields relative to the segment.
func ValidateSegment(seg Segment, all map[string]Segment) error {
	merged := make(map[string]Segment, len(all)+1)
	for k, s := range all {
		merged[k] = s
	}
	merged[seg.Key] = seg
	var v validation
	if len(seg.Included)+len(seg.Excluded) > MaxTargetValues {
		v.Add("included", "at most %d keys in included and excluded together", MaxTargetValues)
	}
	if len(seg.Conditions) > MaxConditions {
		v.Add("conditions", "at most %d conditions", MaxConditions)
	}
	c := &compiler{v: &v, segments: merged, compiled: map[string]*compiledSegment{}, visiting: map[string]bool{seg.Key: true}}
	for i, cond := range seg.Conditions {
		field := fmt.Sprintf("conditions[%d]", i)
		if cond.Segment == seg.Key || cond.NotSegment == seg.Key {
			v.Add(field, "a segment cannot refer to itself")
			continue
		}
		c.condition(field, cond)
	}
	return v.Err()
}

// CheckVariations validates a flag's type and variations on their own, so a mistake in them is
// reported alone rather than with every reference to a variation it made unusable.
func CheckVariations(t Type, variations []Variation) error {
	var v validation
	c := &compiler{v: &v}
	c.variations(Flag{Type: t, Variations: variations}, &Compiled{})
	return v.Err()
}

// matcher is a compiled regular expression, with a fast path for the common ones that are only a
// literal, anchored or not ("@corp\.example$", "^beta-"): a string function instead of the
// regexp machine, with the same answers.
type matcher struct {
	re   *regexp.Regexp
	lit  string
	kind uint8 // 0: use re; 1: contains; 2: prefix; 3: suffix; 4: equals
}

func newMatcher(re *regexp.Regexp) matcher {
	m := matcher{re: re}
	parsed, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return m
	}
	parsed = parsed.Simplify()
	parts := []*syntax.Regexp{parsed}
	if parsed.Op == syntax.OpConcat {
		parts = parsed.Sub
	}
	begin, end := false, false
	if len(parts) > 0 && parts[0].Op == syntax.OpBeginText {
		begin, parts = true, parts[1:]
	}
	if len(parts) > 0 && parts[len(parts)-1].Op == syntax.OpEndText {
		end, parts = true, parts[:len(parts)-1]
	}
	if len(parts) != 1 || parts[0].Op != syntax.OpLiteral || parts[0].Flags&syntax.FoldCase != 0 {
		return m
	}
	m.lit = string(parts[0].Rune)
	switch {
	case begin && end:
		m.kind = 4
	case begin:
		m.kind = 2
	case end:
		m.kind = 3
	default:
		m.kind = 1
	}
	return m
}

func (m *matcher) match(s string) bool {
	switch m.kind {
	case 1:
		return strings.Contains(s, m.lit)
	case 2:
		return strings.HasPrefix(s, m.lit)
	case 3:
		return strings.HasSuffix(s, m.lit)
	case 4:
		return s == m.lit
	}
	return m.re.MatchString(s)
}
