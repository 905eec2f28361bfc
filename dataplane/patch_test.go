package dataplane

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
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

// BenchmarkDeriveOneFlag is the data plane's share of a write: a snapshot of n flags brought up to
// date with one changed flag (compiled, encoded, the table's shard copied).
func BenchmarkDeriveOneFlag(b *testing.B) {
	for _, n := range []int{5000, 50000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			base := snapshotOf(b, 1, patchFlags(n, 1), nil)
			changed := patchFlags(n, 2)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f := changed[(i*7919)%n]
				f.Status = []engine.Status{engine.Enabled, engine.Disabled}[i%2]
				cfg := &Config{Environment: Environment{ID: "env-1", Key: "production", Version: int64(i + 2)}, Partial: true,
					Flags: []FlagConfig{{Flag: f}}}
				s, err := testPlane.derive(base, cfg)
				if err != nil || s.NumFlags() != n {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPatchFromDerived: a snapshot derived from another by a partial configuration knows what
// changed, and its patch is the same as the one comparing every piece would give; applied to the
// previous configuration it gives the next one. A stream behind by more than one snapshot gets the
// comparison.
func TestPatchFromDerived(t *testing.T) {
	seg := engine.Segment{Key: "beta", Included: []string{"u1"}}
	base := snapshotOf(t, 10, patchFlags(1059, 1), []engine.Segment{seg})
	next := patchFlags(1060, 2)
	changed := next[7]
	changed.Status = engine.Disabled
	archived := next[30]
	archived.Status = engine.Archived
	added := next[1059]
	seg2 := engine.Segment{Key: "beta", Included: []string{"u1", "u2"}}
	cfg := &Config{Environment: Environment{ID: "env-1", Key: "production", Version: 11}, Partial: true,
		Flags:    []FlagConfig{{Flag: changed}, {Flag: archived}, {Flag: added}, {Flag: base.Flag("flag-0040").toFlag(t)}},
		Segments: []engine.Segment{seg2}, DeletedFlags: []string{"flag-0020"}}
	derived, err := testPlane.derive(base, cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw := derived.PatchFrom(base)
	var p vane.Patch
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, f := range p.Flags {
		keys = append(keys, f.Key)
	}
	if fmt.Sprint(keys) != "[flag-0007 flag-1059]" || fmt.Sprint(p.DeletedFlags) != "[flag-0020 flag-0030]" ||
		len(p.Segments) != 1 || len(p.Segments[0].Included) != 2 || p.PreviousVersion != 10 || p.Version != 11 {
		t.Fatalf("patch = %s", raw)
	}
	// The same content built afresh: the comparison gives the same patch, and the same document.
	var whole []engine.Flag
	for _, k := range derived.Keys {
		whole = append(whole, derived.Flag(k).toFlag(t))
	}
	fresh := snapshotOf(t, 11, whole, []engine.Segment{seg2})
	if got := fresh.PatchFrom(base); string(got) != string(raw) {
		t.Errorf("patch by comparison\n%s\nderived\n%s", got, raw)
	}
	if string(fresh.ConfigJSON()) != string(derived.ConfigJSON()) {
		t.Error("the derived snapshot's document differs from the one built afresh")
	}
	prevConf, err := vane.ParseConfiguration(base.ConfigJSON())
	if err != nil {
		t.Fatal(err)
	}
	nextConf, err := vane.ParseConfiguration(derived.ConfigJSON())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(prevConf.Apply(&p).Flags), len(nextConf.Flags); got != want || want != 1058 {
		t.Errorf("the patch applied gives %d flags, the document %d, want 1058", got, want)
	}
	// Two snapshots on: the comparison.
	third, err := testPlane.derive(derived, &Config{Environment: Environment{ID: "env-1", Key: "production", Version: 12}, Partial: true,
		DeletedFlags: []string{"flag-0001"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(third.PatchFrom(base), &p); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.DeletedFlags) != "[flag-0001 flag-0020 flag-0030]" || len(p.Flags) != 2 || p.PreviousVersion != 10 {
		t.Errorf("patch over two snapshots = %s", third.PatchFrom(base))
	}
}

// toFlag decodes a served flag's JSON.
func (f *Flag) toFlag(t testing.TB) engine.Flag {
	var out engine.Flag
	if err := json.Unmarshal(f.piece, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConfigJSONShared: requests holding the document share one; once nobody does, it is assembled
// again, the same.
func TestConfigJSONShared(t *testing.T) {
	s := snapshotOf(t, 3, patchFlags(200, 1), nil)
	a := s.ConfigJSON()
	b := s.ConfigJSON()
	if &a[0] != &b[0] {
		t.Error("two requests holding the document at once got two copies")
	}
	want := string(a)
	a, b = nil, nil
	runtime.GC()
	runtime.GC()
	if got := s.ConfigJSON(); string(got) != want {
		t.Error("the document assembled again differs")
	}
	_, _ = a, b
}

// TestPatchesAreBySnapshot: two snapshots of one version may serve different content (a snapshot
// read while a write committed); a patch to the next one is computed for each, never shared
// because the versions match.
func TestPatchesAreBySnapshot(t *testing.T) {
	a := snapshotOf(t, 3, patchFlags(10, 1), nil)
	changed := patchFlags(10, 2)[4]
	changed.Status = engine.Disabled
	a2, err := testPlane.derive(a, &Config{Environment: Environment{ID: "env-1", Key: "production", Version: 3}, Partial: true,
		Flags: []FlagConfig{{Flag: changed}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := testPlane.derive(a2, &Config{Environment: Environment{ID: "env-1", Key: "production", Version: 4}, Partial: true,
		DeletedFlags: []string{"flag-0009"}})
	if err != nil {
		t.Fatal(err)
	}
	var p vane.Patch
	if err := json.Unmarshal(b.PatchFrom(a2), &p); err != nil || len(p.Flags) != 0 || len(p.DeletedFlags) != 1 {
		t.Fatalf("patch from the snapshot just before = %s (%v)", b.PatchFrom(a2), err)
	}
	if err := json.Unmarshal(b.PatchFrom(a), &p); err != nil || len(p.Flags) != 1 || p.Flags[0].Key != "flag-0004" {
		t.Fatalf("patch from the other snapshot of version 3 = %s (%v), want flag-0004 in it", b.PatchFrom(a), err)
	}
}

// TestVariationListsSharedOnlyWhenEqual: lists of variations are shared between flags only when
// they are equal, whatever bytes their fields hold.
func TestVariationListsSharedOnlyWhenEqual(t *testing.T) {
	vs := variationSets{}
	a := []engine.Variation{{ID: "a", Description: "d\x01b", Value: json.RawMessage("1")}, {ID: "c", Value: json.RawMessage("2")}}
	b := []engine.Variation{{ID: "a", Description: "d", Value: json.RawMessage("1")}, {ID: "b\x01c", Value: json.RawMessage("2")}}
	if got := vs.of(a); &got[0] != &a[0] {
		t.Fatal("the first list is not kept")
	}
	if got := vs.of(b); got[1].ID != "b\x01c" {
		t.Errorf("a different list was given another's variations: %+v", got)
	}
	c := slices.Clone(a)
	if got := vs.of(c); &got[0] != &a[0] {
		t.Error("an equal list is not shared")
	}
}
