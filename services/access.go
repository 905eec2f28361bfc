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

// Different API keys refused per client IP (429 with Retry-After beyond), so guessing from one
// address is bounded whatever the caches hold.
const (
	apiKeysRefusedPerIP  = 60
	apiKeysRefusedWindow = time.Minute
)

// AuthenticateFrom is Authenticate for a request from ip: once apiKeysRefusedPerIP different API
// keys from one client address were refused in apiKeysRefusedWindow (on any node while Redis is
// up; on each node while it is down), its other keys are refused (429) without being checked,
// valid ones too (else the 429s would tell a guesser which keys are real), until the window ends.
//
// The limit is exact under concurrency and across nodes: a key this node cannot vouch for from its
// caches is checked only if the keys refused and those being checked leave it a place (one atomic
// step on Redis), so a burst of parallel guesses gets at most apiKeysRefusedPerIP of them checked
// however it spreads over nodes; a key sent again counts once. A key the node's credential cache
// holds as valid only reads how many keys were refused (checks in flight do not count against
// it), once a second per address and key on this node (cleanFor), so a client using a valid key
// costs one Redis round trip a second and sees refusals made elsewhere that late at most. A key
// refused here makes the address's next requests read the count at once. A malformed key is
// refused at once and counts for nothing: it cannot be a guess at a real one.
func (a *Auth) AuthenticateFrom(ctx context.Context, cred, ip string) (*Principal, error) {
	if ip == "" || !strings.HasPrefix(cred, APIKeyPrefix) {
		return a.Authenticate(ctx, cred)
	}
	if !wellFormedAPIKey(cred) {
		return nil, errs.Unauthorizedf("the API key is not valid")
	}
	addr := clientKey(ip)
	limit := a.refusedKeysLimit(addr)
	hash := keys.Hash(cred)
	member := hash[:32]
	now := a.s.now()
	if p := a.cachedAPIKeyPrincipal(cred, hash, now); p != nil {
		if !a.clean.has(addr, member, now) {
			c, err := a.s.peekRefused(ctx, limit)
			if err != nil {
				return nil, err
			}
			if c.n >= apiKeysRefusedPerIP {
				return nil, tooManyKeysRefused(c)
			}
			a.clean.add(addr, member, now.Add(cleanFor))
		}
		return p, nil
	}
	c, ok, place, err := a.s.takePlace(ctx, limit, member)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, tooManyKeysRefused(c)
	}
	p, err := a.Authenticate(ctx, cred)
	refused := errs.KindOf(err) == errs.Unauthorized
	a.s.settlePlace(ctx, place, refused, err == nil)
	switch {
	case refused:
		a.clean.remove(addr)
	case err == nil:
		a.clean.add(addr, member, now.Add(cleanFor))
	}
	return p, err
}

// refusedKeysLimit is the refused-API-key limit of a client address.
func (a *Auth) refusedKeysLimit(addr string) placeLimit {
	p := a.s.cfg.RedisPrefix + "rate:api-keys-"
	return placeLimit{refused: p + "refused:ip:" + addr, pending: p + "checking:ip:" + addr, max: apiKeysRefusedPerIP,
		window: apiKeysRefusedWindow}
}

func tooManyKeysRefused(c count) error {
	return tooMany("too many invalid API keys from this address; try again later", c.ttl, apiKeysRefusedWindow)
}

// cleanFor is how long a valid key found under its address's refused-key limit is not asked about
// again on this node (unless a key from the address is refused here): refusals made on another
// node reach it that late at most.
const cleanFor = time.Second

// maxCleanKeys bounds the (address, key) pairs remembered as clean, all addresses together, and
// maxCleanKeysPerAddress those of one address; past either, what was remembered is forgotten.
const (
	maxCleanKeys           = 20000
	maxCleanKeysPerAddress = 8
)

// cleanAddresses are, per client address, the valid keys found under its refused-key limit, each
// until a time.
type cleanAddresses struct {
	mu    sync.Mutex
	until map[string]map[string]time.Time
	n     int // pairs held
}

func (c *cleanAddresses) has(addr, key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.until[addr][key]
	return ok && now.Before(t)
}

func (c *cleanAddresses) add(addr, key string, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.until == nil || c.n >= maxCleanKeys {
		c.until, c.n = make(map[string]map[string]time.Time), 0
	}
	m := c.until[addr]
	if m == nil || len(m) >= maxCleanKeysPerAddress {
		c.n -= len(m)
		m = make(map[string]time.Time, 1)
		c.until[addr] = m
	}
	if _, ok := m[key]; !ok {
		c.n++
	}
	m[key] = until
}

func (c *cleanAddresses) remove(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n -= len(c.until[addr])
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
		epoch := a.s.cache.readEpoch()
		found, err := models.APIKeyByHash(a.s.db.WithContext(ctx), hash)
		switch {
		case errors.Is(err, errs.ErrNotFound):
			a.s.cache.negAddIfCurrent(hash, epoch) // unknown: remembered, so guessing costs no query
		case err != nil:
			return nil, err
		default:
			k = found
			a.s.cache.putIfCurrent(apiKeyKey(hash), k, epoch)
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

// cachedAPIKeyPrincipal is the principal of an API key (its secret and hash) this node's caches
// hold as valid (not revoked, not expired), nil if they do not: it never asks the database.
func (a *Auth) cachedAPIKeyPrincipal(secret, hash string, now time.Time) *Principal {
	if !wellFormedAPIKey(secret) {
		return nil
	}
	v, ok := a.s.cache.getCredential(apiKeyKey(hash))
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
	epoch := a.s.cache.readEpoch()
	o, err := models.OrgByRef(a.s.db.WithContext(ctx), ref)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return nil, err
	}
	if o == nil {
		a.s.cache.putIfCurrent(orgKey(ref), nil, epoch)
		return nil, errs.NotFoundf("organization not found")
	}
	a.s.cache.putIfCurrent(orgKey(o.ID), o, epoch)
	a.s.cache.putIfCurrent(orgKey(o.Slug), o, epoch)
	return o, nil
}

// RoleIn returns a user's role in an organisation, "" when they are not a member.
func (a *Auth) RoleIn(ctx context.Context, orgID, userID string) (string, error) {
	if v, ok := a.s.cache.getCredential(roleKey(orgID, userID)); ok {
		return v.(string), nil
	}
	epoch := a.s.cache.readEpoch()
	m, err := models.MembershipOf(a.s.db.WithContext(ctx), orgID, userID)
	role := ""
	switch {
	case err == nil:
		role = m.Role
	case !errors.Is(err, errs.ErrNotFound):
		return "", err
	}
	a.s.cache.putIfCurrent(roleKey(orgID, userID), role, epoch)
	return role, nil
}
