package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// exampleHook is a webhook URL that passes the creation check without DNS (the address example.com
// had; a public one). No test here delivers to it: these servers run no worker.
const exampleHook = "https://93.184.215.14/vane"

// webhook adds a webhook to exampleHook for the events and returns its id.
func (s *server) webhook(a *tenant, events ...string) string {
	s.t.Helper()
	w, err := s.Svc.Webhooks.Create(context.Background(), services.SystemScope(a.org.ID), services.WebhookInput{URL: exampleHook, Events: events})
	if err != nil {
		s.t.Fatal(err)
	}
	return w.ID
}

// failedDelivery records a delivery of the webhook that used up its retries, as the worker leaves one.
func (s *server) failedDelivery(orgID, webhookID string) string {
	s.t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	d := models.WebhookDelivery{ID: models.NewID(), OrgID: orgID, WebhookID: webhookID, Event: "feature_flag.created", Payload: `{}`,
		Status: models.DeliveryFailed, Attempts: 9, LastStatusCode: 503, Queued: true, CreatedAt: now, UpdatedAt: now}
	if err := s.DB.Create(&d).Error; err != nil {
		s.t.Fatal(err)
	}
	return d.ID
}

// TestWebhookReservedAddressesRefusedAtCreation: a URL whose host is, or resolves to, an address in
// a reserved range is a 422 naming the reason, on creation and on change; nothing is written.
func TestWebhookReservedAddressesRefusedAtCreation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	hook := s.webhook(a)
	cases := []struct{ url, reason string }{
		{"https://100.64.0.1/hook", "100.64.0.0/10 (shared address space"},
		{"https://198.18.0.1/hook", "198.18.0.0/15 (benchmarking)"},
		{"https://[64:ff9b::808:808]/hook", "64:ff9b::/96 (NAT64"},
		{"http://127.0.0.1:8080/hook", "127.0.0.0/8 (loopback)"},
		{"http://localhost:8080/hook", "loopback"}, // resolved (from /etc/hosts) before it is judged
		{"https://10.1.2.3/hook", "10.0.0.0/8 (private network)"},
		{"http://169.254.169.254/latest/meta-data", "169.254.0.0/16 (link-local)"},
		{"https://0.0.0.0/hook", "0.0.0.0/8 (this network)"},
		{"https://192.0.2.1/hook", "192.0.2.0/24 (documentation"},
		{"https://[::ffff:10.0.0.1]/hook", "carries 10.0.0.1 (IPv4-mapped)"},
		{"https://[2002:c0a8:101::1]/hook", "carries 192.168.1.1 (6to4)"},
		{"https://[fd00::1]/hook", "fc00::/7"},
		{"https://[fe80::1]/hook", "fe80::/10 (link-local)"},
		{"https://hooks.nowhere.invalid/hook", "does not resolve"},
	}
	before := s.snapshot(a.org.ID)
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			for _, r := range []response{
				s.req("POST", o+"/webhooks", map[string]any{"url": tc.url}, "auth", a.admin),
				s.req("PATCH", o+"/webhooks/"+hook, map[string]any{"url": tc.url}, "auth", a.admin),
			} {
				if _, field := r.errorField(); r.Code != 422 || field != "url" {
					t.Fatalf("url %s = %d %s, want 422 on url", tc.url, r.Code, r.Body)
				}
				e := decode[api.ErrorResponse](t, r)
				if msg := e.Error.Details[0].Message; !strings.Contains(msg, tc.reason) {
					t.Errorf("url %s refused with %q, want the reason %q", tc.url, msg, tc.reason)
				}
			}
		})
	}
	if after := s.snapshot(a.org.ID); after != before {
		t.Errorf("refused webhook URLs changed rows")
	}
	s.req("POST", o+"/webhooks", map[string]any{"url": "https://[2606:4700:4700::1111]/hook"}, "auth", a.admin).want(t, 201)
	s.req("PATCH", o+"/webhooks/"+hook, map[string]any{"url": "https://8.8.8.8/hook"}, "auth", a.admin).want(t, 200)
}

// TestWebhookAllowPrivate: VANE_WEBHOOK_ALLOW_PRIVATE=true accepts reserved addresses; a name that
// does not resolve is still refused.
func TestWebhookAllowPrivate(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.WebhookAllowPrivate = true })
	a := s.newTenant("acme")
	for _, url := range []string{"https://100.64.0.1/hook", "http://localhost:8080/hook", "http://[::1]:9/hook"} {
		s.req("POST", o+"/webhooks", map[string]any{"url": url}, "auth", a.admin).want(t, 201)
	}
	r := s.req("POST", o+"/webhooks", map[string]any{"url": "https://hooks.nowhere.invalid/hook"}, "auth", a.admin).want(t, 422)
	if _, field := r.errorField(); field != "url" {
		t.Errorf("unresolvable host refused on %q, want url", field)
	}
}

// TestWebhookDeliveriesPaginated: the delivery log is a page {items, next_cursor}, newest first,
// like every other list.
func TestWebhookDeliveriesPaginated(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.newTenant("bravo")
	hook := s.webhook(a, "feature_flag.created")
	for i := 0; i < 5; i++ {
		s.req("POST", flags, map[string]any{"key": "f" + string(rune('a'+i))}, "auth", a.dev).want(t, 201)
	}
	var want []string
	if err := s.DB.Model(&models.WebhookDelivery{}).Where("webhook_id = ?", hook).Order("id DESC").Pluck("id", &want).Error; err != nil {
		t.Fatal(err)
	}
	if len(want) != 5 {
		t.Fatalf("%d deliveries, want 5 (one per flag created)", len(want))
	}
	path := o + "/webhooks/" + hook + "/deliveries"
	var got []string
	cursor, pages := "", 0
	for {
		page := decode[api.DeliveryList](t, s.req("GET", path+"?limit=2&cursor="+cursor, nil, "auth", a.admin).want(t, 200))
		pages++
		for _, d := range page.Items {
			got = append(got, d.ID)
			if d.Status != models.DeliveryPending || d.Event != "feature_flag.created" {
				t.Errorf("delivery = %+v, want a pending feature_flag.created", d)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || pages != 3 {
		t.Errorf("pages of 2 = %v in %d pages, want %v (newest first) in 3", got, pages, want)
	}
	all := decode[api.DeliveryList](t, s.req("GET", path, nil, "auth", a.admin).want(t, 200))
	if len(all.Items) != 5 || all.NextCursor != "" {
		t.Errorf("default page = %d items, next %q; want 5 and no next page", len(all.Items), all.NextCursor)
	}
	for query, field := range map[string]string{"?limit=201": "limit", "?limit=-1": "limit", "?limit=x": "limit", "?cursor=%25%25": "cursor"} {
		r := s.req("GET", path+query, nil, "auth", a.admin).want(t, 422)
		if _, f := r.errorField(); f != field {
			t.Errorf("GET deliveries%s: field %q, want %q", query, f, field)
		}
	}
	s.req("GET", "/api/v1/orgs/bravo/webhooks/"+hook+"/deliveries", nil, "auth", b.admin).want(t, 404)
	s.req("GET", path, nil, "auth", b.admin).want(t, 404)
}

// TestRedeliverRoute: only a failed delivery can be sent again; it becomes pending (and queued for
// the dispatcher again) with its attempts kept, and the action is audited.
func TestRedeliverRoute(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.newTenant("bravo")
	hook := s.webhook(a)
	other := s.webhook(a)
	failed := s.failedDelivery(a.org.ID, hook)
	path := o + "/webhooks/" + hook + "/deliveries/" + failed + "/redeliver"

	s.req("POST", path, nil, "auth", b.admin).want(t, 404)
	s.req("POST", "/api/v1/orgs/bravo/webhooks/"+hook+"/deliveries/"+failed+"/redeliver", nil, "auth", b.admin).want(t, 404)
	s.req("POST", o+"/webhooks/"+other+"/deliveries/"+failed+"/redeliver", nil, "auth", a.admin).want(t, 404) // not that webhook's
	s.req("POST", o+"/webhooks/"+hook+"/deliveries/"+models.NewID()+"/redeliver", nil, "auth", a.admin).want(t, 404)

	d := decode[api.DeliveryResponse](t, s.req("POST", path, nil, "auth", a.admin).want(t, 202))
	if d.ID != failed || d.Status != models.DeliveryPending || d.Attempts != 9 || d.Redeliveries != 1 || d.LastStatusCode != 503 {
		t.Errorf("redelivered = %+v, want pending with 9 attempts kept, 1 redelivery", d)
	}
	var row models.WebhookDelivery
	if err := s.DB.Where("id = ?", failed).Take(&row).Error; err != nil || row.Queued || row.Status != models.DeliveryPending {
		t.Errorf("row after redeliver = %+v, %v; want pending and not queued (the dispatcher takes it)", row, err)
	}
	r := s.req("POST", path, nil, "auth", a.admin).want(t, 409) // pending now
	if code, _ := r.errorField(); code != "conflict" {
		t.Errorf("redeliver a pending delivery = %s", r.Body)
	}
	if err := s.DB.Model(&models.WebhookDelivery{}).Where("id = ?", failed).Update("status", models.DeliverySucceeded).Error; err != nil {
		t.Fatal(err)
	}
	s.req("POST", path, nil, "auth", a.admin).want(t, 409) // succeeded
	if n := s.count("audit_events", "org_id = ? AND action = ? AND resource_id = ?", a.org.ID, "webhook.delivery_redelivered", hook); n != 1 {
		t.Errorf("%d redeliveries audited, want 1", n)
	}
	// An inactive webhook sends nothing, redelivered or not.
	failedToo := s.failedDelivery(a.org.ID, other)
	s.req("PATCH", o+"/webhooks/"+other, `{"active":false}`, "auth", a.admin).want(t, 200)
	s.req("POST", o+"/webhooks/"+other+"/deliveries/"+failedToo+"/redeliver", nil, "auth", a.admin).want(t, 409)
}
