package services_test

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/sdk/go/engine"
	"github.com/vanehq/vane/services"
)

// BenchmarkWriteToVisible measures, on the writing node, the time from the start of a write to one
// flag's rollout (through the services, committed to the database) until an evaluation on this
// node serves it, in environments of 5 000 and 50 000 flags. It reports the 50th and 99th
// percentiles of the whole and of the part after the write returned (the data plane's), the heap
// a snapshot holds per flag, and what building the environment afresh takes (what each write
// cost when a change rebuilt the whole environment).
func BenchmarkWriteToVisible(b *testing.B) {
	for _, n := range []int{5000, 50000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			env := testenv.New(b)
			envID := seedFlags(b, env, n)
			ctx := context.Background()
			first := seededSnapshot(b, env, envID, n)
			sc, projectID := services.SystemScope(first.OrgID), first.ProjectID
			first = nil // held, it would double the heap the collector marks: a node keeps one snapshot
			// The project's other environments are loaded now, as a node loads every environment at
			// start, not by the background sweep in the middle of the measured writes.
			for _, k := range []string{"staging", "development"} {
				e, err := env.Svc.Environments.Get(ctx, sc, projectID, k)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := env.Plane.Get(ctx, e.ID); err != nil {
					b.Fatal(err)
				}
			}
			if env.DB.Name() == "postgres" {
				// The seed wrote 2n rows at once: flush them now, so the measured writes do not
				// wait for the checkpoint the seed's WAL would bring on (a steady state, not a bulk load).
				if err := env.DB.Exec("CHECKPOINT").Error; err != nil {
					b.Logf("checkpoint: %v", err)
				}
			}
			// A context outside the rule (country) whose bucket is 40–60: served true at 60%, false at 40%.
			evalCtx := func(flag string) engine.Context {
				for i := 0; ; i++ {
					if k := fmt.Sprintf("user-%d", i); engine.Bucket(flag, k) >= 40000 && engine.Bucket(flag, k) < 60000 {
						return engine.Context{"key": k}
					}
				}
			}
			var total, plane []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				flag := fmt.Sprintf("flag-%05d", (i*7919)%n)
				c := evalCtx(flag)
				pct := 60.0
				if i%2 == 1 {
					pct = 40
				}
				start := time.Now()
				if _, err := env.Svc.Flags.PatchConfig(ctx, sc, projectID, flag, "production", services.ConfigPatch{RolloutPercentage: &pct}, 0); err != nil {
					b.Fatal(err)
				}
				written := time.Now()
				for {
					s, err := env.Plane.Get(ctx, envID)
					if err != nil {
						b.Fatal(err)
					}
					f := s.Flag(flag)
					if r := f.Evaluate(c); (f.Values[r.Variation] == true) == (pct == 60) {
						break
					}
				}
				end := time.Now()
				total, plane = append(total, end.Sub(start)), append(plane, end.Sub(written))
			}
			b.StopTimer()
			report(b, "write-to-visible", total)
			report(b, "after-write", plane)
			s, _ := env.Plane.Get(ctx, envID)
			b.ReportMetric(snapshotBytesPerFlag(b, env, envID, s.NumFlags()), "B/flag")
			// What every write cost before snapshots were brought up to date by the change alone.
			start := time.Now()
			if _, err := env.Plane.Build(ctx, envID); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start))/1e6, "full-build-ms")
		})
	}
}

func report(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))]) / 1e6 }
	b.ReportMetric(at(0.5), name+"-p50-ms")
	b.ReportMetric(at(0.99), name+"-p99-ms")
}

// snapshotBytesPerFlag is the heap one more snapshot of the environment holds, per flag: compiled
// flags, their JSON, the key lists and the table (counters are made on first evaluation, and the
// whole SDK document only while a request holds it). The least of three measures: background work
// (a poll, a flush) can only add to one.
func snapshotBytesPerFlag(tb testing.TB, env *testenv.Env, envID string, n int) float64 {
	least := math.MaxFloat64
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&before)
		keep, err := env.Plane.Build(context.Background(), envID)
		if err != nil {
			tb.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		least = min(least, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n))
	}
	return least
}
