package services

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/internal/netguard"
	"github.com/vanehq/vane/models"
)

// Webhooks sends an organisation's events to URLs it chose, signed, retried, logged.
type Webhooks struct {
	s      *Services
	client *http.Client
}

// ErrReservedAddress refuses a delivery to an address in a reserved range (internal/netguard).
var ErrReservedAddress = errors.New("the webhook URL reaches a reserved address (VANE_WEBHOOK_ALLOW_PRIVATE=true allows it)")

// webhookResolveTimeout bounds the name lookup of a webhook's host when it is saved.
const webhookResolveTimeout = 2 * time.Second

func newWebhooks(s *Services) *Webhooks {
	allowPrivate := s.cfg.WebhookAllowPrivate
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %q is not an address", ErrReservedAddress, address)
		}
		if err := netguard.Check(ap.Addr()); err != nil {
			return fmt.Errorf("%w: %w", ErrReservedAddress, err) // checked on the address actually dialled, so DNS cannot smuggle one in
		}
		return nil
	}}
	client := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{DialContext: dialer.DialContext, Proxy: nil, MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Webhooks{s: s, client: client}
}

// WebhookInput is a new webhook; Secret is generated when empty.
type WebhookInput struct {
	URL    string
	Events []string
	Secret string
	Active *bool
}

// validateURL checks a webhook's URL; resolve says to look its host up as well (the URL is new or
// changed).
func (wh *Webhooks) validateURL(ctx context.Context, v *errs.Validation, raw string, resolve bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || len(raw) > 2000 {
		v.Add("url", "must be an http:// or https:// URL")
	} else if resolve {
		if msg := wh.checkHost(ctx, u.Hostname()); msg != "" {
			v.Add("url", "%s", msg)
		}
	}
}

// validateWebhook checks a webhook's fields, defaulting its events.
func (wh *Webhooks) validateWebhook(ctx context.Context, v *errs.Validation, in *WebhookInput, resolve bool) {
	wh.validateURL(ctx, v, in.URL, resolve)
	if len(in.Events) == 0 {
		in.Events = []string{"feature_flag.*"}
	}
	for i, e := range in.Events {
		if e == "" || len(e) > 64 || strings.ContainsAny(e, " \"") {
			v.Add(fmt.Sprintf("events[%d]", i), "must be an event name, a prefix ending in .*, or *")
		}
	}
	if in.Secret != "" && (len(in.Secret) < 16 || len(in.Secret) > 80) {
		v.Add("secret", "must be 16–80 characters")
	}
}

// checkHost resolves a webhook's host (a literal address is taken as it is) and says why it may not
// be used: it does not resolve, or an address it resolves to is in a reserved range. The dialer
// checks again, with the same list, on every delivery.
func (wh *Webhooks) checkHost(ctx context.Context, host string) string {
	const refused = "; webhooks may not reach reserved addresses (VANE_WEBHOOK_ALLOW_PRIVATE=true allows them)"
	literal, err := netip.ParseAddr(host)
	addrs := []netip.Addr{literal}
	if err != nil {
		ctx, cancel := context.WithTimeout(ctx, webhookResolveTimeout)
		defer cancel()
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil || len(addrs) == 0 {
			return fmt.Sprintf("the host %q does not resolve", host)
		}
	}
	if wh.s.cfg.WebhookAllowPrivate {
		return ""
	}
	for _, a := range addrs {
		if !literal.IsValid() {
			a = a.Unmap() // resolvers answer IPv4 as IPv4-mapped IPv6 at times: name it as the host has it
		}
		switch err := netguard.Check(a); {
		case err != nil && literal.IsValid():
			return err.Error() + refused
		case err != nil:
			return fmt.Sprintf("the host %q resolves to %s: %v%s", host, a, err, refused)
		}
	}
	return ""
}

func webhookView(w *models.Webhook) map[string]any {
	return map[string]any{"id": w.ID, "url": w.URL, "events": w.Events, "active": w.Active}
}

// Create adds a webhook and returns it with its secret (shown once).
func (wh *Webhooks) Create(ctx context.Context, sc Scope, in WebhookInput) (*models.Webhook, error) {
	var v errs.Validation
	wh.validateWebhook(ctx, &v, &in, true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.Secret == "" {
		in.Secret = keys.Secret("whsec_")
	}
	now := wh.s.now()
	w := &models.Webhook{ID: models.NewID(), OrgID: sc.OrgID, URL: in.URL, Events: in.Events, Secret: in.Secret, Active: true,
		CreatedAt: now, UpdatedAt: now, Version: 1}
	if in.Active != nil {
		w.Active = *in.Active
	}
	err := wh.s.tx(ctx, func(tx *gorm.DB) error {
		if err := models.Create(tx, "webhook", w); err != nil {
			return err
		}
		return wh.s.audit(tx, sc, "webhook.created", "webhook", w.ID, w.URL, nil, webhookView(w))
	})
	return w, err
}

func (wh *Webhooks) find(db *gorm.DB, sc Scope, id string) (*models.Webhook, error) {
	var w models.Webhook
	if err := db.Where("org_id = ? AND id = ?", sc.OrgID, id).Take(&w).Error; err != nil {
		return nil, models.Translate(err, "webhook")
	}
	return &w, nil
}

// Get returns a webhook.
func (wh *Webhooks) Get(ctx context.Context, sc Scope, id string) (*models.Webhook, error) {
	return wh.find(wh.s.db.WithContext(ctx), sc, id)
}

// List returns the organisation's webhooks.
func (wh *Webhooks) List(ctx context.Context, sc Scope) ([]models.Webhook, error) {
	var rows []models.Webhook
	err := wh.s.db.WithContext(ctx).Where("org_id = ?", sc.OrgID).Order("id").Find(&rows).Error
	return rows, models.Translate(err, "webhooks")
}

// Update changes a webhook's URL, events or active flag. A new URL is resolved and checked as at
// creation (before the transaction: no lookup holds a database lock).
func (wh *Webhooks) Update(ctx context.Context, sc Scope, id string, in WebhookInput, ifMatch int64) (*models.Webhook, error) {
	if in.URL != "" {
		var v errs.Validation
		wh.validateURL(ctx, &v, in.URL, true)
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	var out *models.Webhook
	err := wh.s.tx(ctx, func(tx *gorm.DB) error {
		before, err := wh.find(tx, sc, id)
		if err != nil {
			return err
		}
		if in.URL == "" {
			in.URL = before.URL
		}
		if in.Events == nil {
			in.Events = before.Events
		}
		var v errs.Validation
		wh.validateWebhook(ctx, &v, &in, false) // the URL was checked above
		if err := v.Err(); err != nil {
			return err
		}
		fields := map[string]any{"url": in.URL, "events": jsonText(in.Events)}
		if in.Active != nil {
			fields["active"] = *in.Active
		}
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "webhooks", What: "webhook", OrgID: sc.OrgID, ID: before.ID,
			Expect: ifMatch, Current: before.Version}, wh.s.now(), fields); err != nil {
			return err
		}
		if out, err = wh.find(tx, sc, id); err != nil {
			return err
		}
		return wh.s.audit(tx, sc, "webhook.updated", "webhook", out.ID, out.URL, webhookView(before), webhookView(out))
	})
	return out, err
}

// Delete removes a webhook and its delivery log.
func (wh *Webhooks) Delete(ctx context.Context, sc Scope, id string) error {
	return wh.s.tx(ctx, func(tx *gorm.DB) error {
		w, err := wh.find(tx, sc, id)
		if err != nil {
			return err
		}
		if err := tx.Where("id = ?", w.ID).Delete(&models.Webhook{}).Error; err != nil {
			return models.Translate(err, "webhook")
		}
		return wh.s.audit(tx, sc, "webhook.deleted", "webhook", w.ID, w.URL, webhookView(w), nil)
	})
}

// Deliveries lists a webhook's deliveries, newest first, a page at a time.
func (wh *Webhooks) Deliveries(ctx context.Context, sc Scope, id string, opt ListOptions) (Page[models.WebhookDelivery], error) {
	pg, err := opt.page(true)
	if err != nil {
		return Page[models.WebhookDelivery]{}, err
	}
	db := wh.s.db.WithContext(ctx)
	w, err := wh.find(db, sc, id)
	if err != nil {
		return Page[models.WebhookDelivery]{}, err
	}
	rows, err := models.ListDeliveries(db, sc.OrgID, w.ID, pg)
	if err != nil {
		return Page[models.WebhookDelivery]{}, err
	}
	return paged(rows, pg.Limit, func(d models.WebhookDelivery) string { return d.ID }), nil
}

// Redeliver sends a failed delivery again: it is pending once more and the worker picks it up as a
// new job (its attempts keep counting; Redeliveries says how often it was sent again). Only a
// failed delivery can be redelivered (409 otherwise).
func (wh *Webhooks) Redeliver(ctx context.Context, sc Scope, webhookID, deliveryID string) (*models.WebhookDelivery, error) {
	var out models.WebhookDelivery
	err := wh.s.tx(ctx, func(tx *gorm.DB) error {
		w, err := wh.find(tx, sc, webhookID)
		if err != nil {
			return err
		}
		if !w.Active {
			return errs.Conflictf("the webhook is inactive; activate it before redelivering")
		}
		if err := tx.Where("org_id = ? AND webhook_id = ? AND id = ?", sc.OrgID, w.ID, deliveryID).Take(&out).Error; err != nil {
			return models.Translate(err, "webhook delivery")
		}
		if out.Status != models.DeliveryFailed {
			return errs.Conflictf("only a failed delivery can be redelivered; this one is %s", out.Status)
		}
		res := tx.Model(&models.WebhookDelivery{}).Where("id = ? AND status = ?", out.ID, models.DeliveryFailed).Updates(map[string]any{
			"status": models.DeliveryPending, "queued": false, "redeliveries": gormExpr("redeliveries + 1"), "updated_at": wh.s.now()})
		if res.Error != nil {
			return models.Translate(res.Error, "webhook delivery")
		}
		if res.RowsAffected == 0 {
			return errs.Conflictf("the delivery changed meanwhile; only a failed delivery can be redelivered")
		}
		if err := tx.Where("id = ?", out.ID).Take(&out).Error; err != nil {
			return models.Translate(err, "webhook delivery")
		}
		return wh.s.audit(tx, sc, "webhook.delivery_redelivered", "webhook", w.ID, w.URL, nil,
			map[string]any{"delivery_id": out.ID, "event": out.Event, "redeliveries": out.Redeliveries, "attempts": out.Attempts})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// matches reports whether a webhook's filter takes an event ("*", "feature_flag.*", exact).
func matches(filters []string, event string) bool {
	for _, f := range filters {
		if f == "*" || f == event || (strings.HasSuffix(f, ".*") && strings.HasPrefix(event, strings.TrimSuffix(f, "*"))) {
			return true
		}
	}
	return false
}

// record writes, in the event's own transaction, a delivery for every webhook that wants it.
func (wh *Webhooks) record(tx *gorm.DB, ev *models.AuditEvent) error {
	if ev.OrgID == "" || strings.HasPrefix(ev.Action, "webhook.") {
		return nil
	}
	var hooks []models.Webhook
	if err := tx.Where("org_id = ? AND active = ?", ev.OrgID, true).Find(&hooks).Error; err != nil {
		return models.Translate(err, "webhooks")
	}
	for _, w := range hooks {
		if !matches(w.Events, ev.Action) {
			continue
		}
		payload, _ := json.Marshal(map[string]any{
			"id": ev.ID, "event": ev.Action, "created_at": ev.CreatedAt,
			"actor":    map[string]string{"type": ev.ActorType, "id": ev.ActorID, "name": ev.ActorName},
			"resource": map[string]string{"type": ev.ResourceType, "id": ev.ResourceID, "key": ev.ResourceKey},
			"before":   rawOrNull(ev.BeforeJSON), "after": rawOrNull(ev.AfterJSON),
		})
		d := &models.WebhookDelivery{ID: models.NewID(), OrgID: ev.OrgID, WebhookID: w.ID, Event: ev.Action, Payload: string(payload),
			Status: models.DeliveryPending, CreatedAt: ev.CreatedAt, UpdatedAt: ev.CreatedAt}
		if err := models.Create(tx, "webhook delivery", d); err != nil {
			return err
		}
	}
	return nil
}

func rawOrNull(s *string) json.RawMessage {
	if s == nil {
		return json.RawMessage("null")
	}
	return json.RawMessage(*s)
}

// Dispatch hands pending deliveries to enqueue (a job per delivery and redelivery: redeliveries
// tells them apart) and marks them queued.
func (wh *Webhooks) Dispatch(ctx context.Context, enqueue func(deliveryID string, redeliveries int) error) (int, error) {
	db := wh.s.db.WithContext(ctx)
	var pending []models.WebhookDelivery
	if err := db.Select("id", "redeliveries").Where("queued = ? AND status = ?", false, models.DeliveryPending).
		Order("id").Limit(500).Find(&pending).Error; err != nil {
		return 0, models.Translate(err, "webhook deliveries")
	}
	n := 0
	for _, d := range pending {
		if err := enqueue(d.ID, d.Redeliveries); err != nil {
			return n, err
		}
		if err := db.Model(&models.WebhookDelivery{}).Where("id = ?", d.ID).Update("queued", true).Error; err != nil {
			return n, models.Translate(err, "webhook delivery")
		}
		n++
	}
	return n, nil
}

// Deliver sends one delivery and logs the attempt. It returns an error to be retried; final says
// this is the last attempt (a failure then is permanent). A reserved address is never retried.
//
// The body is signed with the webhook's secret together with the time of sending, Stripe-style:
// X-Vane-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">, so a receiver that
// refuses old timestamps cannot be fed a captured delivery again.
func (wh *Webhooks) Deliver(ctx context.Context, deliveryID string, final bool) (retry bool, err error) {
	db := wh.s.db.WithContext(ctx)
	var d models.WebhookDelivery
	if err := db.Where("id = ?", deliveryID).Take(&d).Error; err != nil {
		return false, models.Translate(err, "webhook delivery") // gone with its webhook: nothing to do
	}
	if d.Status != models.DeliveryPending {
		return false, nil
	}
	var w models.Webhook
	if err := db.Where("id = ?", d.WebhookID).Take(&w).Error; err != nil {
		return false, models.Translate(err, "webhook")
	}
	if !w.Active { // deactivated since the event: send nothing (a redelivery after reactivating can)
		err := db.Model(&models.WebhookDelivery{}).Where("id = ? AND status = ?", d.ID, models.DeliveryPending).
			Updates(map[string]any{"status": models.DeliveryFailed, "last_error": "the webhook is inactive", "updated_at": wh.s.now()}).Error
		return false, models.Translate(err, "webhook delivery")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader([]byte(d.Payload)))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Vane-Webhooks/1")
	req.Header.Set("X-Vane-Event", d.Event)
	req.Header.Set("X-Vane-Delivery", d.ID)
	req.Header.Set("X-Vane-Signature", SignWebhook(w.Secret, wh.s.now(), []byte(d.Payload)))
	start := time.Now()
	res, sendErr := wh.client.Do(req)
	fields := map[string]any{"attempts": gormExpr("attempts + 1"), "latency_ms": int(time.Since(start).Milliseconds()), "updated_at": wh.s.now()}
	private := errors.Is(sendErr, ErrReservedAddress)
	switch {
	case sendErr != nil:
		fields["last_error"], fields["last_status_code"] = sendErr.Error(), 0
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		_ = res.Body.Close()
		fields["last_status_code"], fields["last_error"] = res.StatusCode, ""
	}
	ok := sendErr == nil && res.StatusCode >= 200 && res.StatusCode < 300
	switch {
	case ok:
		fields["status"], fields["delivered_at"] = models.DeliverySucceeded, wh.s.now()
	case final || private:
		fields["status"] = models.DeliveryFailed
	}
	if err := db.Model(&models.WebhookDelivery{}).Where("id = ?", d.ID).Updates(fields).Error; err != nil {
		return true, models.Translate(err, "webhook delivery")
	}
	switch {
	case ok:
		wh.s.hook().WebhookDelivered("succeeded")
	case final || private:
		wh.s.hook().WebhookDelivered("failed")
	default:
		wh.s.hook().WebhookDelivered("retrying")
	}
	switch {
	case ok:
		return false, nil
	case private:
		return false, sendErr
	case sendErr != nil:
		return true, sendErr
	}
	return true, fmt.Errorf("webhook answered %d", res.StatusCode)
}

// SignWebhook is the X-Vane-Signature of a body sent at a time: t=<unix seconds>,v1=<hex
// HMAC-SHA256 of "<t>.<body>" with the secret>.
func SignWebhook(secret string, at time.Time, body []byte) string {
	t := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t + "."))
	mac.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookRetryBase is the first retry delay of a failed delivery (doubling after).
func (s *Services) WebhookRetryBase() time.Duration { return s.cfg.WebhookRetryBase }
