package services

import (
	"context"
	"fmt"
	"math"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
)

// Scheduler puts rollout stages on the job queue and takes them off. The jobs package implements
// it with asynq; services only know this interface (imports flow downwards).
type Scheduler interface {
	ScheduleStage(ctx context.Context, planID string, position int, at time.Time) error
	UnscheduleStages(ctx context.Context, planID string, positions []int) error
}

// SetScheduler connects the job queue (or, with nil, disconnects it). Without one, plans can be
// edited but not started.
func (s *Services) SetScheduler(sch Scheduler) {
	if sch == nil {
		s.scheduler.Store(nil)
		return
	}
	s.scheduler.Store(&sch)
}

// queue is the connected job queue, or nil.
func (s *Services) queue() Scheduler {
	if p := s.scheduler.Load(); p != nil {
		return *p
	}
	return nil
}

// Rollouts runs scheduled rollout plans: ordered stages that raise a flag's rollout over time.
type Rollouts struct{ s *Services }

// MaxStages bounds a plan.
const MaxStages = 20

// StageInput is one stage: a percentage, due at a time or after a delay from the plan's start
// (neither: at once).
type StageInput struct {
	Percentage float64
	At         *time.Time
	After      *time.Duration
	Variation  string // overrides the plan's variation for this stage
}

// PlanInput is a plan to create or replace.
type PlanInput struct {
	Stages        []StageInput
	Variation     string // rolled out variation; "" means the configuration's on variation
	MarkRolledOut bool   // mark the flag ROLLED_OUT when the last stage (100%) is applied
}

// Plan is a plan with the configuration it drives.
type Plan struct {
	models.RolloutPlan
	FlagKey string
	EnvKey  string
}

func planView(p *models.RolloutPlan) map[string]any {
	stages := make([]map[string]any, len(p.Stages))
	for i, s := range p.Stages {
		stages[i] = map[string]any{"position": s.Position, "percentage": float64(s.Weight) / 1000, "variation": s.Variation,
			"due_at": s.DueAt, "applied_at": s.AppliedAt}
	}
	return map[string]any{"id": p.ID, "state": p.State, "variation": p.Variation, "reason": p.Reason, "stages": stages}
}

func (ro *Rollouts) validate(in PlanInput, f *models.Flag, now time.Time) ([]models.RolloutStage, error) {
	var v errs.Validation
	if len(in.Stages) == 0 || len(in.Stages) > MaxStages {
		v.Add("stages", "a plan has 1 to %d stages", MaxStages)
	}
	known := func(id string) bool {
		for _, va := range f.Variations {
			if va.ID == id {
				return true
			}
		}
		return false
	}
	if in.Variation != "" && !known(in.Variation) {
		v.Add("variation", "no variation has id %q", in.Variation)
	}
	out := make([]models.RolloutStage, 0, len(in.Stages))
	prevPct, prevDue := -1.0, now
	for i, st := range in.Stages {
		field := fmt.Sprintf("stages[%d]", i)
		if st.Percentage < 0 || st.Percentage > 100 || math.IsNaN(st.Percentage) {
			v.Add(field+".percentage", "must be between 0 and 100")
		} else if st.Percentage < prevPct {
			v.Add(field+".percentage", "must not be lower than the stage before (%.3g)", prevPct)
		}
		prevPct = st.Percentage
		stage := models.RolloutStage{ID: models.NewID(), Position: i, Weight: int(st.Percentage*1000 + 0.5), Variation: st.Variation}
		if st.Variation != "" && !known(st.Variation) {
			v.Add(field+".variation", "no variation has id %q", st.Variation)
		}
		due := now
		switch {
		case st.At != nil && st.After != nil:
			v.Add(field, "give at or after, not both")
		case st.At != nil:
			t := st.At.UTC().Truncate(time.Microsecond)
			if !t.After(now) {
				v.Add(field+".at", "must be in the future")
			}
			stage.At, due = &t, t
		case st.After != nil:
			if *st.After < 0 {
				v.Add(field+".after", "must not be negative")
			}
			secs := int64(*st.After / time.Second)
			stage.AfterSeconds, due = &secs, now.Add(time.Duration(secs)*time.Second)
		default:
			zero := int64(0)
			stage.AfterSeconds = &zero
		}
		if due.Before(prevDue) {
			v.Add(field, "is due before the stage before it")
		}
		prevDue = due
		out = append(out, stage)
	}
	return out, v.Err()
}

// configOf loads a configuration by its resolved names, for the plan routes.
func (ro *Rollouts) configOf(db *gorm.DB, sc Scope, projectRef, flagRef, envRef string) (*Config, error) {
	return ro.s.Flags.resolveConfig(db, sc, projectRef, flagRef, envRef)
}

// lockedConfigOf loads a configuration for a change to its plan, first taking the project's lock
// (models.LockProject), so plan changes queue behind every other write to the project.
func (ro *Rollouts) lockedConfigOf(tx *gorm.DB, sc Scope, projectRef, flagRef, envRef string) (*Config, error) {
	cfg, err := ro.configOf(tx, sc, projectRef, flagRef, envRef)
	if err != nil {
		return nil, err
	}
	if err := models.LockProject(tx, sc.OrgID, cfg.Flag.ProjectID); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Get returns the plan of a flag in an environment.
func (ro *Rollouts) Get(ctx context.Context, sc Scope, projectRef, flagRef, envRef string) (*Plan, error) {
	db := ro.s.db.WithContext(ctx)
	cfg, err := ro.configOf(db, sc, projectRef, flagRef, envRef)
	if err != nil {
		return nil, err
	}
	p, err := models.PlanOfConfig(db, sc.OrgID, cfg.ID)
	if err != nil {
		return nil, err
	}
	return &Plan{RolloutPlan: *p, FlagKey: cfg.Flag.Key, EnvKey: cfg.Environment.Key}, nil
}

// Put creates the plan of a flag in an environment, or replaces one that is not running.
func (ro *Rollouts) Put(ctx context.Context, sc Scope, projectRef, flagRef, envRef string, in PlanInput) (*Plan, error) {
	var out *Plan
	err := ro.s.tx(ctx, func(tx *gorm.DB) error {
		cfg, err := ro.lockedConfigOf(tx, sc, projectRef, flagRef, envRef)
		if err != nil {
			return err
		}
		now := ro.s.now()
		stages, err := ro.validate(in, &cfg.Flag, now)
		if err != nil {
			return err
		}
		var before map[string]any
		if old, err := models.PlanOfConfig(tx, sc.OrgID, cfg.ID); err == nil {
			if old.State == models.PlanRunning || old.State == models.PlanPaused {
				return errs.Conflictf("a rollout plan is %s for this flag here; cancel it first", old.State)
			}
			before = planView(old)
			if err := tx.Where("id = ?", old.ID).Delete(&models.RolloutPlan{}).Error; err != nil {
				return models.Translate(err, "rollout plan")
			}
		} else if errs.KindOf(err) != errs.NotFound {
			return err
		}
		p := &models.RolloutPlan{ID: models.NewID(), OrgID: sc.OrgID, ProjectID: cfg.Flag.ProjectID, EnvironmentID: cfg.Environment.ID,
			FlagID: cfg.Flag.ID, ConfigID: cfg.ID, State: models.PlanDraft, Variation: in.Variation, MarkRolledOut: in.MarkRolledOut,
			CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := models.Create(tx, "rollout plan", p); err != nil {
			return err
		}
		for i := range stages {
			stages[i].PlanID = p.ID
		}
		if err := models.Create(tx, "rollout stages", &stages); err != nil {
			return err
		}
		p.Stages = stages
		out = &Plan{RolloutPlan: *p, FlagKey: cfg.Flag.Key, EnvKey: cfg.Environment.Key}
		return ro.s.audit(tx, sc, "feature_flag.rollout_plan_saved", "rollout_plan", p.ID, cfg.Flag.Key+"/"+cfg.Environment.Key, before, planView(p))
	})
	return out, err
}

// Delete removes a plan that is not running or paused.
func (ro *Rollouts) Delete(ctx context.Context, sc Scope, projectRef, flagRef, envRef string) error {
	return ro.s.tx(ctx, func(tx *gorm.DB) error {
		cfg, err := ro.lockedConfigOf(tx, sc, projectRef, flagRef, envRef)
		if err != nil {
			return err
		}
		p, err := models.PlanOfConfig(tx, sc.OrgID, cfg.ID)
		if err != nil {
			return err
		}
		if p.State == models.PlanRunning || p.State == models.PlanPaused {
			return errs.Conflictf("the rollout plan is %s; cancel it first", p.State)
		}
		if err := tx.Where("id = ?", p.ID).Delete(&models.RolloutPlan{}).Error; err != nil {
			return models.Translate(err, "rollout plan")
		}
		return ro.s.audit(tx, sc, "feature_flag.rollout_plan_deleted", "rollout_plan", p.ID, cfg.Flag.Key+"/"+cfg.Environment.Key, planView(p), nil)
	})
}

// transition changes a plan's state in a transaction, computing due times, and records in the same
// transaction that the job queue must follow (the outbox, see requestSync): the queue being down
// never fails the change, and never loses it.
func (ro *Rollouts) transition(ctx context.Context, sc Scope, projectRef, flagRef, envRef, verb string) (*Plan, error) {
	if ro.s.queue() == nil && (verb == "start" || verb == "resume") {
		return nil, errs.Conflictf("no job queue is connected to this server: plans cannot run")
	}
	var out *Plan
	err := ro.s.tx(ctx, func(tx *gorm.DB) error {
		cfg, err := ro.lockedConfigOf(tx, sc, projectRef, flagRef, envRef)
		if err != nil {
			return err
		}
		cur, err := models.PlanOfConfig(tx, sc.OrgID, cfg.ID)
		if err != nil {
			return err
		}
		p, err := models.PlanByID(tx, cur.ID, true)
		if err != nil {
			return err
		}
		before := planView(p)
		now := ro.s.now()
		fields := map[string]any{}
		action := models.OutboxSchedule
		switch verb {
		case "start":
			if p.State != models.PlanDraft {
				return errs.Conflictf("only a DRAFT plan can start; this one is %s", p.State)
			}
			if st := engine.Status(cfg.Status); !st.Serving() {
				return errs.Conflictf("the flag is %s here; a plan needs it ACTIVE or ENABLED", st)
			}
			startDues(p.Stages, now)
			fields["state"], fields["started_at"], fields["reason"] = models.PlanRunning, now, ""
		case "pause":
			if p.State != models.PlanRunning {
				return errs.Conflictf("only a RUNNING plan can pause; this one is %s", p.State)
			}
			fields["state"], fields["paused_at"] = models.PlanPaused, now
			action = models.OutboxUnschedule
		case "resume":
			if p.State != models.PlanPaused {
				return errs.Conflictf("only a PAUSED plan can resume; this one is %s", p.State)
			}
			resumeDues(p, now)
			fields["state"], fields["paused_at"], fields["reason"] = models.PlanRunning, nil, ""
		case "cancel":
			if p.State != models.PlanRunning && p.State != models.PlanPaused && p.State != models.PlanDraft {
				return errs.Conflictf("the plan is already %s", p.State)
			}
			fields["state"], fields["finished_at"] = models.PlanCancelled, now
			action = models.OutboxUnschedule
		}
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "rollout_plans", What: "rollout plan", OrgID: sc.OrgID,
			ID: p.ID, Current: p.Version}, now, fields); err != nil {
			return err
		}
		for _, s := range p.Stages {
			if err := models.SetStageDue(tx, s.ID, s.DueAt); err != nil {
				return err
			}
		}
		if err := ro.requestSync(tx, p.OrgID, p.ID, action); err != nil {
			return err
		}
		after, err := models.PlanByID(tx, p.ID, false)
		if err != nil {
			return err
		}
		out = &Plan{RolloutPlan: *after, FlagKey: cfg.Flag.Key, EnvKey: cfg.Environment.Key}
		return ro.s.audit(tx, sc, "feature_flag.rollout_"+verb+map[string]string{"start": "ed", "pause": "d", "resume": "d", "cancel": "led"}[verb],
			"rollout_plan", p.ID, cfg.Flag.Key+"/"+cfg.Environment.Key, before, planView(after))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// startDues sets every stage's due time from the start: its time, or its delay after the start,
// and never before the stage before it.
func startDues(stages []models.RolloutStage, start time.Time) {
	prev := start
	for i := range stages {
		due := start
		if s := stages[i]; s.At != nil {
			due = *s.At
		} else if s.AfterSeconds != nil {
			due = start.Add(time.Duration(*s.AfterSeconds) * time.Second)
		}
		if due.Before(prev) {
			due = prev
		}
		stages[i].DueAt, prev = &due, due
	}
}

// resumeDues sets the due times of a resumed plan's remaining stages. The next one waits what it
// had left to wait after the last applied stage, counted from now (an at stage: its time, or now
// if that passed); each later one keeps its planned gap from the one before (see respace).
func resumeDues(p *models.RolloutPlan, now time.Time) {
	prevDue := now
	if p.StartedAt != nil {
		prevDue = *p.StartedAt
	}
	for i := range p.Stages {
		s := &p.Stages[i]
		if s.AppliedAt != nil {
			if s.DueAt != nil {
				prevDue = *s.DueAt
			}
			continue
		}
		if s.DueAt == nil {
			startDues(p.Stages[i:], now)
			return
		}
		old := *s.DueAt
		due := now.Add(max(0, old.Sub(prevDue)))
		if s.At != nil {
			due = now
			if s.At.After(now) {
				due = *s.At
			}
		}
		s.DueAt = &due
		respace(p.Stages[i+1:], old, due)
		return
	}
}

// respace moves the due times of stages (the ones after a stage that was due at prevOld and now
// applies, or is due, at prevNew) so that each keeps the gap it was planned to have after the one
// before: an after stage waits exactly that gap, an at stage its time but never less than that gap.
// It reports whether any due time changed.
func respace(stages []models.RolloutStage, prevOld, prevNew time.Time) bool {
	changed := false
	for i := range stages {
		s := &stages[i]
		if s.AppliedAt != nil || s.DueAt == nil {
			continue
		}
		old := *s.DueAt
		due := prevNew.Add(max(0, old.Sub(prevOld)))
		if s.At != nil && s.At.After(due) {
			due = *s.At
		}
		if !due.Equal(old) {
			s.DueAt = &due
			changed = true
		}
		prevOld, prevNew = old, due
	}
	return changed
}

// Start, Pause, Resume and Cancel move a plan.
func (ro *Rollouts) Start(ctx context.Context, sc Scope, projectRef, flagRef, envRef string) (*Plan, error) {
	return ro.transition(ctx, sc, projectRef, flagRef, envRef, "start")
}

// Pause stops a running plan and takes its pending stages off the queue.
func (ro *Rollouts) Pause(ctx context.Context, sc Scope, projectRef, flagRef, envRef string) (*Plan, error) {
	return ro.transition(ctx, sc, projectRef, flagRef, envRef, "pause")
}

// Resume restarts a paused plan; overdue stages are applied at once, one by one.
func (ro *Rollouts) Resume(ctx context.Context, sc Scope, projectRef, flagRef, envRef string) (*Plan, error) {
	return ro.transition(ctx, sc, projectRef, flagRef, envRef, "resume")
}

// Cancel ends a plan and takes its pending stages off the queue.
func (ro *Rollouts) Cancel(ctx context.Context, sc Scope, projectRef, flagRef, envRef string) (*Plan, error) {
	return ro.transition(ctx, sc, projectRef, flagRef, envRef, "cancel")
}

// ApplyStage applies the next stage of a running plan now, if position is at or beyond it: the
// caller decided it is due (Reconcile, a test acting as the worker). Stage tasks use
// ApplyQueuedStage. It reports how many stages it applied (0 or 1).
func (ro *Rollouts) ApplyStage(ctx context.Context, planID string, position int) (int, error) {
	return ro.applyStage(ctx, planID, position, nil)
}

// ApplyQueuedStage is ApplyStage for a stage task queued for a time (zero: unknown, the current
// time counts). The next stage applies only if it is due by then: a task queued before the stage
// was moved later (see respace) finds it not due, and has it queued again for its new time.
func (ro *Rollouts) ApplyQueuedStage(ctx context.Context, planID string, position int, queuedFor time.Time) (int, error) {
	return ro.applyStage(ctx, planID, position, &queuedFor)
}

// applyStage applies the next stage of a running plan, one stage at a time. Nothing happens when
// the plan is not running or the stage is already applied, so a retried or duplicated task changes
// nothing twice. With queuedFor, the next stage must be due by then (or by now, if later). Applying
// a stage late (after an outage, or by Reconcile) moves every later stage by as much, so each keeps
// its planned gap after the one before and two stages never apply at the same instant.
func (ro *Rollouts) applyStage(ctx context.Context, planID string, position int, queuedFor *time.Time) (int, error) {
	applied := 0
	var projectID, orgID string
	err := ro.s.tx(ctx, func(tx *gorm.DB) error {
		applied = 0
		p, err := models.LockPlanForWrite(tx, planID)
		if errs.KindOf(err) == errs.NotFound {
			return nil // deleted with its flag, environment or project: nothing left to do
		}
		if err != nil {
			return err
		}
		if p.State != models.PlanRunning {
			return nil
		}
		next := -1
		for i, s := range p.Stages {
			if s.AppliedAt == nil {
				next = i
				break
			}
		}
		if next < 0 || position < p.Stages[next].Position {
			return nil
		}
		now := ro.s.now()
		stage := p.Stages[next]
		if queuedFor != nil && stage.DueAt != nil && stage.DueAt.After(laterOf(now, *queuedFor)) {
			return ro.requestSync(tx, p.OrgID, p.ID, models.OutboxSchedule) // moved later since this task was queued
		}
		projectID, orgID = p.ProjectID, p.OrgID
		sc := Scope{OrgID: p.OrgID, Principal: &Principal{Kind: PrincipalSystem, Name: "rollout plan"}}
		if err := ro.applyOne(tx, sc, p, stage, now); err != nil {
			return err
		}
		p.Stages[next].AppliedAt = &now
		applied = 1
		fields := map[string]any{}
		moved := false
		if last := next == len(p.Stages)-1; last {
			fields["state"], fields["finished_at"] = models.PlanCompleted, now
		} else if stage.DueAt != nil {
			moved = respace(p.Stages[next+1:], *stage.DueAt, laterOf(now, *stage.DueAt))
			for _, s := range p.Stages[next+1:] {
				if err := models.SetStageDue(tx, s.ID, s.DueAt); err != nil {
					return err
				}
			}
		}
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "rollout_plans", What: "rollout plan", OrgID: p.OrgID,
			ID: p.ID, Current: p.Version}, now, fields); err != nil {
			return err
		}
		if fields["state"] == models.PlanCompleted {
			if last := p.Stages[len(p.Stages)-1]; p.MarkRolledOut && last.Weight == engine.BucketScale {
				return ro.markRolledOut(tx, sc, p)
			}
			return nil
		}
		if moved || position != stage.Position {
			// Later stages moved, or this task stood for a later stage that has yet to run: queue it again.
			return ro.requestSync(tx, p.OrgID, p.ID, models.OutboxSchedule)
		}
		return nil
	})
	if err == nil && applied > 0 {
		ro.s.changed(ctx, orgID, projectID)
	}
	return applied, err
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// loadConfig loads a configuration for a write, taking its locks (see Flags.lockedConfig).
func (ro *Rollouts) loadConfig(tx *gorm.DB, orgID, configID string) (*Config, error) {
	cp, err := models.LockConfigForWrite(tx, orgID, configID)
	if err != nil {
		return nil, err
	}
	c := *cp
	var f models.Flag
	if err := tx.Where("id = ?", c.FlagID).Take(&f).Error; err != nil {
		return nil, models.Translate(err, "flag")
	}
	env, err := models.EnvironmentByID(tx, orgID, c.EnvironmentID)
	if err != nil {
		return nil, err
	}
	return &Config{Flag: f, Environment: *env, FlagConfig: c}, nil
}

// serveWeight is the fallthrough giving weight thousandths the plan's variation, the rest what a
// percentage rollout gives everyone else (false, for a boolean flag).
func serveWeight(cfg *Config, variation string, weight int) engine.Serve {
	return PercentageServe(&cfg.Flag, &cfg.FlagConfig, variation, weight)
}

func (ro *Rollouts) applyOne(tx *gorm.DB, sc Scope, p *models.RolloutPlan, s models.RolloutStage, now time.Time) error {
	cfg, err := ro.loadConfig(tx, p.OrgID, p.ConfigID)
	if err != nil {
		return err
	}
	after := cfg.FlagConfig
	variation := p.Variation
	if s.Variation != "" {
		variation = s.Variation
	}
	after.Fallthrough = serveWeight(cfg, variation, s.Weight)
	if _, err := ro.s.Flags.write(tx, sc, cfg, cfg.FlagConfig, after, engine.Status(cfg.Status), 0); err != nil {
		return err
	}
	if err := tx.Model(&models.RolloutStage{}).Where("id = ? AND applied_at IS NULL", s.ID).Update("applied_at", now).Error; err != nil {
		return models.Translate(err, "rollout stage")
	}
	return ro.s.audit(tx, sc, "feature_flag.rollout_stage_applied", "flag_config", cfg.ID, cfg.Flag.Key+"/"+cfg.Environment.Key, nil,
		map[string]any{"plan_id": p.ID, "stage": s.Position, "percentage": float64(s.Weight) / 1000, "variation": variation})
}

func (ro *Rollouts) markRolledOut(tx *gorm.DB, sc Scope, p *models.RolloutPlan) error {
	for _, target := range []engine.Status{engine.Enabled, engine.RolledOut} {
		cfg, err := ro.loadConfig(tx, p.OrgID, p.ConfigID)
		if err != nil {
			return err
		}
		st := engine.Status(cfg.Status)
		if st == target || (target == engine.Enabled && st != engine.Active) {
			continue
		}
		after := cfg.FlagConfig
		if target == engine.RolledOut && p.Variation != "" {
			after.OnVariation = p.Variation
		}
		if _, err := ro.s.Flags.write(tx, sc, cfg, cfg.FlagConfig, after, target, 0); err != nil {
			return err
		}
	}
	return nil
}

// pauseForManualEdit pauses a running plan of a configuration whose rollout someone changed by
// hand, in the same transaction as the edit. It returns a notice for the editor, "" if none ran.
func (ro *Rollouts) pauseForManualEdit(tx *gorm.DB, sc Scope, cfg *Config) (string, *models.RolloutPlan, error) {
	p, err := models.PlanOfConfig(tx, sc.OrgID, cfg.ID)
	if errs.KindOf(err) == errs.NotFound || (err == nil && p.State != models.PlanRunning) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	now := ro.s.now()
	who := "someone"
	if sc.Principal != nil && sc.Principal.Name != "" {
		who = sc.Principal.Name
	}
	reason := "paused: the rollout was edited by hand by " + who
	if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "rollout_plans", What: "rollout plan", OrgID: sc.OrgID,
		ID: p.ID, Current: p.Version}, now, map[string]any{"state": models.PlanPaused, "paused_at": now, "reason": reason}); err != nil {
		return "", nil, err
	}
	if err := ro.s.audit(tx, sc, "feature_flag.rollout_paused", "rollout_plan", p.ID, cfg.Flag.Key+"/"+cfg.Environment.Key,
		planView(p), map[string]any{"state": models.PlanPaused, "reason": reason}); err != nil {
		return "", nil, err
	}
	if err := ro.requestSync(tx, p.OrgID, p.ID, models.OutboxUnschedule); err != nil {
		return "", nil, err
	}
	p.State = models.PlanPaused
	return "the running rollout plan was paused because its rollout was edited by hand; resume it to continue", p, nil
}

// Reconcile applies the next stage of every running plan whose next stage is overdue by more than
// grace: a safety net for a task lost with a Redis that kept nothing, or never queued because the
// queue was down. It applies one stage per plan (the later ones move, see ApplyStage, and are
// queued again), so a plan never jumps several stages at once.
func (ro *Rollouts) Reconcile(ctx context.Context, grace time.Duration) (int, error) {
	due, err := models.OverdueStages(ro.s.db.WithContext(ctx), ro.s.now().Add(-grace))
	if err != nil {
		return 0, err
	}
	total := 0
	for _, d := range due {
		n, err := ro.ApplyStage(ctx, d.PlanID, d.Position)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
