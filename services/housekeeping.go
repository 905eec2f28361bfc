package services

import (
	"context"
	"time"

	"github.com/vanehq/vane/models"
)

// Housekeeping removes what can never be used again. The worker runs it periodically.
type Housekeeping struct{ s *Services }

// refreshRetention keeps expired refresh tokens for a day so a late reuse is still recognised.
const refreshRetention = 24 * time.Hour

// PruneRefreshTokens deletes refresh tokens that expired more than a day ago.
func (h *Housekeeping) PruneRefreshTokens(ctx context.Context) (int64, error) {
	return models.PruneRefreshTokens(h.s.db.WithContext(ctx), h.s.now().Add(-refreshRetention))
}

// ExpireSDKKeys deletes rotated SDK keys whose grace period is over.
func (h *Housekeeping) ExpireSDKKeys(ctx context.Context) (int64, error) {
	return models.DeleteExpiredSDKKeys(h.s.db.WithContext(ctx), h.s.now())
}

// ConfigChangesRetention is how long the history of configuration changes is kept. A node whose
// snapshot of an environment is older (it was cut off that long) loads the environment whole.
const ConfigChangesRetention = 24 * time.Hour

// PruneConfigChanges deletes the history of configuration changes past its retention.
func (h *Housekeeping) PruneConfigChanges(ctx context.Context) (int64, error) {
	return models.PruneConfigChanges(h.s.db.WithContext(ctx), h.s.now().Add(-ConfigChangesRetention))
}
