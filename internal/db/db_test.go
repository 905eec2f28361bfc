package db_test

import (
	"context"
	"testing"

	"github.com/vanehq/vane/internal/db"
	"github.com/vanehq/vane/internal/testenv"
)

// tables lists the tables the migrations must create and drop.
var tables = []string{"organizations", "users", "memberships", "invitations", "refresh_tokens", "projects",
	"environments", "sdk_keys", "api_keys", "audit_events", "flags", "flag_configs", "segments", "rollout_plans", "rollout_stages", "safety_guards", "metric_buckets", "webhooks", "webhook_deliveries"}

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gdb, dialect := testenv.OpenDB(t)
	check := func(stage string, want bool) {
		t.Helper()
		for _, table := range tables {
			if got := gdb.Migrator().HasTable(table); got != want {
				t.Errorf("%s on %s: HasTable(%q) = %v, want %v", stage, dialect, table, got, want)
			}
		}
	}
	check("before up", false)
	n, err := db.MigrateUp(ctx, gdb, dialect)
	if err != nil || n == 0 {
		t.Fatalf("MigrateUp = %d, %v; want >0 migrations, nil", n, err)
	}
	check("after up", true)
	// Use the schema for real before tearing it down: down must cope with rows and foreign keys.
	if err := gdb.Exec(`INSERT INTO organizations (id, slug, name, created_at, updated_at, version) VALUES ('o1', 'acme', 'Acme', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)`).Error; err != nil {
		t.Fatalf("insert: %v", err)
	}
	if _, err := db.MigrateDown(ctx, gdb, dialect, 0); err != nil {
		t.Fatalf("MigrateDown to 0: %v", err)
	}
	check("after down", false)
	if _, err := db.MigrateUp(ctx, gdb, dialect); err != nil {
		t.Fatalf("MigrateUp again: %v", err)
	}
	check("after up again", true)
	st, err := db.Status(ctx, gdb, dialect)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Applied {
			t.Errorf("migration %d (%s) not applied after up", s.Version, s.Name)
		}
	}
	if n, err := db.MigrateUp(ctx, gdb, dialect); err != nil || n != 0 {
		t.Errorf("MigrateUp on an up-to-date schema = %d, %v; want 0, nil", n, err)
	}
}

func TestForeignKeysEnforced(t *testing.T) {
	t.Parallel()
	gdb, dialect := testenv.MigratedDB(t)
	err := gdb.Exec(`INSERT INTO projects (id, org_id, key, name, description, created_at, updated_at, version) VALUES ('p1', 'missing-org', 'web', 'Web', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)`).Error
	if err == nil {
		t.Fatalf("inserting a project of a missing organisation on %s succeeded; foreign keys are off", dialect)
	}
}

// TestConcurrentMigrate starts several migrations at once on one database, as several nodes would.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	gdb, dialect := testenv.OpenDB(t)
	errc := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			_, err := db.MigrateUp(context.Background(), gdb, dialect)
			errc <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errc; err != nil {
			t.Errorf("concurrent MigrateUp on %s: %v", dialect, err)
		}
	}
	if !gdb.Migrator().HasTable("organizations") {
		t.Error("no schema after concurrent migrations")
	}
}
