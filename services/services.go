// Package services holds Vane's use cases: domain validation, transactions, audit events and cache
// invalidation. It knows nothing of HTTP; handlers call one method here and render the result.
package services

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/clock"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
)

// Principal kinds.
const (
	PrincipalUser   = "user"
	PrincipalAPIKey = "api_key"
	PrincipalSystem = "system"
)

// Principal is who makes a request: a signed-in user, an API key, or Vane itself (jobs, bootstrap).
type Principal struct {
	Kind  string
	ID    string // the user's or the API key's id
	Name  string // the user's email or the API key's name, for the audit log
	Email string
	// For API keys: the organisation the key belongs to, its scopes, and its optional binding.
	OrgID         string
	Scopes        []string
	ProjectID     string
	EnvironmentID string
}

// Bound reports whether the principal is restricted to one project (or one environment).
func (p *Principal) Bound() bool { return p.ProjectID != "" || p.EnvironmentID != "" }

// Scope is the organisation a call acts in and who acts. Every service method takes one.
type Scope struct {
	OrgID     string
	OrgSlug   string
	Principal *Principal
	Role      string // the user's role in OrgID (API keys: the highest role their scopes give)
	RequestID string
	IP        string
}

// SystemScope acts in an organisation as Vane itself.
func SystemScope(orgID string) Scope {
	return Scope{OrgID: orgID, Principal: &Principal{Kind: PrincipalSystem, Name: "vane"}}
}

// Deps are what the services need, passed in explicitly.
type Deps struct {
	DB     *gorm.DB
	Redis  *redis.Client
	Config *config.Config
	Clock  clock.Clock
	Log    *slog.Logger
}

// Services is every use case of Vane, sharing one set of dependencies.
type Services struct {
	db    *gorm.DB
	rdb   *redis.Client
	cfg   *config.Config
	clock clock.Clock
	log   *slog.Logger
	node  string // names this process in change notices, so it skips its own
	cache *Cache
	// scheduler puts rollout stages on the job queue (set by the process that has one, at any time).
	scheduler atomic.Pointer[Scheduler]
	hooks     atomic.Pointer[Hooks] // what the process counts (SetHooks)
	// pending tells how many evaluations of a configuration this node counted and not yet recorded.
	pending atomic.Pointer[func(configID string) int64]
	wg      sync.WaitGroup // the background goroutines Start runs

	Auth         *Auth
	Orgs         *Orgs
	Members      *Members
	APIKeys      *APIKeys
	Projects     *Projects
	Environments *Environments
	Audit        *Audit
	Housekeeping *Housekeeping
	Flags        *Flags
	Segments     *Segments
	Source       *Source
	Simple       *Simple
	Rollouts     *Rollouts
	Guards       *Guards
	Metrics      *Metrics
	Webhooks     *Webhooks
}

// New wires the services together.
func New(d Deps) *Services {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Services{db: d.DB, rdb: d.Redis, cfg: d.Config, clock: d.Clock, log: d.Log, node: keys.Random(12)}
	s.cache = newCache(d.Redis, d.Config.RedisPrefix, d.Clock, d.Log)
	s.Auth = &Auth{s: s, dummyHash: mustDummyHash(d.Config.BcryptCost)}
	s.Orgs = &Orgs{s: s}
	s.Members = &Members{s: s}
	s.APIKeys = &APIKeys{s: s, used: map[string]time.Time{}}
	s.Projects = &Projects{s: s}
	s.Environments = &Environments{s: s}
	s.Audit = &Audit{s: s}
	s.Housekeeping = &Housekeeping{s: s}
	s.Flags = &Flags{s: s}
	s.Segments = &Segments{s: s}
	s.Source = &Source{s: s}
	s.Simple = &Simple{s: s}
	s.Rollouts = &Rollouts{s: s}
	s.Guards = &Guards{s: s}
	s.Metrics = &Metrics{s: s}
	s.Webhooks = newWebhooks(s)
	return s
}

// Start runs the background parts of the services (cache invalidation and configuration change
// listeners, flushers) until ctx ends; Close waits for them. It returns once Redis confirmed both
// subscriptions (or 2 s passed), so no notice published afterwards is missed.
func (s *Services) Start(ctx context.Context) {
	invalidations := subscribe(ctx, s.rdb, s.cache.channel)
	changes := subscribe(ctx, s.rdb, s.changesChannel())
	for _, run := range []func(context.Context){
		func(ctx context.Context) { s.cache.listen(ctx, invalidations) },
		s.cache.heartbeat,
		s.APIKeys.flushLoop,
		func(ctx context.Context) { s.Source.listenChanges(ctx, changes) },
	} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			run(ctx)
		}()
	}
}

// Close waits for the background goroutines (their ctx must have ended) and flushes what is
// buffered in memory.
func (s *Services) Close(ctx context.Context) {
	s.wg.Wait()
	s.APIKeys.flush(ctx)
}

// SetPendingEvaluations tells the services how to learn the evaluations this node's data plane
// counted and has not recorded yet (status events report them).
func (s *Services) SetPendingEvaluations(fn func(configID string) int64) { s.pending.Store(&fn) }

func (s *Services) pendingEvaluations(configID string) int64 {
	if fn := s.pending.Load(); fn != nil {
		return (*fn)(configID)
	}
	return 0
}

func gormExpr(expr string, args ...any) any { return gorm.Expr(expr, args...) }

// now is the current UTC time, truncated to microseconds (what both databases keep).
func (s *Services) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// maxTxAttempts bounds how many times tx runs a transaction that Postgres aborted to break a
// deadlock or a serialization conflict.
const maxTxAttempts = 5

// tx runs fn in one database transaction. A transaction Postgres aborted to break a deadlock
// (40P01) or a serialization conflict (40001) runs again from the start, up to maxTxAttempts times
// in all, after a jittered pause, unless ctx ends first; fn must therefore set everything it hands
// out afresh on each run. Work fn registers with afterCommit runs once, after the run that committed.
func (s *Services) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	for attempt := 1; ; attempt++ {
		hooks := &commitHooks{}
		err := s.db.WithContext(context.WithValue(ctx, commitHooksKey{}, hooks)).Transaction(fn)
		if err == nil {
			hooks.run(ctx)
			return nil
		}
		if attempt >= maxTxAttempts || !models.Retryable(err) {
			return err
		}
		pause := txBackoff(attempt)
		s.log.DebugContext(ctx, "transaction aborted by the database; running it again", "attempt", attempt, "pause", pause, "err", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// txBackoff is the pause before running an aborted transaction again: a random time up to 10 ms
// doubled per attempt, so the transactions that collided do not collide again in step.
func txBackoff(attempt int) time.Duration {
	ceiling := 10 * time.Millisecond << min(attempt, 6)
	return time.Millisecond + rand.N(ceiling)
}

// commitHooks is the work registered on one run of a transaction, to do once it committed.
type commitHooks struct{ fns []func(context.Context) }

type commitHooksKey struct{}

func (h *commitHooks) run(ctx context.Context) {
	for _, fn := range h.fns {
		fn(ctx)
	}
}

// afterCommit registers fn to run once the transaction tx (opened by Services.tx) committed; it is
// dropped if the transaction rolls back or is run again. Outside Services.tx it never runs.
func afterCommit(tx *gorm.DB, fn func(context.Context)) {
	if h, ok := tx.Statement.Context.Value(commitHooksKey{}).(*commitHooks); ok {
		h.fns = append(h.fns, fn)
	}
}

// audit writes one audit event in tx. before and after are views without secrets.
func (s *Services) audit(tx *gorm.DB, sc Scope, action, resType, resID, resKey string, before, after any) error {
	ev := models.AuditEvent{
		ID: models.NewID(), OrgID: sc.OrgID, Action: action, ResourceType: resType, ResourceID: resID,
		ResourceKey: resKey, RequestID: sc.RequestID, IP: sc.IP, CreatedAt: s.now(),
		BeforeJSON: marshalAudit(before), AfterJSON: marshalAudit(after),
	}
	if p := sc.Principal; p != nil {
		ev.ActorType, ev.ActorID, ev.ActorName = p.Kind, p.ID, p.Name
	} else {
		ev.ActorType = PrincipalSystem
	}
	if err := models.Create(tx, "audit event", &ev); err != nil {
		return err
	}
	return s.Webhooks.record(tx, &ev) // the outbox: deliveries commit with the event, or not at all
}

func marshalAudit(v any) *string {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	str := string(b)
	return &str
}

// ListOptions are a list request's page size and cursor.
type ListOptions struct {
	Limit  int
	Cursor string
}

// MaxLimit is the largest page a list returns.
const MaxLimit = 200

// MaxFlagLimit is the largest page of flags: the portal reads a project's flags whole (search,
// filters and sorting in the browser), and 5 000 flags in pages of 200 made 25 round trips.
const MaxFlagLimit = 1000

// page turns list options into a models.Page, validating them.
func (o ListOptions) page(desc bool) (models.Page, error) { return o.pageUpTo(desc, MaxLimit) }

// pageUpTo is page for a list whose pages may hold up to max items.
func (o ListOptions) pageUpTo(desc bool, max int) (models.Page, error) {
	p := models.Page{Limit: o.Limit}
	if p.Limit == 0 {
		p.Limit = 50
	}
	if p.Limit < 1 || p.Limit > max {
		return p, errs.Field("limit", "must be between 1 and %d", max)
	}
	if o.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(o.Cursor)
		if err != nil || len(b) == 0 || len(b) > 64 {
			return p, errs.Field("cursor", "is not a cursor this API returned")
		}
		if desc {
			p.Before = string(b)
		} else {
			p.After = string(b)
		}
	}
	return p, nil
}

// encodeCursor makes the opaque cursor of the next page.
func encodeCursor(id string) string {
	if id == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

// Page is one page of a list and the cursor of the next ("" on the last page).
type Page[T any] struct {
	Items      []T
	NextCursor string
	// Stamp, when not empty, names this exact content: the same stamp is never given to a page
	// with other items, so a caller may keep what it derives from a page (its JSON) by stamp.
	Stamp string
}

func paged[T any](rows []T, limit int, id func(T) string) Page[T] {
	items, next := models.Trim(rows, limit, id)
	if items == nil {
		items = []T{}
	}
	return Page[T]{Items: items, NextCursor: encodeCursor(next)}
}

// Ping checks the database and Redis answer, for /readyz.
func (s *Services) Ping(ctx context.Context) map[string]error {
	out := map[string]error{}
	sqlDB, err := s.db.DB()
	if err == nil {
		err = sqlDB.PingContext(ctx)
	}
	out["database"] = err
	out["redis"] = s.rdb.Ping(ctx).Err()
	return out
}
