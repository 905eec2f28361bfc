package services

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
)

// API-key scopes.
var validScopes = []string{"read", "write", "admin"}

// APIKeys manages server-to-server management keys. A key's secret is shown once; only its hash
// is stored. last_used_at is counted in memory and written in batches, never once per request.
type APIKeys struct {
	s    *Services
	mu   sync.Mutex
	used map[string]time.Time
}

// APIKeyInput is a new API key.
type APIKeyInput struct {
	Name        string
	Scopes      []string
	Project     string // optional project key or id the key is restricted to
	Environment string // optional environment key or id (needs Project)
	ExpiresAt   *time.Time
}

func apiKeyView(k *models.APIKey) map[string]any {
	v := map[string]any{"id": k.ID, "name": k.Name, "prefix": k.Prefix, "scopes": k.Scopes}
	if k.ProjectID != nil {
		v["project_id"] = *k.ProjectID
	}
	if k.EnvironmentID != nil {
		v["environment_id"] = *k.EnvironmentID
	}
	if k.ExpiresAt != nil {
		v["expires_at"] = *k.ExpiresAt
	}
	if k.RevokedAt != nil {
		v["revoked_at"] = *k.RevokedAt
	}
	return v
}

// Create makes an API key and returns it with its secret, which is never shown again.
func (a *APIKeys) Create(ctx context.Context, sc Scope, in APIKeyInput) (*models.APIKey, string, error) {
	var v errs.Validation
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		v.Add("name", "must be 1–200 characters")
	}
	if len(in.Scopes) == 0 {
		v.Add("scopes", "at least one of read, write, admin")
	}
	var scopes []string
	for i, s := range in.Scopes {
		if !slices.Contains(validScopes, s) {
			v.Add(fmt.Sprintf("scopes[%d]", i), "must be read, write or admin")
		} else if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if in.Environment != "" && in.Project == "" {
		v.Add("environment", "needs project too")
	}
	now := a.s.now()
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		v.Add("expires_at", "must be in the future")
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	secret := keys.Secret(APIKeyPrefix)
	k := &models.APIKey{ID: models.NewID(), OrgID: sc.OrgID, Name: in.Name, Prefix: secret[:len(APIKeyPrefix)+6],
		SecretHash: keys.Hash(secret), Scopes: strings.Join(scopes, ","), CreatedAt: now, UpdatedAt: now, Version: 1}
	if in.ExpiresAt != nil {
		t := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &t
	}
	if sc.Principal != nil && sc.Principal.Kind == PrincipalUser {
		k.CreatedBy = &sc.Principal.ID
	}
	err := a.s.tx(ctx, func(tx *gorm.DB) error {
		if in.Project != "" {
			proj, err := a.s.Projects.resolve(tx, sc, in.Project)
			if err != nil {
				return errs.Field("project", "no such project in this organization")
			}
			k.ProjectID = &proj.ID
			if in.Environment != "" {
				env, err := models.EnvironmentByRef(tx, sc.OrgID, proj.ID, in.Environment)
				if err != nil {
					return errs.Field("environment", "no such environment in project %q", proj.Key)
				}
				k.EnvironmentID = &env.ID
			}
		}
		if err := models.Create(tx, "api key", k); err != nil {
			return err
		}
		return a.s.audit(tx, sc, "api_key.created", "api_key", k.ID, k.Name, nil, apiKeyView(k))
	})
	if err != nil {
		return nil, "", err
	}
	a.s.cache.Invalidate(ctx, apiKeyKey(k.SecretHash)) // no node may still remember it as unknown
	return k, secret, nil
}

// List returns the organisation's API keys, revoked ones included.
func (a *APIKeys) List(ctx context.Context, sc Scope, opt ListOptions) (Page[models.APIKey], error) {
	pg, err := opt.page(false)
	if err != nil {
		return Page[models.APIKey]{}, err
	}
	a.flush(ctx) // so last_used_at is current
	rows, err := models.ListAPIKeys(a.s.db.WithContext(ctx), sc.OrgID, pg)
	if err != nil {
		return Page[models.APIKey]{}, err
	}
	return paged(rows, pg.Limit, func(k models.APIKey) string { return k.ID }), nil
}

// Get returns one API key.
func (a *APIKeys) Get(ctx context.Context, sc Scope, id string) (*models.APIKey, error) {
	a.flush(ctx)
	return models.APIKeyByID(a.s.db.WithContext(ctx), sc.OrgID, id)
}

// Revoke stops an API key from working, on every node, at once.
func (a *APIKeys) Revoke(ctx context.Context, sc Scope, id string) (*models.APIKey, error) {
	var out *models.APIKey
	err := a.s.tx(ctx, func(tx *gorm.DB) error {
		before, err := models.APIKeyByID(tx, sc.OrgID, id)
		if err != nil {
			return err
		}
		if before.RevokedAt != nil {
			out = before
			return nil
		}
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "api_keys", What: "api key", OrgID: sc.OrgID,
			ID: before.ID, Current: before.Version}, a.s.now(), map[string]any{"revoked_at": a.s.now()}); err != nil {
			return err
		}
		if out, err = models.APIKeyByID(tx, sc.OrgID, id); err != nil {
			return err
		}
		return a.s.audit(tx, sc, "api_key.revoked", "api_key", out.ID, out.Name, apiKeyView(before), apiKeyView(out))
	})
	if err != nil {
		return nil, err
	}
	a.s.cache.Invalidate(ctx, apiKeyKey(out.SecretHash)) // this key only, never every tenant's entries
	return out, nil
}

func (a *APIKeys) markUsed(id string, at time.Time) {
	a.mu.Lock()
	a.used[id] = at
	a.mu.Unlock()
}

// flush writes the buffered last-used times.
func (a *APIKeys) flush(ctx context.Context) {
	a.mu.Lock()
	used := a.used
	a.used = map[string]time.Time{}
	a.mu.Unlock()
	if len(used) == 0 {
		return
	}
	if err := models.TouchAPIKeys(a.s.db.WithContext(ctx), used); err != nil {
		a.s.log.WarnContext(ctx, "record api key use", "err", err)
	}
}

func (a *APIKeys) flushLoop(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.flush(ctx)
		}
	}
}
