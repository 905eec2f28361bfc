package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/services"
)

func TestLastAdminCannotLeave(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	me := o + "/members/admin@acme.test"
	r := s.req("PATCH", me, map[string]string{"role": "DEVELOPER"}, "auth", a.admin).want(t, 409)
	if code, _ := r.errorField(); code != "conflict" {
		t.Errorf("demoting the last admin: code %q", code)
	}
	s.req("DELETE", me, nil, "auth", a.admin).want(t, 409)
	if got := decode[api.MemberResponse](t, s.req("GET", me, nil, "auth", a.admin).want(t, 200)); got.Role != "ADMIN" {
		t.Fatalf("role after refused changes = %s", got.Role)
	}

	// With a second admin, the first may step down; the change is enforced on the next request.
	s.req("PATCH", o+"/members/dev@acme.test", map[string]string{"role": "ADMIN"}, "auth", a.admin).want(t, 200)
	s.req("PATCH", me, map[string]string{"role": "VIEWER"}, "auth", a.admin).want(t, 200)
	s.req("POST", o+"/projects", map[string]string{"key": "web"}, "auth", a.admin).want(t, 403)
	s.req("POST", o+"/projects", map[string]string{"key": "web"}, "auth", a.dev).want(t, 201)

	// A removed member sees nothing of the organisation any more, at once.
	s.req("DELETE", o+"/members/viewer@acme.test", nil, "auth", a.dev).want(t, 204)
	s.req("GET", o+"/projects", nil, "auth", a.viewer).want(t, 404)
}

func TestIfMatchRefusesStaleWrites(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	r := s.req("GET", o+"/projects/default", nil, "auth", a.admin).want(t, 200)
	if r.Header.Get("ETag") != `"1"` {
		t.Fatalf("ETag = %q, want \"1\"", r.Header.Get("ETag"))
	}
	r = s.req("PATCH", o+"/projects/default", map[string]string{"name": "First"}, "auth", a.admin, "If-Match", `"1"`).want(t, 200)
	if got := decode[api.ProjectResponse](t, r); got.Version != 2 || got.Name != "First" || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("after one edit: %+v ETag %s", got, r.Header.Get("ETag"))
	}
	// The second person still holds version 1.
	r = s.req("PATCH", o+"/projects/default", map[string]string{"name": "Second"}, "auth", a.admin, "If-Match", `"1"`).want(t, 412)
	var e api.ErrorResponse
	_ = json.Unmarshal(r.Body, &e)
	if e.Error.Code != "precondition_failed" || e.Error.CurrentVersion == nil || *e.Error.CurrentVersion != 2 {
		t.Errorf("stale write answer = %s, want precondition_failed with current_version 2", r.Body)
	}
	if got := decode[api.ProjectResponse](t, s.req("GET", o+"/projects/default", nil, "auth", a.admin)); got.Name != "First" {
		t.Errorf("name = %q after a refused stale write, want First", got.Name)
	}
	// Without If-Match the write goes through; weak ETags are accepted too.
	s.req("PATCH", o+"/projects/default", map[string]string{"name": "Third"}, "auth", a.admin).want(t, 200)
	s.req("PATCH", o+"/projects/default", map[string]string{"name": "Fourth"}, "auth", a.admin, "If-Match", `W/"3"`).want(t, 200)
	s.req("PATCH", o, map[string]string{"name": "Acme"}, "auth", a.admin, "If-Match", `"7"`).want(t, 412)
	s.req("PATCH", o+"/members/dev@acme.test", map[string]string{"role": "VIEWER"}, "auth", a.admin, "If-Match", `"9"`).want(t, 412)
}

func TestSDKKeysMaskingAndRotation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	env := o + "/projects/default/environments/production"
	keysFor := func(token string) map[string]api.SDKKeyResponse {
		e := decode[api.EnvironmentResponse](t, s.req("GET", env, nil, "auth", token).want(t, 200))
		out := map[string]api.SDKKeyResponse{}
		for _, k := range e.SDKKeys {
			if k.ExpiresAt == nil {
				out[k.Kind] = k
			}
		}
		return out
	}
	adm, dev, view := keysFor(a.admin), keysFor(a.dev), keysFor(a.viewer)
	if adm["server"].Key != a.sdkServer || adm["client"].Key != a.sdkClient || adm["server"].Masked {
		t.Errorf("ADMIN sees %+v, want both keys in full", adm)
	}
	if dev["client"].Key != a.sdkClient || !dev["server"].Masked || strings.Contains(dev["server"].Key, a.sdkServer[8:20]) {
		t.Errorf("DEVELOPER sees %+v, want the client key and a masked server key", dev)
	}
	if !view["client"].Masked || !view["server"].Masked || !strings.HasPrefix(view["server"].Key, "srv-…") {
		t.Errorf("VIEWER sees %+v, want both masked", view)
	}

	ctx := context.Background()
	works := func(key string) bool {
		_, err := s.Plane.ResolveKey(key)
		return err == nil
	}
	// Rotate the server key with a one-hour grace: both work, then only the new one.
	r := s.req("POST", env+"/sdk-keys/rotate", map[string]string{"kind": "server", "grace_period": "1h"}, "auth", a.admin).want(t, 200)
	rotated := decode[api.EnvironmentResponse](t, r)
	var newServer string
	var graceKeys int
	for _, k := range rotated.SDKKeys {
		if k.Kind == "server" && k.ExpiresAt == nil {
			newServer = k.Key
		}
		if k.ExpiresAt != nil {
			graceKeys++
		}
	}
	if newServer == "" || newServer == a.sdkServer || graceKeys != 1 {
		t.Fatalf("after rotation keys = %+v", rotated.SDKKeys)
	}
	if !works(a.sdkServer) || !works(newServer) || !works(a.sdkClient) {
		t.Errorf("during the grace period: old %v new %v client %v, want all true", works(a.sdkServer), works(newServer), works(a.sdkClient))
	}
	s.Clock.Advance(time.Hour + time.Second)
	if works(a.sdkServer) || !works(newServer) {
		t.Errorf("after the grace period: old %v new %v, want false true", works(a.sdkServer), works(newServer))
	}
	if n, err := s.Svc.Housekeeping.ExpireSDKKeys(ctx); err != nil || n != 1 {
		t.Errorf("ExpireSDKKeys = %d, %v; want 1 deleted", n, err)
	}
	// Without a grace period the old key stops at once; an SDK key never opens management routes.
	s.req("POST", env+"/sdk-keys/rotate", map[string]string{"kind": "client"}, "auth", s.login(a.adminEmail)).want(t, 200)
	if works(a.sdkClient) {
		t.Errorf("client key still works after rotation without grace")
	}
	s.req("GET", o+"/projects", nil, "X-API-Key", newServer).want(t, 401)
}

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	expires := s.Clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	created := decode[api.APIKeyResponse](t, s.req("POST", o+"/api-keys",
		map[string]any{"name": "deployer", "scopes": []string{"write"}, "expires_at": expires}, "auth", a.admin).want(t, 201))
	if !strings.HasPrefix(created.Secret, "vk_") || !strings.HasPrefix(created.Secret, created.Prefix) || created.Status != "active" {
		t.Fatalf("created = %+v", created)
	}
	if n := s.count("api_keys", "secret_hash = ?", created.Secret); n != 0 {
		t.Fatal("the secret is stored in clear")
	}
	s.req("POST", o+"/projects", map[string]string{"key": "by-key"}, "X-API-Key", created.Secret).want(t, 403) // write < admin
	s.req("GET", o+"/projects", nil, "X-API-Key", created.Secret).want(t, 200)

	got := decode[api.APIKeyResponse](t, s.req("GET", o+"/api-keys/"+created.ID, nil, "auth", a.admin).want(t, 200))
	if got.Secret != "" || got.LastUsedAt == nil || got.ExpiresAt == nil || !got.ExpiresAt.Equal(expires) {
		t.Errorf("read back = %+v, want no secret, last_used_at set, expires_at %v", got, expires)
	}
	raw := string(s.req("GET", o+"/api-keys", nil, "auth", a.admin).want(t, 200).Body)
	if strings.Contains(raw, created.Secret) {
		t.Error("the list shows a secret")
	}

	s.req("DELETE", o+"/api-keys/"+created.ID, nil, "auth", a.admin).want(t, 200)
	s.req("GET", o+"/projects", nil, "X-API-Key", created.Secret).want(t, 401)
	got = decode[api.APIKeyResponse](t, s.req("GET", o+"/api-keys/"+created.ID, nil, "auth", a.admin).want(t, 200))
	if got.Status != "revoked" || got.RevokedAt == nil {
		t.Errorf("after revoke = %+v", got)
	}

	// Expiry.
	short := decode[api.APIKeyResponse](t, s.req("POST", o+"/api-keys", map[string]any{"name": "short", "scopes": []string{"read"},
		"expires_at": s.Clock.Now().Add(time.Minute)}, "auth", a.admin).want(t, 201))
	s.req("GET", o+"/projects", nil, "X-API-Key", short.Secret).want(t, 200)
	s.Clock.Advance(2 * time.Minute)
	s.req("GET", o+"/projects", nil, "X-API-Key", short.Secret).want(t, 401)
	s.req("GET", o+"/projects", nil, "X-API-Key", "vk_doesnotexist").want(t, 401)
}

func TestDeletingNeedsConfirmAndCascades(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	p := decode[api.ProjectResponse](t, s.req("POST", o+"/projects", map[string]any{"name": "Web Shop"}, "auth", a.admin).want(t, 201))
	if p.Key != "web-shop" || len(p.Environments) != 3 || len(p.Environments[0].SDKKeys) != 2 {
		t.Fatalf("created project = %+v", p)
	}
	s.req("DELETE", o+"/projects/web-shop", nil, "auth", a.admin).want(t, 422)
	s.req("DELETE", o+"/projects/web-shop?confirm=default", nil, "auth", a.admin).want(t, 422)
	s.req("DELETE", o+"/projects/web-shop?confirm=web-shop", nil, "auth", a.admin).want(t, 204)
	s.req("GET", o+"/projects/web-shop", nil, "auth", a.admin).want(t, 404)
	if n := s.count("environments", "project_id = ?", p.ID) + s.count("sdk_keys", "project_id = ?", p.ID); n != 0 {
		t.Errorf("%d environments and SDK keys left behind", n)
	}
	s.req("DELETE", o+"/projects/default/environments/staging?confirm=staging", nil, "auth", a.admin).want(t, 204)
	envs := decode[api.EnvironmentList](t, s.req("GET", o+"/projects/default/environments", nil, "auth", a.admin).want(t, 200))
	if len(envs.Items) != 2 {
		t.Errorf("%d environments after deleting staging, want 2", len(envs.Items))
	}

	s.req("DELETE", o+"?confirm=acme", nil, "auth", a.admin).want(t, 204)
	s.req("GET", o, nil, "auth", a.admin).want(t, 404)
	if n := s.count("projects", "org_id = ?", a.org.ID) + s.count("memberships", "org_id = ?", a.org.ID); n != 0 {
		t.Errorf("%d rows of the deleted organisation left", n)
	}
	s.req("GET", "/api/v1/me", nil, "auth", a.dev).want(t, 200) // users outlive their organisation
	s.req("GET", "/api/v1/me", nil, "X-API-Key", a.keyRead).want(t, 401)
}

func TestPagination(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	for i := 0; i < 6; i++ {
		s.req("POST", o+"/projects", map[string]any{"key": fmt.Sprintf("p%d", i), "environments": []map[string]string{{"key": "dev"}}},
			"auth", a.admin).want(t, 201)
	}
	var keys []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		page := decode[api.ProjectList](t, s.req("GET", o+"/projects?limit=3&cursor="+cursor, nil, "auth", a.admin).want(t, 200))
		if len(page.Items) > 3 {
			t.Fatalf("page of %d items with limit 3", len(page.Items))
		}
		for _, p := range page.Items {
			keys = append(keys, p.Key)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	want := "default p0 p1 p2 p3 p4 p5"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("walked %q, want %q", got, want)
	}
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	s.Clock.Advance(time.Second) // the fixture's events are all before since
	since := s.Clock.Now().UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
	s.req("POST", o+"/projects", map[string]any{"key": "web", "environments": []map[string]string{{"key": "dev"}}},
		"auth", a.admin, "X-Request-ID", "req-create-web").want(t, 201)
	s.req("PATCH", o+"/projects/web", map[string]string{"name": "Web!"}, "X-API-Key", a.keyA).want(t, 200)
	key := decode[api.APIKeyResponse](t, s.req("POST", o+"/api-keys", map[string]any{"name": "ci", "scopes": []string{"read"}},
		"auth", a.admin).want(t, 201))

	list := decode[api.AuditEventList](t, s.req("GET", o+"/audit-events?resource=web", nil, "auth", a.admin).want(t, 200))
	if len(list.Items) != 2 {
		t.Fatalf("events for web = %d, want 2 (created, updated): %+v", len(list.Items), list.Items)
	}
	upd, crt := list.Items[0], list.Items[1] // newest first
	if crt.Action != "project.created" || crt.Actor.Type != "user" || crt.Actor.Name != "admin@acme.test" ||
		crt.RequestID != "req-create-web" || crt.IP != "192.0.2.10" || string(crt.Before) != "null" {
		t.Errorf("created event = %+v", crt)
	}
	if upd.Action != "project.updated" || upd.Actor.Type != "api_key" || !strings.Contains(string(upd.Before), `"name":"web"`) ||
		!strings.Contains(string(upd.After), `"name":"Web!"`) {
		t.Errorf("updated event = %+v before %s after %s", upd, upd.Before, upd.After)
	}
	all := s.req("GET", o+"/audit-events?limit=200", nil, "auth", a.admin).want(t, 200)
	if strings.Contains(string(all.Body), key.Secret) || strings.Contains(string(all.Body), a.sdkServer) {
		t.Error("the audit log contains a secret")
	}
	got := decode[api.AuditEventList](t, s.req("GET", o+"/audit-events?action=api_key.created&since="+since, nil, "auth", a.admin).want(t, 200))
	if len(got.Items) != 1 || got.Items[0].Resource.ID != key.ID {
		t.Errorf("api_key.created since the start = %+v", got.Items)
	}
	got = decode[api.AuditEventList](t, s.req("GET", o+"/audit-events?actor="+a.keyAID(s), nil, "auth", a.admin).want(t, 200))
	if len(got.Items) != 1 || got.Items[0].Action != "project.updated" {
		t.Errorf("events by the admin key = %+v", got.Items)
	}
	p1 := decode[api.AuditEventList](t, s.req("GET", o+"/audit-events?limit=2", nil, "auth", a.admin).want(t, 200))
	p2 := decode[api.AuditEventList](t, s.req("GET", o+"/audit-events?limit=2&cursor="+p1.NextCursor, nil, "auth", a.admin).want(t, 200))
	if len(p1.Items) != 2 || len(p2.Items) != 2 || p1.Items[1].ID <= p2.Items[0].ID {
		t.Errorf("audit pages are not newest-first and disjoint: %v then %v", p1.Items, p2.Items)
	}
	// The membership changes of the fixture were recorded too.
	if n := s.count("audit_events", "org_id = ? AND action = ?", a.org.ID, "invitation.accepted"); n != 2 {
		t.Errorf("%d invitation.accepted events, want 2", n)
	}
}

// keyAID finds the id of the tenant's admin-scoped API key.
func (a *tenant) keyAID(s *server) string {
	p, err := s.Svc.Auth.Authenticate(context.Background(), a.keyA)
	if err != nil {
		s.t.Fatal(err)
	}
	return p.ID
}

func TestBootstrapIsIdempotent(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := context.Background()
	res, err := s.Svc.Bootstrap(ctx)
	if err != nil || !res.Created || len(res.Password) < 16 {
		t.Fatalf("first bootstrap = %+v, %v", res, err)
	}
	tok := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/login",
		map[string]string{"username": "admin", "password": res.Password}).want(t, 200))
	envs := decode[api.EnvironmentList](t, s.req("GET", "/api/v1/orgs/default/projects/default/environments", nil,
		"auth", tok.AccessToken).want(t, 200))
	var ek []string
	for _, e := range envs.Items {
		ek = append(ek, e.Key)
	}
	if strings.Join(ek, ",") != "development,staging,production" {
		t.Errorf("default environments = %v", ek)
	}
	again, err := s.Svc.Bootstrap(ctx)
	if err != nil || again.Created {
		t.Errorf("second bootstrap = %+v, %v; want nothing created", again, err)
	}
	if n := s.count("organizations", "1 = 1"); n != 1 {
		t.Errorf("%d organisations after two bootstraps", n)
	}
	_, err = s.Svc.Orgs.Create(ctx, services.SystemScope(""), services.OrgInput{Name: "x"})
	if errs.KindOf(err) != errs.Forbidden {
		t.Errorf("creating an organisation as the system = %v, want forbidden", err)
	}
}
