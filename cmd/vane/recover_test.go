package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/db"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/jobs"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// TestStartCatchesUpOnRollouts: a plan started while the job queue did not answer (its change
// waiting in the outbox) and whose first stage fell due meanwhile is caught up by `vane serve`
// and by `vane worker` as they start — before they serve or take tasks, not a minute later.
func TestStartCatchesUpOnRollouts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		extra map[string]string
		ready string // the log line that says the process is up
	}{
		{"serve without a worker", []string{"serve"}, map[string]string{"VANE_WORKER": "false"}, "vane is serving"},
		{"worker", []string{"worker"}, nil, "worker started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			extra := map[string]string{"VANE_ADDR": freePort(t)}
			for k, v := range tc.extra {
				extra[k] = v
			}
			getenv := envFor(t, extra)
			var out, errb bytes.Buffer
			if err := run(ctx, []string{"migrate", "up"}, getenv, &out, &errb); err != nil {
				t.Fatalf("migrate: %v\n%s", err, errb.String())
			}
			gdb, planID := startDuringOutage(t, getenv)

			var logs syncBuffer
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- run(runCtx, tc.args, getenv, &bytes.Buffer{}, &logs) }()
			t.Cleanup(func() {
				cancel()
				<-done
			})
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(logs.String(), tc.ready) {
				if time.Now().After(deadline) {
					t.Fatalf("not up after 20s:\n%s", logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			p, err := models.PlanByID(gdb, planID, false)
			if err != nil {
				t.Fatal(err)
			}
			if p.Stages[0].AppliedAt == nil || p.Stages[1].AppliedAt != nil {
				t.Errorf("stages when up: %+v, %+v; want the first (overdue) applied, the second (in 1h) not", p.Stages[0], p.Stages[1])
			}
			var pending int64
			if err := gdb.Model(&models.RolloutOutbox{}).Count(&pending).Error; err != nil || pending != 0 {
				t.Errorf("%d outbox rows left when up (%v), want 0: the queue has the plan", pending, err)
			}
		})
	}
}

// startDuringOutage creates a flag with a running two-stage plan (10% at once, 100% after an
// hour) through services whose job queue does not answer, and returns the database and the plan.
func startDuringOutage(t *testing.T, getenv func(string) string) (*gorm.DB, string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.EnsureJWTSecret(); err != nil {
		t.Fatal(err)
	}
	gdb, _, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(gdb) })
	rc := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	svc := services.New(services.Deps{DB: gdb, Redis: rc, Config: cfg})
	// A queue whose address stays held for the test: a port merely closed could be handed to a
	// parallel test's miniredis, and the start would then reach that queue instead of failing.
	dead := jobs.NewQueue(testenv.DeadRedis(t))
	t.Cleanup(dead.Close)
	svc.SetScheduler(dead)

	u, err := svc.Auth.CreateUser(ctx, "ops@example.test", nil, "", "long-enough-password")
	if err != nil {
		t.Fatal(err)
	}
	sc := services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID, Name: "ops@example.test"}}
	org, err := svc.Orgs.Create(ctx, sc, services.OrgInput{Slug: "ops", Name: "Ops"})
	if err != nil {
		t.Fatal(err)
	}
	sc.OrgID = org.ID
	if _, err := svc.Flags.Create(ctx, sc, "default", services.FlagInput{Key: "checkout", Status: "ACTIVE"}); err != nil {
		t.Fatal(err)
	}
	hour := time.Hour
	if _, err := svc.Rollouts.Put(ctx, sc, "default", "checkout", "production", services.PlanInput{
		Stages: []services.StageInput{{Percentage: 10}, {Percentage: 100, After: &hour}}}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Rollouts.Start(ctx, sc, "default", "checkout", "production")
	if err != nil || p.State != models.PlanRunning {
		t.Fatalf("start during the outage = %v, %v", p, err)
	}
	var pending int64
	if err := gdb.Model(&models.RolloutOutbox{}).Count(&pending).Error; err != nil || pending != 1 {
		t.Fatalf("%d outbox rows after a start the queue missed (%v), want 1", pending, err)
	}
	return gdb, p.ID
}
