package dataplane

import (
	"strings"

	"github.com/vanehq/vane/internal/errs"
)

// SDK key prefixes.
const (
	ServerKeyPrefix = "srv-"
	ClientKeyPrefix = "cli-"
	maxSDKKeyLength = 128
)

// IsSDKKey reports whether a credential looks like an environment's SDK key.
func IsSDKKey(cred string) bool {
	return len(cred) <= maxSDKKeyLength && (strings.HasPrefix(cred, ServerKeyPrefix) || strings.HasPrefix(cred, ClientKeyPrefix))
}

// keySet is every SDK key the node knows, immutable once published; writers copy it.
type keySet map[string]*SDKKey

// ResolveKey finds the environment an SDK key opens, from memory only: an unknown, malformed or
// expired key is refused without asking the source.
func (p *Plane) ResolveKey(raw string) (*SDKKey, error) {
	if !IsSDKKey(raw) {
		return nil, errs.Unauthorizedf("an SDK key (srv-… or cli-…) is required")
	}
	k := (*p.keys.Load())[raw]
	if k == nil {
		return nil, errs.Unauthorizedf("the SDK key is not valid")
	}
	if k.ExpiresAt != nil && !p.clock.Now().Before(*k.ExpiresAt) {
		return nil, errs.Unauthorizedf("the SDK key has expired")
	}
	return k, nil
}

// inScope reports whether an environment of org/project falls in a scope.
func (s Scope) contains(orgID, projectID string) bool {
	return (s.OrgID == "" || s.OrgID == orgID) && (s.ProjectID == "" || s.ProjectID == projectID)
}
