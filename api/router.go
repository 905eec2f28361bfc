// Package api is Vane's HTTP layer: the gin router (this file is the one list of routes and what
// each needs), middleware, one file of handlers per resource, and the request/response DTOs.
//
//	@title						Vane API
//	@version					1.0
//	@description				Vane is a multi-tenant feature-flag service. Management routes take a user's access token (Authorization: Bearer …) or an API key (X-API-Key: vk_… or Authorization: Bearer vk_…). Errors have one shape: {"error": {"code", "message", "details": [{"field", "message"}]}}.
//	@BasePath					/
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				"Bearer " followed by an access token from /api/v1/auth/login (or an API key).
//	@securityDefinitions.apikey	ApiKeyAuth
//	@in							header
//	@name						X-API-Key
//	@description				An API key (vk_…).
package api

import (
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	swaggerFiles "github.com/swaggo/files"
	ginSwagger "github.com/swaggo/gin-swagger"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/clock"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/metrics"
	"github.com/vanehq/vane/policies"
	"github.com/vanehq/vane/services"

	_ "github.com/vanehq/vane/docs" // the generated OpenAPI document
)

// Deps are what the router needs.
type Deps struct {
	Services       *services.Services
	Plane          *dataplane.Plane
	Enforcer       *policies.Enforcer
	Log            *slog.Logger
	Clock          clock.Clock
	CORSOrigins    []string
	TrustedProxies []string
	// Portal is the built portal (web.Dist()) served at / for every non-API path; nil serves none.
	Portal fs.FS
	// Metrics, when set, observes every request; MetricsRoute also serves it at GET /metrics.
	Metrics      *metrics.Metrics
	MetricsRoute bool
}

type handlers struct {
	svc      *services.Services
	plane    *dataplane.Plane
	enforcer *policies.Enforcer
	clock    clock.Clock
	pages    rendered // the JSON of flag lists, by page stamp
}

func (h *handlers) now() time.Time { return h.clock.Now() }

// Access says what a route requires; the RBAC matrix test reads it.
type Access struct {
	Public        bool              // no credential
	Authenticated bool              // any user or API key, no organisation
	Resource      policies.Resource // for organisation routes
	Action        policies.Action
	BoundOK       bool // a project-bound API key may use it
	SDK           bool // an SDK key of one environment (evaluation)
	ServerOnly    bool // only the server-side SDK key
}

// Route is one declared route.
type Route struct {
	Method string
	Path   string
	Access Access
}

// Router is the gin engine and the declaration of every route.
type Router struct {
	*gin.Engine
	Routes []Route
}

// NewRouter builds the HTTP handler with every route, each declaring what it needs.
func NewRouter(d Deps) (*Router, error) {
	if d.Services == nil || d.Plane == nil || d.Enforcer == nil {
		return nil, errors.New("api: Deps needs Services, Plane and Enforcer")
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, err
	}
	h := &handlers{svc: d.Services, plane: d.Plane, enforcer: d.Enforcer, clock: d.Clock}
	r := &Router{Engine: e}

	quiet := map[string]bool{} // evaluation routes: counted in metrics, logged per request at debug only
	e.Use(withRequestID(d.Log), observe(d.Metrics), recovery(), accessLog(quiet), cors(d.CORSOrigins), limitBody(), refuseNUL())
	site := newPortal(d.Portal)
	e.NoRoute(func(c *gin.Context) {
		if site.serve(c) {
			return
		}
		fail(c, errs.NotFoundf("no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, ErrorResponse{Error: ErrorBody{Code: "method_not_allowed",
			Message: c.Request.Method + " is not allowed here", RequestID: requestID(c)}})
	})

	public := func(method, path string, fn gin.HandlerFunc) {
		r.Routes = append(r.Routes, Route{method, path, Access{Public: true}})
		e.Handle(method, path, fn)
	}
	authed := func(method, path string, fn gin.HandlerFunc) {
		r.Routes = append(r.Routes, Route{method, path, Access{Authenticated: true}})
		e.Handle(method, path, h.authenticate, fn)
	}
	org := func(method, path string, res policies.Resource, act policies.Action, fn gin.HandlerFunc) {
		r.Routes = append(r.Routes, Route{method, path, Access{Resource: res, Action: act}})
		e.Handle(method, path, h.authenticate, h.authorize(res, act, false), fn)
	}
	// project routes are open to API keys bound to that project (the service checks which).
	project := func(method, path string, res policies.Resource, act policies.Action, fn gin.HandlerFunc) {
		r.Routes = append(r.Routes, Route{method, path, Access{Resource: res, Action: act, BoundOK: true}})
		e.Handle(method, path, h.authenticate, h.authorize(res, act, true), fn)
	}

	public(http.MethodGet, "/healthz", h.healthz)
	public(http.MethodGet, "/readyz", h.readyz)
	if d.Metrics != nil && d.MetricsRoute {
		public(http.MethodGet, "/metrics", gin.WrapH(d.Metrics.Handler()))
	}
	public(http.MethodGet, "/swagger/*any", ginSwagger.WrapHandler(swaggerFiles.Handler))

	const v1 = "/api/v1"
	public(http.MethodPost, v1+"/auth/login", h.login)
	public(http.MethodPost, v1+"/auth/refresh", h.refresh)
	public(http.MethodPost, v1+"/auth/logout", h.logout)
	public(http.MethodPost, v1+"/auth/signup", h.signup)
	public(http.MethodPost, v1+"/auth/accept-invite", h.acceptInvite)
	authed(http.MethodPost, v1+"/auth/password", h.changePassword)
	authed(http.MethodGet, v1+"/me", h.me)
	authed(http.MethodGet, v1+"/orgs", h.listOrgs)
	authed(http.MethodPost, v1+"/orgs", h.createOrg)

	const o = v1 + "/orgs/:org"
	project(http.MethodGet, o, policies.Orgs, policies.Read, h.getOrg)
	org(http.MethodPatch, o, policies.Orgs, policies.Write, h.updateOrg)
	org(http.MethodDelete, o, policies.Orgs, policies.Write, h.deleteOrg)

	org(http.MethodGet, o+"/members", policies.Members, policies.Read, h.listMembers)
	org(http.MethodPost, o+"/members", policies.Members, policies.Write, h.inviteMember)
	org(http.MethodGet, o+"/members/:member", policies.Members, policies.Read, h.getMember)
	org(http.MethodPatch, o+"/members/:member", policies.Members, policies.Write, h.updateMember)
	org(http.MethodDelete, o+"/members/:member", policies.Members, policies.Write, h.removeMember)
	org(http.MethodGet, o+"/invitations", policies.Invitations, policies.Read, h.listInvitations)
	org(http.MethodDelete, o+"/invitations/:invitation", policies.Members, policies.Write, h.revokeInvitation)

	org(http.MethodGet, o+"/api-keys", policies.APIKeys, policies.Read, h.listAPIKeys)
	org(http.MethodPost, o+"/api-keys", policies.APIKeys, policies.Write, h.createAPIKey)
	org(http.MethodGet, o+"/api-keys/:key", policies.APIKeys, policies.Read, h.getAPIKey)
	org(http.MethodDelete, o+"/api-keys/:key", policies.APIKeys, policies.Write, h.revokeAPIKey)

	org(http.MethodGet, o+"/audit-events", policies.Audit, policies.Read, h.listAuditEvents)

	org(http.MethodGet, o+"/webhooks", policies.Webhooks, policies.Read, h.listWebhooks)
	org(http.MethodPost, o+"/webhooks", policies.Webhooks, policies.Write, h.createWebhook)
	org(http.MethodGet, o+"/webhooks/:webhook", policies.Webhooks, policies.Read, h.getWebhook)
	org(http.MethodPatch, o+"/webhooks/:webhook", policies.Webhooks, policies.Write, h.updateWebhook)
	org(http.MethodDelete, o+"/webhooks/:webhook", policies.Webhooks, policies.Write, h.deleteWebhook)
	org(http.MethodGet, o+"/webhooks/:webhook/deliveries", policies.Webhooks, policies.Read, h.listDeliveries)
	org(http.MethodPost, o+"/webhooks/:webhook/deliveries/:delivery/redeliver", policies.Webhooks, policies.Write, h.redeliver)

	project(http.MethodGet, o+"/projects", policies.Projects, policies.Read, h.listProjects)
	org(http.MethodPost, o+"/projects", policies.Projects, policies.Write, h.createProject)
	const p = o + "/projects/:project"
	project(http.MethodGet, p, policies.Projects, policies.Read, h.getProject)
	project(http.MethodPatch, p, policies.Projects, policies.Write, h.updateProject)
	project(http.MethodDelete, p, policies.Projects, policies.Write, h.deleteProject)
	project(http.MethodGet, p+"/environments", policies.Environments, policies.Read, h.listEnvironments)
	project(http.MethodPost, p+"/environments", policies.Environments, policies.Write, h.createEnvironment)
	project(http.MethodGet, p+"/environments/:env", policies.Environments, policies.Read, h.getEnvironment)
	project(http.MethodPatch, p+"/environments/:env", policies.Environments, policies.Write, h.updateEnvironment)
	project(http.MethodDelete, p+"/environments/:env", policies.Environments, policies.Write, h.deleteEnvironment)
	project(http.MethodPost, p+"/environments/:env/sdk-keys/rotate", policies.SDKKeys, policies.Write, h.rotateSDKKeys)

	project(http.MethodGet, p+"/flags", policies.Flags, policies.Read, h.listFlags)
	project(http.MethodPost, p+"/flags", policies.Flags, policies.Write, h.createFlag)
	const f = p + "/flags/:flag"
	project(http.MethodGet, f, policies.Flags, policies.Read, h.getFlag)
	project(http.MethodPatch, f, policies.Flags, policies.Write, h.updateFlag)
	project(http.MethodDelete, f, policies.Flags, policies.Write, h.deleteFlag)
	project(http.MethodGet, f+"/environments/:env", policies.Flags, policies.Read, h.getConfig)
	project(http.MethodPatch, f+"/environments/:env", policies.Flags, policies.Write, h.patchConfig)
	for _, verb := range []string{"activate", "enable", "disable", "pause", "resume", "rollout", "archive"} {
		project(http.MethodPost, f+"/environments/:env/"+verb, policies.Flags, policies.Write, h.transition)
	}
	project(http.MethodPost, f+"/environments/:env/evaluate", policies.Flags, policies.Read, h.dryRun)
	project(http.MethodGet, f+"/environments/:env/insights", policies.Flags, policies.Read, h.getInsights)
	const plan = f + "/environments/:env/rollout-plan"
	project(http.MethodGet, plan, policies.Rollouts, policies.Read, h.getPlan)
	project(http.MethodPost, plan, policies.Rollouts, policies.Write, h.putPlan)
	project(http.MethodPut, plan, policies.Rollouts, policies.Write, h.putPlan)
	project(http.MethodDelete, plan, policies.Rollouts, policies.Write, h.deletePlan)
	for _, verb := range []string{"start", "pause", "resume", "cancel"} {
		project(http.MethodPost, plan+"/"+verb, policies.Rollouts, policies.Write, h.planVerb)
	}
	const guards = f + "/environments/:env/guards"
	project(http.MethodGet, guards, policies.Rollouts, policies.Read, h.listGuards)
	project(http.MethodPost, guards, policies.Rollouts, policies.Write, h.createGuard)
	project(http.MethodGet, guards+"/:guard", policies.Rollouts, policies.Read, h.getGuard)
	project(http.MethodDelete, guards+"/:guard", policies.Rollouts, policies.Write, h.deleteGuard)
	project(http.MethodPost, guards+"/:guard/trigger/rotate", policies.Rollouts, policies.Write, h.rotateTrigger)
	project(http.MethodGet, f+"/environments/:env/rollbacks", policies.Rollouts, policies.Read, h.listRollbacks)
	public(http.MethodPost, v1+"/triggers/:secret", h.trigger) // the secret is the credential

	// The simple API of sources 000 and 003: one environment, chosen by the credential.
	simple := func(method, path string, res policies.Resource, act policies.Action, fn gin.HandlerFunc) {
		r.Routes = append(r.Routes, Route{method, path, Access{Resource: res, Action: act, BoundOK: true}})
		e.Handle(method, path, h.authenticate, h.simpleAccess(res, act), fn)
	}
	simple(http.MethodGet, v1+"/feature-flags", policies.Flags, policies.Read, h.listSimpleFlags)
	simple(http.MethodPost, v1+"/feature-flags", policies.Flags, policies.Write, h.createSimpleFlag)
	simple(http.MethodGet, v1+"/feature-flags/:key", policies.Flags, policies.Read, h.getSimpleFlag)
	simple(http.MethodPut, v1+"/feature-flags/:key", policies.Flags, policies.Write, h.updateSimpleFlag)
	simple(http.MethodPatch, v1+"/feature-flags/:key", policies.Flags, policies.Write, h.updateSimpleFlag)
	simple(http.MethodDelete, v1+"/feature-flags/:key", policies.Flags, policies.Write, h.deleteSimpleFlag)

	// Evaluation: SDK keys only, answered from the in-memory snapshot.
	sdk := func(method, path string, serverOnly, bare bool, fn gin.HandlerFunc) {
		r.Routes = append(r.Routes, Route{method, path, Access{SDK: true, ServerOnly: serverOnly}})
		quiet[path] = true
		e.Handle(method, path, h.sdkAuth(serverOnly, bare), fn)
	}
	sdk(http.MethodPost, v1+"/feature-flags/:key/evaluate", false, false, h.evaluateFlag)
	sdk(http.MethodGet, v1+"/feature-flags/evaluate", false, false, h.evaluateAll)
	sdk(http.MethodPost, v1+"/feature-flags/evaluate", false, false, h.evaluateAll)
	sdk(http.MethodGet, v1+"/sdk/config", true, false, h.sdkConfig)
	sdk(http.MethodGet, v1+"/sdk/stream", true, false, h.sdkStream)
	sdk(http.MethodPost, v1+"/sdk/metrics", true, false, h.ingestMetrics)
	sdk(http.MethodPost, "/ofrep/v1/evaluate/flags/:key", false, true, h.ofrepEvaluate)
	sdk(http.MethodPost, "/ofrep/v1/evaluate/flags", false, true, h.ofrepBulk)
	sdk(http.MethodGet, "/ofrep/v1/stream", false, true, h.ofrepStream)

	project(http.MethodGet, p+"/segments", policies.Segments, policies.Read, h.listSegments)
	project(http.MethodPost, p+"/segments", policies.Segments, policies.Write, h.createSegment)
	project(http.MethodGet, p+"/segments/:segment", policies.Segments, policies.Read, h.getSegment)
	project(http.MethodPatch, p+"/segments/:segment", policies.Segments, policies.Write, h.updateSegment)
	project(http.MethodDelete, p+"/segments/:segment", policies.Segments, policies.Write, h.deleteSegment)

	return r, nil
}
