package services

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

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

// API keys refused per client IP (429 with Retry-After beyond), so guessing from one address is
// bounded whatever the caches hold.
const (
	apiKeyFailuresPerIP  = 60
	apiKeyFailuresWindow = time.Minute
)

// AuthenticateFrom is Authenticate for a request from ip: a client whose API keys were refused
// apiKeyFailuresPerIP times in apiKeyFailuresWindow (on any node) is refused (429) before its key
// is checked, even a valid one (else the 429s would tell a guesser which keys are real).
//
// The limit is exact under concurrency: a key this node cannot vouch for from memory takes a place
// under the address's count (one atomic step on Redis, shared by every node) before it is checked,
// and gives it back if it was valid; a burst of parallel guesses therefore gets at most
// apiKeyFailuresPerIP of them checked, however they spread over nodes. An address found under
// the limit is trusted on this node for cleanFor, and while it is, a key the node's caches know to
// be valid is let in without asking Redis: a client using a valid key costs two Redis round trips
// a second instead of one a request, and sees another node's refusals of its address that late at
// most. A key refused from a trusted address ends the trust at once.
func (a *Auth) AuthenticateFrom(ctx context.Context, cred, ip string) (*Principal, error) {
	if ip == "" || !strings.HasPrefix(cred, APIKeyPrefix) {
		return a.Authenticate(ctx, cred)
	}
	addr := clientKey(ip)
	now := a.s.now()
	if a.clean.has(addr, now) {
		if p := a.cachedAPIKeyPrincipal(cred, now); p != nil {
			return p, nil
		}
	}
	key := a.s.cfg.RedisPrefix + "rate:api-key-401:ip:" + addr
	c, err := a.s.countUp(ctx, apiKeyFailuresWindow, key)
	if err != nil {
		return nil, err
	}
	if c[0].n > apiKeyFailuresPerIP {
		a.clean.remove(addr)
		a.takeBack(ctx, key)
		return nil, tooMany("too many invalid API keys from this address; try again later", c[0].ttl, apiKeyFailuresWindow)
	}
	p, err := a.Authenticate(ctx, cred)
	if errs.KindOf(err) == errs.Unauthorized {
		a.clean.remove(addr) // the place it took stays: one refusal counted
		return nil, err
	}
	a.takeBack(ctx, key) // valid, or not decided (a dependency failed): nothing was refused
	if err == nil {
		a.clean.add(addr, now.Add(cleanFor))
	}
	return p, err
}

// takeBack gives back a place taken under an address's refused-key count.
func (a *Auth) takeBack(ctx context.Context, key string) {
	if err := a.s.countDown(context.WithoutCancel(ctx), apiKeyFailuresWindow, key); err != nil {
		a.s.log.WarnContext(ctx, "take back a place under the refused-key limit", "err", err)
	}
}

// cleanFor is how long an address found under the refused-key limit is not asked about again on
// this node (unless it sends a refused key): another node's count reaches it that late at most.
const cleanFor = time.Second

// maxCleanAddresses bounds the addresses remembered as clean; past it they are forgotten at once.
const maxCleanAddresses = 10000

// cleanAddresses are the client addresses found under the refused-key limit, each until a time.
type cleanAddresses struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func (c *cleanAddresses) has(addr string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.until[addr]
	return ok && now.Before(t)
}

func (c *cleanAddresses) add(addr string, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.until == nil || len(c.until) >= maxCleanAddresses {
		c.until = make(map[string]time.Time)
	}
	c.until[addr] = until
}

func (c *cleanAddresses) remove(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.until, addr)
}

// apiKeySecretLength is the length of every API key secret Vane issues (keys.Secret).
const apiKeySecretLength = len(APIKeyPrefix) + 32

// wellFormedAPIKey reports whether a credential could be an API key Vane issued: a malformed one
// is refused before any cache or database is asked.
func wellFormedAPIKey(secret string) bool {
	if len(secret) != apiKeySecretLength || !strings.HasPrefix(secret, APIKeyPrefix) {
		return false
	}
	for _, c := range secret[len(APIKeyPrefix):] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

func (a *Auth) apiKeyPrincipal(ctx context.Context, secret string) (*Principal, error) {
	if !wellFormedAPIKey(secret) {
		return nil, errs.Unauthorizedf("the API key is not valid")
	}
	hash := keys.Hash(secret)
	if a.s.cache.neg.has(hash) {
		return nil, errs.Unauthorizedf("the API key is not valid")
	}
	var k *models.APIKey
	if v, ok := a.s.cache.getCredential(apiKeyKey(hash)); ok {
		k, _ = v.(*models.APIKey)
	} else {
		found, err := models.APIKeyByHash(a.s.db.WithContext(ctx), hash)
		switch {
		case errors.Is(err, errs.ErrNotFound):
			a.s.cache.neg.add(hash) // unknown: remembered, so guessing costs no query
		case err != nil:
			return nil, err
		default:
			k = found
			a.s.cache.put(apiKeyKey(hash), k)
		}
	}
	if k == nil || k.RevokedAt != nil {
		return nil, errs.Unauthorizedf("the API key is not valid")
	}
	now := a.s.now()
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, errs.Unauthorizedf("the API key has expired")
	}
	return a.apiKeyPrincipalOf(k, now), nil
}

// cachedAPIKeyPrincipal is the principal of an API key this node's caches hold as valid (not
// revoked, not expired), nil if they do not: it never asks the database.
func (a *Auth) cachedAPIKeyPrincipal(secret string, now time.Time) *Principal {
	if !wellFormedAPIKey(secret) {
		return nil
	}
	v, ok := a.s.cache.getCredential(apiKeyKey(keys.Hash(secret)))
	if !ok {
		return nil
	}
	k, _ := v.(*models.APIKey)
	if k == nil || k.RevokedAt != nil || (k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) {
		return nil
	}
	return a.apiKeyPrincipalOf(k, now)
}

// apiKeyPrincipalOf is the principal of a valid API key, used now.
func (a *Auth) apiKeyPrincipalOf(k *models.APIKey, now time.Time) *Principal {
	a.s.APIKeys.markUsed(k.ID, now)
	p := &Principal{Kind: PrincipalAPIKey, ID: k.ID, Name: k.Name, OrgID: k.OrgID, Scopes: strings.Split(k.Scopes, ",")}
	if k.ProjectID != nil {
		p.ProjectID = *k.ProjectID
	}
	if k.EnvironmentID != nil {
		p.EnvironmentID = *k.EnvironmentID
	}
	return p
}

// ResolveOrg finds an organisation by slug or id, from the cache when it can. An organisation is
// cached under its id and its slug only (a slug in capitals finds it under the slug), so changing
// or deleting it invalidates exactly those two keys.
func (a *Auth) ResolveOrg(ctx context.Context, ref string) (*models.Organization, error) {
	for _, key := range []string{orgKey(ref), orgKey(strings.ToLower(ref))} {
		if v, ok := a.s.cache.get(key); ok {
			if o, _ := v.(*models.Organization); o != nil {
				return o, nil
			}
			return nil, errs.NotFoundf("organization not found")
		}
	}
	o, err := models.OrgByRef(a.s.db.WithContext(ctx), ref)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return nil, err
	}
	if o == nil {
		a.s.cache.put(orgKey(ref), nil)
		return nil, errs.NotFoundf("organization not found")
	}
	a.s.cache.put(orgKey(o.ID), o)
	a.s.cache.put(orgKey(o.Slug), o)
	return o, nil
}

// RoleIn returns a user's role in an organisation, "" when they are not a member.
func (a *Auth) RoleIn(ctx context.Context, orgID, userID string) (string, error) {
	if v, ok := a.s.cache.getCredential(roleKey(orgID, userID)); ok {
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
