package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// HealthResponse says whether the process (and its dependencies) are fine.
type HealthResponse struct {
	Status string            `json:"status" example:"ok"`
	Checks map[string]string `json:"checks,omitempty"`
}

// healthz godoc
//
//	@Summary	Liveness
//	@Tags		health
//	@Produce	json
//	@Success	200	{object}	HealthResponse
//	@Router		/healthz [get]
func (h *handlers) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, HealthResponse{Status: "ok"})
}

// readyz godoc
//
//	@Summary		Readiness
//	@Description	200 when the database and Redis answer, 503 otherwise.
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	HealthResponse
//	@Failure		503	{object}	HealthResponse
//	@Router			/readyz [get]
func (h *handlers) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	r := HealthResponse{Status: "ok", Checks: map[string]string{}}
	code := http.StatusOK
	for name, err := range h.svc.Ping(ctx) {
		if err != nil {
			r.Checks[name] = "unreachable"
			r.Status, code = "unavailable", http.StatusServiceUnavailable
			logger(c).Warn("readiness check failed", "check", name, "err", err)
		} else {
			r.Checks[name] = "ok"
		}
	}
	c.JSON(code, r)
}
