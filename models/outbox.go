package models

import (
	"time"

	"gorm.io/gorm"
)

// Outbox actions: what a plan change needs from the job queue. Both are carried out the same way
// (the queue is made to match the plan as it is then); the action says why the row was written.
const (
	OutboxSchedule   = "schedule"
	OutboxUnschedule = "unschedule"
)

// RolloutOutbox is one change to a rollout plan whose stages the job queue has yet to reflect. It
// is written in the transaction of the change, so a queue that is down loses nothing, and deleted
// once the queue matches the plan.
type RolloutOutbox struct {
	ID        string `gorm:"primaryKey"`
	OrgID     string
	PlanID    string
	Action    string
	Attempts  int
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName is the outbox's table.
func (RolloutOutbox) TableName() string { return "rollout_outbox" }

// PendingOutbox returns up to limit rows, oldest first.
func PendingOutbox(db *gorm.DB, limit int) ([]RolloutOutbox, error) {
	var rows []RolloutOutbox
	err := db.Order("id").Limit(limit).Find(&rows).Error
	return rows, Translate(err, "rollout outbox")
}

// DeleteOutbox removes rows whose plans the queue now reflects.
func DeleteOutbox(db *gorm.DB, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return Translate(db.Where("id IN ?", ids).Delete(&RolloutOutbox{}).Error, "rollout outbox")
}

// FailOutbox records a failed attempt on rows; they stay pending.
func FailOutbox(db *gorm.DB, ids []string, reason string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	return Translate(db.Model(&RolloutOutbox{}).Where("id IN ?", ids).
		Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_error": reason, "updated_at": now}).Error, "rollout outbox")
}
