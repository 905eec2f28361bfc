package dataplane

import (
	"encoding/json"
	"fmt"
	"testing"

	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/engine"
)

func patchFlags(n int, version int64) []engine.Flag {
	out := make([]engine.Flag, n)
	for i := range out {
		out[i] = engine.Flag{Key: fmt.Sprintf("flag-%04d", i), Type: engine.Boolean, Status: engine.Enabled, DefaultVariation: "false",
			Variations: []engine.Variation{{ID: "true", Name: "On", Value: json.RawMessage("true")}, {ID: "false", Name: "Off value", Value: json.RawMessage("false")}},
			Rules: []engine.Rule{{ID: "r1", Conditions: []engine.Condition{{Attribute: "country", Operator: engine.OpIn,
				Values: []json.RawMessage{json.RawMessage(`"US"`), json.RawMessage(`"CA"`)}}}, Serve: engine.Serve{Variation: "true"}}},
			Fallthrough: engine.Serve{Variation: "false"}, Version: version}
	}
	return out
}

var testPlane = New(nil, Options{})

// snapshotOf compiles a whole configuration.
func snapshotOf(t testing.TB, version int64, flags []engine.Flag, segs []engine.Segment) *Snapshot {
	cfg := &Config{Environment: Environment{ID: "env-1", Key: "production", Version: version}, Segments: segs}
	for _, f := range flags {
		cfg.Flags = append(cfg.Flags, FlagConfig{Flag: f})
	}
	s, err := testPlane.derive(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPatchFrom: a patch carries only what changed, applies to the previous configuration to give
// exactly the next one, and the assembled document reads as the SDK's Configuration.
func TestPatchFrom(t *testing.T) {
	a := patchFlags(1059, 1)
	b := patchFlags(1059, 1)
	b[7].Status, b[7].Version = engine.Disabled, 2
	b = append(b[:20], b[21:]...) // one deleted
	seg := []engine.Segment{{Key: "beta", Included: []string{"u1"}}}
	prev, next := snapshotOf(t, 10, a, nil), snapshotOf(t, 12, b, seg)
	raw := next.PatchFrom(prev)
	var p vane.Patch
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != 12 || p.PreviousVersion != 10 || len(p.Flags) != 1 || p.Flags[0].Key != "flag-0007" ||
		len(p.DeletedFlags) != 1 || p.DeletedFlags[0] != "flag-0020" || len(p.Segments) != 1 {
		t.Fatalf("patch = %s", raw)
	}
	prevConf, err := vane.ParseConfiguration(prev.ConfigJSON())
	if err != nil {
		t.Fatal(err)
	}
	nextConf, err := vane.ParseConfiguration(next.ConfigJSON())
	if err != nil {
		t.Fatal(err)
	}
	applied := prevConf.Apply(&p)
	if len(applied.Flags) != len(nextConf.Flags) || len(applied.Segments) != 1 || applied.Version != 12 {
		t.Fatalf("applied: %d flags, %d segments, version %d", len(applied.Flags), len(applied.Segments), applied.Version)
	}
	byKey := map[string]engine.Flag{}
	for _, f := range applied.Flags {
		byKey[f.Key] = f
	}
	for _, f := range nextConf.Flags {
		got, _ := json.Marshal(byKey[f.Key])
		want, _ := json.Marshal(f)
		if string(got) != string(want) {
			t.Fatalf("%s after the patch = %s, want %s", f.Key, got, want)
		}
	}
	if &next.PatchFrom(prev)[0] != &raw[0] {
		t.Error("the patch was computed twice for the same versions")
	}
	t.Logf("1 059 flags: whole configuration %d bytes, patch for one changed and one deleted flag %d bytes", len(next.ConfigJSON()), len(raw))
}
