// Package policies holds Vane's authorization: the Casbin model and policy (embedded, static), the
// names of resources and actions, and the enforcer every route goes through. Memberships live in
// Vane's own tables; the policy only says what each role may do.
package policies

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	stringadapter "github.com/casbin/casbin/v2/persist/string-adapter"
)

//go:embed model.conf
var modelConf string

//go:embed policy.csv
var policyCSV string

// Resource names a kind of thing a route touches.
type Resource string

// Action names what a route does to a resource.
type Action string

// Resources.
const (
	Orgs         Resource = "orgs"
	Members      Resource = "members"
	Invitations  Resource = "invitations"
	APIKeys      Resource = "api_keys"
	Projects     Resource = "projects"
	Environments Resource = "environments"
	SDKKeys      Resource = "sdk_keys"
	Audit        Resource = "audit"
	Flags        Resource = "flags"
	Segments     Resource = "segments"
	Rollouts     Resource = "rollouts"
	Webhooks     Resource = "webhooks"
)

// Actions.
const (
	Read       Action = "read"
	Write      Action = "write"
	ReadClient Action = "read_client" // see an environment's client-side SDK key
	ReadServer Action = "read_server" // see an environment's server-side (secret) SDK key
)

// ScopeSubject is the Casbin subject of an API-key scope.
func ScopeSubject(scope string) string { return "scope:" + scope }

// Enforcer decides whether a role may perform an action on a resource in an organisation. The
// policy is static, so each decision is computed by Casbin once and remembered. While no policy
// line names a specific domain, the domain cannot change a decision and is left out of the memo key,
// which keeps the memo as small as roles × resources × actions.
type Enforcer struct {
	e          *casbin.SyncedEnforcer
	domainFree bool
	memo       sync.Map // memo key → bool
}

// New builds the enforcer from the embedded model and policy.
func New() (*Enforcer, error) {
	m, err := model.NewModelFromString(modelConf)
	if err != nil {
		return nil, fmt.Errorf("load casbin model: %w", err)
	}
	var lines []string
	for _, l := range strings.Split(policyCSV, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	e, err := casbin.NewSyncedEnforcer(m, stringadapter.NewAdapter(strings.Join(lines, "\n")))
	if err != nil {
		return nil, fmt.Errorf("build casbin enforcer: %w", err)
	}
	en := &Enforcer{e: e, domainFree: true}
	rules, err := e.GetPolicy()
	if err != nil {
		return nil, fmt.Errorf("read casbin policy: %w", err)
	}
	for _, p := range rules {
		if len(p) > 1 && p[1] != "*" {
			en.domainFree = false
		}
	}
	return en, nil
}

// Allow reports whether any of the subjects (roles or API-key scopes) may act on res in org.
func (en *Enforcer) Allow(org string, subjects []string, res Resource, act Action) bool {
	for _, s := range subjects {
		if en.allow(s, org, res, act) {
			return true
		}
	}
	return false
}

func (en *Enforcer) allow(sub, org string, res Resource, act Action) bool {
	key := sub + "\x00" + string(res) + "\x00" + string(act)
	if !en.domainFree {
		key += "\x00" + org
	}
	if v, ok := en.memo.Load(key); ok {
		return v.(bool)
	}
	ok, err := en.e.Enforce(sub, org, string(res), string(act))
	ok = ok && err == nil
	if err == nil {
		en.memo.Store(key, ok)
	}
	return ok
}
