package services

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
)

// Guard metrics, comparators and actions.
const (
	MetricErrorRate      = "error_rate"       // errors / (errors + successes) of the cohort served the rolled-out variation
	MetricErrorRateRatio = "error_rate_ratio" // that rate divided by the control cohort's (the default variation's)
	ActionPreviousStage  = "rollback_to_previous_stage"
	ActionZero           = "rollback_to_zero"
	ActionKillSwitch     = "kill_switch"
	// TriggerPrefix starts every trigger secret.
	TriggerPrefix = "vtr_"
)

// Guards watch the metrics of running rollouts and roll them back on a breach.
type Guards struct{ s *Services }

// GuardInput is a new guard (or, with pointers set, a change).
type GuardInput struct {
	Metric     string
	Comparator string
	Threshold  float64
	Window     time.Duration
	MinSample  int
	Action     string
	Cooldown   time.Duration
}

func (in *GuardInput) validate() error {
	var v errs.Validation
	if in.Metric != MetricErrorRate && in.Metric != MetricErrorRateRatio {
		v.Add("metric", "must be error_rate or error_rate_ratio")
	}
	if in.Comparator == "" {
		in.Comparator = "gt"
	}
	if in.Comparator != "gt" && in.Comparator != "gte" {
		v.Add("comparator", "must be gt or gte")
	}
	if in.Threshold < 0 || (in.Metric == MetricErrorRate && in.Threshold > 1) || in.Threshold > 1e6 {
		v.Add("threshold", "must be a rate between 0 and 1 (a ratio for error_rate_ratio)")
	}
	if in.Window == 0 {
		in.Window = 5 * time.Minute
	}
	if in.Window < time.Minute || in.Window > 24*time.Hour {
		v.Add("window", "must be between 1m and 24h")
	}
	if in.MinSample == 0 {
		in.MinSample = 100
	}
	if in.MinSample < 1 || in.MinSample > 10_000_000 {
		v.Add("min_sample", "must be between 1 and 10000000")
	}
	if !slices.Contains([]string{ActionPreviousStage, ActionZero, ActionKillSwitch}, in.Action) {
		v.Add("action", "must be rollback_to_previous_stage, rollback_to_zero or kill_switch")
	}
	if in.Cooldown < 0 || in.Cooldown > 24*time.Hour {
		v.Add("cooldown", "must be between 0s and 24h")
	}
	return v.Err()
}

// Guard is a guard with where it watches.
type Guard struct {
	models.SafetyGuard
	FlagKey string
	EnvKey  string
}

func guardView(g *models.SafetyGuard) map[string]any {
	return map[string]any{"id": g.ID, "metric": g.Metric, "comparator": g.Comparator, "threshold": g.Threshold,
		"window_seconds": g.WindowSeconds, "min_sample": g.MinSample, "action": g.Action, "cooldown_seconds": g.CooldownSeconds}
}

// Create adds a guard to a flag in an environment and returns its trigger secret, shown once.
func (g *Guards) Create(ctx context.Context, sc Scope, projectRef, flagRef, envRef string, in GuardInput) (*Guard, string, error) {
	if err := in.validate(); err != nil {
		return nil, "", err
	}
	secret := keys.Secret(TriggerPrefix)
	hash := keys.Hash(secret)
	var out *Guard
	err := g.s.tx(ctx, func(tx *gorm.DB) error {
		cfg, err := g.s.Flags.resolveConfig(tx, sc, projectRef, flagRef, envRef)
		if err != nil {
			return err
		}
		now := g.s.now()
		row := &models.SafetyGuard{ID: models.NewID(), OrgID: sc.OrgID, ProjectID: cfg.Flag.ProjectID, EnvironmentID: cfg.Environment.ID,
			ConfigID: cfg.ID, Metric: in.Metric, Comparator: in.Comparator, Threshold: in.Threshold,
			WindowSeconds: int(in.Window / time.Second), MinSample: in.MinSample, Action: in.Action,
			CooldownSeconds: int(in.Cooldown / time.Second), TriggerHash: &hash, CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := models.Create(tx, "guard", row); err != nil {
			return err
		}
		out = &Guard{SafetyGuard: *row, FlagKey: cfg.Flag.Key, EnvKey: cfg.Environment.Key}
		return g.s.audit(tx, sc, "guard.created", "guard", row.ID, cfg.Flag.Key+"/"+cfg.Environment.Key, nil, guardView(row))
	})
	return out, secret, err
}

func (g *Guards) resolve(db *gorm.DB, sc Scope, projectRef, flagRef, envRef, id string) (*Config, *models.SafetyGuard, error) {
	cfg, err := g.s.Flags.resolveConfig(db, sc, projectRef, flagRef, envRef)
	if err != nil {
		return nil, nil, err
	}
	var row models.SafetyGuard
	if err := db.Where("org_id = ? AND config_id = ? AND id = ?", sc.OrgID, cfg.ID, id).Take(&row).Error; err != nil {
		return nil, nil, models.Translate(err, "guard")
	}
	return cfg, &row, nil
}

// List returns a flag's guards in an environment.
func (g *Guards) List(ctx context.Context, sc Scope, projectRef, flagRef, envRef string) ([]Guard, error) {
	db := g.s.db.WithContext(ctx)
	cfg, err := g.s.Flags.resolveConfig(db, sc, projectRef, flagRef, envRef)
	if err != nil {
		return nil, err
	}
	var rows []models.SafetyGuard
	if err := db.Where("org_id = ? AND config_id = ?", sc.OrgID, cfg.ID).Order("id").Find(&rows).Error; err != nil {
		return nil, models.Translate(err, "guards")
	}
	out := make([]Guard, len(rows))
	for i := range rows {
		out[i] = Guard{SafetyGuard: rows[i], FlagKey: cfg.Flag.Key, EnvKey: cfg.Environment.Key}
	}
	return out, nil
}

// Get returns one guard.
func (g *Guards) Get(ctx context.Context, sc Scope, projectRef, flagRef, envRef, id string) (*Guard, error) {
	cfg, row, err := g.resolve(g.s.db.WithContext(ctx), sc, projectRef, flagRef, envRef, id)
	if err != nil {
		return nil, err
	}
	return &Guard{SafetyGuard: *row, FlagKey: cfg.Flag.Key, EnvKey: cfg.Environment.Key}, nil
}

// Delete removes a guard (and its trigger URL).
func (g *Guards) Delete(ctx context.Context, sc Scope, projectRef, flagRef, envRef, id string) error {
	return g.s.tx(ctx, func(tx *gorm.DB) error {
		cfg, row, err := g.resolve(tx, sc, projectRef, flagRef, envRef, id)
		if err != nil {
			return err
		}
		if err := tx.Where("id = ?", row.ID).Delete(&models.SafetyGuard{}).Error; err != nil {
			return models.Translate(err, "guard")
		}
		return g.s.audit(tx, sc, "guard.deleted", "guard", row.ID, cfg.Flag.Key+"/"+cfg.Environment.Key, guardView(row), nil)
	})
}

// RotateTrigger replaces a guard's trigger secret; the old URL stops working at once.
func (g *Guards) RotateTrigger(ctx context.Context, sc Scope, projectRef, flagRef, envRef, id string) (*Guard, string, error) {
	secret := keys.Secret(TriggerPrefix)
	hash := keys.Hash(secret)
	var out *Guard
	err := g.s.tx(ctx, func(tx *gorm.DB) error {
		cfg, row, err := g.resolve(tx, sc, projectRef, flagRef, envRef, id)
		if err != nil {
			return err
		}
		if err := tx.Model(&models.SafetyGuard{}).Where("id = ?", row.ID).Update("trigger_hash", hash).Error; err != nil {
			return models.Translate(err, "guard")
		}
		row.TriggerHash = &hash
		out = &Guard{SafetyGuard: *row, FlagKey: cfg.Flag.Key, EnvKey: cfg.Environment.Key}
		return g.s.audit(tx, sc, "guard.trigger_rotated", "guard", row.ID, cfg.Flag.Key+"/"+cfg.Environment.Key, nil, nil)
	})
	return out, secret, err
}

// Measurement is what a guard saw. OffRate is the control cohort's error rate (the default
// variation's) whenever it had traffic in the window, whatever the metric.
type Measurement struct {
	Value     float64
	Sample    int64
	OnRate    float64
	OffRate   float64
	OffSample int64
	Reporters []Reporter
	onVariant string
}

// Reporter is an SDK key that reported into a cohort a guard read, and how much it reported there.
type Reporter struct {
	SDKKeyID  string `json:"sdk_key_id"`
	SDKKey    string `json:"sdk_key"` // masked: "srv-…wxyz"
	Variation string `json:"variation"`
	Errors    int64  `json:"errors"`
	Sample    int64  `json:"sample"`
}

func (m Measurement) String() string {
	return fmt.Sprintf("value %.4g (on-cohort error rate %.4g, control %.4g, sample %d, control sample %d)", m.Value, m.OnRate, m.OffRate,
		m.Sample, m.OffSample)
}

// reportedBy names the keys that reported into the on cohort, for the rollback's reason.
func (m Measurement) reportedBy() string {
	var names []string
	for _, r := range m.Reporters {
		if r.Variation == m.onVariant && !slices.Contains(names, r.SDKKey) {
			names = append(names, r.SDKKey)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "; reported by " + strings.Join(names, ", ")
}

// guardWatch is a guard of a running plan, with what the check needs.
type guardWatch struct {
	models.SafetyGuard
	PlanID           string
	FlagKey          string
	PlanVariation    string
	OnVariation      string
	DefaultVariation string
	FlagType         string
	FlagVariations   string // JSON
}

// control is the variation the users outside the rollout get: the cohort the rolled-out one is
// compared with ("" when there is none to compare with).
func (w *guardWatch) control(on string) string {
	f := &models.Flag{Type: w.FlagType}
	_ = json.Unmarshal([]byte(w.FlagVariations), &f.Variations)
	rest := restOf(f, &models.FlagConfig{DefaultVariation: w.DefaultVariation, OnVariation: w.OnVariation}, on)
	if rest == on {
		return ""
	}
	return rest
}

// cohorts indexes metric buckets by environment, flag and variation.
type cohorts map[[3]string][]models.MetricBucket

// measure totals one cohort's buckets at or after from, and what each reporting key contributed.
func (c cohorts) measure(env, flag, variation string, from time.Time) (failed, total int64, reporters []Reporter) {
	byKey := map[string]int{}
	for _, b := range c[[3]string{env, flag, variation}] {
		if b.Minute.Before(from) {
			continue
		}
		failed += b.Errors
		total += b.Errors + b.Successes
		if b.SDKKeyID == "" {
			continue // reported before reporters were recorded
		}
		i, ok := byKey[b.SDKKeyID]
		if !ok {
			i = len(reporters)
			byKey[b.SDKKeyID] = i
			reporters = append(reporters, Reporter{SDKKeyID: b.SDKKeyID, SDKKey: b.SDKKeyMasked, Variation: variation})
		}
		reporters[i].Errors += b.Errors
		reporters[i].Sample += b.Errors + b.Successes
	}
	return failed, total, reporters
}

// Check evaluates every guard of every running plan once, rolling back those breached. It reads
// the metrics of all of them in one query. It returns how many plans it rolled back.
func (g *Guards) Check(ctx context.Context) (int, error) {
	db := g.s.db.WithContext(ctx)
	var watches []guardWatch
	err := db.Table("safety_guards").Select(`safety_guards.*, rollout_plans.id AS plan_id, flags.key AS flag_key,
		rollout_plans.variation AS plan_variation, flag_configs.on_variation AS on_variation, flag_configs.default_variation AS default_variation,
		flags.type AS flag_type, flags.variations AS flag_variations`).
		Joins("JOIN rollout_plans ON rollout_plans.config_id = safety_guards.config_id").
		Joins("JOIN flag_configs ON flag_configs.id = safety_guards.config_id").
		Joins("JOIN flags ON flags.id = flag_configs.flag_id").
		Where("rollout_plans.state = ?", models.PlanRunning).Scan(&watches).Error
	if err != nil || len(watches) == 0 {
		return 0, models.Translate(err, "guards")
	}
	now := g.s.now()
	maxWindow, envs := 0, map[string]bool{}
	for _, w := range watches {
		maxWindow = max(maxWindow, w.WindowSeconds)
		envs[w.EnvironmentID] = true
	}
	envIDs := make([]string, 0, len(envs))
	for id := range envs {
		envIDs = append(envIDs, id)
	}
	var buckets []models.MetricBucket
	since := now.Add(-time.Duration(maxWindow) * time.Second).Truncate(time.Minute)
	if err := db.Where("environment_id IN ? AND minute >= ?", envIDs, since).Find(&buckets).Error; err != nil {
		return 0, models.Translate(err, "metrics")
	}
	byCohort := cohorts{}
	for _, b := range buckets {
		k := [3]string{b.EnvironmentID, b.FlagKey, b.Variation}
		byCohort[k] = append(byCohort[k], b)
	}
	rolledBack := 0
	done := map[string]bool{}
	hook := g.s.hook()
	for _, w := range watches {
		if done[w.PlanID] {
			continue
		}
		if w.LastTriggeredAt != nil && now.Before(w.LastTriggeredAt.Add(time.Duration(w.CooldownSeconds)*time.Second)) {
			hook.GuardChecked("cooling_down")
			continue
		}
		from := now.Add(-time.Duration(w.WindowSeconds) * time.Second).Truncate(time.Minute)
		on := w.PlanVariation
		if on == "" {
			on = w.OnVariation
		}
		onErr, onTotal, onReporters := byCohort.measure(w.EnvironmentID, w.FlagKey, on, from)
		if onTotal < int64(w.MinSample) || onTotal == 0 {
			hook.GuardChecked("too_few_samples")
			continue
		}
		m := Measurement{Sample: onTotal, OnRate: float64(onErr) / float64(onTotal), Reporters: append([]Reporter{}, onReporters...), onVariant: on}
		m.Value = m.OnRate
		control := w.control(on)
		var (
			offErr, offTotal int64
			offReporters     []Reporter
		)
		if control != "" {
			offErr, offTotal, offReporters = byCohort.measure(w.EnvironmentID, w.FlagKey, control, from)
		}
		if offTotal > 0 {
			m.OffRate, m.OffSample = float64(offErr)/float64(offTotal), offTotal
		}
		if w.Metric == MetricErrorRateRatio {
			if control == "" || offTotal < int64(w.MinSample) {
				hook.GuardChecked("too_few_samples") // nothing to compare with, or too few samples to judge
				continue
			}
			m.Value = m.OnRate / max(m.OffRate, 1e-9)
			m.Reporters = append(m.Reporters, offReporters...) // the control cohort's figures moved the ratio too
		}
		breached := m.Value > w.Threshold || (w.Comparator == "gte" && m.Value == w.Threshold)
		if !breached {
			hook.GuardChecked("ok")
			continue
		}
		hook.GuardChecked("breached")
		slices.SortStableFunc(m.Reporters, func(a, b Reporter) int { return cmp.Compare(b.Sample, a.Sample) })
		reason := fmt.Sprintf("guard %s: %s %s %.4g breached: %s over %ds%s", w.ID, w.Metric, w.Comparator, w.Threshold, m, w.WindowSeconds, m.reportedBy())
		ok, err := g.rollback(ctx, w.SafetyGuard, reason, map[string]any{"guard_id": w.ID, "metric": w.Metric, "value": m.Value,
			"threshold": w.Threshold, "sample": m.Sample, "on_rate": m.OnRate, "control_rate": m.OffRate, "control_sample": m.OffSample,
			"reporters": m.Reporters}, true)
		if err != nil {
			return rolledBack, err
		}
		if ok {
			rolledBack++
			done[w.PlanID] = true
		}
	}
	return rolledBack, nil
}

// rollback performs a guard's action in one transaction. With onlyRunning, nothing happens unless
// the configuration's plan is running (a guard check); a trigger acts whatever the plan does.
func (g *Guards) rollback(ctx context.Context, guard models.SafetyGuard, reason string, figures map[string]any, onlyRunning bool) (bool, error) {
	acted := false
	var plan *models.RolloutPlan
	err := g.s.tx(ctx, func(tx *gorm.DB) error {
		acted, plan = false, nil
		// Locks in the one order: the project, the plan, then the configuration.
		if err := models.LockProject(tx, guard.OrgID, guard.ProjectID); err != nil {
			return err
		}
		cur, err := models.PlanOfConfig(tx, guard.OrgID, guard.ConfigID)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return err
		}
		if cur != nil {
			if plan, err = models.PlanByID(tx, cur.ID, true); err != nil {
				return err
			}
		}
		cfg, err := g.s.Rollouts.loadConfig(tx, guard.OrgID, guard.ConfigID)
		if err != nil {
			return err
		}
		running := plan != nil && plan.State == models.PlanRunning
		if onlyRunning && !running {
			return nil
		}
		sc := Scope{OrgID: guard.OrgID, Principal: &Principal{Kind: PrincipalSystem, Name: "safety guard"}}
		after := cfg.FlagConfig
		target := engine.Status(cfg.Status)
		variation := ""
		if plan != nil {
			variation = plan.Variation
		}
		switch guard.Action {
		case ActionKillSwitch:
			if target == engine.Active || target == engine.Enabled || target == engine.RolledOut {
				target = engine.Disabled
			}
		case ActionZero:
			after.Fallthrough = serveWeight(cfg, variation, 0)
		case ActionPreviousStage:
			weight := 0
			if plan != nil {
				var applied []models.RolloutStage
				for _, s := range plan.Stages {
					if s.AppliedAt != nil {
						applied = append(applied, s)
					}
				}
				if len(applied) >= 2 {
					weight = applied[len(applied)-2].Weight
				}
			}
			after.Fallthrough = serveWeight(cfg, variation, weight)
		}
		if _, err := g.s.Flags.write(tx, sc, cfg, cfg.FlagConfig, after, target, 0); err != nil {
			return err
		}
		now := g.s.now()
		if running {
			if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "rollout_plans", What: "rollout plan", OrgID: guard.OrgID,
				ID: plan.ID, Current: plan.Version}, now, map[string]any{"state": models.PlanRolledBack, "finished_at": now, "reason": reason}); err != nil {
				return err
			}
			plan.State = models.PlanRolledBack
			if err := g.s.Rollouts.requestSync(tx, plan.OrgID, plan.ID, models.OutboxUnschedule); err != nil {
				return err
			}
		}
		if err := tx.Model(&models.SafetyGuard{}).Where("id = ?", guard.ID).Update("last_triggered_at", now).Error; err != nil {
			return models.Translate(err, "guard")
		}
		figures["reason"], figures["action"] = reason, guard.Action
		acted = true
		return g.s.audit(tx, sc, ActionAutoRolledBack, "flag_config", cfg.ID, cfg.Flag.Key+"/"+cfg.Environment.Key, nil, figures)
	})
	if err != nil || !acted {
		return false, err
	}
	cause := "trigger" // a guard check acts only on running plans; a trigger URL acts whatever they do
	if onlyRunning {
		cause = "guard"
	}
	g.s.hook().RolledBack(cause)
	g.s.changed(ctx, guard.OrgID, guard.ProjectID)
	return true, nil
}

// Trigger performs the action of the guard whose trigger secret this is: any monitoring tool can
// POST to its URL to roll back. Unknown secrets are not found; calls are rate-limited per secret.
func (g *Guards) Trigger(ctx context.Context, secret, ip string) (*Guard, error) {
	notFound := errs.NotFoundf("no trigger has this URL")
	if len(secret) < len(TriggerPrefix)+10 || secret[:len(TriggerPrefix)] != TriggerPrefix {
		return nil, notFound
	}
	hash := keys.Hash(secret)
	if err := g.s.rateLimit(ctx, "trigger:"+hash, 30, time.Minute); err != nil {
		return nil, err
	}
	var row models.SafetyGuard
	if err := g.s.db.WithContext(ctx).Where("trigger_hash = ?", hash).Take(&row).Error; err != nil {
		if errors.Is(models.Translate(err, "guard"), errs.ErrNotFound) {
			return nil, notFound
		}
		return nil, models.Translate(err, "guard")
	}
	reason := fmt.Sprintf("guard %s: its trigger URL was called (from %s)", row.ID, ip)
	if _, err := g.rollback(ctx, row, reason, map[string]any{"guard_id": row.ID, "trigger": true, "ip": ip}, false); err != nil {
		return nil, err
	}
	return &Guard{SafetyGuard: row}, nil
}
