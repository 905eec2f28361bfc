package services

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
)

// DefaultEnvironments are made with every project unless the request lists others. A new slice
// each time: validation normalises its input in place.
func DefaultEnvironments() []EnvironmentInput {
	return []EnvironmentInput{
		{Key: "development", Name: "Development"},
		{Key: "staging", Name: "Staging"},
		{Key: "production", Name: "Production", Production: true},
	}
}

// Projects manages an organisation's projects.
type Projects struct{ s *Services }

// ProjectInput is a new project and, optionally, the environments it starts with.
type ProjectInput struct {
	Key          string
	Name         string
	Description  string
	Environments []EnvironmentInput // nil means DefaultEnvironments
	// ClientVisibleDefault is whether new flags are client-visible (nil: true).
	ClientVisibleDefault *bool
}

func validateKeyAndName(v *errs.Validation, prefix string, key, name *string) {
	*key = strings.TrimSpace(*key)
	*name = strings.TrimSpace(*name)
	if *key == "" && *name != "" {
		*key = keys.FromName(*name)
	}
	if p := keys.Problem(*key); p != "" {
		v.Add(prefix+"key", "%s", p)
	}
	if *name == "" {
		*name = *key
	}
	if len(*name) > 200 {
		v.Add(prefix+"name", "must be at most 200 characters")
	}
}

func (in *ProjectInput) validate(v *errs.Validation) {
	validateKeyAndName(v, "", &in.Key, &in.Name)
	if len(in.Description) > 2000 {
		v.Add("description", "must be at most 2000 characters")
	}
	if in.Environments == nil {
		in.Environments = DefaultEnvironments()
	}
	if len(in.Environments) == 0 {
		v.Add("environments", "a project needs at least one environment")
	}
	if len(in.Environments) > 50 {
		v.Add("environments", "at most 50 environments")
	}
	seen := map[string]bool{}
	for i := range in.Environments {
		e := &in.Environments[i]
		e.validate(v, fmt.Sprintf("environments[%d].", i))
		if seen[e.Key] {
			v.Add(fmt.Sprintf("environments[%d].key", i), "duplicates another environment's key")
		}
		seen[e.Key] = true
	}
}

func projectView(p *models.Project) map[string]any {
	return map[string]any{"id": p.ID, "key": p.Key, "name": p.Name, "description": p.Description,
		"client_visible_default": p.ClientVisibleDefault, "version": p.Version}
}

// resolve finds a project the scope may see; a project-bound API key sees only its own.
func (p *Projects) resolve(db *gorm.DB, sc Scope, ref string) (*models.Project, error) {
	proj, err := models.ProjectByRef(db, sc.OrgID, ref)
	if err != nil {
		return nil, err
	}
	if b := sc.Principal; b != nil && b.ProjectID != "" && b.ProjectID != proj.ID {
		return nil, errs.NotFoundf("project not found")
	}
	return proj, nil
}

// Get returns a project.
func (p *Projects) Get(ctx context.Context, sc Scope, ref string) (*models.Project, error) {
	return p.resolve(p.s.db.WithContext(ctx), sc, ref)
}

// List returns the organisation's projects (just one for a project-bound API key).
func (p *Projects) List(ctx context.Context, sc Scope, opt ListOptions) (Page[models.Project], error) {
	pg, err := opt.page(false)
	if err != nil {
		return Page[models.Project]{}, err
	}
	rows, err := models.ListProjects(p.s.db.WithContext(ctx), sc.OrgID, sc.Principal.ProjectID, pg)
	if err != nil {
		return Page[models.Project]{}, err
	}
	return paged(rows, pg.Limit, func(p models.Project) string { return p.ID }), nil
}

// Create makes a project with its environments (the three defaults unless listed).
func (p *Projects) Create(ctx context.Context, sc Scope, in ProjectInput) (*models.Project, error) {
	var v errs.Validation
	in.validate(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *models.Project
	err := p.s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		out, err = p.create(tx, sc, in)
		return err
	})
	return out, err
}

func (p *Projects) create(tx *gorm.DB, sc Scope, in ProjectInput) (*models.Project, error) {
	if in.Environments == nil {
		in.Environments = DefaultEnvironments()
	}
	now := p.s.now()
	proj := &models.Project{ID: models.NewID(), OrgID: sc.OrgID, Key: in.Key, Name: in.Name, Description: in.Description,
		ClientVisibleDefault: in.ClientVisibleDefault == nil || *in.ClientVisibleDefault, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := models.Create(tx, fmt.Sprintf("project %q", in.Key), proj); err != nil {
		return nil, err
	}
	if err := p.s.audit(tx, sc, "project.created", "project", proj.ID, proj.Key, nil, projectView(proj)); err != nil {
		return nil, err
	}
	for _, e := range in.Environments {
		if _, err := p.s.Environments.create(tx, sc, proj, e); err != nil {
			return nil, err
		}
	}
	return proj, nil
}

// nameAndDescription validates the name and description of a patch and returns the columns to set.
func nameAndDescription(v *errs.Validation, name, description *string) map[string]any {
	fields := map[string]any{}
	if name != nil {
		n := strings.TrimSpace(*name)
		if n == "" || len(n) > 200 {
			v.Add("name", "must be 1–200 characters")
		}
		fields["name"] = n
	}
	if description != nil {
		if len(*description) > 2000 {
			v.Add("description", "must be at most 2000 characters")
		}
		fields["description"] = *description
	}
	return fields
}

// ProjectPatch changes a project; nil fields stay. The key is immutable.
type ProjectPatch struct {
	Name        *string
	Description *string
	// ClientVisibleDefault changes whether new flags are client-visible (existing flags keep theirs).
	ClientVisibleDefault *bool
}

// Update changes a project's name or description.
func (p *Projects) Update(ctx context.Context, sc Scope, ref string, patch ProjectPatch, ifMatch int64) (*models.Project, error) {
	if err := projectWide(sc, "change the project"); err != nil {
		return nil, err
	}
	var v errs.Validation
	fields := nameAndDescription(&v, patch.Name, patch.Description)
	if patch.ClientVisibleDefault != nil {
		fields["client_visible_default"] = *patch.ClientVisibleDefault
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *models.Project
	err := p.s.tx(ctx, func(tx *gorm.DB) error {
		before, err := p.resolve(tx, sc, ref)
		if err != nil {
			return err
		}
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "projects", What: "project", OrgID: sc.OrgID,
			ID: before.ID, Expect: ifMatch, Current: before.Version}, p.s.now(), fields); err != nil {
			return err
		}
		if out, err = p.resolve(tx, sc, before.ID); err != nil {
			return err
		}
		return p.s.audit(tx, sc, "project.updated", "project", out.ID, out.Key, projectView(before), projectView(out))
	})
	return out, err
}

// Delete removes a project with its environments and everything in them; confirm must be its key.
func (p *Projects) Delete(ctx context.Context, sc Scope, ref, confirm string) error {
	if err := projectWide(sc, "delete the project"); err != nil {
		return err
	}
	return p.s.tx(ctx, func(tx *gorm.DB) error {
		proj, err := p.resolve(tx, sc, ref)
		if err != nil {
			return err
		}
		afterCommit(tx, func(ctx context.Context) { p.s.keysChanged(ctx, sc.OrgID, proj.ID) }) // its SDK keys stop working
		if err := models.LockProject(tx, sc.OrgID, proj.ID); err != nil {                      // after every configuration write under way
			return err
		}
		if confirm != proj.Key {
			return errs.Field("confirm", "must be the project's key (%q) to delete it", proj.Key)
		}
		if err := tx.Where("org_id = ? AND id = ?", sc.OrgID, proj.ID).Delete(&models.Project{}).Error; err != nil {
			return models.Translate(err, "project")
		}
		return p.s.audit(tx, sc, "project.deleted", "project", proj.ID, proj.Key, projectView(proj), nil)
	})
}

// Environments manages a project's environments and their SDK keys.
type Environments struct{ s *Services }

// EnvironmentInput is a new environment.
type EnvironmentInput struct {
	Key         string
	Name        string
	Description string
	Production  bool
}

func (in *EnvironmentInput) validate(v *errs.Validation, prefix string) {
	validateKeyAndName(v, prefix, &in.Key, &in.Name)
	if len(in.Description) > 2000 {
		v.Add(prefix+"description", "must be at most 2000 characters")
	}
}

// Environment is an environment with the SDK keys that currently open it.
type Environment struct {
	models.Environment
	ProjectKey string
	Keys       []models.SDKKey // current keys first, then keys in their grace period
}

func envView(e *models.Environment) map[string]any {
	return map[string]any{"id": e.ID, "key": e.Key, "name": e.Name, "description": e.Description,
		"production": e.Production, "version": e.Version}
}

func (e *Environments) resolve(db *gorm.DB, sc Scope, projectRef, ref string) (*models.Project, *models.Environment, error) {
	proj, err := e.s.Projects.resolve(db, sc, projectRef)
	if err != nil {
		return nil, nil, err
	}
	env, err := models.EnvironmentByRef(db, sc.OrgID, proj.ID, ref)
	if err != nil {
		return nil, nil, err
	}
	if b := sc.Principal; b != nil && b.EnvironmentID != "" && b.EnvironmentID != env.ID {
		return nil, nil, errs.NotFoundf("environment not found")
	}
	return proj, env, nil
}

func (e *Environments) withKeys(db *gorm.DB, sc Scope, proj *models.Project, envs []models.Environment) ([]Environment, error) {
	if len(envs) == 0 {
		return []Environment{}, nil
	}
	ids := make([]string, len(envs))
	for i, env := range envs {
		ids[i] = env.ID
	}
	ks, err := models.SDKKeysOf(db, sc.OrgID, ids, e.s.now())
	if err != nil {
		return nil, err
	}
	out := make([]Environment, len(envs))
	for i, env := range envs {
		out[i] = Environment{Environment: env, ProjectKey: proj.Key}
		for _, k := range ks {
			if k.EnvironmentID == env.ID && k.ExpiresAt == nil {
				out[i].Keys = append(out[i].Keys, k)
			}
		}
		for _, k := range ks {
			if k.EnvironmentID == env.ID && k.ExpiresAt != nil {
				out[i].Keys = append(out[i].Keys, k)
			}
		}
	}
	return out, nil
}

// Get returns an environment with its keys.
func (e *Environments) Get(ctx context.Context, sc Scope, projectRef, ref string) (*Environment, error) {
	db := e.s.db.WithContext(ctx)
	proj, env, err := e.resolve(db, sc, projectRef, ref)
	if err != nil {
		return nil, err
	}
	out, err := e.withKeys(db, sc, proj, []models.Environment{*env})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// List returns a project's environments with their keys.
func (e *Environments) List(ctx context.Context, sc Scope, projectRef string, opt ListOptions) (Page[Environment], error) {
	pg, err := opt.page(false)
	if err != nil {
		return Page[Environment]{}, err
	}
	db := e.s.db.WithContext(ctx)
	proj, err := e.s.Projects.resolve(db, sc, projectRef)
	if err != nil {
		return Page[Environment]{}, err
	}
	rows, err := models.ListEnvironments(db, sc.OrgID, proj.ID, sc.Principal.EnvironmentID, pg)
	if err != nil {
		return Page[Environment]{}, err
	}
	rows, next := models.Trim(rows, pg.Limit, func(e models.Environment) string { return e.ID })
	items, err := e.withKeys(db, sc, proj, rows)
	if err != nil {
		return Page[Environment]{}, err
	}
	return Page[Environment]{Items: items, NextCursor: encodeCursor(next)}, nil
}

// Create adds an environment (with fresh SDK keys) to a project.
func (e *Environments) Create(ctx context.Context, sc Scope, projectRef string, in EnvironmentInput) (*Environment, error) {
	if err := projectWide(sc, "create an environment"); err != nil {
		return nil, err
	}
	var v errs.Validation
	in.validate(&v, "")
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *Environment
	err := e.s.tx(ctx, func(tx *gorm.DB) error {
		proj, err := e.s.Projects.resolve(tx, sc, projectRef)
		if err != nil {
			return err
		}
		if err := models.LockProject(tx, sc.OrgID, proj.ID); err != nil { // it configures every flag of the project
			return err
		}
		env, err := e.create(tx, sc, proj, in)
		if err != nil {
			return err
		}
		envs, err := e.withKeys(tx, sc, proj, []models.Environment{*env})
		if err != nil {
			return err
		}
		out = &envs[0]
		return nil
	})
	return out, err
}

func (e *Environments) create(tx *gorm.DB, sc Scope, proj *models.Project, in EnvironmentInput) (*models.Environment, error) {
	now := e.s.now()
	env := &models.Environment{ID: models.NewID(), OrgID: sc.OrgID, ProjectID: proj.ID, Key: in.Key, Name: in.Name,
		Description: in.Description, Production: in.Production, ConfigVersion: 1, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := models.Create(tx, fmt.Sprintf("environment %q in project %q", in.Key, proj.Key), env); err != nil {
		return nil, err
	}
	for _, kind := range []string{models.SDKServer, models.SDKClient} {
		if err := models.Create(tx, "sdk key", newSDKKey(env, kind, now)); err != nil {
			return nil, err
		}
	}
	afterCommit(tx, func(ctx context.Context) { e.s.keysChanged(ctx, sc.OrgID, proj.ID) }) // every node learns the keys
	// Existing flags get a configuration here too: DRAFT, serving their off variation.
	var flags []models.Flag
	if err := tx.Where("org_id = ? AND project_id = ?", sc.OrgID, proj.ID).Find(&flags).Error; err != nil {
		return nil, models.Translate(err, "flags")
	}
	for i := range flags {
		if err := models.Create(tx, "flag configuration", e.s.Flags.initialConfig(&flags[i], env.ID, FlagInput{}, now)); err != nil {
			return nil, err
		}
	}
	return env, e.s.audit(tx, sc, "environment.created", "environment", env.ID, proj.Key+"/"+env.Key, nil, envView(env))
}

func newSDKKey(env *models.Environment, kind string, now time.Time) *models.SDKKey {
	prefix := ServerSDKPrefix
	if kind == models.SDKClient {
		prefix = ClientSDKPrefix
	}
	return &models.SDKKey{ID: models.NewID(), OrgID: env.OrgID, ProjectID: env.ProjectID, EnvironmentID: env.ID,
		Kind: kind, Key: keys.Secret(prefix), CreatedAt: now}
}

// EnvironmentPatch changes an environment; nil fields stay. The key is immutable.
type EnvironmentPatch struct {
	Name        *string
	Description *string
	Production  *bool
}

// Update changes an environment's name, description or production flag.
func (e *Environments) Update(ctx context.Context, sc Scope, projectRef, ref string, patch EnvironmentPatch, ifMatch int64) (*Environment, error) {
	var v errs.Validation
	fields := nameAndDescription(&v, patch.Name, patch.Description)
	if patch.Production != nil {
		fields["production"] = *patch.Production
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *Environment
	err := e.s.tx(ctx, func(tx *gorm.DB) error {
		proj, before, err := e.resolve(tx, sc, projectRef, ref)
		if err != nil {
			return err
		}
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "environments", What: "environment", OrgID: sc.OrgID,
			ID: before.ID, Expect: ifMatch, Current: before.Version}, e.s.now(), fields); err != nil {
			return err
		}
		after, err := models.EnvironmentByID(tx, sc.OrgID, before.ID)
		if err != nil {
			return err
		}
		envs, err := e.withKeys(tx, sc, proj, []models.Environment{*after})
		if err != nil {
			return err
		}
		out = &envs[0]
		return e.s.audit(tx, sc, "environment.updated", "environment", after.ID, proj.Key+"/"+after.Key, envView(before), envView(after))
	})
	return out, err
}

// Delete removes an environment and everything in it; confirm must be its key.
func (e *Environments) Delete(ctx context.Context, sc Scope, projectRef, ref, confirm string) error {
	return e.s.tx(ctx, func(tx *gorm.DB) error {
		proj, env, err := e.resolve(tx, sc, projectRef, ref)
		if err != nil {
			return err
		}
		afterCommit(tx, func(ctx context.Context) { e.s.keysChanged(ctx, sc.OrgID, proj.ID) }) // its SDK keys stop working
		if err := models.LockProject(tx, sc.OrgID, proj.ID); err != nil {                      // after every configuration write under way
			return err
		}
		if confirm != env.Key {
			return errs.Field("confirm", "must be the environment's key (%q) to delete it", env.Key)
		}
		if err := tx.Where("org_id = ? AND id = ?", sc.OrgID, env.ID).Delete(&models.Environment{}).Error; err != nil {
			return models.Translate(err, "environment")
		}
		return e.s.audit(tx, sc, "environment.deleted", "environment", env.ID, proj.Key+"/"+env.Key, envView(env), nil)
	})
}

// RotateInput says which SDK keys to replace and how long the old ones keep working.
type RotateInput struct {
	Kind        string        // server, client or both (default)
	GracePeriod time.Duration // 0: the old key stops working at once
}

// MaxGracePeriod bounds how long a rotated key may keep working.
const MaxGracePeriod = 30 * 24 * time.Hour

// RotateKeys replaces an environment's SDK keys. The old key works until the grace period ends;
// keys from earlier rotations end then too if their own grace would last longer.
func (e *Environments) RotateKeys(ctx context.Context, sc Scope, projectRef, ref string, in RotateInput) (*Environment, error) {
	var v errs.Validation
	kinds := []string{models.SDKServer, models.SDKClient}
	switch in.Kind {
	case "", "both":
	case models.SDKServer, models.SDKClient:
		kinds = []string{in.Kind}
	default:
		v.Add("kind", "must be server, client or both")
	}
	if in.GracePeriod < 0 || in.GracePeriod > MaxGracePeriod {
		v.Add("grace_period", "must be between 0s and 720h")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *Environment
	err := e.s.tx(ctx, func(tx *gorm.DB) error {
		proj, env, err := e.resolve(tx, sc, projectRef, ref)
		if err != nil {
			return err
		}
		afterCommit(tx, func(ctx context.Context) { e.s.keysChanged(ctx, sc.OrgID, proj.ID) }) // every node learns the keys
		now := e.s.now()
		for _, kind := range kinds {
			if err := models.ExpireSDKKeys(tx, env.ID, kind, now.Add(in.GracePeriod)); err != nil {
				return err
			}
			if err := models.Create(tx, "sdk key", newSDKKey(env, kind, now)); err != nil {
				return err
			}
		}
		envs, err := e.withKeys(tx, sc, proj, []models.Environment{*env})
		if err != nil {
			return err
		}
		out = &envs[0]
		return e.s.audit(tx, sc, "sdk_key.rotated", "environment", env.ID, proj.Key+"/"+env.Key, nil,
			map[string]any{"kinds": kinds, "grace_period": in.GracePeriod.String()})
	})
	return out, err
}
