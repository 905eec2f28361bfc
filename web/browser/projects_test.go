package browser

import (
	"testing"

	"github.com/vanehq/vane/api"
)

// TestProjects: an ADMIN lists, creates, renames and deletes projects on the Projects page (a bad key
// is refused under its field, a stale rename says so and saves nothing, deleting asks for the key and,
// for the open project, opens the first one left); a VIEWER sees the list and no control that writes.
func TestProjects(t *testing.T) {
	s := newSite(t)
	s.newTeam("acme")
	admin := "Bearer " + s.token("admin@acme.test")
	b := s.newBrowser(t)
	b.signIn("admin@acme.test")
	b.click("Projects")
	b.waitText("New project")
	b.wait("the default project listed", `/Default( \(open\))?\s+default/.test(document.querySelector('[aria-label="Projects"]').innerText)`)

	// A key that breaks the naming rules is refused, under its field.
	b.fill("Project name", "Web shop")
	b.fill("Project key", "Web Shop!")
	b.click("Create project")
	b.wait("the key refused", `[...document.querySelectorAll('.mantine-InputWrapper-error')].some(e => /lowercase|letters|key/i.test(e.innerText))`)
	b.fill("Project key", "")
	b.fill("Project description", "The storefront")
	b.click("Create project")
	b.waitText("Project Web shop (web-shop) is ready.")
	var p api.ProjectResponse
	if code := s.call("GET", "/api/v1/orgs/acme/projects/web-shop", nil, &p, "Authorization", admin); code != 200 || p.Name != "Web shop" ||
		p.Description != "The storefront" {
		t.Fatalf("GET the new project = %d %+v", code, p)
	}
	var envs struct{ Items []api.EnvironmentResponse }
	if s.call("GET", "/api/v1/orgs/acme/projects/web-shop/environments", nil, &envs, "Authorization", admin); len(envs.Items) != 3 {
		t.Errorf("the new project has %d environments, want development, staging and production", len(envs.Items))
	}
	b.wait("the project switcher offers it", `[...document.querySelector('[aria-label="Project"]').options].some(o => o.value === 'web-shop')`)
	b.readme("projects")

	// Rename.
	b.click("Rename web-shop")
	b.fill("New project name", "Storefront")
	b.click("Save project")
	b.wait("the new name listed", `/Storefront\s+web-shop/.test(document.querySelector('[aria-label="Projects"]').innerText)`)
	if s.call("GET", "/api/v1/orgs/acme/projects/web-shop", nil, &p, "Authorization", admin); p.Name != "Storefront" {
		t.Errorf("after the rename the project is named %q", p.Name)
	}
	// A rename over someone else's change is refused and says so.
	b.click("Rename web-shop")
	if code := s.call("PATCH", "/api/v1/orgs/acme/projects/web-shop", map[string]string{"name": "Shop (theirs)"}, nil, "Authorization", admin); code != 200 {
		t.Fatalf("PATCH from elsewhere = %d", code)
	}
	b.fill("New project name", "Shop (mine)")
	b.click("Save project")
	b.waitText("Someone else changed this project meanwhile; nothing was saved.")
	if s.call("GET", "/api/v1/orgs/acme/projects/web-shop", nil, &p, "Authorization", admin); p.Name != "Shop (theirs)" {
		t.Errorf("after the stale rename the project is named %q, want theirs kept", p.Name)
	}
	b.click("Cancel")

	// Delete the open project: the key must be typed, then the first project left opens.
	b.open("/orgs/acme/projects/web-shop/projects")
	b.click("Delete web-shop")
	var disabled bool
	b.run("the delete button waits for the key", evaluate(`[...document.querySelectorAll('button')].find(x => x.innerText.trim() === 'Delete project').disabled`, &disabled))
	if !disabled {
		t.Error("Delete project is enabled before the key is typed")
	}
	b.fill("Type the project key to confirm", "web-shop")
	b.click("Delete project")
	b.wait("the first project left opened", `location.pathname === '/orgs/acme/projects/default/flags'`)
	if code := s.call("GET", "/api/v1/orgs/acme/projects/web-shop", nil, nil, "Authorization", admin); code != 404 {
		t.Errorf("GET the deleted project = %d, want 404", code)
	}

	// A VIEWER sees the projects and nothing that changes them.
	v := s.newBrowser(t)
	v.signIn("viewer@acme.test")
	v.click("Projects")
	v.waitText("ADMINs create, rename and delete projects.")
	v.wait("the default project listed", `/Default( \(open\))?\s+default/.test(document.querySelector('[aria-label="Projects"]').innerText)`)
	for _, control := range []string{"Create project", "Rename default", "Delete default"} {
		if v.has(control) {
			t.Errorf("a VIEWER sees %q", control)
		}
	}
}
