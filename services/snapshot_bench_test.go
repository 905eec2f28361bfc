package services_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
	"github.com/vanehq/vane/services"
)

// seedFlags inserts n simple boolean flags (a rule on country and a 25% rollout) straight into the
// database of a fresh organisation, and returns the production environment's id.
func seedFlags(tb testing.TB, env *testenv.Env, n int) string {
	tb.Helper()
	ctx := context.Background()
	u, err := env.Svc.Auth.CreateUser(ctx, "bench@example.test", nil, "", "benchmark-password")
	if err != nil {
		tb.Fatal(err)
	}
	org, err := env.Svc.Orgs.Create(ctx, services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID}},
		services.OrgInput{Slug: "bench", Name: "Bench"})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := env.Svc.Environments.Get(ctx, services.SystemScope(org.ID), "default", "production")
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC()
	vars := []engine.Variation{{ID: "true", Name: "True", Value: json.RawMessage("true")}, {ID: "false", Name: "False", Value: json.RawMessage("false")}}
	flags := make([]models.Flag, n)
	configs := make([]models.FlagConfig, n)
	for i := range flags {
		flags[i] = models.Flag{ID: models.NewID(), OrgID: org.ID, ProjectID: e.ProjectID, Key: fmt.Sprintf("flag-%05d", i), Name: "F",
			Type: "boolean", Variations: vars, Tags: []string{}, CreatedAt: now, UpdatedAt: now, Version: 1}
		configs[i] = models.FlagConfig{ID: models.NewID(), OrgID: org.ID, ProjectID: e.ProjectID, EnvironmentID: e.ID, FlagID: flags[i].ID,
			Status: "ACTIVE", DefaultVariation: "false", OnVariation: "true", Targets: []engine.Target{},
			Rules: []engine.Rule{{ID: "r", Conditions: []engine.Condition{{Attribute: "country", Operator: engine.OpIn,
				Values: []json.RawMessage{json.RawMessage(`"US"`), json.RawMessage(`"CA"`)}}}, Serve: engine.Serve{Variation: "true"}}},
			Fallthrough: engine.Serve{Rollout: &engine.Rollout{Variations: []engine.WeightedVariation{{Variation: "true", Weight: 25000}, {Variation: "false", Weight: 75000}}}},
			CreatedAt:   now, UpdatedAt: now, Version: 1}
	}
	err = env.DB.Transaction(func(tx *gorm.DB) error {
		if err := tx.CreateInBatches(flags, 500).Error; err != nil {
			return err
		}
		if err := tx.CreateInBatches(configs, 500).Error; err != nil {
			return err
		}
		// What a write through the services does too (naming nothing: the environment is loaded
		// whole); the data plane's poll sees it.
		return models.BumpConfigVersion(tx, org.ID, e.ProjectID, models.ConfigChange{}, now, e.ID)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e.ID
}

// seededSnapshot waits for the data plane to serve the n seeded flags (its poll sees the seed).
func seededSnapshot(tb testing.TB, env *testenv.Env, envID string, n int) *dataplane.Snapshot {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		snap, err := env.Plane.Get(context.Background(), envID)
		if err == nil && snap.NumFlags() == n {
			return snap
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the data plane did not load the %d seeded flags: %v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkSnapshotBuild5000 rebuilds an environment of 5 000 flags from the database, and
// reports the heap a snapshot holds per flag.
func BenchmarkSnapshotBuild5000(b *testing.B) {
	env := testenv.New(b)
	envID := seedFlags(b, env, 5000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		snap, err := env.Plane.Build(ctx, envID)
		if err != nil || snap.NumFlags() != 5000 {
			b.Fatalf("Build = %v, %v", snap, err)
		}
	}
	b.StopTimer()
	// Memory: the heap a live snapshot keeps, per flag (the JSON config for SDKs included).
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	keep, _ := env.Plane.Build(ctx, envID)
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/5000, "B/flag")
	runtime.KeepAlive(keep)
}

func TestSnapshotOfManyFlags(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	envID := seedFlags(t, env, 300)
	snap, err := env.Plane.Build(context.Background(), envID)
	if err != nil || len(snap.Keys) != 300 {
		t.Fatalf("snapshot = %v, %v", snap, err)
	}
	f := snap.Flag("flag-00042")
	if r := f.Evaluate(engine.Context{"key": "u", "country": "CA"}); r.Reason != engine.ReasonTargetingMatch {
		t.Errorf("evaluate = %+v", r)
	}
}
