package browser

import (
	"testing"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/config"
)

// TestSignUp: with sign-up on, a person creates an account from the sign-in page's link (a short
// password is refused under its field) and lands in their new organisation as its ADMIN; with it
// off, the page says so and no account is made.
func TestSignUp(t *testing.T) {
	s := newSite(t)
	b := s.newBrowser(t)
	b.open("/sign-in")
	b.click("Create an account")
	b.waitText("Create your Vane account")
	b.fill("Email", "lin@startup.test")
	b.fill("Your name", "Lin")
	b.fill("Password", "short")
	b.fill("Organisation name", "Startup")
	b.click("Create account")
	b.wait("the short password refused", `[...document.querySelectorAll('.mantine-InputWrapper-error')].some(e => e.innerText.length > 0)`)
	b.fill("Password", "a long enough passphrase")
	b.click("Create account")
	b.waitText("Feature Flags")
	b.waitText("ADMIN")
	var org string
	b.run("the organisation", evaluate(`document.querySelector('[aria-label="Organisation"]').selectedOptions[0].textContent`, &org))
	if org != "Startup" {
		t.Errorf("signed up into organisation %q, want Startup", org)
	}
	var tok api.TokenResponse
	if code := s.call("POST", "/api/v1/auth/login", map[string]string{"username": "lin@startup.test", "password": "a long enough passphrase"}, &tok); code != 200 {
		t.Errorf("signing in with the new account = %d", code)
	}

	off := newSite(t, func(c *config.Config) { c.AllowSignup = false })
	o := off.newBrowser(t)
	o.open("/sign-up")
	o.fill("Email", "mo@elsewhere.test")
	o.fill("Password", "a long enough passphrase")
	o.fill("Organisation name", "Elsewhere")
	o.click("Create account")
	o.waitText("Sign-up is turned off on this server.")
	if code := off.call("POST", "/api/v1/auth/login", map[string]string{"username": "mo@elsewhere.test", "password": "a long enough passphrase"}, nil); code != 401 {
		t.Errorf("signing in with the refused account = %d, want 401", code)
	}
}

// TestChangePassword: from the user menu, a wrong current password is refused; the right one changes
// it: the old password stops working, the new one works, and a session opened elsewhere before the
// change is signed out.
func TestChangePassword(t *testing.T) {
	s := newSite(t)
	s.newTeam("acme")
	other := s.newBrowser(t)
	other.signIn("dev@acme.test")
	b := s.newBrowser(t)
	b.signIn("dev@acme.test")
	b.click("User menu")
	b.click("Change password")
	b.waitText("Current password")
	b.fill("Current password", "not my password")
	b.fill("New password", "a brand new passphrase")
	b.click("Change password")
	b.wait("the wrong password refused", `!!document.querySelector('[role="alert"]') || [...document.querySelectorAll('.mantine-InputWrapper-error')].length > 0`)
	if b.hasText("Password changed.") {
		t.Fatal("a wrong current password changed the password")
	}
	b.fill("Current password", password)
	b.fill("New password", "a brand new passphrase")
	b.click("Change password")
	b.waitText("Password changed. Your other sessions were signed out.")
	if code := s.call("POST", "/api/v1/auth/login", map[string]string{"username": "dev@acme.test", "password": password}, nil); code != 401 {
		t.Errorf("the old password signs in: %d", code)
	}
	if code := s.call("POST", "/api/v1/auth/login", map[string]string{"username": "dev@acme.test", "password": "a brand new passphrase"}, nil); code != 200 {
		t.Errorf("the new password does not sign in: %d", code)
	}
	// This tab keeps its session; the other one is sent to sign in on its next load.
	b.click("Back to Vane")
	b.waitText("Feature Flags")
	other.run("reload", reload())
	other.wait("the other session signed out", `location.pathname === '/sign-in'`)
}
