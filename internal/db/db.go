// Package db opens Vane's database (Postgres or embedded SQLite) through gorm and applies the
// versioned migrations with goose. Both databases share one code path above this package.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/vanehq/vane/migrations"
)

// Dialect names the database behind a *gorm.DB.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Options say which database to open. An empty URL means the SQLite file at SQLitePath.
type Options struct {
	URL        string
	SQLitePath string
	Logger     *slog.Logger
}

// Open connects to the database and checks it answers.
func Open(ctx context.Context, o Options) (*gorm.DB, Dialect, error) {
	cfg := &gorm.Config{
		NowFunc:                func() time.Time { return time.Now().UTC() },
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		TranslateError:         true,
	}
	var (
		gdb     *gorm.DB
		err     error
		dialect Dialect
	)
	if o.URL != "" {
		dialect = Postgres
		gdb, err = gorm.Open(postgres.Open(o.URL), cfg)
	} else {
		dialect = SQLite
		if dir := filepath.Dir(o.SQLitePath); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, "", fmt.Errorf("create data dir: %w", err)
			}
		}
		gdb, err = gorm.Open(sqlite.Open(SQLiteDSN(o.SQLitePath)), cfg)
	}
	if err != nil {
		return nil, "", fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, "", err
	}
	if dialect == SQLite {
		// SQLite has one writer; a small pool with immediate transactions avoids lock upgrades
		// failing with SQLITE_BUSY while still letting readers run beside the writer (WAL).
		sqlDB.SetMaxOpenConns(4)
	} else {
		sqlDB.SetMaxOpenConns(25)
		sqlDB.SetMaxIdleConns(25)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		return nil, "", fmt.Errorf("reach %s database: %w", dialect, err)
	}
	return gdb, dialect, nil
}

// SQLiteDSN is the connection string of the embedded database: WAL, foreign keys on, a busy
// timeout, and write transactions that take the lock when they begin.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

func provider(gdb *gorm.DB, dialect Dialect) (*goose.Provider, *sql.DB, error) {
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, nil, err
	}
	gd := goose.DialectPostgres
	var opts []goose.ProviderOption
	if dialect == SQLite {
		gd = goose.DialectSQLite3
	} else {
		// Several `vane serve` processes may start at once: an advisory lock lets one migrate. The
		// lock is per database and schema, so migrations of unrelated schemas never wait for each other.
		var where string
		if err := sqlDB.QueryRow("SELECT current_database() || '.' || current_schema()").Scan(&where); err != nil {
			return nil, nil, fmt.Errorf("read current schema: %w", err)
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte(where))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64()>>1)), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, sqlDB, migrations.FS, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, sqlDB, nil
}

// sqliteMigrations serialises migrations of the embedded database within this process. SQLite is
// the single-process default; Postgres, where many nodes meet, uses an advisory lock instead.
var sqliteMigrations sync.Mutex

// MigrateUp applies every pending migration and returns how many ran.
func MigrateUp(ctx context.Context, gdb *gorm.DB, dialect Dialect) (int, error) {
	if dialect == SQLite {
		sqliteMigrations.Lock()
		defer sqliteMigrations.Unlock()
	}
	p, _, err := provider(gdb, dialect)
	if err != nil {
		return 0, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate up: %w", err)
	}
	return len(res), nil
}

// MigrateDown rolls back migrations down to version (0 undoes everything; -1 undoes one step).
func MigrateDown(ctx context.Context, gdb *gorm.DB, dialect Dialect, version int64) (int, error) {
	p, _, err := provider(gdb, dialect)
	if err != nil {
		return 0, err
	}
	if version < 0 {
		if _, err := p.Down(ctx); err != nil {
			return 0, fmt.Errorf("migrate down: %w", err)
		}
		return 1, nil
	}
	res, err := p.DownTo(ctx, version)
	if err != nil {
		return len(res), fmt.Errorf("migrate down to %d: %w", version, err)
	}
	return len(res), nil
}

// MigrationStatus is one migration's state.
type MigrationStatus struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// Status lists every known migration and whether it is applied.
func Status(ctx context.Context, gdb *gorm.DB, dialect Dialect) ([]MigrationStatus, error) {
	p, _, err := provider(gdb, dialect)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationStatus{
			Version: s.Source.Version, Name: filepath.Base(s.Source.Path),
			Applied: s.State == goose.StateApplied, AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// Ping checks the database answers, for /readyz.
func Ping(ctx context.Context, gdb *gorm.DB) error {
	sqlDB, err := gdb.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close closes the pool.
func Close(gdb *gorm.DB) error {
	sqlDB, err := gdb.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}
