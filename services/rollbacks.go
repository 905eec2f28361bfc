package services

import (
	"context"
	"encoding/json"
	"time"

	"github.com/vanehq/vane/models"
)

// ActionAutoRolledBack is the audit action of every rollback a guard performs (a breach or its
// trigger URL); the rollback history of a flag in an environment is read from these events.
const ActionAutoRolledBack = "feature_flag.auto_rolled_back"

// maxRollbacks is how many of the latest rollbacks the history returns.
const maxRollbacks = 100

// Rollback is one automatic rollback: when, which guard, what it did and why, and who reported the
// figures that moved it (the SDK keys, or the address that called the trigger URL).
type Rollback struct {
	At        time.Time
	GuardID   string     `json:"guard_id"`
	Action    string     `json:"action"`
	Reason    string     `json:"reason"`
	Metric    string     `json:"metric"`
	Value     float64    `json:"value"`
	Threshold float64    `json:"threshold"`
	Sample    int64      `json:"sample"`
	Trigger   bool       `json:"trigger"`
	IP        string     `json:"ip"`
	Reporters []Reporter `json:"reporters"`
}

// Rollbacks returns the rollbacks of a flag in an environment, newest first: what the guards' audit
// events recorded, readable by whoever may read the flag's rollout (the audit log itself is ADMIN's).
func (g *Guards) Rollbacks(ctx context.Context, sc Scope, projectRef, flagRef, envRef string) ([]Rollback, error) {
	db := g.s.db.WithContext(ctx)
	cfg, err := g.s.Flags.resolveConfig(db, sc, projectRef, flagRef, envRef)
	if err != nil {
		return nil, err
	}
	rows, err := models.ListAuditEvents(db, sc.OrgID, models.AuditFilter{Resource: cfg.ID, Action: ActionAutoRolledBack},
		models.Page{Limit: maxRollbacks})
	if err != nil {
		return nil, err
	}
	if len(rows) > maxRollbacks {
		rows = rows[:maxRollbacks]
	}
	out := make([]Rollback, len(rows))
	for i, ev := range rows {
		if ev.AfterJSON != nil {
			_ = json.Unmarshal([]byte(*ev.AfterJSON), &out[i]) // written by rollback; an unreadable one keeps its time
		}
		out[i].At = ev.CreatedAt
	}
	return out, nil
}
