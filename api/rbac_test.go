package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// Roles ranked; a credential may use a route when its rank reaches the route's minimum.
const (
	anyone = iota // any authenticated user or API key
	viewer
	developer
	admin
)

// routeCase is what one route needs, written by hand from DESIGN §3 (not read from the policy), and
// how to make a request that succeeds for an allowed credential. build runs once per credential so
// destructive routes get a fresh target each time.
type routeCase struct {
	min      int
	ok       int
	userOnly bool // API keys are refused (403) even with the admin scope
	build    func(s *server, a *tenant) (path string, body any)
	// sdk routes take only SDK keys (client keys get 403 where serverOnly); everyone else 401.
	sdk, serverOnly bool
	// own: the environment comes from the credential, so another organisation's member works in
	// their own organisation; ownMissing is their status when the path names acme's flag.
	own        bool
	ownMissing bool
	stream     bool // a Server-Sent Events route: the request is cut short
}

func fixed(path string, body any) func(*server, *tenant) (string, any) {
	return func(*server, *tenant) (string, any) { return path, body }
}

// freshMember adds a throwaway member and returns its email.
func freshMember(s *server, a *tenant) string {
	email := testenv.Name("m") + "@acme.test"
	s.join(a.org, email, models.RoleViewer)
	return email
}

func freshEnv(s *server, a *tenant) string {
	key := testenv.Name("env")
	if _, err := s.Svc.Environments.Create(context.Background(), services.SystemScope(a.org.ID), "default",
		services.EnvironmentInput{Key: key}); err != nil {
		s.t.Fatal(err)
	}
	return key
}

func freshAPIKey(s *server, a *tenant) string {
	k, _, err := s.Svc.APIKeys.Create(context.Background(), services.SystemScope(a.org.ID),
		services.APIKeyInput{Name: "throwaway", Scopes: []string{"read"}})
	if err != nil {
		s.t.Fatal(err)
	}
	return k.ID
}

const o = "/api/v1/orgs/acme"

// freshFlag makes a flag in project default and walks its production config through verbs.
func freshFlag(s *server, a *tenant, verbs ...string) string {
	ctx := context.Background()
	sc := services.SystemScope(a.org.ID)
	key := testenv.Name("flag")
	if _, err := s.Svc.Flags.Create(ctx, sc, "default", services.FlagInput{Key: key}); err != nil {
		s.t.Fatal(err)
	}
	for _, v := range verbs {
		if _, err := s.Svc.Flags.Transition(ctx, sc, "default", key, "production", v, 0); err != nil {
			s.t.Fatalf("%s %s: %v", v, key, err)
		}
	}
	return key
}

func freshSegment(s *server, a *tenant) string {
	key := testenv.Name("seg")
	if _, err := s.Svc.Segments.Create(context.Background(), services.SystemScope(a.org.ID), "default",
		services.SegmentInput{Key: key, Included: []string{"u1"}}); err != nil {
		s.t.Fatal(err)
	}
	return key
}

// verbRow is a transition route whose fresh flag first walks through the given verbs.
func verbRow(verb string, before ...string) routeCase {
	return routeCase{min: developer, ok: 200, build: func(s *server, a *tenant) (string, any) {
		return o + "/projects/default/flags/" + freshFlag(s, a, before...) + "/environments/production/" + verb, nil
	}}
}

const pf = o + "/projects/default/flags/"

// matrix is every non-public route of the router. A route missing here fails TestRBACMatrix.
var matrix = map[string]routeCase{
	"GET /api/v1/me": {min: anyone, ok: 200, build: fixed("/api/v1/me", nil)},
	// Authorised for every user, then refused for the wrong current password (nothing changes).
	"POST /api/v1/auth/password": {min: anyone, ok: 422, userOnly: true, build: fixed("/api/v1/auth/password",
		map[string]string{"current_password": "not the password", "new_password": "a much longer passphrase 42"})},
	"GET /api/v1/orgs": {min: anyone, ok: 200, build: fixed("/api/v1/orgs", nil)},
	"POST /api/v1/orgs": {min: anyone, ok: 201, userOnly: true, build: func(*server, *tenant) (string, any) {
		return "/api/v1/orgs", map[string]string{"name": testenv.Name("org")}
	}},
	"GET /api/v1/orgs/:org":    {min: viewer, ok: 200, build: fixed(o, nil)},
	"PATCH /api/v1/orgs/:org":  {min: admin, ok: 200, build: fixed(o, map[string]string{"name": "Acme Inc"})},
	"DELETE /api/v1/orgs/:org": {min: admin, ok: 422, build: fixed(o+"?confirm=not-the-slug", nil)}, // authorised, then refused by the confirm check

	"GET /api/v1/orgs/:org/members": {min: viewer, ok: 200, build: fixed(o+"/members", nil)},
	"POST /api/v1/orgs/:org/members": {min: admin, ok: 201, build: func(*server, *tenant) (string, any) {
		return o + "/members", map[string]string{"email": testenv.Name("inv") + "@acme.test", "role": "VIEWER"}
	}},
	"GET /api/v1/orgs/:org/members/:member": {min: viewer, ok: 200, build: fixed(o+"/members/admin@acme.test", nil)},
	"PATCH /api/v1/orgs/:org/members/:member": {min: admin, ok: 200, build: func(s *server, a *tenant) (string, any) {
		return o + "/members/" + freshMember(s, a), map[string]string{"role": "DEVELOPER"}
	}},
	"DELETE /api/v1/orgs/:org/members/:member": {min: admin, ok: 204, build: func(s *server, a *tenant) (string, any) {
		return o + "/members/" + freshMember(s, a), nil
	}},
	"GET /api/v1/orgs/:org/invitations": {min: admin, ok: 200, build: fixed(o+"/invitations", nil)},
	"DELETE /api/v1/orgs/:org/invitations/:invitation": {min: admin, ok: 204, build: func(s *server, a *tenant) (string, any) {
		inv, _, err := s.Svc.Members.Invite(context.Background(), services.SystemScope(a.org.ID), testenv.Name("i")+"@acme.test", "VIEWER")
		if err != nil {
			s.t.Fatal(err)
		}
		return o + "/invitations/" + inv.ID, nil
	}},

	"GET /api/v1/orgs/:org/api-keys": {min: admin, ok: 200, build: fixed(o+"/api-keys", nil)},
	"POST /api/v1/orgs/:org/api-keys": {min: admin, ok: 201, build: fixed(o+"/api-keys",
		map[string]any{"name": "ci", "scopes": []string{"read"}})},
	"GET /api/v1/orgs/:org/api-keys/:key": {min: admin, ok: 200, build: func(s *server, a *tenant) (string, any) {
		return o + "/api-keys/" + freshAPIKey(s, a), nil
	}},
	"DELETE /api/v1/orgs/:org/api-keys/:key": {min: admin, ok: 200, build: func(s *server, a *tenant) (string, any) {
		return o + "/api-keys/" + freshAPIKey(s, a), nil
	}},

	"GET /api/v1/orgs/:org/audit-events": {min: admin, ok: 200, build: fixed(o+"/audit-events", nil)},

	"GET /api/v1/orgs/:org/projects": {min: viewer, ok: 200, build: fixed(o+"/projects", nil)},
	"POST /api/v1/orgs/:org/projects": {min: admin, ok: 201, build: func(*server, *tenant) (string, any) {
		return o + "/projects", map[string]any{"key": testenv.Name("p"), "environments": []map[string]string{{"key": "dev"}}}
	}},
	"GET /api/v1/orgs/:org/projects/:project":   {min: viewer, ok: 200, build: fixed(o+"/projects/default", nil)},
	"PATCH /api/v1/orgs/:org/projects/:project": {min: admin, ok: 200, build: fixed(o+"/projects/default", map[string]string{"description": "d"})},
	"DELETE /api/v1/orgs/:org/projects/:project": {min: admin, ok: 204, build: func(s *server, a *tenant) (string, any) {
		key := testenv.Name("p")
		if _, err := s.Svc.Projects.Create(context.Background(), services.SystemScope(a.org.ID), services.ProjectInput{Key: key}); err != nil {
			s.t.Fatal(err)
		}
		return o + "/projects/" + key + "?confirm=" + key, nil
	}},
	"GET /api/v1/orgs/:org/projects/:project/environments": {min: viewer, ok: 200, build: fixed(o+"/projects/default/environments", nil)},
	"POST /api/v1/orgs/:org/projects/:project/environments": {min: admin, ok: 201, build: func(*server, *tenant) (string, any) {
		return o + "/projects/default/environments", map[string]string{"key": testenv.Name("e")}
	}},
	"GET /api/v1/orgs/:org/projects/:project/environments/:env": {min: viewer, ok: 200, build: fixed(o+"/projects/default/environments/staging", nil)},
	"PATCH /api/v1/orgs/:org/projects/:project/environments/:env": {min: admin, ok: 200,
		build: fixed(o+"/projects/default/environments/staging", map[string]string{"description": "d"})},
	"DELETE /api/v1/orgs/:org/projects/:project/environments/:env": {min: admin, ok: 204, build: func(s *server, a *tenant) (string, any) {
		key := freshEnv(s, a)
		return o + "/projects/default/environments/" + key + "?confirm=" + key, nil
	}},
	"POST /api/v1/orgs/:org/projects/:project/environments/:env/sdk-keys/rotate": {min: admin, ok: 200, build: func(s *server, a *tenant) (string, any) {
		return o + "/projects/default/environments/" + freshEnv(s, a) + "/sdk-keys/rotate", map[string]string{"kind": "both"}
	}},
}

func init() {
	const fr = "/api/v1/orgs/:org/projects/:project/flags"
	const sr = "/api/v1/orgs/:org/projects/:project/segments"
	flagPath := func(suffix string) func(*server, *tenant) (string, any) {
		return func(s *server, a *tenant) (string, any) { return pf + freshFlag(s, a) + suffix, nil }
	}
	rows := map[string]routeCase{
		"GET " + fr: {min: viewer, ok: 200, build: fixed(o+"/projects/default/flags", nil)},
		"POST " + fr: {min: developer, ok: 201, build: func(*server, *tenant) (string, any) {
			return o + "/projects/default/flags", map[string]string{"key": testenv.Name("f")}
		}},
		"GET " + fr + "/:flag": {min: viewer, ok: 200, build: flagPath("")},
		"PATCH " + fr + "/:flag": {min: developer, ok: 200, build: func(s *server, a *tenant) (string, any) {
			return pf + freshFlag(s, a), map[string]string{"description": "d"}
		}},
		"DELETE " + fr + "/:flag":                         {min: developer, ok: 204, build: flagPath("")},
		"GET " + fr + "/:flag/environments/:env":          {min: viewer, ok: 200, build: flagPath("/environments/production")},
		"GET " + fr + "/:flag/environments/:env/insights": {min: viewer, ok: 200, build: flagPath("/environments/production/insights")},
		"POST " + fr + "/:flag/environments/:env/evaluate": {min: viewer, ok: 200, build: func(s *server, a *tenant) (string, any) {
			return pf + freshFlag(s, a) + "/environments/production/evaluate", map[string]any{"context": map[string]string{"key": "u1"}}
		}},
		"PATCH " + fr + "/:flag/environments/:env": {min: developer, ok: 200, build: func(s *server, a *tenant) (string, any) {
			return pf + freshFlag(s, a) + "/environments/production", map[string]any{"rollout_percentage": 20}
		}},
		"POST " + fr + "/:flag/environments/:env/activate": verbRow("activate"),
		"POST " + fr + "/:flag/environments/:env/enable":   verbRow("enable", "activate"),
		"POST " + fr + "/:flag/environments/:env/disable":  verbRow("disable", "activate"),
		"POST " + fr + "/:flag/environments/:env/pause":    verbRow("pause", "activate", "disable"),
		"POST " + fr + "/:flag/environments/:env/resume":   verbRow("resume", "activate", "disable", "pause"),
		"POST " + fr + "/:flag/environments/:env/rollout":  verbRow("rollout", "activate", "enable"),
		"POST " + fr + "/:flag/environments/:env/archive":  verbRow("archive", "activate", "disable"),
		"GET " + sr: {min: viewer, ok: 200, build: fixed(o+"/projects/default/segments", nil)},
		"POST " + sr: {min: developer, ok: 201, build: func(*server, *tenant) (string, any) {
			return o + "/projects/default/segments", map[string]any{"key": testenv.Name("s"), "included": []string{"u1"}}
		}},
		"GET " + sr + "/:segment": {min: viewer, ok: 200, build: func(s *server, a *tenant) (string, any) {
			return o + "/projects/default/segments/" + freshSegment(s, a), nil
		}},
		"PATCH " + sr + "/:segment": {min: developer, ok: 200, build: func(s *server, a *tenant) (string, any) {
			return o + "/projects/default/segments/" + freshSegment(s, a), map[string]any{"excluded": []string{"u2"}}
		}},
		"DELETE " + sr + "/:segment": {min: developer, ok: 204, build: func(s *server, a *tenant) (string, any) {
			return o + "/projects/default/segments/" + freshSegment(s, a), nil
		}},
	}
	const ff = "/api/v1/feature-flags"
	simpleFlag := func(s *server, a *tenant) (string, any) { return ff + "/" + freshFlag(s, a), nil }
	ctxBody := map[string]any{"context": map[string]any{"targetingKey": "user-1"}}
	rows["GET "+ff] = routeCase{min: viewer, ok: 200, own: true, build: fixed(ff, nil)}
	rows["POST "+ff] = routeCase{min: developer, ok: 201, own: true, build: func(*server, *tenant) (string, any) {
		return ff, map[string]any{"key": testenv.Name("s"), "rollout_percentage": 10}
	}}
	rows["GET "+ff+"/:key"] = routeCase{min: viewer, ok: 200, own: true, ownMissing: true, build: simpleFlag}
	rows["PUT "+ff+"/:key"] = routeCase{min: developer, ok: 200, own: true, ownMissing: true, build: func(s *server, a *tenant) (string, any) {
		return ff + "/" + freshFlag(s, a), map[string]any{"rollout_percentage": 30}
	}}
	rows["PATCH "+ff+"/:key"] = routeCase{min: developer, ok: 200, own: true, ownMissing: true, build: func(s *server, a *tenant) (string, any) {
		return ff + "/" + freshFlag(s, a), map[string]any{"description": "x"}
	}}
	rows["DELETE "+ff+"/:key"] = routeCase{min: developer, ok: 204, own: true, ownMissing: true, build: simpleFlag}
	rows["POST "+ff+"/:key/evaluate"] = routeCase{sdk: true, ok: 200, build: func(s *server, a *tenant) (string, any) {
		return ff + "/" + freshFlag(s, a, "activate") + "/evaluate", map[string]any{"user_id": "u1"}
	}}
	rows["GET "+ff+"/evaluate"] = routeCase{sdk: true, ok: 200, build: fixed(ff+"/evaluate?user_id=42", nil)}
	rows["POST "+ff+"/evaluate"] = routeCase{sdk: true, ok: 200, build: fixed(ff+"/evaluate", map[string]any{"org_id": 47})}
	rows["GET /api/v1/sdk/config"] = routeCase{sdk: true, serverOnly: true, ok: 200, build: fixed("/api/v1/sdk/config", nil)}
	rows["GET /api/v1/sdk/stream"] = routeCase{sdk: true, serverOnly: true, ok: 200, stream: true, build: fixed("/api/v1/sdk/stream", nil)}
	rows["POST /ofrep/v1/evaluate/flags/:key"] = routeCase{sdk: true, ok: 200, build: func(s *server, a *tenant) (string, any) {
		return "/ofrep/v1/evaluate/flags/" + freshFlag(s, a), ctxBody
	}}
	rows["POST /ofrep/v1/evaluate/flags"] = routeCase{sdk: true, ok: 200, build: fixed("/ofrep/v1/evaluate/flags", ctxBody)}
	rows["GET /ofrep/v1/stream"] = routeCase{sdk: true, ok: 200, stream: true, build: fixed("/ofrep/v1/stream", nil)}
	const pr = fr + "/:flag/environments/:env/rollout-plan"
	planBody := map[string]any{"stages": []map[string]any{{"percentage": 10}, {"percentage": 100, "after": "24h"}}}
	planFor := func(state string) func(*server, *tenant) (string, any) {
		return func(s *server, a *tenant) (string, any) {
			key := freshFlag(s, a, "activate")
			ctx, sc := context.Background(), services.SystemScope(a.org.ID)
			after := 24 * time.Hour
			if _, err := s.Svc.Rollouts.Put(ctx, sc, "default", key, "production", services.PlanInput{Stages: []services.StageInput{
				{Percentage: 50, After: &after}}}); err != nil {
				s.t.Fatal(err)
			}
			if state == "RUNNING" || state == "PAUSED" {
				if _, err := s.Svc.Rollouts.Start(ctx, sc, "default", key, "production"); err != nil {
					s.t.Fatal(err)
				}
			}
			if state == "PAUSED" {
				if _, err := s.Svc.Rollouts.Pause(ctx, sc, "default", key, "production"); err != nil {
					s.t.Fatal(err)
				}
			}
			return pf + key + "/environments/production/rollout-plan", nil
		}
	}
	withPath := func(build func(*server, *tenant) (string, any), suffix string, body any) func(*server, *tenant) (string, any) {
		return func(s *server, a *tenant) (string, any) {
			p, _ := build(s, a)
			return p + suffix, body
		}
	}
	rows["GET "+pr] = routeCase{min: viewer, ok: 200, build: planFor("DRAFT")}
	rows["POST "+pr] = routeCase{min: developer, ok: 201, build: func(s *server, a *tenant) (string, any) {
		return pf + freshFlag(s, a) + "/environments/production/rollout-plan", planBody
	}}
	rows["PUT "+pr] = routeCase{min: developer, ok: 200, build: withPath(planFor("DRAFT"), "", planBody)}
	rows["DELETE "+pr] = routeCase{min: developer, ok: 204, build: planFor("DRAFT")}
	rows["POST "+pr+"/start"] = routeCase{min: developer, ok: 200, build: withPath(planFor("DRAFT"), "/start", nil)}
	rows["POST "+pr+"/pause"] = routeCase{min: developer, ok: 200, build: withPath(planFor("RUNNING"), "/pause", nil)}
	rows["POST "+pr+"/resume"] = routeCase{min: developer, ok: 200, build: withPath(planFor("PAUSED"), "/resume", nil)}
	rows["POST "+pr+"/cancel"] = routeCase{min: developer, ok: 200, build: withPath(planFor("RUNNING"), "/cancel", nil)}
	const gr = fr + "/:flag/environments/:env/guards"
	guardBody := map[string]any{"metric": "error_rate", "threshold": 0.05, "action": "rollback_to_zero"}
	freshGuard := func(s *server, a *tenant) (string, string) {
		key := freshFlag(s, a)
		g, _, err := s.Svc.Guards.Create(context.Background(), services.SystemScope(a.org.ID), "default", key, "production",
			services.GuardInput{Metric: "error_rate", Threshold: 0.1, Action: "kill_switch"})
		if err != nil {
			s.t.Fatal(err)
		}
		return pf + key + "/environments/production/guards", g.ID
	}
	rows["GET "+gr] = routeCase{min: viewer, ok: 200, build: func(s *server, a *tenant) (string, any) { p, _ := freshGuard(s, a); return p, nil }}
	rows["POST "+gr] = routeCase{min: developer, ok: 201, build: func(s *server, a *tenant) (string, any) {
		return pf + freshFlag(s, a) + "/environments/production/guards", guardBody
	}}
	rows["GET "+gr+"/:guard"] = routeCase{min: viewer, ok: 200, build: func(s *server, a *tenant) (string, any) {
		p, id := freshGuard(s, a)
		return p + "/" + id, nil
	}}
	rows["DELETE "+gr+"/:guard"] = routeCase{min: developer, ok: 204, build: func(s *server, a *tenant) (string, any) {
		p, id := freshGuard(s, a)
		return p + "/" + id, nil
	}}
	rows["POST "+gr+"/:guard/trigger/rotate"] = routeCase{min: developer, ok: 200, build: func(s *server, a *tenant) (string, any) {
		p, id := freshGuard(s, a)
		return p + "/" + id + "/trigger/rotate", nil
	}}
	rows["GET "+fr+"/:flag/environments/:env/rollbacks"] = routeCase{min: viewer, ok: 200, build: func(s *server, a *tenant) (string, any) {
		return pf + freshFlag(s, a) + "/environments/production/rollbacks", nil
	}}
	const wr = "/api/v1/orgs/:org/webhooks"
	freshWebhook := func(s *server, a *tenant) string {
		w, err := s.Svc.Webhooks.Create(context.Background(), services.SystemScope(a.org.ID), services.WebhookInput{URL: exampleHook})
		if err != nil {
			s.t.Fatal(err)
		}
		return o + "/webhooks/" + w.ID
	}
	byWebhook := func(suffix string, body any) func(*server, *tenant) (string, any) {
		return func(s *server, a *tenant) (string, any) { return freshWebhook(s, a) + suffix, body }
	}
	rows["GET "+wr] = routeCase{min: admin, ok: 200, build: fixed(o+"/webhooks", nil)}
	rows["POST "+wr] = routeCase{min: admin, ok: 201, build: fixed(o+"/webhooks", map[string]any{"url": exampleHook})}
	rows["GET "+wr+"/:webhook"] = routeCase{min: admin, ok: 200, build: byWebhook("", nil)}
	rows["PATCH "+wr+"/:webhook"] = routeCase{min: admin, ok: 200, build: byWebhook("", map[string]any{"active": false})}
	rows["DELETE "+wr+"/:webhook"] = routeCase{min: admin, ok: 204, build: byWebhook("", nil)}
	rows["GET "+wr+"/:webhook/deliveries"] = routeCase{min: admin, ok: 200, build: byWebhook("/deliveries", nil)}
	rows["POST "+wr+"/:webhook/deliveries/:delivery/redeliver"] = routeCase{min: admin, ok: 202, build: func(s *server, a *tenant) (string, any) {
		p := freshWebhook(s, a)
		return p + "/deliveries/" + s.failedDelivery(a.org.ID, p[strings.LastIndex(p, "/")+1:]) + "/redeliver", nil
	}}
	rows["POST /api/v1/sdk/metrics"] = routeCase{sdk: true, serverOnly: true, ok: 202, build: fixed("/api/v1/sdk/metrics",
		map[string]any{"metrics": []map[string]any{{"flag_key": "f", "variation": "true", "evaluations": 1, "successes": 1}}})}
	for k, v := range rows {
		matrix[k] = v
	}
}

// public routes need no credential.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /swagger/*any": true,
	"POST /api/v1/auth/login": true, "POST /api/v1/auth/refresh": true, "POST /api/v1/auth/logout": true,
	"POST /api/v1/auth/signup": true, "POST /api/v1/auth/accept-invite": true,
	"POST /api/v1/triggers/:secret": true, // the secret in the path is the credential
}

func TestRBACMatrix(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.newTenant("bravo")

	// Every route the engine serves is either public or in the matrix, and declares its access.
	declared := map[string]bool{}
	for _, r := range s.router.Routes {
		key := r.Method + " " + r.Path
		declared[key] = true
		if r.Access.Public != publicRoutes[key] {
			t.Errorf("%s: public = %v, want %v", key, r.Access.Public, publicRoutes[key])
		}
		if !r.Access.Public && !r.Access.Authenticated && !r.Access.SDK && (r.Access.Resource == "" || r.Access.Action == "") {
			t.Errorf("%s declares no resource and action", key)
		}
	}
	for _, r := range s.router.Engine.Routes() {
		key := r.Method + " " + r.Path
		if !declared[key] {
			t.Errorf("%s is served but was not declared through the router's access helpers", key)
		}
		if _, ok := matrix[key]; !ok && !publicRoutes[key] {
			t.Errorf("%s has no row in the RBAC matrix: add one", key)
		}
	}

	type cred struct {
		name    string
		token   string
		rank    int
		apiKey  bool
		outside bool
	}
	creds := []cred{
		{"ADMIN", a.admin, admin, false, false},
		{"DEVELOPER", a.dev, developer, false, false},
		{"VIEWER", a.viewer, viewer, false, false},
		{"api key admin", a.keyA, admin, true, false},
		{"api key write", a.keyWrite, developer, true, false},
		{"api key read", a.keyRead, viewer, true, false},
		{"sdk server key", a.sdkServer, -2, false, false},
		{"sdk client key", a.sdkClient, -3, false, false},
		{"no credential", "", -1, false, false},
		{"ADMIN of another organisation", b.admin, admin, false, true},
	}
	for route, rc := range matrix {
		method, _, _ := strings.Cut(route, " ")
		for _, c := range creds {
			path, body := rc.build(s, a)
			want := rc.ok
			switch {
			case rc.sdk && c.rank == -3 && rc.serverOnly:
				want = http.StatusForbidden
			case rc.sdk && c.rank <= -2:
				want = rc.ok
			case rc.sdk || c.rank < 0:
				want = http.StatusUnauthorized
			case c.outside && rc.own && rc.ownMissing:
				want = http.StatusNotFound
			case c.outside && rc.own:
				want = rc.ok
			case c.outside && rc.min > anyone:
				want = http.StatusNotFound
			case rc.userOnly && c.apiKey:
				want = http.StatusForbidden
			case c.rank < rc.min:
				want = http.StatusForbidden
			}
			header := []string{"auth", c.token}
			if c.apiKey || c.rank <= -2 { // API and SDK keys travel in X-API-Key; users' tokens in Authorization
				header = []string{"X-API-Key", c.token}
			}
			var r response
			if rc.stream {
				r = s.reqStream(30*time.Second, method, path, body, header...)
			} else {
				r = s.req(method, path, body, header...)
			}
			if r.Code != want {
				t.Errorf("%s as %s = %d, want %d (%s)", route, c.name, r.Code, want, r.Body)
			}
		}
	}
}

// TestAPIKeyInAuthorizationHeader checks the other place an API key may travel.
func TestAPIKeyInAuthorizationHeader(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	s.req("GET", o+"/projects", nil, "auth", a.keyRead).want(t, 200)
	s.req("POST", o+"/projects", map[string]string{"key": "x"}, "auth", a.keyRead).want(t, 403)
}
