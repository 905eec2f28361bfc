package services

import (
	"context"

	"github.com/vanehq/vane/models"
)

// Audit reads the organisation's audit log. Writes happen inside each service's transaction.
type Audit struct{ s *Services }

// List returns audit events, newest first.
func (a *Audit) List(ctx context.Context, sc Scope, f models.AuditFilter, opt ListOptions) (Page[models.AuditEvent], error) {
	pg, err := opt.page(true)
	if err != nil {
		return Page[models.AuditEvent]{}, err
	}
	rows, err := models.ListAuditEvents(a.s.db.WithContext(ctx), sc.OrgID, f, pg)
	if err != nil {
		return Page[models.AuditEvent]{}, err
	}
	return paged(rows, pg.Limit, func(e models.AuditEvent) string { return e.ID }), nil
}
