package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// WebhookRequest creates or changes a webhook. events filter by name ("feature_flag.killed"),
// prefix ("feature_flag.*") or "*"; the default is every feature_flag event. secret is generated
// when absent.
type WebhookRequest struct {
	URL    string   `json:"url" example:"https://hooks.example.com/vane"`
	Events []string `json:"events,omitempty" example:"feature_flag.*"`
	Secret string   `json:"secret,omitempty"`
	Active *bool    `json:"active,omitempty"`
}

// WebhookResponse is a webhook; Secret is present only in the response that created it.
type WebhookResponse struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	Version   int64     `json:"version"`
	Secret    string    `json:"secret,omitempty"`
}

func toWebhook(w *models.Webhook, withSecret bool) WebhookResponse {
	r := WebhookResponse{ID: w.ID, URL: w.URL, Events: w.Events, Active: w.Active, CreatedAt: w.CreatedAt, Version: w.Version}
	if withSecret {
		r.Secret = w.Secret
	}
	return r
}

// DeliveryResponse is one delivery and how sending it went. Attempts counts every sending, across
// redeliveries; Redeliveries says how often it was sent again by hand after it failed.
type DeliveryResponse struct {
	ID             string     `json:"id"`
	Event          string     `json:"event"`
	Status         string     `json:"status" enums:"pending,succeeded,failed"`
	Attempts       int        `json:"attempts"`
	Redeliveries   int        `json:"redeliveries"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error,omitempty"`
	LatencyMS      int        `json:"latency_ms"`
	CreatedAt      time.Time  `json:"created_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
}

func toDelivery(d *models.WebhookDelivery) DeliveryResponse {
	return DeliveryResponse{ID: d.ID, Event: d.Event, Status: d.Status, Attempts: d.Attempts, Redeliveries: d.Redeliveries,
		LastStatusCode: d.LastStatusCode, LastError: d.LastError, LatencyMS: d.LatencyMS, CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt}
}

// DeliveryList is a page of a webhook's deliveries, newest first.
type DeliveryList struct {
	Items      []DeliveryResponse `json:"items"`
	NextCursor string             `json:"next_cursor"`
}

// createWebhook godoc
//
//	@Summary		Add a webhook
//	@Description	Events matching the filter are POSTed as JSON with X-Vane-Event, X-Vane-Delivery and X-Vane-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret> (refuse timestamps older than 5 minutes so a captured delivery cannot be replayed). Failures are retried with exponential backoff (8 times). The URL's host is resolved when it is saved: a name that does not resolve, or any address in a reserved range (loopback, private, shared 100.64/10, link-local, documentation, benchmarking 198.18/15, NAT64 64:ff9b::/96, multicast … — the IANA special-purpose registries) is a 422 naming the reason, and every delivery checks the address it dials against the same list. VANE_WEBHOOK_ALLOW_PRIVATE=true allows reserved addresses.
//	@Tags			webhooks
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org		path		string			true	"organisation slug or id"
//	@Param			body	body		WebhookRequest	true	"the webhook"
//	@Success		201		{object}	WebhookResponse
//	@Failure		400		{object}	ErrorResponse
//	@Failure		403		{object}	ErrorResponse
//	@Failure		422		{object}	ErrorResponse
//	@Failure		429		{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/webhooks [post]
func (h *handlers) createWebhook(c *gin.Context) {
	var req WebhookRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	w, err := h.svc.Webhooks.Create(c.Request.Context(), scopeOf(c), services.WebhookInput{URL: req.URL, Events: req.Events, Secret: req.Secret, Active: req.Active})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toWebhook(w, true))
}

// listWebhooks godoc
//
//	@Summary	List webhooks
//	@Tags		webhooks
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org	path		string	true	"organisation slug or id"
//	@Success	200	{array}		WebhookResponse
//	@Failure	403	{object}	ErrorResponse
//	@Failure	429	{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/webhooks [get]
func (h *handlers) listWebhooks(c *gin.Context) {
	ws, err := h.svc.Webhooks.List(c.Request.Context(), scopeOf(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, mapItems(ws, func(w *models.Webhook) WebhookResponse { return toWebhook(w, false) }))
}

// getWebhook godoc
//
//	@Summary	Get a webhook
//	@Tags		webhooks
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		webhook	path		string	true	"webhook id"
//	@Success	200		{object}	WebhookResponse
//	@Failure	404		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/webhooks/{webhook} [get]
func (h *handlers) getWebhook(c *gin.Context) {
	w, err := h.svc.Webhooks.Get(c.Request.Context(), scopeOf(c), c.Param("webhook"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, w.Version)
	c.JSON(http.StatusOK, toWebhook(w, false))
}

// updateWebhook godoc
//
//	@Summary	Change a webhook
//	@Tags		webhooks
//	@Accept		json
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org			path		string			true	"organisation slug or id"
//	@Param		webhook		path		string			true	"webhook id"
//	@Param		If-Match	header		string			false	"expected version"
//	@Param		body		body		WebhookRequest	true	"changes (url, events, active)"
//	@Success	200			{object}	WebhookResponse
//	@Failure	404			{object}	ErrorResponse
//	@Failure	412			{object}	ErrorResponse
//	@Failure	422			{object}	ErrorResponse
//	@Failure	429			{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/webhooks/{webhook} [patch]
func (h *handlers) updateWebhook(c *gin.Context) {
	var req WebhookRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	v, err := ifMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	w, err := h.svc.Webhooks.Update(c.Request.Context(), scopeOf(c), c.Param("webhook"),
		services.WebhookInput{URL: req.URL, Events: req.Events, Active: req.Active}, v)
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, w.Version)
	c.JSON(http.StatusOK, toWebhook(w, false))
}

// deleteWebhook godoc
//
//	@Summary	Delete a webhook
//	@Tags		webhooks
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path	string	true	"organisation slug or id"
//	@Param		webhook	path	string	true	"webhook id"
//	@Success	204
//	@Failure	404	{object}	ErrorResponse
//	@Failure	429	{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/webhooks/{webhook} [delete]
func (h *handlers) deleteWebhook(c *gin.Context) {
	if err := h.svc.Webhooks.Delete(c.Request.Context(), scopeOf(c), c.Param("webhook")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// listDeliveries godoc
//
//	@Summary	A webhook's delivery log
//	@Tags		webhooks
//	@Produce	json
//	@Security	BearerAuth
//	@Security	ApiKeyAuth
//	@Param		org		path		string	true	"organisation slug or id"
//	@Param		webhook	path		string	true	"webhook id"
//	@Param		limit	query		int		false	"page size, newest first (1–200, default 50)"
//	@Param		cursor	query		string	false	"next_cursor of the previous page"
//	@Success	200		{object}	DeliveryList
//	@Failure	404		{object}	ErrorResponse
//	@Failure	422		{object}	ErrorResponse
//	@Failure	429		{object}	ErrorResponse
//	@Router		/api/v1/orgs/{org}/webhooks/{webhook}/deliveries [get]
func (h *handlers) listDeliveries(c *gin.Context) {
	opt, err := listOptions(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.svc.Webhooks.Deliveries(c.Request.Context(), scopeOf(c), c.Param("webhook"), opt)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, DeliveryList{Items: mapItems(page.Items, toDelivery), NextCursor: page.NextCursor})
}

// redeliver godoc
//
//	@Summary		Send a failed delivery again
//	@Description	Only a failed delivery (409 otherwise): it becomes pending and the worker sends it as a new job, with a fresh signature and the usual retries. attempts keeps counting across redeliveries; redeliveries counts them.
//	@Tags			webhooks
//	@Produce		json
//	@Security		BearerAuth
//	@Security		ApiKeyAuth
//	@Param			org			path		string	true	"organisation slug or id"
//	@Param			webhook		path		string	true	"webhook id"
//	@Param			delivery	path		string	true	"delivery id"
//	@Success		202			{object}	DeliveryResponse
//	@Failure		404			{object}	ErrorResponse
//	@Failure		409			{object}	ErrorResponse
//	@Failure		429			{object}	ErrorResponse
//	@Router			/api/v1/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}/redeliver [post]
func (h *handlers) redeliver(c *gin.Context) {
	d, err := h.svc.Webhooks.Redeliver(c.Request.Context(), scopeOf(c), c.Param("webhook"), c.Param("delivery"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, toDelivery(d))
}
