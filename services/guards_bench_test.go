package services_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// BenchmarkIngestMetrics measures metric points ingested per second on the test's database
// (SQLite by default), in SDK-sized batches of 500 points over 50 flags × 2 variations.
func BenchmarkIngestMetrics(b *testing.B) {
	env := testenv.New(b)
	envID := seedFlags(b, env, 1)
	ctx := context.Background()
	batch := make([]services.MetricPoint, 500)
	for i := range batch {
		batch[i] = services.MetricPoint{FlagKey: fmt.Sprintf("flag-%d", i%50), Variation: []string{"true", "false"}[i%2], Evaluations: 10, Errors: 1, Successes: 9}
	}
	var k models.SDKKey
	if err := env.DB.Where("environment_id = ? AND kind = ?", envID, models.SDKServer).Take(&k).Error; err != nil {
		b.Fatal(err)
	}
	key := &dataplane.SDKKey{ID: k.ID, Key: k.Key, Kind: k.Kind, OrgID: k.OrgID, ProjectID: k.ProjectID, EnvironmentID: envID}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if i%services.MetricsPerKeyPerMinute == 0 { // the limit is per key; this measures the database
			key.ID = fmt.Sprintf("bench-%d", i)
		}
		if _, err := env.Svc.Metrics.Ingest(ctx, key, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/time.Since(start).Seconds(), "points/s")
}

// BenchmarkGuardCheck1000Plans measures one guard check over 1 000 running plans, each with a
// guard and five minutes of metrics.
func BenchmarkGuardCheck1000Plans(b *testing.B) {
	env := testenv.New(b)
	envID := seedFlags(b, env, 1000)
	ctx := context.Background()
	now := time.Now().UTC()
	var e models.Environment
	if err := env.DB.Where("id = ?", envID).Take(&e).Error; err != nil {
		b.Fatal(err)
	}
	var configs []models.FlagConfig
	if err := env.DB.Where("environment_id = ?", envID).Find(&configs).Error; err != nil {
		b.Fatal(err)
	}
	var flags []models.Flag
	if err := env.DB.Where("project_id = ?", e.ProjectID).Find(&flags).Error; err != nil {
		b.Fatal(err)
	}
	keyOf := map[string]string{}
	for _, f := range flags {
		keyOf[f.ID] = f.Key
	}
	err := env.DB.Transaction(func(tx *gorm.DB) error {
		for _, c := range configs {
			p := models.RolloutPlan{ID: models.NewID(), OrgID: c.OrgID, ProjectID: c.ProjectID, EnvironmentID: envID, FlagID: c.FlagID,
				ConfigID: c.ID, State: models.PlanRunning, StartedAt: &now, CreatedAt: now, UpdatedAt: now, Version: 1}
			if err := tx.Create(&p).Error; err != nil {
				return err
			}
			g := models.SafetyGuard{ID: models.NewID(), OrgID: c.OrgID, ProjectID: c.ProjectID, EnvironmentID: envID, ConfigID: c.ID,
				Metric: services.MetricErrorRate, Comparator: "gt", Threshold: 0.5, WindowSeconds: 300, MinSample: 10,
				Action: services.ActionZero, CreatedAt: now, UpdatedAt: now, Version: 1}
			if err := tx.Create(&g).Error; err != nil {
				return err
			}
			for m := 0; m < 5; m++ {
				for _, v := range []string{"true", "false"} {
					if err := tx.Create(&models.MetricBucket{EnvironmentID: envID, FlagKey: keyOf[c.FlagID], Variation: v,
						Minute: now.Truncate(time.Minute).Add(-time.Duration(m) * time.Minute), Evaluations: 100, Errors: 5, Successes: 95}).Error; err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := env.Svc.Guards.Check(ctx)
		if err != nil || n != 0 {
			b.Fatalf("Check = %d, %v (no guard is breached)", n, err)
		}
	}
}
