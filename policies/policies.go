// Package policies holds Vane's authorization: the Casbin model and policy (embedded, static), the
// names of resources and actions, and the enforcer every route goes through. Memberships live in
// Vane's own tables; the policy only says what each role may do.
package policies

import (
	_ "embed"
	"fmt"
	"strings"

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

// Enforcer decides whether a role may perform an action on a resource in an organisation.
type Enforcer struct{ e *casbin.SyncedEnforcer }

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
	return &Enforcer{e: e}, nil
}

// Allow reports whether any of the subjects (roles or API-key scopes) may act on res in org.
func (en *Enforcer) Allow(org string, subjects []string, res Resource, act Action) bool {
	for _, s := range subjects {
		ok, err := en.e.Enforce(s, org, string(res), string(act))
		if err == nil && ok {
			return true
		}
	}
	return false
}
