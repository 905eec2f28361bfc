package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// TypeApplyStage applies one stage of a rollout plan.
const TypeApplyStage = "rollout:apply_stage"

// TypeReconcileRollouts applies stages whose task was lost (a safety net, every minute).
const TypeReconcileRollouts = "rollout:reconcile"

// ApplyStagePayload names the stage to apply.
type ApplyStagePayload struct {
	PlanID   string `json:"plan_id"`
	Position int    `json:"position"`
}

// StageTaskID is the unique task id of a plan's stage: a stage is queued at most once.
func StageTaskID(planID string, position int) string {
	return "stage:" + planID + ":" + strconv.Itoa(position)
}

// NewApplyStageTask makes the task applying a stage, with its unique id.
func NewApplyStageTask(planID string, position int) (*asynq.Task, error) {
	b, err := json.Marshal(ApplyStagePayload{PlanID: planID, Position: position})
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

func (h *handlers) applyStage(ctx context.Context, t *asynq.Task) error {
	var p ApplyStagePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.PlanID == "" {
		return fmt.Errorf("undecodable payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	n, err := h.svc.Rollouts.ApplyStage(ctx, p.PlanID, p.Position)
	if err != nil {
		return fmt.Errorf("apply stage %d of plan %s: %w", p.Position, p.PlanID, err)
	}
	h.log.Info("rollout stage", "plan", p.PlanID, "stage", p.Position, "applied", n)
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

// ScheduleStage queues a stage to run at a time, replacing a queued copy with another time.
func (q *Queue) ScheduleStage(ctx context.Context, planID string, position int, at time.Time) error {
	task, err := NewApplyStageTask(planID, position)
	if err != nil {
		return err
	}
	_, err = q.client.EnqueueContext(ctx, task, asynq.ProcessAt(at))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		id := StageTaskID(planID, position)
		if derr := q.inspector.DeleteTask(QueueDefault, id); derr != nil {
			if info, ierr := q.inspector.GetTaskInfo(QueueDefault, id); ierr == nil && info.State == asynq.TaskStateActive {
				return nil // running right now: it will find the plan as it is
			}
			return fmt.Errorf("replace queued stage %d: %w", position, derr)
		}
		_, err = q.client.EnqueueContext(ctx, task, asynq.ProcessAt(at))
	}
	return err
}

// UnscheduleStages deletes a plan's queued stages, every one of them even if one fails. Stages not
// queued are fine, and so is a stage running right now: it will find the plan stopped.
func (q *Queue) UnscheduleStages(_ context.Context, planID string, positions []int) error {
	var failed []error
	for _, p := range positions {
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
