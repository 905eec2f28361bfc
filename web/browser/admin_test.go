package browser

import (
	"strings"
	"testing"
)

// TestInviteMember: an ADMIN invites a member, the link is shown once, and the invited person opens
// it, chooses a password and is signed in to the organisation with the role given.
func TestInviteMember(t *testing.T) {
	s := newSite(t)
	s.newTeam("acme")
	admin := s.newBrowser(t)
	admin.signIn("admin@acme.test")
	admin.click("Members")
	admin.fill("Email", "grace@acme.test")
	admin.choose("Role", "DEVELOPER")
	admin.click("Invite")
	admin.waitText("Invitation link (shown once)")
	var link string
	admin.run("read the link", evaluate(`document.querySelector('[data-testid="invitation-link"]').textContent`, &link))
	if !strings.Contains(link, "/accept-invite?token=") {
		t.Fatalf("invitation link = %q", link)
	}
	admin.waitText("grace@acme.test")
	admin.readme("members")
	// Shown once: after a reload the page lists the invitation but not its link.
	admin.run("reload", reload())
	admin.waitText("grace@acme.test")
	if admin.has("Copy link") {
		t.Error("the invitation link is shown again after a reload")
	}

	grace := s.newBrowser(t)
	grace.open(strings.TrimPrefix(link, s.url))
	grace.waitText("Join your team on Vane")
	grace.fill("Choose a password", "a long and private passphrase")
	grace.click("Accept invitation")
	grace.waitText("Feature Flags")
	grace.waitText("DEVELOPER")
	if !grace.has("New Flag") {
		t.Error("the new DEVELOPER is not offered New Flag")
	}
	if grace.has("API keys") {
		t.Error("a DEVELOPER sees the admin page API keys")
	}
}

// TestAPIKeyShownOnce: an API key's secret is shown once, works, and stops working when revoked.
func TestAPIKeyShownOnce(t *testing.T) {
	s := newSite(t)
	s.newTeam("acme")
	b := s.newBrowser(t)
	b.signIn("admin@acme.test")
	b.click("API keys")
	b.fill("Key name", "deploy-bot")
	b.click("write")
	b.click("Create key")
	b.waitText("Your new API key (shown once)")
	var secret string
	b.run("read the secret", evaluate(`document.querySelector('[data-testid="api-key-secret"]').textContent`, &secret))
	if !strings.HasPrefix(secret, "vk_") {
		t.Fatalf("secret = %q", secret)
	}
	if code := s.call("GET", "/api/v1/orgs/acme/projects", nil, nil, "X-API-Key", secret); code != 200 {
		t.Fatalf("the new key gets %d", code)
	}
	b.run("reload", reload())
	b.waitText("deploy-bot")
	if b.has("Copy key") || b.hasText(secret) {
		t.Error("the secret is shown again after a reload")
	}
	b.click("Revoke deploy-bot")
	b.wait("the key revoked", `!document.body.innerText.includes('Revoke deploy-bot') && document.body.innerText.toLowerCase().includes('revoked')`)
	if code := s.call("GET", "/api/v1/orgs/acme/projects", nil, nil, "X-API-Key", secret); code != 401 {
		t.Errorf("a revoked key gets %d, want 401", code)
	}
}

// TestSDKKeys: the server key is masked until an ADMIN reveals it; rotating with a grace period keeps
// the old key working and shows it as such.
func TestSDKKeys(t *testing.T) {
	s := newSite(t)
	tm := s.newTeam("acme")
	b := s.newBrowser(t)
	b.signIn("admin@acme.test")
	b.click("Environments")
	b.waitText("Server-side SDK key")
	if b.hasText(tm.sdkServer) {
		t.Fatal("the server key is shown before Reveal")
	}
	b.click("Reveal keys of production")
	b.waitText(tm.sdkServer)
	b.readme("environments")
	b.click("Rotate keys of production")
	b.choose("Which key", "server")
	b.fill("Grace period", "24h")
	b.click("Rotate")
	b.wait("the old key's grace", `document.body.innerText.toLowerCase().includes('old key, works until')`)
	if code := s.call("POST", "/api/v1/feature-flags/any/evaluate", map[string]string{"user_id": "u1"}, nil, "X-API-Key", tm.sdkServer); code != 200 {
		t.Errorf("the old key within its grace period gets %d, want 200", code)
	}

	dev := s.newBrowser(t)
	dev.signIn("dev@acme.test")
	dev.click("Environments")
	dev.waitText("Server-side SDK key")
	if dev.has("Reveal keys of production") || dev.hasText(tm.sdkServer) {
		t.Error("a DEVELOPER can reveal the server key")
	}
}

// TestFlagHistory: an ADMIN sees a flag's audit events with the before/after diff of each.
func TestFlagHistory(t *testing.T) {
	s := newSite(t)
	tm := s.newTeam("acme")
	s.newFlag(tm, "dark-mode", "Dark mode")
	s.activate("dark-mode", "development")
	b := s.newBrowser(t)
	b.signIn("admin@acme.test")
	b.open("/orgs/acme/projects/default/flags/dark-mode?env=development")
	b.waitText("History")
	b.wait("the activation event", `document.body.innerText.toLowerCase().includes('feature_flag.activated')`)
	b.clickXPath("open the activation event", `//button[contains(normalize-space(.), "feature_flag.activated")]`)
	b.waitText(`"ACTIVE"`)
	b.waitText(`"DRAFT"`)
}
