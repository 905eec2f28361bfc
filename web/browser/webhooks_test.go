package browser

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/models"
)

// TestWebhooksPage: an ADMIN adds a webhook (its signing secret shown once, never listed again),
// reads its delivery log, sends a failed delivery again and deletes the webhook.
func TestWebhooksPage(t *testing.T) {
	s := newSite(t)
	s.newTeam("acme")
	const url = "https://93.184.215.14/vane" // a literal public address: nothing resolves it, no worker sends to it
	b := s.newBrowser(t)
	b.signIn("admin@acme.test")
	b.click("Webhooks")
	b.fill("Payload URL", url)
	b.click("Add webhook")
	b.waitText("Signing secret (shown once)")
	var secret string
	b.run("read the secret", evaluate(`document.querySelector('[data-testid="webhook-secret"]').textContent`, &secret))
	if len(secret) < 16 {
		t.Fatalf("secret = %q", secret)
	}
	var hooks []struct {
		ID     string   `json:"id"`
		Events []string `json:"events"`
		Secret string   `json:"secret"`
	}
	tok := "Bearer " + s.token("admin@acme.test")
	if code := s.call("GET", "/api/v1/orgs/acme/webhooks", nil, &hooks, "Authorization", tok); code != 200 || len(hooks) != 1 {
		t.Fatalf("webhooks = %d %+v", code, hooks)
	}
	if hooks[0].Secret != "" || strings.Join(hooks[0].Events, ",") != "feature_flag.*" {
		t.Fatalf("the listed webhook = %+v, want events feature_flag.* and no secret", hooks[0])
	}

	// A delivery that failed after its retries, as the worker leaves it.
	now := time.Now().UTC()
	var org models.Organization
	if err := s.env.DB.Where("slug = ?", "acme").Take(&org).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.env.DB.Create(&models.WebhookDelivery{ID: models.NewID(), OrgID: org.ID, WebhookID: hooks[0].ID, Event: "feature_flag.killed",
		Payload: `{}`, Status: models.DeliveryFailed, Attempts: 8, LastStatusCode: 500, LastError: "the server answered 500", CreatedAt: now, UpdatedAt: now}).Error; err != nil {
		t.Fatal(err)
	}
	b.click("Deliveries of " + url)
	b.waitText("feature_flag.killed")
	b.wait("the failed delivery", `(document.querySelector('[data-testid="delivery-status"]')||{}).textContent === 'failed'`)
	b.click("Redeliver")
	b.wait("the delivery pending again", `(document.querySelector('[data-testid="delivery-status"]')||{}).textContent === 'pending'`)
	b.waitText("(1 redelivered)")

	b.click("Delete " + url)
	b.waitText("Delete this webhook?")
	b.click("Delete webhook")
	b.waitText("No webhooks yet.")
	if code := s.call("GET", "/api/v1/orgs/acme/webhooks", nil, &hooks, "Authorization", tok); code != 200 || len(hooks) != 0 {
		t.Fatalf("after delete: %d %+v", code, hooks)
	}
}

// TestWebhookEdit: an ADMIN turns a webhook off and on and edits its URL and events; a change made
// elsewhere meanwhile is not overwritten, and the page says so.
func TestWebhookEdit(t *testing.T) {
	s := newSite(t)
	s.newTeam("acme")
	const before, after = "https://93.184.215.14/vane", "https://93.184.215.15/hooks/vane"
	tok := "Bearer " + s.token("admin@acme.test")
	var hook api.WebhookResponse
	if code := s.call("POST", "/api/v1/orgs/acme/webhooks", map[string]any{"url": before}, &hook, "Authorization", tok); code != 201 {
		t.Fatalf("create webhook = %d", code)
	}
	get := func() api.WebhookResponse {
		var w api.WebhookResponse
		if code := s.call("GET", "/api/v1/orgs/acme/webhooks/"+hook.ID, nil, &w, "Authorization", tok); code != 200 {
			t.Fatalf("GET webhook = %d", code)
		}
		return w
	}
	b := s.newBrowser(t)
	b.signIn("admin@acme.test")
	b.click("Webhooks")
	b.waitText(before)
	b.click("Turn off " + before)
	b.wait("the webhook inactive", `document.querySelector('[data-testid="webhook-status"]').textContent === 'inactive'`)
	if w := get(); w.Active {
		t.Error("the webhook is still active after Turn off")
	}
	b.click("Turn on " + before)
	b.wait("the webhook active", `document.querySelector('[data-testid="webhook-status"]').textContent === 'active'`)
	if w := get(); !w.Active {
		t.Error("the webhook is inactive after Turn on")
	}

	b.click("Edit " + before)
	b.fill("New payload URL", after)
	b.typeKeys("New events", kb.Backspace+"feature_flag.killed,segment.updated,") // commas end chips (chromedp's Enter would submit)
	b.click("Save webhook")
	b.waitText(after)
	if w := get(); w.URL != after || strings.Join(w.Events, ",") != "feature_flag.killed,segment.updated" || !w.Active {
		t.Errorf("after the edit the webhook is %+v", w)
	}
	// A bad URL is refused under its field.
	b.click("Edit " + after)
	b.fill("New payload URL", "not a url")
	b.click("Save webhook")
	b.wait("the URL refused", `[...document.querySelectorAll('.mantine-InputWrapper-error')].length > 0`)
	b.click("Cancel")

	// Someone else turns it off meanwhile: turning it off here again is refused, theirs is shown.
	stale := get()
	if code := s.call("PATCH", "/api/v1/orgs/acme/webhooks/"+hook.ID, map[string]any{"events": []string{"*"}}, nil, "Authorization", tok,
		"If-Match", fmt.Sprint(stale.Version)); code != 200 {
		t.Fatalf("PATCH from elsewhere = %d", code)
	}
	b.click("Turn off " + after)
	b.waitText("Someone else changed this webhook meanwhile; nothing was saved.")
	if w := get(); !w.Active || strings.Join(w.Events, ",") != "*" {
		t.Errorf("after the stale change the webhook is %+v, want theirs (active, events *)", w)
	}
	b.wait("their events shown", `document.querySelector('[aria-label="Webhooks"]').innerText.includes('*')`)
}
