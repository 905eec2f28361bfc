package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
)

// listAuditEvents godoc
//
//	@Summary		List audit events
//	@Description	Who did what to which resource, with the state before and after (secrets never included), newest first.
//	@Tags			audit
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org			path		string	true	"organisation slug or id"
//	@Param			resource	query		string	false	"resource id, key or type"
//	@Param			actor		query		string	false	"actor id or name"
//	@Param			action		query		string	false	"action, like project.created"
//	@Param			since		query		string	false	"RFC 3339 time, inclusive"
//	@Param			until		query		string	false	"RFC 3339 time, exclusive"
//	@Param			limit		query		int		false	"page size (1–200, default 50)"
//	@Param			cursor		query		string	false	"next_cursor of the previous page"
//	@Success		200			{object}	AuditEventList
//	@Failure		403			{object}	ErrorResponse
//	@Failure		404			{object}	ErrorResponse
//	@Failure		422			{object}	ErrorResponse
//	@Failure		429			{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/audit-events [get]
func (h *handlers) listAuditEvents(c *gin.Context) {
	opt, err := listOptions(c)
	if err != nil {
		fail(c, err)
		return
	}
	f := models.AuditFilter{Resource: c.Query("resource"), Actor: c.Query("actor"), Action: c.Query("action")}
	for name, dst := range map[string]**time.Time{"since": &f.Since, "until": &f.Until} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				fail(c, errs.Field(name, "must be an RFC 3339 time like 2026-01-02T15:04:05Z"))
				return
			}
			t = t.UTC()
			*dst = &t
		}
	}
	page, err := h.svc.Audit.List(c.Request.Context(), scopeOf(c), f, opt)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, AuditEventList{Items: mapItems(page.Items, toAuditEvent), NextCursor: page.NextCursor})
}
