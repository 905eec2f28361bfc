package services

import (
	"context"
	"time"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
)

// Insight windows.
const (
	// InsightsDefaultWindow is the window an insights request without from covers.
	InsightsDefaultWindow = 7 * 24 * time.Hour
	// InsightsMaxWindow bounds one request (hourly buckets: 90 days is 2 160 per variation).
	InsightsMaxWindow = 90 * 24 * time.Hour
)

// InsightBucket is one hour's evaluations of a flag in an environment, by variation id.
type InsightBucket struct {
	Hour   time.Time
	Counts map[string]int64
}

// Insights is a flag configuration's evaluations per hour over a window, and its last evaluation.
type Insights struct {
	Buckets         []InsightBucket
	LastEvaluatedAt *time.Time
}

// Insights returns how often each variation of a flag was served in an environment, per hour, in
// [from, to) (hours with no evaluation are left out). A zero to is now; a zero from is seven days
// before to. Counts are recorded by each node's batched flush, so the current minutes may lag.
func (fl *Flags) Insights(ctx context.Context, sc Scope, projectRef, flagRef, envRef string, from, to time.Time) (*Insights, error) {
	if to.IsZero() {
		to = fl.s.now()
	}
	if from.IsZero() {
		from = to.Add(-InsightsDefaultWindow)
	}
	switch {
	case !from.Before(to):
		return nil, errs.Field("from", "must be before to")
	case to.Sub(from) > InsightsMaxWindow:
		return nil, errs.Field("from", "the window is at most 90 days")
	}
	db := fl.s.db.WithContext(ctx)
	cfg, err := fl.resolveConfig(db, sc, projectRef, flagRef, envRef)
	if err != nil {
		return nil, err
	}
	rows, err := models.InsightsOf(db, cfg.ID, from.UTC().Truncate(time.Hour), to.UTC())
	if err != nil {
		return nil, err
	}
	out := &Insights{Buckets: []InsightBucket{}, LastEvaluatedAt: cfg.LastEvaluatedAt}
	for _, r := range rows {
		hour := r.Hour.UTC()
		if n := len(out.Buckets); n == 0 || !out.Buckets[n-1].Hour.Equal(hour) {
			out.Buckets = append(out.Buckets, InsightBucket{Hour: hour, Counts: map[string]int64{}})
		}
		out.Buckets[len(out.Buckets)-1].Counts[r.Variation] += r.Evaluations
	}
	return out, nil
}
