package jobs_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/jobs"
	"github.com/vanehq/vane/services"
)

// TestHousekeepingTasksRunOnAsynq enqueues the housekeeping tasks through a real asynq client and
// lets a real worker run them against the test's database.
func TestHousekeepingTasksRunOnAsynq(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	svc := env.Svc

	// An expired refresh token and an SDK key past its grace period.
	if _, err := svc.Auth.CreateUser(ctx, "h@example.test", nil, "", "housekeeping"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Auth.Login(ctx, "h@example.test", "housekeeping", ""); err != nil {
		t.Fatal(err)
	}
	u, err := svc.Auth.CreateUser(ctx, "owner@example.test", nil, "", "housekeeping")
	if err != nil {
		t.Fatal(err)
	}
	org, err := svc.Orgs.Create(ctx, services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID}},
		services.OrgInput{Slug: "hk", Name: "HK"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Environments.RotateKeys(ctx, services.SystemScope(org.ID), "default", "production",
		services.RotateInput{Kind: "server", GracePeriod: time.Minute}); err != nil {
		t.Fatal(err)
	}
	count := func(table, where string) int64 {
		var n int64
		if err := env.DB.Table(table).Where(where).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	newFlag := func(key string) {
		if _, err := svc.Flags.Create(ctx, services.SystemScope(org.ID), "default", services.FlagInput{Key: key, Name: key, Type: "boolean"}); err != nil {
			t.Fatal(err)
		}
	}
	newFlag("old-change") // recorded in the history of configuration changes
	if count("refresh_tokens", "1 = 1") != 1 || count("sdk_keys", "expires_at IS NOT NULL") != 1 || count("config_changes", "1 = 1") != 1 {
		t.Fatal("fixture not as expected")
	}
	env.Clock.Advance(32 * 24 * time.Hour) // past the refresh TTL, its day of retention, the grace, and the history's day
	newFlag("recent-change")

	env.Redis.Options = testenv.AsynqRedis(t)
	w, err := jobs.NewWorker(env.Redis.Options, svc, testenv.Logger(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: env.Redis.Options.Addr, DB: env.Redis.Options.DB, Password: env.Redis.Options.Password})
	t.Cleanup(func() { _ = client.Close() })
	for _, task := range []*asynq.Task{jobs.NewPruneRefreshTokensTask(), jobs.NewExpireSDKKeysTask(), jobs.NewPruneConfigChangesTask()} {
		if _, err := client.Enqueue(task); err != nil {
			t.Fatalf("enqueue %s: %v", task.Type(), err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for count("refresh_tokens", "1 = 1")+count("sdk_keys", "expires_at IS NOT NULL")+count("config_changes", "key = 'old-change'") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %d refresh tokens, %d expired SDK keys and %d old configuration changes remain", count("refresh_tokens", "1 = 1"),
				count("sdk_keys", "expires_at IS NOT NULL"), count("config_changes", "key = 'old-change'"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The current keys and the recent history are untouched.
	if n := count("sdk_keys", "expires_at IS NULL"); n != 6 {
		t.Errorf("%d current SDK keys, want 6 (3 environments × server and client)", n)
	}
	if n := count("config_changes", "key = 'recent-change'"); n != 1 {
		t.Errorf("%d recent configuration changes, want 1", n)
	}
}

func TestPeriodicSchedule(t *testing.T) {
	got := map[string]string{}
	for _, p := range jobs.Periodic() {
		task := p.New()
		if _, dup := got[task.Type()]; dup {
			t.Errorf("%s is scheduled twice", task.Type())
		}
		got[task.Type()] = p.Spec
	}
	want := map[string]string{
		jobs.TypePruneRefreshTokens: "@every 1h", jobs.TypeExpireSDKKeys: "@every 10m", jobs.TypeReconcileRollouts: "@every 1m",
		jobs.TypePruneConfigChanges: "@every 1h",
		jobs.TypeCheckGuards:        "@every 30s", jobs.TypePruneMetrics: "@every 6h", jobs.TypeDispatchWebhooks: "@every 2s",
		jobs.TypeDispatchRolloutOutbox: "@every 2s",
	}
	if !maps.Equal(got, want) {
		t.Errorf("Periodic() = %v, want %v", got, want)
	}
}
