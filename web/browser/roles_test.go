package browser

import "testing"

// TestViewerSeesNoWriteControl: a VIEWER reads flags but is offered nothing that writes.
func TestViewerSeesNoWriteControl(t *testing.T) {
	s := newSite(t)
	s.newFlag(s.newTeam("acme"), "dark-mode", "Dark mode")
	b := s.newBrowser(t)
	b.signIn("viewer@acme.test")
	b.waitText("Dark mode")
	for _, control := range []string{"New Flag"} {
		if b.has(control) {
			t.Errorf("a VIEWER sees %q on the flag list", control)
		}
	}
	b.click("Dark mode")
	b.waitText("Targeting rules")
	for _, control := range []string{"Activate", "Kill switch", "Enable", "Add Rule", "Save changes", "Archive"} {
		if b.has(control) {
			t.Errorf("a VIEWER sees %q on the flag page", control)
		}
	}
	var enabled int
	b.run("count enabled inputs", evaluate(`[...document.querySelectorAll('main input, main select')].filter(e => !e.disabled && !e.closest('[data-view-controls]')).length`, &enabled))
	if enabled != 0 {
		t.Errorf("a VIEWER has %d enabled inputs on the flag page (besides what only changes the view), want none", enabled)
	}
}

// TestTwoTabsConflict: two tabs edit one flag; the second save gets the conflict message, with what
// changed and a reload, and nothing is overwritten.
func TestTwoTabsConflict(t *testing.T) {
	s := newSite(t)
	s.newFlag(s.newTeam("acme"), "dark-mode", "Dark mode")
	one := s.newBrowser(t)
	one.signIn("dev@acme.test")
	const page = "/orgs/acme/projects/default/flags/dark-mode?env=development"
	one.open(page)
	one.waitText("Targeting rules")
	two := s.newBrowser(t) // a second window of the same user (its own session)
	two.signIn("dev@acme.test")
	two.open(page)
	two.waitText("Targeting rules")

	one.fill("Bucket by", "company_id")
	one.waitText("You have unsaved changes")
	two.fill("Bucket by", "org_id")
	two.click("Save changes")
	two.wait("saved", `!document.body.innerText.includes('You have unsaved changes')`)

	one.click("Save changes")
	one.waitText("Someone else changed this flag while you were editing")
	one.waitText("Changed: bucket_by")
	var cfg struct {
		BucketBy string `json:"bucket_by"`
	}
	s.call("GET", "/api/v1/orgs/acme/projects/default/flags/dark-mode/environments/development", nil, &cfg,
		"Authorization", "Bearer "+s.token("dev@acme.test"))
	if cfg.BucketBy != "org_id" {
		t.Errorf("bucket_by = %q, want the first save's org_id kept", cfg.BucketBy)
	}
	one.click("Reload the latest version")
	if got := one.value("Bucket by"); got != "org_id" {
		t.Errorf("after reload Bucket by = %q, want org_id", got)
	}
}

// TestDeveloperSeesNoAdminControl: a DEVELOPER is offered none of what only an ADMIN may do (new
// environments, SDK key rotation, projects), though the pages show what they may read.
func TestDeveloperSeesNoAdminControl(t *testing.T) {
	s := newSite(t)
	s.newTeam("acme")
	b := s.newBrowser(t)
	b.signIn("dev@acme.test")
	for page, controls := range map[string][]string{
		"Environments": {"Create environment", "Rotate keys of production"},
		"Projects":     {"Create project", "Rename default", "Delete default"},
	} {
		b.click(page)
		b.waitText(map[string]string{"Environments": "Copy", "Projects": "ADMINs create, rename and delete projects."}[page])
		for _, control := range controls {
			if b.has(control) {
				t.Errorf("a DEVELOPER sees %q on %s", control, page)
			}
		}
	}
	// The server refuses them anyway.
	if code := s.call("POST", "/api/v1/orgs/acme/projects", map[string]string{"name": "Side project"}, nil,
		"Authorization", "Bearer "+s.token("dev@acme.test")); code != 403 {
		t.Errorf("a DEVELOPER creating a project = %d, want 403", code)
	}
}
