package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Task types of safety guards and metrics.
const (
	TypeCheckGuards  = "guards:check"
	TypePruneMetrics = "housekeeping:prune_metrics"
)

// NewCheckGuardsTask checks every guard of every running plan (critical: it rolls back).
func NewCheckGuardsTask() *asynq.Task {
	return asynq.NewTask(TypeCheckGuards, nil, asynq.Queue(QueueCritical), asynq.MaxRetry(1), asynq.Timeout(time.Minute))
}

// NewPruneMetricsTask deletes metric buckets past their retention.
func NewPruneMetricsTask() *asynq.Task {
	return asynq.NewTask(TypePruneMetrics, nil, asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(time.Minute))
}

func (h *handlers) checkGuards(ctx context.Context, _ *asynq.Task) error {
	n, err := h.svc.Guards.Check(ctx)
	if err != nil {
		return fmt.Errorf("check guards: %w", err)
	}
	if n > 0 {
		h.log.Warn("safety guards rolled back rollouts", "plans", n)
	}
	return nil
}

func (h *handlers) pruneMetrics(ctx context.Context, _ *asynq.Task) error {
	n, err := h.svc.Housekeeping.PruneMetrics(ctx)
	if err != nil {
		return fmt.Errorf("prune metrics: %w", err)
	}
	h.log.Info("pruned metric buckets", "deleted", n)
	return nil
}
