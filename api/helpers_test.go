package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/jobs"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/policies"
	"github.com/vanehq/vane/services"
)

// server is the real router on real services, a real database and Redis.
type server struct {
	t testing.TB
	*testenv.Env
	router     *api.Router
	ctxTimeout time.Duration
	endOnFlush bool
	node       *services.Services // a second node's own services (s.Svc is the first node's)
}

func newServer(t testing.TB, mutate ...func(*config.Config)) *server {
	t.Helper()
	return serverOn(t, testenv.New(t, mutate...))
}

// serverOn is the real router over services a test started itself.
func serverOn(t testing.TB, env *testenv.Env) *server {
	t.Helper()
	enf, err := policies.New()
	if err != nil {
		t.Fatal(err)
	}
	r, err := api.NewRouter(api.Deps{Services: env.Svc, Plane: env.Plane, Enforcer: enf, Log: testenv.Logger(t), Clock: env.Clock,
		CORSOrigins: []string{"https://app.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	// Plans can start; no worker runs them in these tests, so their queue is a miniredis of their own
	// (a shared real Redis would offer these tasks to other packages' test workers).
	q := jobs.NewQueue(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	t.Cleanup(q.Close)
	env.Svc.SetScheduler(q)
	return &server{t: t, Env: env, router: r}
}

// response is a recorded answer.
type response struct {
	Code   int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// errorField returns the first error detail's field and the error code.
func (r response) errorField() (code, field string) {
	var e api.ErrorResponse
	_ = json.Unmarshal(r.Body, &e)
	if len(e.Error.Details) > 0 {
		field = e.Error.Details[0].Field
	}
	return e.Error.Code, field
}

// reqStream opens a stream and ends it as soon as the server has flushed its first bytes (the
// status is then known), or after d at the latest: a slow machine cannot turn a stream that was
// about to open into a "client went away".
func (s *server) reqStream(d time.Duration, method, path string, body any, headers ...string) response {
	s.t.Helper()
	s.ctxTimeout = d
	s.endOnFlush = true
	defer func() { s.ctxTimeout, s.endOnFlush = 0, false }()
	return s.req(method, path, body, headers...)
}

// flushEnds is a recorder that cancels its request once the handler flushes.
type flushEnds struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (f flushEnds) Flush() {
	f.ResponseRecorder.Flush()
	f.cancel()
}

// req sends a request; body may be a string (sent as is) or any value (sent as JSON).
// headers are name, value pairs; the name "auth" sets a bearer credential.
func (s *server) req(method, path string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	r := httptest.NewRequest(method, path, rd)
	var cancel context.CancelFunc = func() {}
	if s.ctxTimeout > 0 {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(r.Context(), s.ctxTimeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	if _, chunked := body.(io.Reader); chunked {
		r.ContentLength = -1 // unknown length: the limit must hold while reading
	}
	r.RemoteAddr = "192.0.2.10:1234"
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		switch {
		case headers[i] == "auth" && headers[i+1] != "":
			r.Header.Set("Authorization", "Bearer "+headers[i+1])
		case headers[i] == "auth":
		default:
			r.Header.Set(headers[i], headers[i+1])
		}
	}
	w := httptest.NewRecorder()
	if s.endOnFlush {
		s.router.ServeHTTP(flushEnds{w, cancel}, r)
	} else {
		s.router.ServeHTTP(w, r)
	}
	return response{Code: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// want fails the test unless the response has the status.
func (r response) want(t testing.TB, code int) response {
	t.Helper()
	if r.Code != code {
		t.Fatalf("status = %d, want %d; body: %s", r.Code, code, r.Body)
	}
	return r
}

func decode[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %T: %v; body: %s", v, err, r.Body)
	}
	return v
}

// tenant is one organisation with a user of each role, API keys of each scope and an SDK key.
type tenant struct {
	org                     *models.Organization
	adminEmail              string
	admin, dev, viewer      string // access tokens
	keyRead, keyWrite, keyA string // API key secrets
	sdkServer, sdkClient    string
	project                 *models.Project
	env                     *services.Environment
}

const password = "correct horse battery"

// user creates a user with the password and returns it.
func (s *server) user(email string) *models.User {
	s.t.Helper()
	u, err := s.Svc.Auth.CreateUser(context.Background(), email, nil, "", password)
	if err != nil {
		s.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// login signs in through the API and returns the access token.
func (s *server) login(login string) string {
	s.t.Helper()
	r := s.req("POST", "/api/v1/auth/login", map[string]string{"username": login, "password": password}).want(s.t, 200)
	return decode[api.TokenResponse](s.t, r).AccessToken
}

// join adds a new user with a role to the tenant's organisation through an invitation.
func (s *server) join(org *models.Organization, email, role string) *models.User {
	s.t.Helper()
	ctx := context.Background()
	sc := services.SystemScope(org.ID)
	_, token, err := s.Svc.Members.Invite(ctx, sc, email, role)
	if err != nil {
		s.t.Fatalf("invite %s: %v", email, err)
	}
	tok, _, err := s.Svc.Auth.AcceptInvite(ctx, services.AcceptInviteInput{Token: token, Password: password}, "")
	if err != nil {
		s.t.Fatalf("accept %s: %v", email, err)
	}
	return tok.User
}

func (s *server) apiKey(org *models.Organization, scopes ...string) string {
	s.t.Helper()
	_, secret, err := s.Svc.APIKeys.Create(context.Background(), services.SystemScope(org.ID),
		services.APIKeyInput{Name: "key-" + strings.Join(scopes, "-"), Scopes: scopes})
	if err != nil {
		s.t.Fatal(err)
	}
	return secret
}

// newTenant makes an organisation with everyone the tests need.
func (s *server) newTenant(slug string) *tenant {
	s.t.Helper()
	ctx := context.Background()
	email := "admin@" + slug + ".test"
	u := s.user(email)
	org, err := s.Svc.Orgs.Create(ctx, services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID, Name: email}},
		services.OrgInput{Slug: slug, Name: strings.ToUpper(slug)})
	if err != nil {
		s.t.Fatal(err)
	}
	tn := &tenant{org: org, adminEmail: email}
	s.join(org, "dev@"+slug+".test", models.RoleDeveloper)
	s.join(org, "viewer@"+slug+".test", models.RoleViewer)
	tn.admin, tn.dev, tn.viewer = s.login(email), s.login("dev@"+slug+".test"), s.login("viewer@"+slug+".test")
	tn.keyRead, tn.keyWrite, tn.keyA = s.apiKey(org, "read"), s.apiKey(org, "write"), s.apiKey(org, "admin")
	sc := services.SystemScope(org.ID)
	if tn.project, err = s.Svc.Projects.Get(ctx, sc, "default"); err != nil {
		s.t.Fatal(err)
	}
	if tn.env, err = s.Svc.Environments.Get(ctx, sc, "default", "production"); err != nil {
		s.t.Fatal(err)
	}
	for _, k := range tn.env.Keys {
		if k.Kind == models.SDKServer {
			tn.sdkServer = k.Key
		} else {
			tn.sdkClient = k.Key
		}
	}
	return tn
}

// count counts rows of a table matching a condition.
func (s *server) count(table, where string, args ...any) int64 {
	s.t.Helper()
	var n int64
	if err := s.DB.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		s.t.Fatal(err)
	}
	return n
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// lockedWriter serialises writes from concurrent handlers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// secondNode is another Vane node on the same database and Redis as s, with its own caches and
// snapshots, as a second `vane serve` process would be.
func (s *server) secondNode(t *testing.T) *server {
	t.Helper()
	other := services.New(services.Deps{DB: s.DB, Redis: s.Redis.Client, Config: s.Config, Clock: s.Clock, Log: testenv.Logger(t)})
	plane := dataplane.New(other.Source, dataplane.Options{Clock: s.Clock, Log: testenv.Logger(t)})
	other.SetPendingEvaluations(plane.Pending)
	ctx, cancel := context.WithCancel(context.Background())
	other.Start(ctx)
	if err := plane.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		plane.Close(context.Background())
		other.Close(context.Background())
	})
	enf, err := policies.New()
	if err != nil {
		t.Fatal(err)
	}
	r, err := api.NewRouter(api.Deps{Services: other, Plane: plane, Enforcer: enf, Log: testenv.Logger(t), Clock: s.Clock})
	if err != nil {
		t.Fatal(err)
	}
	return &server{t: t, Env: s.Env, router: r, node: other}
}
