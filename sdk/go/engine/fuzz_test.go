package engine

import (
	"encoding/json"
	"testing"
)

// FuzzCompileEvaluate feeds arbitrary flag configurations and contexts through the decoder, the
// compiler and the evaluator. Nothing may panic; the evaluator's own recover would turn a panic into
// reason ERROR with code GENERAL, so that outcome fails the fuzz too. EvaluateKeyed (the key looked
// up by the caller) must agree with Evaluate.
func FuzzCompileEvaluate(f *testing.F) {
	seedFlag, _ := json.Marshal(boolFlag(Condition{Attribute: "user.email", Operator: OpMatchesRegex, Values: raw(`@x\.com$`)},
		Condition{Segment: "beta"}))
	f.Add(string(seedFlag), `{"key":"u1","user":{"email":"a@x.com"}}`)
	f.Add(`{"key":"k","type":"string","status":"ENABLED","variations":[{"id":"a","name":"A","value":"\"x\""},{"id":"b","name":"B","value":"\"y\""}],"fallthrough":{"rollout":{"bucket_by":"org.id","variations":[{"variation":"a","weight":50000},{"variation":"b","weight":50000}]}}}`, `{"org":{"id":47}}`)
	f.Add(`{"key":"k","type":"number","variations":[],"rules":[{"id":"r","conditions":[{"attribute":"v","operator":"semver_greater_than","values":["1.0.0-rc.1"]}],"serve":{"variation":"x"}}]}`, `{"v":"1.0.0"}`)
	f.Add(`{"rules":[{"conditions":[{"attribute":"a.b.c","operator":"before","values":[1700000000000]}]}]}`, `{"a":{"b":{"c":"2020-01-01T00:00:00Z"}}}`)
	f.Add(`{}`, `[]`)
	segs := map[string]Segment{
		"beta": {Key: "beta", Conditions: []Condition{{Attribute: "country", Operator: OpIn, Values: raw("IE", "NL")}}, Included: []string{"u1"}},
	}
	f.Fuzz(func(t *testing.T, flagJSON, ctxJSON string) {
		var fl Flag
		if json.Unmarshal([]byte(flagJSON), &fl) != nil {
			return
		}
		c, err := Compile(fl, segs)
		if err != nil {
			return
		}
		var ctx Context
		if json.Unmarshal([]byte(ctxJSON), &ctx) != nil {
			return
		}
		if got, want := c.EvaluateKeyed(ctx, ctx["key"]), c.Evaluate(ctx); got != want {
			t.Fatalf("EvaluateKeyed = %v, Evaluate = %v on flag %s context %s", got, want, flagJSON, ctxJSON)
		}
		for _, r := range []Result{c.Evaluate(ctx), c.DryRun(ctx)} {
			if r.ErrorCode == ErrGeneral {
				t.Fatalf("evaluation panicked on flag %s context %s", flagJSON, ctxJSON)
			}
			if r.Variation >= len(c.Variations) {
				t.Fatalf("variation index %d out of range", r.Variation)
			}
		}
	})
}

func FuzzSemver(f *testing.F) {
	for _, s := range []string{"1.2.3", "v1", "1.0.0-alpha.1+build", "1.0.0-", "99999999999999999999.0.0", "1.2.3-a.b.10"} {
		f.Add(s, "1.2.3")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, oka := parseSemver(a)
		vb, okb := parseSemver(b)
		if oka && okb && va.compare(vb) != -vb.compare(va) {
			t.Fatalf("compare(%q, %q) is not antisymmetric", a, b)
		}
	})
}
