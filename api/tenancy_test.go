package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// snapshot is everything of an organisation a write could touch.
func (s *server) snapshot(orgID string) string {
	s.t.Helper()
	var b strings.Builder
	for _, table := range []string{"organizations", "memberships", "invitations", "projects", "environments", "sdk_keys",
		"api_keys", "audit_events", "flags", "flag_configs", "segments", "rollout_plans", "safety_guards", "webhooks", "webhook_deliveries"} {
		col := "org_id"
		if table == "organizations" {
			col = "id"
		}
		var rows []map[string]any
		if err := s.DB.Table(table).Where(col+" = ?", orgID).Order("id").Find(&rows).Error; err != nil {
			s.t.Fatal(err)
		}
		for _, r := range rows {
			delete(r, "last_used_at") // reading with a key is allowed to note its use
			fmt.Fprintf(&b, "%s %v\n", table, r)
		}
	}
	return b.String()
}

func TestCrossTenantIsNotFound(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.newTenant("bravo")
	ctx := context.Background()
	bsc := services.SystemScope(b.org.ID)
	inv, _, err := s.Svc.Members.Invite(ctx, bsc, "pending@bravo.test", "VIEWER")
	if err != nil {
		t.Fatal(err)
	}
	bKey, _, err := s.Svc.APIKeys.Create(ctx, bsc, services.APIKeyInput{Name: "b", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	bAdmin, err := models.UserByEmail(s.DB, b.adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	bFlag, err := s.Svc.Flags.Create(ctx, bsc, "default", services.FlagInput{Key: "bravo-flag"})
	if err != nil {
		t.Fatal(err)
	}
	bSeg, err := s.Svc.Segments.Create(ctx, bsc, "default", services.SegmentInput{Key: "bravo-seg", Included: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	bGuard, _, err := s.Svc.Guards.Create(ctx, bsc, "default", "bravo-flag", "production",
		services.GuardInput{Metric: "error_rate", Threshold: 0.1, Action: "kill_switch"})
	if err != nil {
		t.Fatal(err)
	}
	bHook, err := s.Svc.Webhooks.Create(ctx, bsc, services.WebhookInput{URL: exampleHook})
	if err != nil {
		t.Fatal(err)
	}
	theirs := map[string]string{
		":webhook": bHook.ID, ":delivery": s.failedDelivery(b.org.ID, bHook.ID), ":member": bAdmin.ID, ":invitation": inv.ID, ":key": bKey.ID, ":project": b.project.ID, ":env": b.env.ID,
		":flag": bFlag.ID, ":segment": bSeg.ID, ":guard": bGuard.ID,
	}
	before := s.snapshot(b.org.ID)

	for route, rc := range matrix {
		method, tmpl, _ := strings.Cut(route, " ")
		if !strings.Contains(tmpl, ":org") {
			continue
		}
		_, body := rc.build(s, a)
		// 1. B's organisation itself, with B's nested ids; 2. A's organisation with B's nested ids.
		if strings.Contains(substitute(tmpl, "x", theirs), "/:") {
			t.Fatalf("%s has a parameter the test has no foreign id for", tmpl)
		}
		paths := []string{substitute(tmpl, b.org.ID, theirs)}
		if strings.Count(tmpl, ":") > 1 {
			paths = append(paths, substitute(tmpl, "acme", theirs))
		}
		for _, p := range paths {
			if strings.HasPrefix(method, "DELETE") {
				p += "?confirm=" + confirmFor(tmpl, b)
			}
			for name, cred := range map[string][]string{
				"ADMIN user":    {"auth", a.admin},
				"admin API key": {"X-API-Key", a.keyA},
			} {
				r := s.req(method, p, body, cred...)
				if r.Code != 404 {
					t.Errorf("%s %s as acme's %s = %d, want 404 (%s)", method, p, name, r.Code, r.Body)
				}
			}
		}
	}
	if after := s.snapshot(b.org.ID); after != before {
		t.Errorf("acme's requests changed bravo:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Lists show only one's own organisation.
	orgs := decode[api.OrganizationList](t, s.req("GET", "/api/v1/orgs", nil, "auth", a.admin).want(t, 200))
	if len(orgs.Items) != 1 || orgs.Items[0].Slug != "acme" {
		t.Errorf("acme admin's organisations = %+v", orgs.Items)
	}
	orgs = decode[api.OrganizationList](t, s.req("GET", "/api/v1/orgs", nil, "X-API-Key", a.keyRead).want(t, 200))
	if len(orgs.Items) != 1 || orgs.Items[0].Slug != "acme" {
		t.Errorf("acme key's organisations = %+v", orgs.Items)
	}
	// API-key creation cannot bind a key to another organisation's project.
	r := s.req("POST", o+"/api-keys", map[string]any{"name": "x", "scopes": []string{"read"}, "project": b.project.ID},
		"auth", a.admin).want(t, 422)
	if _, field := r.errorField(); field != "project" {
		t.Errorf("binding to bravo's project: field %q, want project", field)
	}
}

func substitute(tmpl, org string, ids map[string]string) string {
	out := strings.Replace(tmpl, ":org", org, 1)
	for param, id := range ids {
		out = strings.Replace(out, param, id, 1)
	}
	return out
}

func confirmFor(tmpl string, b *tenant) string {
	switch {
	case strings.HasSuffix(tmpl, ":env"):
		return b.env.Key
	case strings.HasSuffix(tmpl, ":project"):
		return b.project.Key
	default:
		return b.org.Slug
	}
}

func TestProjectBoundAPIKey(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	ctx := context.Background()
	sc := services.SystemScope(a.org.ID)
	other, err := s.Svc.Projects.Create(ctx, sc, services.ProjectInput{Key: "other"})
	if err != nil {
		t.Fatal(err)
	}
	r := s.req("POST", o+"/api-keys", map[string]any{"name": "web-ci", "scopes": []string{"write", "admin"}, "project": "default"},
		"auth", a.admin).want(t, 201)
	bound := decode[api.APIKeyResponse](t, r)
	if bound.ProjectID == nil || *bound.ProjectID != a.project.ID || bound.Secret == "" {
		t.Fatalf("bound key = %+v", bound)
	}
	key := bound.Secret
	s.req("GET", o+"/projects/default", nil, "X-API-Key", key).want(t, 200)
	s.req("GET", o+"/projects/default/environments", nil, "X-API-Key", key).want(t, 200)
	s.req("GET", o+"/projects/other", nil, "X-API-Key", key).want(t, 404)
	s.req("GET", o+"/projects/"+other.ID+"/environments", nil, "X-API-Key", key).want(t, 404)
	list := decode[api.ProjectList](t, s.req("GET", o+"/projects", nil, "X-API-Key", key).want(t, 200))
	if len(list.Items) != 1 || list.Items[0].Key != "default" {
		t.Errorf("bound key lists %+v, want only default", list.Items)
	}
	// Organisation-wide routes are closed to it, even with the admin scope: no escalation by minting keys.
	s.req("GET", o+"/members", nil, "X-API-Key", key).want(t, 403)
	s.req("POST", o+"/api-keys", map[string]any{"name": "x", "scopes": []string{"admin"}}, "X-API-Key", key).want(t, 403)
	s.req("POST", o+"/projects", map[string]any{"key": "sneaky"}, "X-API-Key", key).want(t, 403)

	// An environment-bound key sees just that environment.
	envKey := decode[api.APIKeyResponse](t, s.req("POST", o+"/api-keys", map[string]any{"name": "prod-only",
		"scopes": []string{"read"}, "project": "default", "environment": "production"}, "auth", a.admin).want(t, 201)).Secret
	envs := decode[api.EnvironmentList](t, s.req("GET", o+"/projects/default/environments", nil, "X-API-Key", envKey).want(t, 200))
	if len(envs.Items) != 1 || envs.Items[0].Key != "production" {
		t.Errorf("environment-bound key lists %+v", envs.Items)
	}
	s.req("GET", o+"/projects/default/environments/staging", nil, "X-API-Key", envKey).want(t, 404)
}
