package vane

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vanehq/vane/sdk/go/engine"
)

var update = flag.Bool("update", false, "regenerate ../testdata/conformance.json from the engine")

// conformancePath is shared with the server's tests and with the SDKs in other languages.
var conformancePath = filepath.Join("..", "testdata", "conformance.json")

// Conformance is the file's shape: one configuration, and cases evaluated against it.
type Conformance struct {
	Comment       string        `json:"comment"`
	Configuration Configuration `json:"configuration"`
	Cases         []ConformCase `json:"cases"`
}

// ConformCase is one evaluation and what every implementation must answer.
type ConformCase struct {
	Name    string         `json:"name"`
	Flag    string         `json:"flag"`
	Context map[string]any `json:"context"`
	Want    ConformResult  `json:"want"`
}

// ConformResult is the expected detail.
type ConformResult struct {
	Value     any    `json:"value"`
	Variation string `json:"variation,omitempty"`
	Reason    string `json:"reason"`
	ErrorCode string `json:"error_code,omitempty"`
	RuleID    string `json:"rule_id,omitempty"`
}

func rawJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func raws(vs ...any) []json.RawMessage {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		out[i] = rawJSON(v)
	}
	return out
}

func boolVariations() []engine.Variation {
	return []engine.Variation{{ID: "true", Name: "Enabled", Value: rawJSON(true)}, {ID: "false", Name: "Disabled", Value: rawJSON(false)}}
}

// ruleFlag is an ENABLED boolean flag serving on to contexts that match every condition.
func ruleFlag(key string, conds ...engine.Condition) engine.Flag {
	return engine.Flag{Key: key, Type: engine.Boolean, Status: engine.Enabled, DefaultVariation: "false", OnVariation: "true",
		Variations: boolVariations(), Version: 1,
		Rules:       []engine.Rule{{ID: "rule-1", Conditions: conds, Serve: engine.Serve{Variation: "true"}}},
		Fallthrough: engine.Serve{Variation: "false"}}
}

func cond(attr, op string, vals ...any) engine.Condition {
	return engine.Condition{Attribute: attr, Operator: op, Values: raws(vals...)}
}

func split(by string, weights ...any) *engine.Rollout {
	r := &engine.Rollout{BucketBy: by}
	for i := 0; i+1 < len(weights); i += 2 {
		r.Variations = append(r.Variations, engine.WeightedVariation{Variation: weights[i].(string), Weight: weights[i+1].(int)})
	}
	return r
}

// conformanceSource builds the configuration and the contexts of the cases (their results come
// from the engine when the file is regenerated, and are then reviewed by hand).
func conformanceSource() (Configuration, []ConformCase) {
	var flags []engine.Flag
	var cases []ConformCase
	add := func(f engine.Flag, ctxs ...map[string]any) {
		flags = append(flags, f)
		for i, c := range ctxs {
			cases = append(cases, ConformCase{Name: fmt.Sprintf("%s #%d", f.Key, i+1), Flag: f.Key, Context: c})
		}
	}
	full := map[string]any{"key": "user-1", "country": "US", "email": "ada@example.com", "age": 31, "score": 2.5,
		"beta": true, "tags": []any{"pro", "eu"}, "signup": "2025-06-01T00:00:00Z", "version": "2.3.0-beta.2",
		"user": map[string]any{"plan": "pro"}, "organization": map[string]any{"key": "47", "plan": "enterprise"}}
	other := map[string]any{"key": "user-2", "country": "FR", "email": "bob@example.org", "age": 17, "score": 9,
		"beta": false, "tags": []any{"free"}, "signup": "2026-03-01T00:00:00Z", "version": "10.0.0",
		"user": map[string]any{"plan": "free"}, "organization": map[string]any{"key": "48", "plan": "team"}}
	wrongTypes := map[string]any{"key": "user-3", "country": 7, "email": true, "age": "thirty", "score": []any{1},
		"beta": "yes", "tags": "pro", "signup": "yesterday", "version": "not-a-version", "user": "pro", "organization": 47}
	bare := map[string]any{"key": "user-4"}
	operators := []struct {
		attr, op string
		vals     []any
	}{
		{"country", engine.OpEquals, []any{"US"}},
		{"country", engine.OpNotEquals, []any{"US"}},
		{"email", engine.OpContains, []any{"@example.com"}},
		{"email", engine.OpNotContains, []any{"@example.com"}},
		{"email", engine.OpStartsWith, []any{"ada"}},
		{"email", engine.OpEndsWith, []any{".org"}},
		{"country", engine.OpIn, []any{"US", "CA"}},
		{"country", engine.OpNotIn, []any{"US", "CA"}},
		{"tags", engine.OpIn, []any{"pro"}},
		{"age", engine.OpGreaterThan, []any{18}},
		{"age", engine.OpGreaterThanOrEqual, []any{31}},
		{"score", engine.OpLessThan, []any{3}},
		{"score", engine.OpLessThanOrEqual, []any{2.5}},
		{"email", engine.OpMatchesRegex, []any{`^[a-z]+@example\.(com|org)$`}},
		{"signup", engine.OpBefore, []any{"2026-01-01T00:00:00Z"}},
		{"signup", engine.OpAfter, []any{"2026-01-01T00:00:00Z"}},
		{"version", engine.OpSemverEquals, []any{"2.3.0-beta.2"}},
		{"version", engine.OpSemverGreaterThan, []any{"2.3.0"}},
		{"version", engine.OpSemverLessThan, []any{"2.3.0"}},
		{"beta", engine.OpExists, nil},
		{"user.plan", engine.OpEquals, []any{"pro"}},
		{"organization.plan", engine.OpIn, []any{"enterprise", "team"}},
		{"age", engine.OpIn, []any{31, 40}},
		{"beta", engine.OpEquals, []any{true}},
	}
	for i, o := range operators {
		add(ruleFlag(fmt.Sprintf("op-%02d-%s", i, o.op), cond(o.attr, o.op, o.vals...)), full, other, wrongTypes, bare)
	}
	neg := ruleFlag("negated", cond("country", engine.OpIn, "US", "CA"))
	neg.Rules[0].Conditions[0].Negate = true
	add(neg, full, other, bare)
	add(ruleFlag("two-conditions", cond("country", engine.OpEquals, "US"), cond("age", engine.OpGreaterThan, 21)), full, other,
		map[string]any{"key": "u", "country": "US", "age": 20})

	segments := []engine.Segment{
		{Key: "beta-testers", Included: []string{"user-2", "user-9"}, Excluded: []string{"user-1"},
			Conditions: []engine.Condition{cond("email", engine.OpEndsWith, "@example.com")}},
		{Key: "enterprise", Conditions: []engine.Condition{cond("organization.plan", engine.OpEquals, "enterprise")}},
		{Key: "enterprise-beta", Conditions: []engine.Condition{{Segment: "enterprise"}, cond("beta", engine.OpEquals, true)}},
	}
	add(ruleFlag("in-segment", engine.Condition{Segment: "beta-testers"}), full, other,
		map[string]any{"key": "user-5", "email": "eve@example.com"}, map[string]any{"key": "user-9"}, bare)
	add(ruleFlag("not-in-segment", engine.Condition{NotSegment: "beta-testers"}), full, other,
		map[string]any{"key": "user-5", "email": "eve@example.com"})
	add(ruleFlag("nested-segment", engine.Condition{Segment: "enterprise-beta"}), full, other,
		map[string]any{"key": "u", "organization": map[string]any{"plan": "enterprise"}, "beta": false})

	targeted := ruleFlag("targets", cond("country", engine.OpEquals, "FR"))
	targeted.Targets = []engine.Target{{Variation: "true", Values: []string{"user-1", "user-7"}}, {Variation: "false", Values: []string{"user-2"}}}
	add(targeted, full, other, map[string]any{"key": "user-7"}, map[string]any{"key": "user-8", "country": "FR"})

	keys := []map[string]any{}
	for i := 0; i < 12; i++ {
		keys = append(keys, map[string]any{"key": fmt.Sprintf("user-%d", 100+i)})
	}
	half := engine.Flag{Key: "rollout-half", Type: engine.Boolean, Status: engine.Enabled, DefaultVariation: "false", OnVariation: "true",
		Variations: boolVariations(), Version: 3, Fallthrough: engine.Serve{Rollout: split("", "true", 50000, "false", 50000)}}
	add(half, append(keys, map[string]any{"country": "US"}, map[string]any{"targetingKey": "user-100"},
		map[string]any{"user_id": "user-101"}, map[string]any{"user": map[string]any{"key": "user-102"}},
		map[string]any{"kind": "user", "key": "user-103"}, map[string]any{"key": 42}, map[string]any{"key": ""})...)
	salted := half
	salted.Key, salted.Salt = "rollout-salted", "another-salt"
	add(salted, keys...)
	byOrg := half
	byOrg.Key, byOrg.BucketBy = "rollout-by-org", "organization.key"
	byOrg.Fallthrough = engine.Serve{Rollout: split("organization.key", "true", 30000, "false", 70000)}
	add(byOrg, full, other, map[string]any{"key": "user-1", "organization": map[string]any{"key": "48"}}, bare)
	relative := engine.Flag{Key: "relative-weights", Type: engine.String, Status: engine.Enabled, DefaultVariation: "a",
		Variations: []engine.Variation{{ID: "a", Name: "A", Value: rawJSON("blue")}, {ID: "b", Name: "B", Value: rawJSON("green")}},
		Version:    2, Fallthrough: engine.Serve{Rollout: split("", "a", 1, "b", 4)}}
	add(relative, keys...)
	ruleRollout := ruleFlag("rule-rollout", cond("country", engine.OpEquals, "US"))
	ruleRollout.Rules[0].Serve = engine.Serve{Rollout: split("", "true", 25000, "false", 75000)}
	add(ruleRollout, full, map[string]any{"key": "user-104", "country": "US"}, map[string]any{"key": "user-105", "country": "US"},
		map[string]any{"country": "US"}, other)

	multi := engine.Flag{Key: "checkout-layout", Type: engine.String, Status: engine.Enabled, DefaultVariation: "control",
		Variations: []engine.Variation{{ID: "control", Name: "Control", Value: rawJSON("classic")},
			{ID: "one-page", Name: "One page", Value: rawJSON("one-page")}, {ID: "wizard", Name: "Wizard", Value: rawJSON("wizard")}},
		Version: 4, Rules: []engine.Rule{
			{ID: "eu", Conditions: []engine.Condition{cond("country", engine.OpIn, "FR", "DE")}, Serve: engine.Serve{Variation: "wizard"}},
			{ID: "pro", Conditions: []engine.Condition{cond("user.plan", engine.OpEquals, "pro")}, Serve: engine.Serve{Variation: "one-page"}}},
		Fallthrough: engine.Serve{Variation: "control"}}
	add(multi, full, other, bare)
	number := engine.Flag{Key: "max-items", Type: engine.Number, Status: engine.Enabled, DefaultVariation: "ten",
		Variations: []engine.Variation{{ID: "ten", Name: "Ten", Value: rawJSON(10)}, {ID: "fifty", Name: "Fifty", Value: rawJSON(50.5)}},
		Version:    1, Rules: []engine.Rule{{ID: "adults", Conditions: []engine.Condition{cond("age", engine.OpGreaterThanOrEqual, 18)},
			Serve: engine.Serve{Variation: "fifty"}}}, Fallthrough: engine.Serve{Variation: "ten"}}
	add(number, full, other)
	object := engine.Flag{Key: "banner", Type: engine.JSON, Status: engine.Enabled, DefaultVariation: "none",
		Variations: []engine.Variation{{ID: "none", Name: "None", Value: rawJSON(map[string]any{"show": false})},
			{ID: "sale", Name: "Sale", Value: rawJSON(map[string]any{"show": true, "text": "-20%", "colors": []any{"red", "white"}})}},
		Version: 1, Fallthrough: engine.Serve{Variation: "sale"}}
	add(object, bare)

	for _, st := range []engine.Status{engine.Draft, engine.Active, engine.Enabled, engine.Disabled, engine.Paused, engine.RolledOut, engine.Archived} {
		f := ruleFlag("status-"+string(st), cond("country", engine.OpEquals, "US"))
		f.Status = st
		add(f, full, other)
	}
	broken := ruleFlag("broken-segment", engine.Condition{Segment: "no-such-segment"})
	add(broken, full)
	cases = append(cases, ConformCase{Name: "unknown flag", Flag: "no-such-flag", Context: full})
	return Configuration{SchemaVersion: SchemaVersion, Environment: "conformance", Version: 7, Flags: flags, Segments: segments}, cases
}

// TestConformance evaluates every case of the shared vectors and compares with the file (or, with
// -update, writes the file from the engine).
func TestConformance(t *testing.T) {
	if *update {
		conf, cases := conformanceSource()
		c := offlineClient(t, &conf)
		for i := range cases {
			d := c.Evaluate(cases[i].Flag, cases[i].Context)
			cases[i].Want = ConformResult{Value: d.Value, Variation: d.Variation, Reason: d.Reason, ErrorCode: d.ErrorCode, RuleID: d.RuleID}
		}
		b, err := json.MarshalIndent(Conformance{
			Comment: "Vane conformance vectors: evaluate each case's flag of the configuration for its context; " +
				"every SDK and the server must answer value, variation, reason, error_code and rule_id exactly. " +
				"Generated from the engine (go test ./sdk/go -run TestConformance -update), reviewed by hand.",
			Configuration: conf, Cases: cases}, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(conformancePath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vectors := LoadConformance(t)
	c := offlineClient(t, &vectors.Configuration)
	reasons := map[string]int{}
	for _, tc := range vectors.Cases {
		d := c.Evaluate(tc.Flag, tc.Context)
		got := ConformResult{Value: d.Value, Variation: d.Variation, Reason: d.Reason, ErrorCode: d.ErrorCode, RuleID: d.RuleID}
		if !sameResult(got, tc.Want) {
			t.Errorf("%s: got %+v, want %+v", tc.Name, got, tc.Want)
		}
		reasons[d.Reason+"/"+d.ErrorCode]++
	}
	// The vectors cover every reason and error code an evaluation can give.
	for _, r := range []string{"TARGETING_MATCH/", "SPLIT/", "DEFAULT/", "STATIC/", "DISABLED/", "ERROR/FLAG_NOT_FOUND",
		"ERROR/TARGETING_KEY_MISSING", "ERROR/GENERAL"} {
		if reasons[r] == 0 {
			t.Errorf("no case gives %s", r)
		}
	}
	if len(vectors.Cases) < 150 {
		t.Errorf("%d cases, want the whole set", len(vectors.Cases))
	}
}

// LoadConformance reads the shared vectors.
func LoadConformance(t testing.TB) *Conformance {
	t.Helper()
	b, err := os.ReadFile(conformancePath)
	if err != nil {
		t.Fatal(err)
	}
	var v Conformance
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// sameResult compares results as JSON values (numbers are float64 on both sides).
func sameResult(a, b ConformResult) bool {
	var x, y any
	_ = json.Unmarshal(rawJSON(a), &x)
	_ = json.Unmarshal(rawJSON(b), &y)
	return reflect.DeepEqual(x, y)
}

func offlineClient(t testing.TB, conf *Configuration) *Client {
	t.Helper()
	b, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(Config{Offline: true, Bootstrap: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
