package services

import (
	"context"
	"errors"
	"strings"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
)

// Credential prefixes.
const (
	APIKeyPrefix    = "vk_"
	ServerSDKPrefix = "srv-"
	ClientSDKPrefix = "cli-"
)

// IsSDKKey reports whether a credential is an environment's SDK key.
func IsSDKKey(cred string) bool {
	return strings.HasPrefix(cred, ServerSDKPrefix) || strings.HasPrefix(cred, ClientSDKPrefix)
}

// Authenticate resolves a management credential (a user's access token or an API key) to the
// principal it stands for. SDK keys open no management route. A JWT costs no database query; an
// API key is cached by hash.
func (a *Auth) Authenticate(ctx context.Context, cred string) (*Principal, error) {
	switch {
	case cred == "":
		return nil, errs.Unauthorizedf("authentication required: send Authorization: Bearer <token> or X-API-Key")
	case IsSDKKey(cred):
		return nil, errs.Unauthorizedf("SDK keys cannot use the management API")
	case strings.HasPrefix(cred, APIKeyPrefix):
		return a.apiKeyPrincipal(ctx, cred)
	default:
		return a.ParseAccessToken(cred)
	}
}

func (a *Auth) apiKeyPrincipal(ctx context.Context, secret string) (*Principal, error) {
	hash := keys.Hash(secret)
	var k *models.APIKey
	if v, ok := a.s.cache.get(apiKeyKey(hash)); ok {
		k, _ = v.(*models.APIKey)
	} else {
		found, err := models.APIKeyByHash(a.s.db.WithContext(ctx), hash)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return nil, err
		}
		k = found // nil when unknown: cached too, so guessing costs no query
		a.s.cache.put(apiKeyKey(hash), k)
	}
	if k == nil || k.RevokedAt != nil {
		return nil, errs.Unauthorizedf("the API key is not valid")
	}
	now := a.s.now()
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, errs.Unauthorizedf("the API key has expired")
	}
	a.s.APIKeys.markUsed(k.ID, now)
	p := &Principal{Kind: PrincipalAPIKey, ID: k.ID, Name: k.Name, OrgID: k.OrgID, Scopes: strings.Split(k.Scopes, ",")}
	if k.ProjectID != nil {
		p.ProjectID = *k.ProjectID
	}
	if k.EnvironmentID != nil {
		p.EnvironmentID = *k.EnvironmentID
	}
	return p, nil
}

// ResolveOrg finds an organisation by slug or id, from the cache when it can.
func (a *Auth) ResolveOrg(ctx context.Context, ref string) (*models.Organization, error) {
	if v, ok := a.s.cache.get(orgKey(ref)); ok {
		if o, _ := v.(*models.Organization); o != nil {
			return o, nil
		}
		return nil, errs.NotFoundf("organization not found")
	}
	o, err := models.OrgByRef(a.s.db.WithContext(ctx), ref)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return nil, err
	}
	a.s.cache.put(orgKey(ref), o)
	if o == nil {
		return nil, errs.NotFoundf("organization not found")
	}
	return o, nil
}

// RoleIn returns a user's role in an organisation, "" when they are not a member.
func (a *Auth) RoleIn(ctx context.Context, orgID, userID string) (string, error) {
	if v, ok := a.s.cache.get(roleKey(orgID, userID)); ok {
		return v.(string), nil
	}
	m, err := models.MembershipOf(a.s.db.WithContext(ctx), orgID, userID)
	role := ""
	switch {
	case err == nil:
		role = m.Role
	case !errors.Is(err, errs.ErrNotFound):
		return "", err
	}
	a.s.cache.put(roleKey(orgID, userID), role)
	return role, nil
}
