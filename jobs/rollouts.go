package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/internal/metrics"
	"github.com/vanehq/vane/services"
)

// TypeApplyStage applies one stage of a rollout plan.
const TypeApplyStage = "rollout:apply_stage"

// TypeReconcileRollouts applies stages whose task was lost (a safety net, every minute).
const TypeReconcileRollouts = "rollout:reconcile"

// TypeDispatchRolloutOutbox brings the queue in line with plan changes it has yet to reflect (the
// outbox, every 2 seconds).
const TypeDispatchRolloutOutbox = "rollout:dispatch_outbox"

// ApplyStagePayload names the stage to apply and the time it was queued for.
type ApplyStagePayload struct {
	PlanID   string    `json:"plan_id"`
	Position int       `json:"position"`
	DueAt    time.Time `json:"due_at,omitzero"`
}

// StageTaskID is the unique task id of a plan's stage: a stage is queued at most once.
func StageTaskID(planID string, position int) string {
	return "stage:" + planID + ":" + strconv.Itoa(position)
}

// NewApplyStageTask makes the task applying a stage due at a time, with its unique id.
func NewApplyStageTask(planID string, position int, due time.Time) (*asynq.Task, error) {
	b, err := json.Marshal(ApplyStagePayload{PlanID: planID, Position: position, DueAt: due.UTC()})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeApplyStage, b, asynq.Queue(QueueDefault), asynq.TaskID(StageTaskID(planID, position)),
		asynq.MaxRetry(10), asynq.Timeout(time.Minute)), nil
}

// NewReconcileRolloutsTask makes the periodic safety-net task.
func NewReconcileRolloutsTask() *asynq.Task {
	return asynq.NewTask(TypeReconcileRollouts, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(1), asynq.Timeout(time.Minute))
}

// NewDispatchRolloutOutboxTask makes the periodic outbox task (critical: rollbacks take their
// stages off the queue through it).
func NewDispatchRolloutOutboxTask() *asynq.Task {
	return asynq.NewTask(TypeDispatchRolloutOutbox, nil, asynq.Queue(QueueCritical), asynq.MaxRetry(0), asynq.Timeout(time.Minute))
}

func (h *handlers) applyStage(ctx context.Context, t *asynq.Task) error {
	var p ApplyStagePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.PlanID == "" {
		return fmt.Errorf("undecodable payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	n, err := h.svc.Rollouts.ApplyQueuedStage(ctx, p.PlanID, p.Position, p.DueAt)
	if err != nil {
		return fmt.Errorf("apply stage %d of plan %s: %w", p.Position, p.PlanID, err)
	}
	h.log.Info("rollout stage", "plan", p.PlanID, "stage", p.Position, "applied", n)
	return nil
}

// dispatchRolloutOutbox never fails the task: a failed periodic task is archived still holding its
// uniqueness lock, which would keep the next runs out for a minute; the next run, 2 s later, is the
// retry.
func (h *handlers) dispatchRolloutOutbox(ctx context.Context, _ *asynq.Task) error {
	_, err := h.svc.Rollouts.DispatchOutbox(ctx)
	switch {
	case errors.Is(err, services.ErrStageRunning):
		h.log.Debug("rollout outbox: a stage runs right now; queued again on a later run", "err", err)
	case err != nil:
		h.log.Warn("rollout outbox: the job queue did not take plan changes yet; retrying in 2s", "err", err)
	}
	return nil
}

func (h *handlers) reconcileRollouts(ctx context.Context, _ *asynq.Task) error {
	n, err := h.svc.Rollouts.Reconcile(ctx, 30*time.Second)
	if err != nil {
		return fmt.Errorf("reconcile rollouts: %w", err)
	}
	if n > 0 {
		h.log.Warn("applied overdue rollout stages whose tasks were missing", "stages", n)
	}
	return nil
}

// Queue puts rollout stages on asynq and takes them off; it is the services' Scheduler.
type Queue struct {
	client    *asynq.Client
	inspector *asynq.Inspector
}

// NewQueue connects to the Redis at opts.
func NewQueue(opts *redis.Options) *Queue {
	r := redisOpt(opts)
	return &Queue{client: asynq.NewClient(r), inspector: asynq.NewInspector(r)}
}

// Close releases the connections.
func (q *Queue) Close() {
	_ = q.client.Close()
	_ = q.inspector.Close()
}

// Inspector exposes the queue for inspection (tests, operators).
func (q *Queue) Inspector() *asynq.Inspector { return q.inspector }

// ScheduleStage queues a stage to run at a time. A copy already queued for that time stays; one
// queued for another time is replaced. A copy running right now cannot be replaced: that is
// services.ErrStageRunning, and the outbox tries again once it finished.
func (q *Queue) ScheduleStage(ctx context.Context, planID string, position int, at time.Time) error {
	task, err := NewApplyStageTask(planID, position, at)
	if err != nil {
		return err
	}
	// asynq keeps whole seconds and runs a task once its second began: round up, so a stage never
	// runs before it is due.
	processAt := at.Truncate(time.Second)
	if processAt.Before(at) {
		processAt = processAt.Add(time.Second)
	}
	_, err = q.client.EnqueueContext(ctx, task, asynq.ProcessAt(processAt))
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	id := StageTaskID(planID, position)
	info, err := q.inspector.GetTaskInfo(QueueDefault, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound): // finished meanwhile
	case err != nil:
		return fmt.Errorf("look at queued stage %d: %w", position, err)
	case info.State == asynq.TaskStateActive:
		return fmt.Errorf("stage %d: %w", position, services.ErrStageRunning)
	case info.State != asynq.TaskStateArchived && queuedFor(info.Payload).Equal(at.UTC()):
		return nil
	default:
		if err := q.inspector.DeleteTask(QueueDefault, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return fmt.Errorf("replace queued stage %d: %w", position, err)
		}
	}
	_, err = q.client.EnqueueContext(ctx, task, asynq.ProcessAt(processAt))
	return err
}

func queuedFor(payload []byte) time.Time {
	var p ApplyStagePayload
	_ = json.Unmarshal(payload, &p)
	return p.DueAt
}

// UnscheduleStages deletes a plan's queued stages, every one of them even if one fails. Stages not
// queued are fine, and so is a stage running right now: it will find the plan stopped. A queue that
// does not answer fails at once, not once per stage.
func (q *Queue) UnscheduleStages(ctx context.Context, planID string, positions []int) error {
	if err := q.client.Ping(); err != nil {
		return fmt.Errorf("reach the job queue: %w", err)
	}
	var failed []error
	for _, p := range positions {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(failed, err)...)
		}
		id := StageTaskID(planID, p)
		err := q.inspector.DeleteTask(QueueDefault, id)
		if err == nil || errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if info, ierr := q.inspector.GetTaskInfo(QueueDefault, id); ierr == nil && info.State == asynq.TaskStateActive {
			continue
		}
		failed = append(failed, fmt.Errorf("unschedule stage %d: %w", p, err))
	}
	return errors.Join(failed...)
}

func redisOpt(opts *redis.Options) asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Addr: opts.Addr, Username: opts.Username, Password: opts.Password, DB: opts.DB, TLSConfig: opts.TLSConfig}
}

// Recover does once, when a process that runs rollouts starts, what may have been missed while
// none ran: the next overdue stage of every running plan (Reconcile, with no grace) and every plan
// change the queue has yet to reflect (the outbox). What fails is logged; the periodic tasks retry.
func Recover(ctx context.Context, svc *services.Services, log *slog.Logger) {
	if n, err := svc.Rollouts.Reconcile(ctx, 0); err != nil {
		log.Warn("start-up reconcile of rollout plans failed; the periodic one will retry", "err", err)
	} else if n > 0 {
		log.Warn("applied overdue rollout stages at start-up", "stages", n)
	}
	if n, err := svc.Rollouts.DispatchOutbox(ctx); err != nil {
		log.Warn("start-up dispatch of the rollout outbox failed; the periodic one will retry", "err", err)
	} else if n > 0 {
		log.Info("queued the stages of rollout plans changed while the queue was unreachable", "plans", n)
	}
}

// Sizes reads how many tasks each queue holds in each state (for /metrics). Queues that never held
// a task do not exist yet and are not listed.
func (q *Queue) Sizes(ctx context.Context) ([]metrics.QueueSize, error) {
	names, err := q.inspector.Queues()
	if err != nil {
		return nil, fmt.Errorf("list job queues: %w", err)
	}
	out := make([]metrics.QueueSize, 0, len(names))
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		info, err := q.inspector.GetQueueInfo(name)
		if err != nil {
			return out, fmt.Errorf("read job queue %s: %w", name, err)
		}
		out = append(out, metrics.QueueSize{Queue: name, Pending: info.Pending, Active: info.Active,
			Scheduled: info.Scheduled, Retry: info.Retry, Archived: info.Archived})
	}
	return out, nil
}
