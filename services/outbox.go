package services

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
)

// ErrStageRunning says a stage's task is running right now, so it cannot be queued again yet; the
// outbox tries again once it finished.
var ErrStageRunning = errors.New("the stage's task is running right now")

// outboxSyncTimeout bounds the attempt, right after a commit, to bring the queue in line with a
// plan: a request never waits longer than this for a queue that is down (the dispatcher retries).
const outboxSyncTimeout = 2 * time.Second

// OutboxBatch is how many outbox rows one dispatch reads.
const OutboxBatch = 500

// requestSync records in tx that the job queue must be brought in line with a plan (its unapplied
// stages queued while it runs, none otherwise), and tries to do so right after the commit. A row
// that could not be carried out then stays for DispatchOutbox, so a change to a plan never fails
// because the queue is down, and is never lost.
func (ro *Rollouts) requestSync(tx *gorm.DB, orgID, planID, action string) error {
	now := ro.s.now()
	row := models.RolloutOutbox{ID: models.NewID(), OrgID: orgID, PlanID: planID, Action: action, CreatedAt: now, UpdatedAt: now}
	if err := models.Create(tx, "rollout outbox", &row); err != nil {
		return err
	}
	afterCommit(tx, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outboxSyncTimeout)
		defer cancel()
		if _, err := ro.dispatch(ctx, []models.RolloutOutbox{row}); err != nil {
			level := ro.s.log.Warn
			if errors.Is(err, ErrStageRunning) {
				level = ro.s.log.Debug
			}
			level("the job queue does not reflect a rollout plan change yet; the outbox dispatcher will retry", "plan", planID, "err", err)
		}
	})
	return nil
}

// DispatchOutbox brings the job queue in line with every plan that has outbox rows, oldest first
// (the worker runs it every 2 seconds and once at start-up), and returns how many plans it synced.
func (ro *Rollouts) DispatchOutbox(ctx context.Context) (int, error) {
	if ro.s.queue() == nil {
		return 0, nil
	}
	rows, err := models.PendingOutbox(ro.s.db.WithContext(ctx), OutboxBatch)
	if err != nil {
		return 0, err
	}
	return ro.dispatch(ctx, rows)
}

// dispatch syncs the plans of rows in the order of their oldest row, deleting the rows of each plan
// synced and recording a failure on the rows of a plan that was not. It stops at the first failure
// (the queue is most likely down), except for a plan one of whose stages is running right now: it
// goes on with the others, and says so at the end (ErrStageRunning).
func (ro *Rollouts) dispatch(ctx context.Context, rows []models.RolloutOutbox) (int, error) {
	sch := ro.s.queue()
	if sch == nil || len(rows) == 0 {
		return 0, nil
	}
	var order []string
	byPlan := map[string][]string{}
	for _, r := range rows {
		if _, seen := byPlan[r.PlanID]; !seen {
			order = append(order, r.PlanID)
		}
		byPlan[r.PlanID] = append(byPlan[r.PlanID], r.ID)
	}
	db := ro.s.db.WithContext(ctx)
	synced := 0
	var running error
	for _, planID := range order {
		if err := ro.syncQueue(ctx, sch, planID); err != nil {
			if ferr := models.FailOutbox(ro.s.db.WithContext(context.WithoutCancel(ctx)), byPlan[planID], err.Error(), ro.s.now()); ferr != nil {
				ro.s.log.WarnContext(ctx, "record a failed outbox attempt", "plan", planID, "err", ferr)
			}
			err = fmt.Errorf("queue the stages of plan %s: %w", planID, err)
			if errors.Is(err, ErrStageRunning) {
				running = err // only this plan must wait for its task to finish
				continue
			}
			return synced, err
		}
		if err := models.DeleteOutbox(db, byPlan[planID]); err != nil {
			return synced, err
		}
		synced++
	}
	return synced, running
}

// syncQueue makes the queue match a plan as it is in the database: its unapplied stages queued
// for their due times while it runs, none otherwise (nor any of a plan that no longer exists). If
// the plan changed while the queue was being updated, it starts over (at most three times), so a
// slow sync of an older state never has the last word.
func (ro *Rollouts) syncQueue(ctx context.Context, sch Scheduler, planID string) error {
	db := ro.s.db.WithContext(ctx)
	for round := 0; round < 3; round++ {
		p, err := models.PlanByID(db, planID, false)
		if errs.KindOf(err) == errs.NotFound {
			all := make([]int, MaxStages)
			for i := range all {
				all[i] = i
			}
			return sch.UnscheduleStages(ctx, planID, all)
		}
		if err != nil {
			return err
		}
		if err := queuePlan(ctx, sch, p); err != nil {
			return err
		}
		var cur models.RolloutPlan
		err = models.Translate(db.Select("version").Where("id = ?", planID).Take(&cur).Error, "rollout plan")
		switch {
		case errs.KindOf(err) == errs.NotFound:
			continue // deleted meanwhile: the next round takes its stages off
		case err != nil:
			return err
		case cur.Version == p.Version:
			return nil
		}
	}
	return nil
}

// queuePlan makes the queue match one state of a plan.
func queuePlan(ctx context.Context, sch Scheduler, p *models.RolloutPlan) error {
	var pending []int
	for _, s := range p.Stages {
		if s.AppliedAt == nil {
			pending = append(pending, s.Position)
		}
	}
	if p.State != models.PlanRunning {
		return sch.UnscheduleStages(ctx, p.ID, pending)
	}
	var running error // a stage whose task runs right now: queue the others, then say so
	for _, s := range p.Stages {
		if s.AppliedAt == nil && s.DueAt != nil {
			err := sch.ScheduleStage(ctx, p.ID, s.Position, *s.DueAt)
			switch {
			case errors.Is(err, ErrStageRunning):
				running = err
			case err != nil:
				return fmt.Errorf("schedule stage %d: %w", s.Position, err)
			}
		}
	}
	return running
}
