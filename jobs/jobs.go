// Package jobs holds Vane's background work as asynq tasks: one constant, payload, constructor and
// handler per task type, and the worker that runs them. Handlers call services, never the database.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/services"
)

// Queues, by priority: rollbacks are critical, housekeeping is low.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// Task types.
const (
	TypePruneRefreshTokens = "housekeeping:prune_refresh_tokens"
	TypeExpireSDKKeys      = "housekeeping:expire_sdk_keys"
	TypePruneConfigChanges = "housekeeping:prune_config_changes"
)

// NewPruneRefreshTokensTask deletes refresh tokens that can never be used again.
func NewPruneRefreshTokensTask() *asynq.Task {
	return asynq.NewTask(TypePruneRefreshTokens, nil, asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(time.Minute))
}

// NewExpireSDKKeysTask deletes rotated SDK keys whose grace period is over.
func NewExpireSDKKeysTask() *asynq.Task {
	return asynq.NewTask(TypeExpireSDKKeys, nil, asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(time.Minute))
}

// NewPruneConfigChangesTask deletes the history of configuration changes past its retention.
func NewPruneConfigChangesTask() *asynq.Task {
	return asynq.NewTask(TypePruneConfigChanges, nil, asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(time.Minute))
}

type handlers struct {
	svc    *services.Services
	log    *slog.Logger
	client *asynq.Client // for tasks that queue other tasks
}

func (h *handlers) pruneRefreshTokens(ctx context.Context, _ *asynq.Task) error {
	n, err := h.svc.Housekeeping.PruneRefreshTokens(ctx)
	if err != nil {
		return fmt.Errorf("prune refresh tokens: %w", err)
	}
	h.log.Info("pruned refresh tokens", "deleted", n)
	return nil
}

func (h *handlers) expireSDKKeys(ctx context.Context, _ *asynq.Task) error {
	n, err := h.svc.Housekeeping.ExpireSDKKeys(ctx)
	if err != nil {
		return fmt.Errorf("expire sdk keys: %w", err)
	}
	h.log.Info("expired sdk keys", "deleted", n)
	return nil
}

func (h *handlers) pruneConfigChanges(ctx context.Context, _ *asynq.Task) error {
	n, err := h.svc.Housekeeping.PruneConfigChanges(ctx)
	if err != nil {
		return fmt.Errorf("prune configuration changes: %w", err)
	}
	h.log.Info("pruned configuration changes", "deleted", n)
	return nil
}

// Mux routes every task type to its handler, logging each outcome. client queues follow-up tasks.
func Mux(svc *services.Services, log *slog.Logger, client *asynq.Client) *asynq.ServeMux {
	return newMux(svc, log, client, func(string, error) {})
}

// newMux is Mux reporting each task's type and outcome to done.
func newMux(svc *services.Services, log *slog.Logger, client *asynq.Client, done func(taskType string, err error)) *asynq.ServeMux {
	h := &handlers{svc: svc, log: log, client: client}
	mux := asynq.NewServeMux()
	mux.Use(func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			start := time.Now()
			err := next.ProcessTask(ctx, t)
			done(t.Type(), err)
			attrs := []any{"type", t.Type(), "duration_ms", time.Since(start).Milliseconds()}
			switch {
			case err != nil:
				log.Warn("task failed", append(attrs, "err", err)...)
			case t.Type() == TypeDispatchWebhooks || t.Type() == TypeDispatchRolloutOutbox: // every 2 s: only worth a line when debugging
				log.Debug("task done", attrs...)
			default:
				log.Info("task done", attrs...)
			}
			return err
		})
	})
	mux.HandleFunc(TypePruneRefreshTokens, h.pruneRefreshTokens)
	mux.HandleFunc(TypeExpireSDKKeys, h.expireSDKKeys)
	mux.HandleFunc(TypePruneConfigChanges, h.pruneConfigChanges)
	mux.HandleFunc(TypeApplyStage, h.applyStage)
	mux.HandleFunc(TypeReconcileRollouts, h.reconcileRollouts)
	mux.HandleFunc(TypeDispatchRolloutOutbox, h.dispatchRolloutOutbox)
	mux.HandleFunc(TypeCheckGuards, h.checkGuards)
	mux.HandleFunc(TypePruneMetrics, h.pruneMetrics)
	mux.HandleFunc(TypeDeliverWebhook, h.deliverWebhook)
	mux.HandleFunc(TypeDispatchWebhooks, h.dispatchWebhooks)
	return mux
}

// PeriodicTask is a recurring task: a cron spec and the task it queues.
type PeriodicTask struct {
	Spec string
	New  func() *asynq.Task
}

// Periodic is the schedule of recurring tasks.
func Periodic() []PeriodicTask {
	return []PeriodicTask{
		{"@every 1h", NewPruneRefreshTokensTask},
		{"@every 10m", NewExpireSDKKeysTask},
		{"@every 1h", NewPruneConfigChangesTask},
		{"@every 1m", NewReconcileRolloutsTask},
		{"@every 30s", NewCheckGuardsTask},
		{"@every 6h", NewPruneMetricsTask},
		{"@every 2s", NewDispatchWebhooksTask},
		{"@every 2s", NewDispatchRolloutOutboxTask},
	}
}

// Worker is an asynq server with its scheduler.
type Worker struct {
	server    *asynq.Server
	scheduler *asynq.Scheduler
	mux       *asynq.ServeMux
	client    *asynq.Client
	observe   func(taskType string, err error)
}

// Observe has the worker report every task's type and outcome to fn (metrics). Call it before Start.
func (w *Worker) Observe(fn func(taskType string, err error)) { w.observe = fn }

// NewWorker builds a worker against the Redis at opts.
func NewWorker(opts *redis.Options, svc *services.Services, log *slog.Logger, concurrency int) (*Worker, error) {
	r := redisOpt(opts)
	srv := asynq.NewServer(r, asynq.Config{
		Concurrency:     concurrency,
		Queues:          map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1},
		Logger:          slogAdapter{log.With("component", "asynq")},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: 10 * time.Second,
		// Rollout stages are scheduled tasks: look for due ones every second, not every five.
		DelayedTaskCheckInterval: time.Second,
		RetryDelayFunc: func(n int, err error, t *asynq.Task) time.Duration {
			if t.Type() == TypeDeliverWebhook {
				return webhookRetryDelay(svc.WebhookRetryBase(), n)
			}
			return asynq.DefaultRetryDelayFunc(n, err, t)
		},
	})
	sch := asynq.NewScheduler(r, &asynq.SchedulerOpts{Logger: slogAdapter{log.With("component", "scheduler")}, LogLevel: asynq.WarnLevel})
	for _, p := range Periodic() {
		task := p.New()
		if _, err := sch.Register(p.Spec, task, asynq.Unique(time.Minute)); err != nil {
			return nil, fmt.Errorf("schedule %s every %s: %w", task.Type(), p.Spec, err)
		}
	}
	client := asynq.NewClient(r)
	w := &Worker{server: srv, scheduler: sch, client: client}
	w.mux = newMux(svc, log, client, func(taskType string, err error) {
		if w.observe != nil {
			w.observe(taskType, err)
		}
	})
	return w, nil
}

// Start runs the worker and scheduler in the background.
func (w *Worker) Start() error {
	if err := w.server.Start(w.mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if err := w.scheduler.Start(); err != nil {
		w.server.Shutdown()
		return fmt.Errorf("start scheduler: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks and waits for running ones.
func (w *Worker) Shutdown() {
	w.scheduler.Shutdown()
	w.server.Shutdown()
	_ = w.client.Close()
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a slogAdapter) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a slogAdapter) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a slogAdapter) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
