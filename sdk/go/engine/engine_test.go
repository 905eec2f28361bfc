package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
)

func raw(vs ...any) []json.RawMessage {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		out[i] = b
	}
	return out
}

func ctxOf(s string) Context {
	var c Context
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		panic(err)
	}
	return c
}

// boolFlag is an ENABLED boolean flag serving true to contexts matching the conditions, false else.
func boolFlag(conds ...Condition) Flag {
	return Flag{Key: "f", Type: Boolean, Status: Enabled, DefaultVariation: "false",
		Variations:  []Variation{{ID: "true", Name: "On", Value: json.RawMessage("true")}, {ID: "false", Name: "Off value", Value: json.RawMessage("false")}},
		Rules:       []Rule{{ID: "r1", Conditions: conds, Serve: Serve{Variation: "true"}}},
		Fallthrough: Serve{Variation: "false"}}
}

func mustCompile(t testing.TB, f Flag, segs map[string]Segment) *Compiled {
	t.Helper()
	c, err := Compile(f, segs)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

func TestOperators(t *testing.T) {
	cond := func(attr, op string, negate bool, vals ...any) Condition {
		return Condition{Attribute: attr, Operator: op, Values: raw(vals...), Negate: negate}
	}
	ctx := `{"key":"user-1","country":"US","email":"ada@flagmint.com","age":31,"score":2.5,"beta":true,
		"tags":["pro","eu"],"signup":"2025-06-01T00:00:00Z","signup_ms":1748736000000,"version":"2.3.0-beta.2",
		"user":{"email":"grace@example.com","plan":"pro"},"organization":{"key":"47","plan":"enterprise"},"nothing":null}`
	cases := []struct {
		name string
		cond Condition
		ctx  string
		want bool
	}{
		// equals / not_equals
		{"equals match", cond("country", OpEquals, false, "US"), ctx, true},
		{"equals no match", cond("country", OpEquals, false, "CA"), ctx, false},
		{"equals any of", cond("country", OpEquals, false, "CA", "US"), ctx, true},
		{"equals missing", cond("region", OpEquals, false, "US"), ctx, false},
		{"equals wrong type", cond("age", OpEquals, false, "31"), ctx, false},
		{"equals number", cond("age", OpEquals, false, 31), ctx, true},
		{"equals bool", cond("beta", OpEquals, false, true), ctx, true},
		{"equals negate", cond("country", OpEquals, true, "US"), ctx, false},
		{"equals negate missing", cond("region", OpEquals, true, "US"), ctx, false},
		{"equals null is missing", cond("nothing", OpEquals, false, "x"), ctx, false},
		{"not_equals match", cond("country", OpNotEquals, false, "CA"), ctx, true},
		{"not_equals no match", cond("country", OpNotEquals, false, "US"), ctx, false},
		{"not_equals missing matches", cond("region", OpNotEquals, false, "US"), ctx, true},
		{"not_equals wrong type", cond("age", OpNotEquals, false, "x"), ctx, false},
		{"not_equals negate", cond("country", OpNotEquals, true, "US"), ctx, true},
		{"not_equals negate missing", cond("region", OpNotEquals, true, "US"), ctx, false},
		// contains / not_contains
		{"contains match", cond("email", OpContains, false, "@flag"), ctx, true},
		{"contains no match", cond("email", OpContains, false, "@other"), ctx, false},
		{"contains missing", cond("phone", OpContains, false, "1"), ctx, false},
		{"contains wrong type", cond("age", OpContains, false, "3"), ctx, false},
		{"contains list attribute", cond("tags", OpContains, false, "pro"), ctx, true},
		{"contains negate", cond("email", OpContains, true, "@flag"), ctx, false},
		{"not_contains match", cond("email", OpNotContains, false, "@other"), ctx, true},
		{"not_contains no match", cond("email", OpNotContains, false, "@flag"), ctx, false},
		{"not_contains missing", cond("phone", OpNotContains, false, "1"), ctx, true},
		{"not_contains wrong type", cond("age", OpNotContains, false, "3"), ctx, false},
		// starts_with / ends_with
		{"starts_with match", cond("email", OpStartsWith, false, "ada@"), ctx, true},
		{"starts_with no match", cond("email", OpStartsWith, false, "bob@"), ctx, false},
		{"starts_with missing", cond("phone", OpStartsWith, false, "+"), ctx, false},
		{"starts_with wrong type", cond("age", OpStartsWith, false, "3"), ctx, false},
		{"starts_with negate", cond("email", OpStartsWith, true, "bob@"), ctx, true},
		{"ends_with match", cond("email", OpEndsWith, false, "@flagmint.com"), ctx, true},
		{"ends_with no match", cond("email", OpEndsWith, false, "@x.com"), ctx, false},
		{"ends_with missing", cond("phone", OpEndsWith, false, "9"), ctx, false},
		{"ends_with wrong type", cond("beta", OpEndsWith, false, "e"), ctx, false},
		{"ends_with negate", cond("email", OpEndsWith, true, "@flagmint.com"), ctx, false},
		// in / not_in
		{"in match", cond("country", OpIn, false, "US", "CA", "GB"), ctx, true},
		{"in no match", cond("country", OpIn, false, "DE", "FR"), ctx, false},
		{"in large set", cond("country", OpIn, false, "IE", "NL", "DE", "FR", "ES", "IT", "PT", "BE", "AT", "US"), ctx, true},
		{"in large set miss", cond("country", OpIn, false, "IE", "NL", "DE", "FR", "ES", "IT", "PT", "BE", "AT", "GR"), ctx, false},
		{"in missing", cond("region", OpIn, false, "a"), ctx, false},
		{"in wrong type", cond("age", OpIn, false, "31"), ctx, false},
		{"in numbers", cond("age", OpIn, false, 30, 31, 32), ctx, true},
		{"in list attribute", cond("tags", OpIn, false, "eu", "us"), ctx, true},
		{"in negate", cond("country", OpIn, true, "US"), ctx, false},
		{"not_in match", cond("country", OpNotIn, false, "DE"), ctx, true},
		{"not_in no match", cond("country", OpNotIn, false, "US", "CA"), ctx, false},
		{"not_in missing", cond("region", OpNotIn, false, "x"), ctx, true},
		{"not_in wrong type", cond("age", OpNotIn, false, "x"), ctx, false},
		{"not_in negate", cond("country", OpNotIn, true, "US"), ctx, true},
		// numeric comparisons
		{"greater_than match", cond("age", OpGreaterThan, false, 30), ctx, true},
		{"greater_than equal", cond("age", OpGreaterThan, false, 31), ctx, false},
		{"greater_than missing", cond("weight", OpGreaterThan, false, 1), ctx, false},
		{"greater_than wrong type", cond("country", OpGreaterThan, false, 1), ctx, false},
		{"greater_than negate", cond("age", OpGreaterThan, true, 30), ctx, false},
		{"greater_than_or_equal match", cond("age", OpGreaterThanOrEqual, false, 31), ctx, true},
		{"greater_than_or_equal no", cond("age", OpGreaterThanOrEqual, false, 32), ctx, false},
		{"greater_than_or_equal missing", cond("weight", OpGreaterThanOrEqual, false, 1), ctx, false},
		{"greater_than_or_equal wrong type", cond("tags", OpGreaterThanOrEqual, false, 1), ctx, false},
		{"less_than match", cond("score", OpLessThan, false, 3), ctx, true},
		{"less_than no", cond("score", OpLessThan, false, 2.5), ctx, false},
		{"less_than missing", cond("weight", OpLessThan, false, 1), ctx, false},
		{"less_than wrong type", cond("beta", OpLessThan, false, 1), ctx, false},
		{"less_than negate", cond("score", OpLessThan, true, 2), ctx, true},
		{"less_than_or_equal match", cond("score", OpLessThanOrEqual, false, 2.5), ctx, true},
		{"less_than_or_equal no", cond("score", OpLessThanOrEqual, false, 2), ctx, false},
		{"less_than_or_equal missing", cond("weight", OpLessThanOrEqual, false, 1), ctx, false},
		{"less_than_or_equal wrong type", cond("email", OpLessThanOrEqual, false, 1), ctx, false},
		// regex
		{"matches_regex match", cond("email", OpMatchesRegex, false, `^[a-z]+@flagmint\.com$`), ctx, true},
		{"matches_regex no", cond("email", OpMatchesRegex, false, `^bob`), ctx, false},
		{"matches_regex missing", cond("phone", OpMatchesRegex, false, `.`), ctx, false},
		{"matches_regex wrong type", cond("age", OpMatchesRegex, false, `3`), ctx, false},
		{"matches_regex negate", cond("email", OpMatchesRegex, true, `^bob`), ctx, true},
		// dates
		{"before match", cond("signup", OpBefore, false, "2026-01-01T00:00:00Z"), ctx, true},
		{"before no", cond("signup", OpBefore, false, "2025-01-01T00:00:00Z"), ctx, false},
		{"before missing", cond("born", OpBefore, false, "2026-01-01T00:00:00Z"), ctx, false},
		{"before wrong type", cond("beta", OpBefore, false, "2026-01-01T00:00:00Z"), ctx, false},
		{"before unparseable", cond("email", OpBefore, false, "2026-01-01T00:00:00Z"), ctx, false},
		{"before negate", cond("signup", OpBefore, true, "2026-01-01T00:00:00Z"), ctx, false},
		{"after match", cond("signup", OpAfter, false, "2025-01-01T00:00:00Z"), ctx, true},
		{"after unix ms", cond("signup_ms", OpAfter, false, "2025-05-31T00:00:00Z"), ctx, true},
		{"after no", cond("signup", OpAfter, false, "2026-01-01T00:00:00Z"), ctx, false},
		{"after missing", cond("born", OpAfter, false, "2020-01-01T00:00:00Z"), ctx, false},
		{"after wrong type", cond("tags", OpAfter, false, "2020-01-01T00:00:00Z"), ctx, false},
		// semver
		{"semver_equals match", cond("version", OpSemverEquals, false, "2.3.0-beta.2"), ctx, true},
		{"semver_equals no", cond("version", OpSemverEquals, false, "2.3.0"), ctx, false},
		{"semver_equals missing", cond("app", OpSemverEquals, false, "1.0.0"), ctx, false},
		{"semver_equals wrong type", cond("age", OpSemverEquals, false, "1.0.0"), ctx, false},
		{"semver_equals unparseable", cond("email", OpSemverEquals, false, "1.0.0"), ctx, false},
		{"semver_greater_than match", cond("version", OpSemverGreaterThan, false, "2.3.0-beta.1"), ctx, true},
		{"semver_greater_than numeric pre", cond("version", OpSemverGreaterThan, false, "2.3.0-beta.10"), ctx, false},
		{"semver_greater_than release", cond("version", OpSemverGreaterThan, false, "2.3.0"), ctx, false},
		{"semver_greater_than missing", cond("app", OpSemverGreaterThan, false, "1.0.0"), ctx, false},
		{"semver_less_than match", cond("version", OpSemverLessThan, false, "2.3.0"), ctx, true},
		{"semver_less_than no", cond("version", OpSemverLessThan, false, "2.2.9"), ctx, false},
		{"semver_less_than wrong type", cond("beta", OpSemverLessThan, false, "9.0.0"), ctx, false},
		{"semver_less_than negate", cond("version", OpSemverLessThan, true, "2.2.9"), ctx, true},
		// exists
		{"exists match", cond("country", OpExists, false), ctx, true},
		{"exists missing", cond("region", OpExists, false), ctx, false},
		{"exists null", cond("nothing", OpExists, false), ctx, false},
		{"exists negate missing", cond("region", OpExists, true), ctx, true},
		{"exists negate present", cond("country", OpExists, true), ctx, false},
		// dotted paths
		{"nested path", cond("user.plan", OpEquals, false, "pro"), ctx, true},
		{"nested organisation", cond("organization.plan", OpEquals, false, "enterprise"), ctx, true},
		{"nested missing leaf", cond("user.country", OpEquals, false, "US"), ctx, false},
		{"nested through a scalar", cond("country.code", OpEquals, false, "US"), ctx, false},
		{"flat dotted key wins", cond("user.plan", OpEquals, false, "flat"), `{"user.plan":"flat","user":{"plan":"pro"}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, boolFlag(tc.cond), nil)
			got := c.Evaluate(ctxOf(tc.ctx))
			if (got.Variation == 0) != tc.want {
				t.Errorf("Evaluate(%s %s %s negate=%v) matched = %v, want %v", tc.cond.Attribute, tc.cond.Operator,
					tc.cond.Values, tc.cond.Negate, got.Variation == 0, tc.want)
			}
		})
	}
}

func TestRulesAndReasons(t *testing.T) {
	f := Flag{Key: "checkout", Type: String, Status: Enabled, DefaultVariation: "control",
		Variations: []Variation{
			{ID: "control", Name: "Control", Value: json.RawMessage(`"old"`)},
			{ID: "a", Name: "A", Value: json.RawMessage(`"blue"`)},
			{ID: "b", Name: "B", Value: json.RawMessage(`"green"`)},
		},
		Targets: []Target{{Variation: "b", Values: []string{"vip-1"}}},
		Rules: []Rule{
			{ID: "internal", Conditions: []Condition{{Attribute: "email", Operator: OpEndsWith, Values: raw("@flagmint.com")}}, Serve: Serve{Variation: "a"}},
			{ID: "pro", Conditions: []Condition{{Attribute: "plan", Operator: OpEquals, Values: raw("pro")}},
				Serve: Serve{Rollout: &Rollout{Variations: []WeightedVariation{{Variation: "a", Weight: 50000}, {Variation: "b", Weight: 50000}}}}},
		},
		Fallthrough: Serve{Variation: "control"}}
	c := mustCompile(t, f, nil)
	cases := []struct {
		ctx    string
		want   string
		reason Reason
		rule   string
	}{
		{`{"key":"vip-1","email":"x@flagmint.com"}`, "b", ReasonTargetingMatch, ""},
		{`{"key":"u1","email":"x@flagmint.com","plan":"pro"}`, "a", ReasonTargetingMatch, "internal"},
		{`{"key":"u1","plan":"pro"}`, "", ReasonSplit, "pro"},
		{`{"key":"u1","plan":"free"}`, "control", ReasonDefault, ""},
		{`{"plan":"pro"}`, "control", ReasonError, "pro"},
	}
	for _, tc := range cases {
		r := c.Evaluate(ctxOf(tc.ctx))
		if r.Reason != tc.reason || c.RuleID(r) != tc.rule || (tc.want != "" && c.Variations[r.Variation].ID != tc.want) {
			t.Errorf("Evaluate(%s) = %+v rule %q, want %s %s %q", tc.ctx, r, c.RuleID(r), tc.want, tc.reason, tc.rule)
		}
	}
	if r := c.Evaluate(ctxOf(`{"plan":"pro"}`)); r.ErrorCode != ErrTargetingKeyMissing {
		t.Errorf("rollout without key: error code %q", r.ErrorCode)
	}

	// Status decides before targeting.
	for status, want := range map[Status]Reason{Draft: ReasonDisabled, Disabled: ReasonDisabled, Paused: ReasonDisabled,
		Active: ReasonTargetingMatch, Enabled: ReasonTargetingMatch, Archived: ReasonFlagNotFound} {
		g := f
		g.Status = status
		cc := mustCompile(t, g, nil)
		r := cc.Evaluate(ctxOf(`{"key":"u1","email":"x@flagmint.com"}`))
		if r.Reason != want {
			t.Errorf("status %s: reason %s, want %s", status, r.Reason, want)
		}
		if want == ReasonDisabled && c.Variations[r.Variation].ID != "control" {
			t.Errorf("status %s serves %s, want the default", status, c.Variations[r.Variation].ID)
		}
		if dry := cc.DryRun(ctxOf(`{"key":"u1","email":"x@flagmint.com"}`)); dry.Reason != ReasonTargetingMatch || c.Variations[dry.Variation].ID != "a" {
			t.Errorf("dry run at %s = %+v, want rule internal", status, dry)
		}
	}
	g := f
	g.Status, g.OnVariation = RolledOut, "b"
	if r := mustCompile(t, g, nil).Evaluate(Context{}); r.Reason != ReasonStatic || c.Variations[r.Variation].ID != "b" {
		t.Errorf("rolled out = %+v, want b for everyone", r)
	}
}

func TestNoKeyNeededWithoutBucketing(t *testing.T) {
	// Source 003: isEnabledFor(null, null) on an enabled flag with no rules, 100% rollout.
	f := boolFlag()
	f.Rules = nil
	f.Fallthrough = Serve{Rollout: &Rollout{Variations: []WeightedVariation{{Variation: "true", Weight: 100000}, {Variation: "false", Weight: 0}}}}
	if r := mustCompile(t, f, nil).Evaluate(Context{}); r.Variation != 0 || r.Reason != ReasonDefault {
		t.Errorf("100%% rollout with an empty context = %+v, want on", r)
	}
}

func TestSegments(t *testing.T) {
	segs := map[string]Segment{
		"beta":       {Key: "beta", Conditions: []Condition{{Attribute: "email", Operator: OpEndsWith, Values: raw("@flagmint.com")}}, Included: []string{"friend-1"}, Excluded: []string{"intern-1"}},
		"enterprise": {Key: "enterprise", Conditions: []Condition{{Attribute: "organization.plan", Operator: OpEquals, Values: raw("custom")}}},
		"beta-eu":    {Key: "beta-eu", Conditions: []Condition{{Segment: "beta"}, {Attribute: "country", Operator: OpIn, Values: raw("IE", "NL", "DE")}}},
		"explicit":   {Key: "explicit", Included: []string{"only-me"}},
	}
	cases := []struct {
		cond Condition
		ctx  string
		want bool
	}{
		{Condition{Segment: "beta"}, `{"key":"u","email":"a@flagmint.com"}`, true},
		{Condition{Segment: "beta"}, `{"key":"friend-1","email":"a@else.com"}`, true},
		{Condition{Segment: "beta"}, `{"key":"intern-1","email":"a@flagmint.com"}`, false},
		{Condition{Segment: "beta"}, `{"key":"u","email":"a@else.com"}`, false},
		{Condition{NotSegment: "beta"}, `{"key":"u","email":"a@else.com"}`, true},
		{Condition{NotSegment: "beta"}, `{"key":"friend-1"}`, false},
		{Condition{Segment: "enterprise"}, `{"key":"u","organization":{"plan":"custom"}}`, true},
		{Condition{Segment: "beta-eu"}, `{"key":"u","email":"a@flagmint.com","country":"NL"}`, true},
		{Condition{Segment: "beta-eu"}, `{"key":"u","email":"a@flagmint.com","country":"US"}`, false},
		{Condition{Segment: "explicit"}, `{"key":"only-me"}`, true},
		{Condition{Segment: "explicit"}, `{"key":"someone"}`, false},
		{Condition{Segment: "explicit"}, `{}`, false},
	}
	for _, tc := range cases {
		c := mustCompile(t, boolFlag(tc.cond), segs)
		if got := c.Evaluate(ctxOf(tc.ctx)).Variation == 0; got != tc.want {
			t.Errorf("%+v on %s = %v, want %v", tc.cond, tc.ctx, got, tc.want)
		}
	}
}

func TestCompileRefusesBadConfigurations(t *testing.T) {
	segs := map[string]Segment{
		"a": {Key: "a", Conditions: []Condition{{Segment: "b"}}},
		"b": {Key: "b", Conditions: []Condition{{Segment: "a"}}},
	}
	base := func(mod func(*Flag)) Flag {
		f := boolFlag(Condition{Attribute: "country", Operator: OpEquals, Values: raw("US")})
		mod(&f)
		return f
	}
	cases := []struct {
		name  string
		flag  Flag
		field string
	}{
		{"unknown operator", base(func(f *Flag) { f.Rules[0].Conditions[0].Operator = "resembles" }), "rules[0].conditions[0].operator"},
		{"bad regex", base(func(f *Flag) {
			f.Rules[0].Conditions = append(f.Rules[0].Conditions, Condition{Attribute: "email", Operator: OpMatchesRegex, Values: raw("([a-z")})
		}), "rules[0].conditions[1].values[0]"},
		{"weights adding up to nothing", base(func(f *Flag) {
			f.Fallthrough = Serve{Rollout: &Rollout{Variations: []WeightedVariation{{Variation: "true", Weight: 0}, {Variation: "false", Weight: 0}}}}
		}), "fallthrough.rollout.variations"},
		{"negative weight", base(func(f *Flag) {
			f.Fallthrough = Serve{Rollout: &Rollout{Variations: []WeightedVariation{{Variation: "true", Weight: -1}, {Variation: "false", Weight: 100001}}}}
		}), "fallthrough.rollout.variations[0].weight"},
		{"variation of the wrong type", base(func(f *Flag) { f.Variations[0].Value = json.RawMessage(`"yes"`) }), "variations[0].value"},
		{"serving a missing variation", base(func(f *Flag) { f.Rules[0].Serve.Variation = "maybe" }), "rules[0].serve.variation"},
		{"missing segment", base(func(f *Flag) { f.Rules[0].Conditions[0] = Condition{Segment: "nope"} }), "rules[0].conditions[0].segment"},
		{"segment cycle", base(func(f *Flag) { f.Rules[0].Conditions[0] = Condition{Segment: "a"} }), "segments[b].conditions[0].segment"}, // a → b → a: b closes the loop
		{"no values", base(func(f *Flag) { f.Rules[0].Conditions[0].Values = nil }), "rules[0].conditions[0].values"},
		{"number for numeric op", base(func(f *Flag) {
			f.Rules[0].Conditions[0] = Condition{Attribute: "age", Operator: OpGreaterThan, Values: raw("thirty")}
		}), "rules[0].conditions[0].values[0]"},
		{"bad date", base(func(f *Flag) {
			f.Rules[0].Conditions[0] = Condition{Attribute: "d", Operator: OpBefore, Values: raw("tomorrow")}
		}), "rules[0].conditions[0].values[0]"},
		{"bad semver", base(func(f *Flag) {
			f.Rules[0].Conditions[0] = Condition{Attribute: "v", Operator: OpSemverEquals, Values: raw("one")}
		}), "rules[0].conditions[0].values[0]"},
		{"empty attribute path part", base(func(f *Flag) { f.Rules[0].Conditions[0].Attribute = "user..email" }), "rules[0].conditions[0].attribute"},
		{"duplicate rule id", base(func(f *Flag) { f.Rules = append(f.Rules, f.Rules[0]) }), "rules[1].id"},
		{"off as a name", base(func(f *Flag) { f.Variations[1].Name = "Off" }), "variations[1].name"},
		{"off as an id", base(func(f *Flag) {
			f.Variations[1].ID, f.DefaultVariation, f.Fallthrough.Variation = "OFF", "OFF", "OFF"
		}), "variations[1].id"},
		{"three boolean variations", base(func(f *Flag) {
			f.Variations = append(f.Variations, Variation{ID: "x", Name: "X", Value: json.RawMessage("true")})
		}), "variations[2].value"},
		{"one variation", base(func(f *Flag) { f.Variations = f.Variations[:1] }), "variations"},
		{"missing default", base(func(f *Flag) { f.DefaultVariation = "gone" }), "default_variation"},
		{"both serve forms", base(func(f *Flag) {
			f.Fallthrough.Rollout = &Rollout{Variations: []WeightedVariation{{Variation: "true", Weight: 100000}}}
		}), "fallthrough"},
		{"unknown type", base(func(f *Flag) { f.Type = "date" }), "type"},
		{"segment and attribute", base(func(f *Flag) { f.Rules[0].Conditions[0].Segment = "a" }), "rules[0].conditions[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.flag, segs)
			var e *ValidationError
			if !errors.As(err, &e) {
				t.Fatalf("Compile = %v, want a validation error", err)
			}
			var fields []string
			for _, d := range e.Details {
				fields = append(fields, d.Field)
				if d.Field == tc.field {
					return
				}
			}
			t.Errorf("fields at fault = %v, want %s", fields, tc.field)
		})
	}
}

func TestValidateSegment(t *testing.T) {
	all := map[string]Segment{"b": {Key: "b", Conditions: []Condition{{Segment: "a"}}}}
	if err := ValidateSegment(Segment{Key: "a", Conditions: []Condition{{Segment: "b"}}}, all); err == nil {
		t.Error("a → b → a accepted")
	}
	if err := ValidateSegment(Segment{Key: "a", Conditions: []Condition{{Segment: "a"}}}, nil); err == nil {
		t.Error("a → a accepted")
	}
	if err := ValidateSegment(Segment{Key: "c", Conditions: []Condition{{Attribute: "x", Operator: "nope", Values: raw(1)}}}, nil); err == nil ||
		!strings.Contains(err.Error(), "conditions[0].operator") {
		t.Errorf("bad operator: %v", err)
	}
	if err := ValidateSegment(Segment{Key: "c", Conditions: []Condition{{Segment: "b"}}}, map[string]Segment{"b": {Key: "b"}}); err != nil {
		t.Errorf("a valid reference refused: %v", err)
	}
}

// percentFlag is a boolean flag rolled out to p percent.
func percentFlag(key string, p int) Flag {
	f := boolFlag()
	f.Key, f.Rules = key, nil
	f.Fallthrough = Serve{Rollout: &Rollout{Variations: []WeightedVariation{{Variation: "true", Weight: p * 1000}, {Variation: "false", Weight: (100 - p) * 1000}}}}
	return f
}

func TestBucketing(t *testing.T) {
	at10 := mustCompile(t, percentFlag("new-checkout", 10), nil)
	at25 := mustCompile(t, percentFlag("new-checkout", 25), nil)
	other := mustCompile(t, percentFlag("dark-mode", 25), nil)
	const n = 100000
	in10, in25, both, otherIn := 0, 0, 0, 0
	for i := 0; i < n; i++ {
		ctx := Context{"key": fmt.Sprintf("user-%d", i)}
		a, b := at10.Evaluate(ctx), at25.Evaluate(ctx)
		if a != at10.Evaluate(ctx) {
			t.Fatal("the same context got two answers")
		}
		if a.Variation == 0 {
			in10++
			if b.Variation != 0 {
				t.Fatalf("user-%d was in at 10%% and out at 25%%", i)
			}
		}
		if b.Variation == 0 {
			in25++
			if other.Evaluate(ctx).Variation == 0 {
				both++
			}
		}
		if other.Evaluate(ctx).Variation == 0 {
			otherIn++
		}
	}
	if in25 < 24000 || in25 > 26000 {
		t.Errorf("%d of %d at 25%%, want within ±1%%", in25, n)
	}
	if in10 < 9000 || in10 > 11000 {
		t.Errorf("%d of %d at 10%%", in10, n)
	}
	// Uncorrelated: P(in both) ≈ 25% × 25% = 6.25%.
	if both < 5800 || both > 6700 {
		t.Errorf("%d in both 25%% flags, want ≈ 6250 (uncorrelated)", both)
	}

	// bucket_by organization.key keeps a company together.
	byOrg := percentFlag("bulk-export", 50)
	byOrg.BucketBy = "organization.key"
	c := mustCompile(t, byOrg, nil)
	for org := 0; org < 200; org++ {
		first := c.Evaluate(Context{"key": "u0", "organization": map[string]any{"key": fmt.Sprint(org)}}).Variation
		for u := 1; u < 20; u++ {
			if got := c.Evaluate(Context{"key": fmt.Sprintf("u%d", u), "organization": map[string]any{"key": fmt.Sprint(org)}}).Variation; got != first {
				t.Fatalf("organisation %d split between variations", org)
			}
		}
	}
	// Numeric organisation ids bucket like their string form (source 003's org_ids).
	if c.Evaluate(Context{"organization": map[string]any{"key": 47.0}}) != c.Evaluate(Context{"organization": map[string]any{"key": "47"}}) {
		t.Error("organisation 47 buckets differently as a number and as a string")
	}

	// A new salt reshuffles.
	salted := percentFlag("new-checkout", 25)
	salted.Salt = "reshuffle-2"
	s := mustCompile(t, salted, nil)
	same := 0
	for i := 0; i < 10000; i++ {
		ctx := Context{"key": fmt.Sprintf("user-%d", i)}
		if s.Evaluate(ctx).Variation == at25.Evaluate(ctx).Variation {
			same++
		}
	}
	if same > 7000 { // uncorrelated 25% flags agree ≈ 62.5% of the time; the same salt 100%
		t.Errorf("%d of 10000 kept their variation after a salt change", same)
	}
}

// TestRelativeWeights: source 002's weights are relative — variant A weight 1 and variant B weight
// 4 put four times as many contexts in B — while weights adding up to 100000 keep their meaning.
func TestRelativeWeights(t *testing.T) {
	multi := func(weights ...int) Flag {
		f := Flag{Key: "checkout-copy", Type: String, Status: Enabled, DefaultVariation: "a"}
		var ws []WeightedVariation
		for i, w := range weights {
			id := string(rune('a' + i))
			f.Variations = append(f.Variations, Variation{ID: id, Name: id, Value: json.RawMessage(`"` + id + `"`)})
			ws = append(ws, WeightedVariation{Variation: id, Weight: w})
		}
		f.Fallthrough = Serve{Rollout: &Rollout{Variations: ws}}
		return f
	}
	const n = 100000
	cases := []struct {
		name    string
		weights []int
		want    []float64 // percent per variation
	}{
		{"1 and 4", []int{1, 4}, []float64{20, 80}},
		{"2, 1 and 1", []int{2, 1, 1}, []float64{50, 25, 25}},
		{"thousandths of a percent", []int{10000, 90000}, []float64{10, 90}},
		{"a zero weight", []int{3, 0, 1}, []float64{75, 0, 25}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, multi(tc.weights...), nil)
			got := make([]int, len(tc.weights))
			for i := 0; i < n; i++ {
				got[c.Evaluate(Context{"key": fmt.Sprintf("user-%d", i)}).Variation]++
			}
			for i, want := range tc.want {
				if share := float64(got[i]) * 100 / n; math.Abs(share-want) > 1 {
					t.Errorf("variation %d served %.2f%%, want %.0f%% ±1", i, share, want)
				}
			}
			r := multi(tc.weights...).Fallthrough.Rollout
			r.Normalize()
			for i, want := range tc.want {
				if p := r.Variations[i].Percentage; p == nil || *p != want {
					t.Errorf("Normalize: variation %d percentage = %v, want %v", i, p, want)
				}
				if s := r.Share(r.Variations[i].Variation); s != want {
					t.Errorf("Share(%s) = %v, want %v", r.Variations[i].Variation, s, want)
				}
			}
		})
	}
	// Scaling keeps the buckets of a 100000-sum rollout exactly where they were.
	exact := mustCompile(t, percentFlag("new-checkout", 25), nil)
	scaled := percentFlag("new-checkout", 25)
	scaled.Fallthrough.Rollout.Variations[0].Weight, scaled.Fallthrough.Rollout.Variations[1].Weight = 1, 3
	relative := mustCompile(t, scaled, nil)
	for i := 0; i < 20000; i++ {
		ctx := Context{"key": fmt.Sprintf("user-%d", i)}
		if exact.Evaluate(ctx) != relative.Evaluate(ctx) {
			t.Fatalf("user-%d: 25000/75000 and 1/3 disagree", i)
		}
	}
}

// TestRegexFastPath: literal patterns take a string function and answer exactly as the regexp.
func TestRegexFastPath(t *testing.T) {
	inputs := []string{"", "ada@corp.example", "ada@corp.example.com", "beta-user", "a-beta-", "corp.example", "BETA-x", "x\\ny", "@corpXexample"}
	for _, pat := range []string{`@corp\.example$`, `^beta-`, `beta`, `^corp\.example$`, `(?i)^beta-`, `^a.c$`, `b(e|a)ta`, `$`, `^`, `x\\ny`} {
		re := regexp.MustCompile(pat)
		m := newMatcher(re)
		for _, in := range inputs {
			if got, want := m.match(in), re.MatchString(in); got != want {
				t.Errorf("%q on %q: fast path %v, regexp %v (kind %d)", pat, in, got, want, m.kind)
			}
		}
	}
	if m := newMatcher(regexp.MustCompile(`@corp\.example$`)); m.kind != 3 || m.lit != "@corp.example" {
		t.Errorf("suffix pattern compiled as kind %d %q", m.kind, m.lit)
	}
}
