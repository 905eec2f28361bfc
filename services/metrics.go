package services

import (
	"context"
	"fmt"
	"time"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
)

// Metric limits: SDKs send batches, never one request per evaluation.
const (
	MaxMetricPoints = 1000
	MaxMetricCount  = 1_000_000_000
	metricsMaxAge   = time.Hour
	metricsMaxAhead = 5 * time.Minute
	// MetricsRetention is how long per-minute buckets are kept (housekeeping prunes older ones).
	MetricsRetention = 7 * 24 * time.Hour
	// MetricsPerKeyPerMinute is how many batches one SDK key may report a minute (429 beyond): a
	// fleet of a hundred instances flushing every ten seconds stays well below it.
	MetricsPerKeyPerMinute = 1200
)

// MetricPoint is one flag variation's outcomes reported by an SDK.
type MetricPoint struct {
	FlagKey     string
	Variation   string
	Evaluations int64
	Errors      int64
	Successes   int64
	Timestamp   *time.Time // default now; at most an hour old
}

// Metrics ingests evaluation outcomes into per-minute buckets.
type Metrics struct{ s *Services }

// Ingest validates a batch reported with an SDK key and adds it to the key's environment's minute
// buckets, in one statement. These figures can roll a plan back, so only a server key may report
// them (a client key ships in browsers), at most MetricsPerKeyPerMinute batches a minute; each
// bucket records which key reported it.
func (m *Metrics) Ingest(ctx context.Context, key *dataplane.SDKKey, points []MetricPoint) (int, error) {
	if key.Kind != models.SDKServer {
		return 0, errs.Forbiddenf("metrics can roll back a rollout: report them with the environment's server-side SDK key (srv-…)")
	}
	if err := m.s.rateLimit(ctx, "metrics:"+key.ID, MetricsPerKeyPerMinute, time.Minute); err != nil {
		return 0, err
	}
	envID, masked := key.EnvironmentID, keys.Mask(key.Key)
	var v errs.Validation
	if len(points) == 0 || len(points) > MaxMetricPoints {
		v.Add("metrics", "send 1 to %d points", MaxMetricPoints)
	}
	now := m.s.now()
	agg := map[[3]string]*models.MetricBucket{}
	for i, p := range points {
		field := fmt.Sprintf("metrics[%d]", i)
		if p.FlagKey == "" || len(p.FlagKey) > 64 {
			v.Add(field+".flag_key", "is required (at most 64 characters)")
		}
		if p.Variation == "" || len(p.Variation) > 64 {
			v.Add(field+".variation", "is required (at most 64 characters)")
		}
		for name, n := range map[string]int64{"evaluations": p.Evaluations, "errors": p.Errors, "successes": p.Successes} {
			if n < 0 || n > MaxMetricCount {
				v.Add(field+"."+name, "must be between 0 and %d", MaxMetricCount)
			}
		}
		at := now
		if p.Timestamp != nil {
			at = p.Timestamp.UTC()
			if at.Before(now.Add(-metricsMaxAge)) || at.After(now.Add(metricsMaxAhead)) {
				v.Add(field+".timestamp", "must be within the last hour")
			}
		}
		minute := at.Truncate(time.Minute)
		k := [3]string{p.FlagKey, p.Variation, minute.Format(time.RFC3339)}
		b := agg[k]
		if b == nil {
			b = &models.MetricBucket{EnvironmentID: envID, FlagKey: p.FlagKey, Variation: p.Variation, Minute: minute,
				SDKKeyID: key.ID, SDKKeyMasked: masked}
			agg[k] = b
		}
		b.Evaluations += p.Evaluations
		b.Errors += p.Errors
		b.Successes += p.Successes
	}
	if err := v.Err(); err != nil {
		return 0, err
	}
	rows := make([]models.MetricBucket, 0, len(agg))
	for _, b := range agg {
		rows = append(rows, *b)
	}
	return len(points), models.AddMetrics(m.s.db.WithContext(ctx), rows)
}

// PruneMetrics deletes buckets older than the retention.
func (h *Housekeeping) PruneMetrics(ctx context.Context) (int64, error) {
	return models.PruneMetrics(h.s.db.WithContext(ctx), h.s.now().Add(-MetricsRetention))
}
