package models

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// FlagInsight is one hour of one flag configuration's evaluations that served one variation.
type FlagInsight struct {
	ConfigID      string `gorm:"primaryKey"`
	EnvironmentID string
	Variation     string    `gorm:"primaryKey"`
	Hour          time.Time `gorm:"primaryKey"`
	Evaluations   int64
}

// AddInsights adds hourly counts to what is stored, one upsert per row.
func AddInsights(db *gorm.DB, rows []FlagInsight) error {
	if len(rows) == 0 {
		return nil
	}
	err := db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "config_id"}, {Name: "hour"}, {Name: "variation"}},
		DoUpdates: clause.Assignments(map[string]any{"evaluations": gorm.Expr("flag_insights.evaluations + excluded.evaluations")}),
	}).CreateInBatches(rows, 500).Error
	return Translate(err, "insights")
}

// InsightsOf returns a configuration's hourly counts in [from, to), oldest first.
func InsightsOf(db *gorm.DB, configID string, from, to time.Time) ([]FlagInsight, error) {
	var rows []FlagInsight
	err := db.Where("config_id = ? AND hour >= ? AND hour < ?", configID, from, to).Order("hour, variation").Find(&rows).Error
	return rows, Translate(err, "insights")
}

// AddEvaluations adds n evaluations to a flag configuration's total and moves its
// last_evaluated_at forward to last.
func AddEvaluations(db *gorm.DB, configID string, n int64, last time.Time) error {
	err := db.Model(&FlagConfig{}).Where("id = ?", configID).Updates(map[string]any{
		"evaluations":       gorm.Expr("evaluations + ?", n),
		"last_evaluated_at": gorm.Expr("CASE WHEN last_evaluated_at IS NULL OR last_evaluated_at < ? THEN ? ELSE last_evaluated_at END", last, last),
	}).Error
	return Translate(err, "flag configuration")
}
