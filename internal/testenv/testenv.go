// Package testenv gives each test its own real database and Redis: a fresh SQLite file (or, with
// TEST_DATABASE_URL, a fresh Postgres schema) and miniredis (or, with TEST_REDIS_URL, a real Redis
// with a key prefix of its own), so tests run in parallel without seeing each other.
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/clock"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/db"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/internal/testenv/hangup"
	"github.com/vanehq/vane/services"
)

// PostgresURL is TEST_DATABASE_URL ("" means SQLite).
func PostgresURL() string { return os.Getenv("TEST_DATABASE_URL") }

// RedisURL is TEST_REDIS_URL ("" means miniredis).
func RedisURL() string { return os.Getenv("TEST_REDIS_URL") }

// OpenDB opens an empty database of the test's own, not yet migrated.
func OpenDB(t testing.TB) (*gorm.DB, db.Dialect) {
	t.Helper()
	ctx := context.Background()
	base := PostgresURL()
	if base == "" {
		gdb, dialect, err := db.Open(ctx, db.Options{SQLitePath: filepath.Join(t.TempDir(), "vane.db")})
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { _ = db.Close(gdb) })
		return gdb, dialect
	}
	return OpenPostgresVia(t, base, base)
}

// OpenPostgresVia opens an empty Postgres schema of the test's own: created through adminURL,
// used through url (the same server reached another way, e.g. through a proxy the test can cut).
func OpenPostgresVia(t testing.TB, adminURL, base string) (*gorm.DB, db.Dialect) {
	t.Helper()
	ctx := context.Background()
	schema := "t_" + strings.ToLower(keys.Random(12))
	admin, _, err := db.Open(ctx, db.Options{URL: adminURL})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	gdb, dialect, err := db.Open(ctx, db.Options{URL: u.String()})
	if err != nil {
		t.Fatalf("open postgres schema: %v", err)
	}
	if sqlDB, err := gdb.DB(); err == nil {
		sqlDB.SetMaxOpenConns(5)
	}
	t.Cleanup(func() {
		_ = db.Close(gdb)
		_ = admin.Exec("DROP SCHEMA " + schema + " CASCADE").Error
		_ = db.Close(admin)
	})
	return gdb, dialect
}

// MigratedDB opens the test's own database with every migration applied.
func MigratedDB(t testing.TB) (*gorm.DB, db.Dialect) {
	t.Helper()
	gdb, dialect := OpenDB(t)
	if _, err := db.MigrateUp(context.Background(), gdb, dialect); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return gdb, dialect
}

// Redis is the test's Redis connection and the prefix its keys live under.
type Redis struct {
	Client  *redis.Client
	Options *redis.Options
	Prefix  string
	Mini    *miniredis.Miniredis // nil on a real Redis
}

// Kill takes the test's miniredis down for the rest of the test and keeps its address taken by a
// listener that hangs up on every connection. A closed address would be handed to the next test
// that asks for a free port, and this test's clients, reconnecting, would then talk to that other
// test's Redis (seen: a parallel test's job queue losing its queues).
func (r *Redis) Kill(t testing.TB) {
	t.Helper()
	if r.Mini == nil {
		t.Fatal("Kill needs miniredis")
	}
	KillMiniredis(t, r.Mini)
}

// KillMiniredis closes m and holds its address for the rest of the test (see Redis.Kill).
func KillMiniredis(t testing.TB, m *miniredis.Miniredis) {
	t.Helper()
	addr := m.Addr()
	m.Close()
	hangup.Hold(t, addr)
}

// DeadRedis is the address of a Redis that never answers: a listener, held for the test, that
// hangs up on every connection.
func DeadRedis(t testing.TB) *redis.Options {
	t.Helper()
	return &redis.Options{Addr: hangup.Hold(t, "127.0.0.1:0"), MaxRetries: -1}
}

// OpenRedis returns a Redis for the test: miniredis, or TEST_REDIS_URL with a unique key prefix
// (whose keys are deleted afterwards).
func OpenRedis(t testing.TB) *Redis {
	t.Helper()
	prefix := "vanetest:" + keys.Random(10) + ":"
	if u := RedisURL(); u != "" {
		opts, err := redis.ParseURL(u)
		if err != nil {
			t.Fatalf("parse TEST_REDIS_URL: %v", err)
		}
		c := redis.NewClient(opts)
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("reach TEST_REDIS_URL: %v", err)
		}
		t.Cleanup(func() {
			ctx := context.Background()
			iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
			_ = c.Close()
		})
		return &Redis{Client: c, Options: opts, Prefix: prefix}
	}
	m := miniredis.RunT(t)
	opts := &redis.Options{Addr: m.Addr()}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return &Redis{Client: c, Options: opts, Prefix: prefix, Mini: m}
}

// Config is a valid test configuration: fast bcrypt, a fixed JWT secret, the test's Redis prefix.
func Config(t testing.TB, prefix string) *config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "VANE_ENV":
			return "test"
		case "VANE_BCRYPT_COST":
			return "4"
		case "VANE_JWT_SECRET":
			return "test-secret-test-secret-test-secret-0123456789"
		case "VANE_REDIS_PREFIX":
			return prefix
		case "VANE_DATA_DIR":
			return t.TempDir()
		}
		return ""
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// Env is a complete set of services on the test's own database and Redis.
type Env struct {
	DB      *gorm.DB
	Dialect db.Dialect
	Redis   *Redis
	Config  *config.Config
	Clock   *clock.Fake
	Svc     *services.Services
	Plane   *dataplane.Plane
}

// New builds services for a test. The clock starts at the real time and moves only by hand.
// mutate, if given, changes the configuration first.
func New(t testing.TB, mutate ...func(*config.Config)) *Env {
	t.Helper()
	gdb, dialect := MigratedDB(t)
	r := OpenRedis(t)
	cfg := Config(t, r.Prefix)
	for _, m := range mutate {
		m(cfg)
	}
	clk := clock.NewFake(time.Now())
	return Start(t, gdb, dialect, r, cfg, clk)
}

// Start runs services and a data plane over a database and Redis the test opened, and stops them
// when the test ends.
func Start(t testing.TB, gdb *gorm.DB, dialect db.Dialect, r *Redis, cfg *config.Config, clk *clock.Fake) *Env {
	t.Helper()
	svc := services.New(services.Deps{DB: gdb, Redis: r.Client, Config: cfg, Clock: clk, Log: Logger(t)})
	plane := dataplane.New(svc.Source, dataplane.Options{Clock: clk, Log: Logger(t)})
	svc.SetPendingEvaluations(plane.Pending)
	ctx, cancel := context.WithCancel(context.Background())
	svc.Start(ctx)
	if err := plane.Start(ctx); err != nil {
		cancel()
		t.Fatalf("start the data plane: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		plane.Close(context.Background())
		svc.Close(context.Background())
	})
	return &Env{DB: gdb, Dialect: dialect, Redis: r, Config: cfg, Clock: clk, Svc: svc, Plane: plane}
}

// Logger writes to the test log only when VANE_TEST_LOG is set, to keep output readable.
func Logger(t testing.TB) *slog.Logger {
	if os.Getenv("VANE_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Name makes a unique, valid key for a test resource.
func Name(prefix string) string { return fmt.Sprintf("%s-%s", prefix, strings.ToLower(keys.Random(8))) }

// AsynqRedis is a Redis for a test's job queue: a fresh miniredis, or with TEST_REDIS_URL its
// logical database 15, flushed before and after (asynq's keys cannot be prefixed, so tests that
// run workers must not share a database; run them one at a time).
func AsynqRedis(t testing.TB) *redis.Options {
	t.Helper()
	if u := RedisURL(); u != "" {
		opts, err := redis.ParseURL(u)
		if err != nil {
			t.Fatalf("parse TEST_REDIS_URL: %v", err)
		}
		opts.DB = 15
		c := redis.NewClient(opts)
		if err := c.FlushDB(context.Background()).Err(); err != nil {
			t.Fatalf("flush redis db 15: %v", err)
		}
		t.Cleanup(func() {
			_ = c.FlushDB(context.Background()).Err()
			_ = c.Close()
		})
		return opts
	}
	m := miniredis.RunT(t)
	return &redis.Options{Addr: m.Addr()}
}
