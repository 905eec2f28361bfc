package models

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/vanehq/vane/internal/errs"
)

// Rollout plan states.
const (
	PlanDraft      = "DRAFT"
	PlanRunning    = "RUNNING"
	PlanPaused     = "PAUSED"
	PlanCompleted  = "COMPLETED"
	PlanCancelled  = "CANCELLED"
	PlanRolledBack = "ROLLED_BACK"
)

// RolloutPlan moves one flag configuration through scheduled percentages.
type RolloutPlan struct {
	ID            string `gorm:"primaryKey"`
	OrgID         string
	ProjectID     string
	EnvironmentID string
	FlagID        string
	ConfigID      string
	State         string
	Variation     string // the variation rolled out; "" means the configuration's on variation
	MarkRolledOut bool
	Reason        string
	StartedAt     *time.Time
	PausedAt      *time.Time
	FinishedAt    *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       int64
	Stages        []RolloutStage `gorm:"foreignKey:PlanID"`
}

// RolloutStage is one percentage of a plan, due at a time or after a delay from the start.
type RolloutStage struct {
	ID           string `gorm:"primaryKey"`
	PlanID       string
	Position     int
	Weight       int    // thousandths of a percent
	Variation    string // this stage's variation; "" means the plan's
	At           *time.Time
	AfterSeconds *int64
	DueAt        *time.Time
	AppliedAt    *time.Time
}

// SafetyGuard watches a metric of a flag configuration and rolls it back when it is breached.
type SafetyGuard struct {
	ID              string `gorm:"primaryKey"`
	OrgID           string
	ProjectID       string
	EnvironmentID   string
	ConfigID        string
	Metric          string
	Comparator      string
	Threshold       float64
	WindowSeconds   int
	MinSample       int
	Action          string
	CooldownSeconds int
	TriggerHash     *string
	LastTriggeredAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Version         int64
}

// MetricBucket is one minute of one flag variation's outcomes in an environment, as one SDK key
// reported them. SDKKeyMasked is the key's masked form ("srv-…wxyz"), never the secret, kept so a
// rollback can name the reporter after the key itself was rotated away.
type MetricBucket struct {
	EnvironmentID string    `gorm:"primaryKey"`
	FlagKey       string    `gorm:"primaryKey"`
	Variation     string    `gorm:"primaryKey"`
	Minute        time.Time `gorm:"primaryKey"`
	SDKKeyID      string    `gorm:"primaryKey;column:sdk_key_id"`
	SDKKeyMasked  string    `gorm:"column:sdk_key_masked"`
	Evaluations   int64
	Errors        int64
	Successes     int64
}

// PlanOfConfig loads a configuration's plan with its stages in order.
func PlanOfConfig(db *gorm.DB, orgID, configID string) (*RolloutPlan, error) {
	var p RolloutPlan
	err := db.Preload("Stages", func(q *gorm.DB) *gorm.DB { return q.Order("position") }).
		Where("org_id = ? AND config_id = ?", orgID, configID).Take(&p).Error
	if err != nil {
		return nil, Translate(err, "rollout plan")
	}
	return &p, nil
}

// PlanByID loads a plan with its stages, locking it against concurrent stage applications on
// Postgres (SQLite write transactions are exclusive already).
func PlanByID(tx *gorm.DB, id string, lock bool) (*RolloutPlan, error) {
	var p RolloutPlan
	q := tx
	if lock && tx.Name() == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Where("id = ?", id).Take(&p).Error; err != nil {
		return nil, Translate(err, "rollout plan")
	}
	if err := tx.Where("plan_id = ?", id).Order("position").Find(&p.Stages).Error; err != nil {
		return nil, Translate(err, "rollout stages")
	}
	return &p, nil
}

// AddMetrics adds outcome counts to their minute buckets, one statement for the whole batch.
func AddMetrics(db *gorm.DB, rows []MetricBucket) error {
	if len(rows) == 0 {
		return nil
	}
	err := db.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "environment_id"}, {Name: "flag_key"}, {Name: "variation"}, {Name: "minute"}, {Name: "sdk_key_id"}},
		DoUpdates: clause.Assignments(map[string]any{
			"evaluations": gorm.Expr("metric_buckets.evaluations + excluded.evaluations"),
			"errors":      gorm.Expr("metric_buckets.errors + excluded.errors"),
			"successes":   gorm.Expr("metric_buckets.successes + excluded.successes"),
		}),
	}).CreateInBatches(rows, 500).Error
	return Translate(err, "metrics")
}

// PruneMetrics deletes buckets older than cutoff.
func PruneMetrics(db *gorm.DB, cutoff time.Time) (int64, error) {
	res := db.Where("minute < ?", cutoff).Delete(&MetricBucket{})
	return res.RowsAffected, Translate(res.Error, "metrics")
}

// LockConfigForWrite takes, in a write transaction, the locks a change to a flag configuration
// needs, always in the same order — the project (LockProject), the configuration's rollout plan,
// then the configuration — and returns the configuration as it is now. Postgres takes row locks;
// SQLite write transactions are exclusive already.
func LockConfigForWrite(tx *gorm.DB, orgID, configID string) (*FlagConfig, error) {
	if tx.Name() == "postgres" {
		var projects []string
		if err := tx.Model(&FlagConfig{}).Where("org_id = ? AND id = ?", orgID, configID).Pluck("project_id", &projects).Error; err != nil {
			return nil, Translate(err, "flag configuration")
		}
		if len(projects) == 0 {
			return nil, errs.NotFoundf("flag configuration not found")
		}
		if err := LockProject(tx, orgID, projects[0]); err != nil {
			return nil, err
		}
		var ids []string
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Model(&RolloutPlan{}).
			Where("config_id = ?", configID).Pluck("id", &ids).Error; err != nil {
			return nil, Translate(err, "rollout plan")
		}
	}
	q := tx
	if tx.Name() == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "NO KEY UPDATE"})
	}
	var c FlagConfig
	if err := q.Where("org_id = ? AND id = ?", orgID, configID).Take(&c).Error; err != nil {
		return nil, Translate(err, "flag configuration")
	}
	return &c, nil
}

// LockPlanForWrite takes the locks a change to a rollout plan needs — its project, then the plan —
// and returns the plan with its stages as it is now.
func LockPlanForWrite(tx *gorm.DB, id string) (*RolloutPlan, error) {
	var head RolloutPlan
	if err := tx.Select("org_id", "project_id").Where("id = ?", id).Take(&head).Error; err != nil {
		return nil, Translate(err, "rollout plan")
	}
	if err := LockProject(tx, head.OrgID, head.ProjectID); err != nil {
		return nil, err
	}
	return PlanByID(tx, id, true)
}

// SetStageDue moves a stage's due time.
func SetStageDue(tx *gorm.DB, stageID string, due *time.Time) error {
	return Translate(tx.Model(&RolloutStage{}).Where("id = ?", stageID).Update("due_at", due).Error, "rollout stage")
}

// OverdueStage is the next stage of a running plan, due before a time.
type OverdueStage struct {
	PlanID   string
	Position int
}

// OverdueStages lists, for every running plan whose next stage was due before cutoff, that stage.
// (A plan's due times never decrease from one stage to the next, so the first overdue unapplied
// stage is its next one.)
func OverdueStages(db *gorm.DB, cutoff time.Time) ([]OverdueStage, error) {
	var out []OverdueStage
	err := db.Table("rollout_stages").Select("rollout_stages.plan_id, MIN(rollout_stages.position) AS position").
		Joins("JOIN rollout_plans ON rollout_plans.id = rollout_stages.plan_id").
		Where("rollout_plans.state = ? AND rollout_stages.applied_at IS NULL AND rollout_stages.due_at < ?", PlanRunning, cutoff).
		Group("rollout_stages.plan_id").Order("rollout_stages.plan_id").Scan(&out).Error
	return out, Translate(err, "rollout stages")
}
