package browser

import (
	"strings"
	"testing"
	"time"

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
