package engine

import (
	"fmt"
	"testing"
)

// benchFlag has three rules — a segment, a regex and an `in` list — and a percentage rollout, as
// the target describes.
func benchFlag(key string) (Flag, map[string]Segment) {
	segs := map[string]Segment{"beta": {Key: "beta", Included: []string{"friend-1", "friend-2"},
		Conditions: []Condition{{Attribute: "organization.plan", Operator: OpEquals, Values: raw("custom")}}}}
	f := boolFlag()
	f.Key = key
	f.Rules = []Rule{
		{ID: "beta", Conditions: []Condition{{Segment: "beta"}}, Serve: Serve{Variation: "true"}},
		{ID: "staff", Conditions: []Condition{{Attribute: "email", Operator: OpMatchesRegex, Values: raw(`@flagmint\.com$`)}}, Serve: Serve{Variation: "true"}},
		{ID: "eu", Conditions: []Condition{{Attribute: "country", Operator: OpIn, Values: raw("IE", "NL", "DE", "FR", "ES", "IT", "PT", "BE", "AT", "GR", "FI", "SE")}},
			Serve: Serve{Rollout: &Rollout{Variations: []WeightedVariation{{Variation: "true", Weight: 50000}, {Variation: "false", Weight: 50000}}}}},
	}
	f.Fallthrough = Serve{Rollout: &Rollout{Variations: []WeightedVariation{{Variation: "true", Weight: 25000}, {Variation: "false", Weight: 75000}}}}
	return f, segs
}

func BenchmarkEvaluate(b *testing.B) {
	f, segs := benchFlag("new-checkout")
	c := mustCompile(b, f, segs)
	ctx := ctxOf(`{"key":"user-123456","email":"ada@example.com","country":"US","plan":"pro","organization":{"key":"47","plan":"enterprise"}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := c.Evaluate(ctx); r.Reason != ReasonSplit {
			b.Fatal(r)
		}
	}
}

func BenchmarkEvaluateBulk500(b *testing.B) {
	flags := make([]*Compiled, 500)
	for i := range flags {
		f, segs := benchFlag(fmt.Sprintf("flag-%d", i))
		flags[i] = mustCompile(b, f, segs)
	}
	ctx := ctxOf(`{"key":"user-123456","email":"ada@example.com","country":"NL","organization":{"key":"47","plan":"enterprise"}}`)
	out := make([]Result, len(flags))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, c := range flags {
			out[j] = c.Evaluate(ctx)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	f, segs := benchFlag("new-checkout")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(f, segs); err != nil {
			b.Fatal(err)
		}
	}
}
