package services

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/db"
	"github.com/vanehq/vane/internal/keys"
)

// sqlStateError is a driver error carrying a SQLSTATE, as pgconn.PgError does.
type sqlStateError string

func (e sqlStateError) Error() string    { return "ERROR: (SQLSTATE " + string(e) + ")" }
func (e sqlStateError) SQLState() string { return string(e) }

func txServices(t *testing.T, url string) *Services {
	t.Helper()
	gdb, _, err := db.Open(context.Background(), db.Options{URL: url, SQLitePath: filepath.Join(t.TempDir(), "tx.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(gdb) })
	return &Services{db: gdb, log: slog.New(slog.DiscardHandler)}
}

// TestTxRunsAgainOnlyWhatTheDatabaseAborted: a transaction that failed with a deadlock or a
// serialization failure runs again, at most maxTxAttempts times in all; any other error, or a
// context that ended, stops at once. Work registered after commit never runs for a failed run.
func TestTxRunsAgainOnlyWhatTheDatabaseAborted(t *testing.T) {
	s := txServices(t, "")
	for _, tc := range []struct {
		name     string
		cancel   bool // the context ends during the first run
		failures int  // how many runs fail before one succeeds
		err      error
		runs     int32
		hooks    int32
		wantErr  bool
	}{
		{name: "deadlock then success", failures: 2, err: sqlStateError("40P01"), runs: 3, hooks: 1},
		{name: "serialization failure then success", failures: 1, err: sqlStateError("40001"), runs: 2, hooks: 1},
		{name: "deadlocks every time", failures: 100, err: sqlStateError("40P01"), runs: maxTxAttempts, wantErr: true},
		{name: "unique violation", failures: 100, err: sqlStateError("23505"), runs: 1, wantErr: true},
		{name: "plain error", failures: 100, err: errors.New("boom"), runs: 1, wantErr: true},
		{name: "context ended", cancel: true, failures: 100, err: sqlStateError("40P01"), runs: 1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs, hooks atomic.Int32
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err := s.tx(ctx, func(tx *gorm.DB) error {
				n := runs.Add(1)
				if tc.cancel {
					cancel()
				}
				afterCommit(tx, func(context.Context) { hooks.Add(1) })
				if int(n) <= tc.failures {
					return tc.err
				}
				return nil
			})
			if (err != nil) != tc.wantErr || runs.Load() != tc.runs || hooks.Load() != tc.hooks {
				t.Errorf("tx() = %v after %d runs and %d after-commit calls, want error %v, %d runs, %d calls",
					err, runs.Load(), hooks.Load(), tc.wantErr, tc.runs, tc.hooks)
			}
		})
	}
}

// TestTxRecoversFromARealDeadlock makes two transactions lock two rows in opposite orders on
// Postgres: the database aborts one (40P01), tx runs it again, and both commit exactly once.
// (Before tx ran aborted transactions again, one of the two failed.)
func TestTxRecoversFromARealDeadlock(t *testing.T) {
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		t.Skip("a deadlock needs Postgres: set TEST_DATABASE_URL")
	}
	s := txServices(t, url)
	table := "tx_deadlock_" + strings.ToLower(keys.Random(10))
	if err := s.db.Exec("CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.db.Exec("DROP TABLE " + table).Error })
	if err := s.db.Exec("INSERT INTO " + table + " VALUES (1, 0), (2, 0)").Error; err != nil {
		t.Fatal(err)
	}
	var runs, hooks [2]atomic.Int32
	holding := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var once [2]sync.Once
	bump := func(tx *gorm.DB, id int) error {
		return tx.Exec("UPDATE "+table+" SET n = n + 1 WHERE id = ?", id).Error
	}
	errc := make(chan error, 2)
	for i, order := range [2][2]int{{1, 2}, {2, 1}} {
		go func() {
			errc <- s.tx(context.Background(), func(tx *gorm.DB) error {
				runs[i].Add(1)
				afterCommit(tx, func(context.Context) { hooks[i].Add(1) })
				if err := bump(tx, order[0]); err != nil {
					return err
				}
				once[i].Do(func() { // the first run waits until both hold their first row
					close(holding[i])
					<-holding[1-i]
				})
				return bump(tx, order[1])
			})
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Errorf("a deadlocked transaction was not run again: %v", err)
		}
	}
	// The run after an abort may collide again (it can take its first row before the other
	// transaction, still waiting for it, does): at least one more run, never more than the bound.
	if total := runs[0].Load() + runs[1].Load(); total < 3 || total > maxTxAttempts+1 {
		t.Errorf("%d and %d runs, want 3 or a few more in all", runs[0].Load(), runs[1].Load())
	}
	if hooks[0].Load() != 1 || hooks[1].Load() != 1 {
		t.Errorf("after-commit work ran %d and %d times, want once each", hooks[0].Load(), hooks[1].Load())
	}
	var ns []int
	if err := s.db.Raw("SELECT n FROM " + table + " ORDER BY id").Scan(&ns).Error; err != nil || len(ns) != 2 || ns[0] != 2 || ns[1] != 2 {
		t.Errorf("rows = %v (%v), want each bumped once by each transaction: [2 2]", ns, err)
	}
}
