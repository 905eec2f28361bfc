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
