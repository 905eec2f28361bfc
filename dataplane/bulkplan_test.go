package dataplane

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/vanehq/vane/sdk/go/engine"
)

// bulkFlags are n boolean flags of which one in 200 has a rule (depends on the context), the
// others serve one variation to everyone, as in scripts/load/bulk.sh.
func bulkFlags(n int, version int64) []engine.Flag {
	flags := patchFlags(n, version)
	for i := range flags {
		if i%200 != 0 {
			flags[i].Rules = nil
		}
	}
	return flags
}

// BenchmarkFirstBulkAfterChange is what the first bulk request after a write to one flag pays on
// top of the write: the snapshot derived and the bulk plan of its server keys prepared.
func BenchmarkFirstBulkAfterChange(b *testing.B) {
	for _, n := range []int{5000, 50000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			flags := bulkFlags(n, 1)
			prev := snapshotOf(b, 1, flags, nil)
			prev.plan(false)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f := flags[(i*7919)%n]
				f.Status = []engine.Status{engine.Disabled, engine.Enabled}[i%2]
				flags[(i*7919)%n] = f
				cfg := &Config{Environment: Environment{ID: "env-1", Key: "production", Version: int64(i + 2)}, Partial: true,
					Flags: []FlagConfig{{Flag: f}}}
				s, err := testPlane.derive(prev, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if pl := s.plan(false); len(pl.runs[OFREPFlags]) != len(pl.dynamic)+1 {
					b.Fatal("plan has", len(pl.runs[OFREPFlags]), "runs for", len(pl.dynamic), "dynamic flags")
				}
				prev = s
			}
		})
	}
}

// bulkBody is a bulk response from the snapshot's plan, as Plane.Bulk writes it (without
// counting).
func bulkBody(s *Snapshot, client bool, format BulkFormat, c engine.Context) string {
	b := &Bulk{plan: s.plan(client)}
	for _, pc := range b.plan.dynamic {
		b.results = append(b.results, pc.f.Evaluate(c))
	}
	return string(b.AppendTo(nil, format))
}

// bulkReference is the same response encoded flag by flag, with no plan and nothing cached.
func bulkReference(s *Snapshot, client bool, format BulkFormat, c engine.Context) string {
	keys := s.Keys
	if client {
		keys = s.ClientKeys
	}
	var out []byte
	if format == ValueMap {
		out = append(out, '{')
	}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		f := s.Flag(k)
		out = newPieces(f).appendItem(out, format, f.Evaluate(c))
	}
	if format == ValueMap {
		out = append(out, '}')
	}
	return string(out)
}

// TestDerivedBulkPlansMatchFreshOnes makes 300 random changes of a few flags each (statuses,
// rules added and taken away so flags move between static and context-dependent, values, client
// visibility, flags added and deleted), deriving each snapshot from the one before whose plans
// were used, and checks that its bulk responses, for both audiences and formats, are byte for
// byte those of the same configuration compiled afresh and encoded flag by flag.
func TestDerivedBulkPlansMatchFreshOnes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 9))
	flags := map[string]FlagConfig{}
	for i, f := range bulkFlags(60, 1) {
		if i%3 == 0 {
			f.Rules = patchFlags(1, 1)[0].Rules
		}
		flags[f.Key] = FlagConfig{ConfigID: "cfg-" + f.Key, Flag: f, ClientVisible: i%2 == 0}
	}
	whole := func(version int64) *Config {
		cfg := &Config{Environment: Environment{ID: "env-1", Key: "production", Version: version}}
		for _, k := range slices.Sorted(maps.Keys(flags)) {
			cfg.Flags = append(cfg.Flags, flags[k])
		}
		return cfg
	}
	contexts := []engine.Context{{"key": "u1", "country": "US"}, {"key": "u2", "country": "FR"}, {"country": "CA"}}
	prev, err := testPlane.derive(nil, whole(1))
	if err != nil {
		t.Fatal(err)
	}
	added := 0
	for step := 0; step < 300; step++ {
		version := int64(step + 2)
		cfg := &Config{Environment: Environment{ID: "env-1", Key: "production", Version: version}, Partial: true, Changes: 1}
		for n := 1 + rnd.IntN(3); n > 0; n-- {
			keys := slices.Sorted(maps.Keys(flags))
			k := keys[rnd.IntN(len(keys))]
			fc := flags[k]
			f := fc.Flag
			f.Version++
			switch rnd.IntN(7) {
			case 0:
				f.Status = []engine.Status{engine.Enabled, engine.Disabled, engine.Active, engine.Archived}[rnd.IntN(4)]
			case 1:
				f.Rules = nil
			case 2:
				f.Rules = patchFlags(1, 1)[0].Rules
			case 3:
				f.Variations = slices.Clone(f.Variations)
				f.Variations[0].Name = fmt.Sprint("On ", step)
			case 4:
				fc.ClientVisible = !fc.ClientVisible
			case 5:
				delete(flags, k)
				cfg.DeletedFlags = append(cfg.DeletedFlags, k)
				cfg.Flags = slices.DeleteFunc(cfg.Flags, func(c FlagConfig) bool { return c.Flag.Key == k })
				continue
			default:
				added++
				f = bulkFlags(1, 1)[0]
				f.Key = fmt.Sprintf("added-%03d", added)
				fc = FlagConfig{ConfigID: "cfg-" + f.Key, ClientVisible: added%2 == 0}
			}
			fc.Flag = f
			flags[f.Key] = fc
			cfg.DeletedFlags = slices.DeleteFunc(cfg.DeletedFlags, func(d string) bool { return d == f.Key })
			cfg.Flags = slices.DeleteFunc(cfg.Flags, func(c FlagConfig) bool { return c.Flag.Key == f.Key })
			cfg.Flags = append(cfg.Flags, fc)
		}
		next, err := testPlane.derive(prev, cfg)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := testPlane.derive(nil, whole(version))
		if err != nil {
			t.Fatal(err)
		}
		for _, client := range []bool{false, true} {
			for _, format := range []BulkFormat{OFREPFlags, ValueMap} {
				for _, c := range contexts {
					got, want := bulkBody(next, client, format, c), bulkReference(fresh, client, format, c)
					if got != want {
						t.Fatalf("step %d (client %v, format %d, context %v):\nderived %s\nfresh   %s", step, client, format, c, got, want)
					}
				}
			}
		}
		prev = next
	}
}

// TestPlanRunsShareOneBuffer: a plan's runs are consecutive pieces of one buffer per format (it
// was sized for every byte, separators included, so nothing was copied twice).
func TestPlanRunsShareOneBuffer(t *testing.T) {
	s := snapshotOf(t, 1, bulkFlags(1000, 1), nil)
	for fm, runs := range s.plan(false).runs {
		if len(runs) != 6 { // 5 flags of 1 000 depend on the context
			t.Fatalf("format %d: %d runs", fm, len(runs))
		}
		for i := 1; i < len(runs); i++ {
			prev := runs[i-1]
			if len(prev) > 0 && len(runs[i]) > 0 && unsafe.Add(unsafe.Pointer(unsafe.SliceData(prev)), len(prev)) != unsafe.Pointer(unsafe.SliceData(runs[i])) {
				t.Fatalf("format %d: run %d does not follow run %d in one buffer", fm, i, i-1)
			}
		}
	}
}
