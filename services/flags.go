package services

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
)

// Flags manages a project's flags and their configuration in each environment.
type Flags struct {
	s     *Services
	lists flagListCache
}

// FlagInput is a new flag. Only a key or a name is required: a boolean flag with true/false
// variations is the default.
type FlagInput struct {
	Key         string
	Name        string
	Description string
	Type        engine.Type
	Variations  []engine.Variation
	Tags        []string
	Owner       string
	Temporary   *bool
	Experiment  string
	// Initial configuration applied in every environment (optional).
	DefaultVariation string
	OnVariation      string
	Status           engine.Status // DRAFT (default), or ACTIVE/ENABLED to start serving
	Config           *ConfigPatch  // targeting applied in every environment
	// ConfigEnvironment, when set, limits Status and Config to that environment (the simple API).
	ConfigEnvironment string
	// ClientVisible says whether client-side SDK keys may evaluate the flag (nil: the project's
	// default).
	ClientVisible *bool
}

// FlagWithConfigs is a flag and, by environment id, its configurations.
type FlagWithConfigs struct {
	models.Flag
	Configs map[string]*models.FlagConfig
	EnvKeys map[string]string // environment id → key
}

// envKeys maps a project's environment ids to keys.
func envKeys(db *gorm.DB, orgID, projectID string) (map[string]string, error) {
	envs, err := models.EnvironmentsOfProject(db, orgID, projectID)
	out := make(map[string]string, len(envs))
	for _, e := range envs {
		out[e.ID] = e.Key
	}
	return out, err
}

// offVariation is what a flag serves when it is off: false for a boolean flag, else the first.
func offVariation(f *models.Flag) string {
	for _, v := range f.Variations {
		if f.Type == string(engine.Boolean) && string(bytes.TrimSpace(v.Value)) == "false" {
			return v.ID
		}
	}
	if len(f.Variations) > 0 {
		return f.Variations[0].ID
	}
	return ""
}

// onVariation is what "on" means: true for a boolean flag, else the second variation.
func onVariation(f *models.Flag) string {
	for _, v := range f.Variations {
		if f.Type == string(engine.Boolean) && string(bytes.TrimSpace(v.Value)) == "true" {
			return v.ID
		}
	}
	if len(f.Variations) > 1 {
		return f.Variations[1].ID
	}
	return ""
}

func defaultVariations(t engine.Type) []engine.Variation {
	if t != engine.Boolean {
		return nil
	}
	return []engine.Variation{
		{ID: "true", Name: "True", Value: json.RawMessage("true")},
		{ID: "false", Name: "False", Value: json.RawMessage("false")},
	}
}

// normaliseVariations fills ids from names (the id is generated from the name) and, for a
// variation given only a value, both from the value: "blue" → id and name "blue", 10 → "10".
func normaliseVariations(vs []engine.Variation) []engine.Variation {
	out := make([]engine.Variation, len(vs))
	for i, v := range vs {
		v.Name = strings.TrimSpace(v.Name)
		if v.ID == "" && v.Name == "" {
			v.ID, v.Name = fromValue(v.Value, i)
		}
		if v.ID == "" {
			v.ID = keys.FromName(v.Name)
		}
		if v.Name == "" {
			v.Name = v.ID
		}
		out[i] = v
	}
	return out
}

// fromValue names the i-th variation after its value: a string or a scalar as it reads, anything
// else by its position.
func fromValue(raw json.RawMessage, i int) (id, name string) {
	var val any
	if err := json.Unmarshal(raw, &val); err == nil {
		switch x := val.(type) {
		case string:
			if id = keys.FromName(x); id != "" {
				return id, strings.TrimSpace(x)
			}
		case float64, bool:
			text := strings.TrimSpace(string(raw))
			return keys.FromName(text), text
		}
	}
	return fmt.Sprintf("variation-%d", i+1), fmt.Sprintf("Variation %d", i+1)
}

// engineFlag is the engine's view of a flag in one environment.
func engineFlag(f *models.Flag, c *models.FlagConfig) engine.Flag {
	return engine.Flag{Key: f.Key, Type: engine.Type(f.Type), Variations: f.Variations, Status: engine.Status(c.Status),
		DefaultVariation: c.DefaultVariation, OnVariation: c.OnVariation, Targets: c.Targets, Rules: c.Rules,
		Fallthrough: c.Fallthrough, BucketBy: c.BucketBy, Salt: c.Salt, Version: c.Version}
}

func engineSegments(rows []models.Segment) map[string]engine.Segment {
	out := make(map[string]engine.Segment, len(rows))
	for _, s := range rows {
		out[s.Key] = engineSegment(&s)
	}
	return out
}

func engineSegment(s *models.Segment) engine.Segment {
	return engine.Segment{Key: s.Key, Conditions: s.Conditions, Included: s.Included, Excluded: s.Excluded}
}

// compile checks a flag configuration against the project's segments.
func (fl *Flags) compile(tx *gorm.DB, sc Scope, f *models.Flag, c *models.FlagConfig) (*engine.Compiled, error) {
	segs, err := models.SegmentsOfProject(tx, sc.OrgID, f.ProjectID)
	if err != nil {
		return nil, err
	}
	return engine.Compile(engineFlag(f, c), engineSegments(segs))
}

func flagView(f *models.Flag) map[string]any {
	return map[string]any{"id": f.ID, "key": f.Key, "name": f.Name, "description": f.Description, "type": f.Type,
		"variations": f.Variations, "tags": f.Tags, "owner": f.Owner, "temporary": f.Temporary, "archived": f.Archived,
		"experiment": f.Experiment, "client_visible": f.ClientVisible, "version": f.Version}
}

func configView(f *models.Flag, c *models.FlagConfig) map[string]any {
	return map[string]any{"flag": f.Key, "environment_id": c.EnvironmentID, "status": c.Status,
		"default_variation": c.DefaultVariation, "on_variation": c.OnVariation, "targets": c.Targets, "rules": c.Rules,
		"fallthrough": c.Fallthrough, "bucket_by": c.BucketBy, "salt": c.Salt, "version": c.Version,
		"rollout_percentage": RolloutPercentage(f, c)}
}

// RolloutPercentage is the share (0–100) of the eligible contexts that get the "on" variation
// (true, for a boolean flag): from the fallthrough, or from the single rule that serves a rollout
// (the flat shape's targeting rule). It reports what is served, whatever the default is.
func RolloutPercentage(f *models.Flag, c *models.FlagConfig) float64 {
	if engine.Status(c.Status) == engine.RolledOut {
		return 100
	}
	on := onOf(f, c)
	share := func(s engine.Serve) (float64, bool) {
		if s.Rollout == nil {
			if s.Variation == "" {
				return 0, false
			}
			if s.Variation == on {
				return 100, true
			}
			return 0, true
		}
		return s.Rollout.Share(on), true
	}
	for _, r := range c.Rules {
		if r.Serve.Rollout != nil {
			p, _ := share(r.Serve)
			return p
		}
	}
	if len(c.Rules) > 0 && c.Fallthrough.Variation == c.DefaultVariation {
		if p, ok := share(c.Rules[0].Serve); ok {
			return p
		}
	}
	p, _ := share(c.Fallthrough)
	return p
}

// onOf is what "on" means for a configuration: true for a boolean flag, else its on variation.
func onOf(f *models.Flag, c *models.FlagConfig) string {
	if f.Type == string(engine.Boolean) {
		return onVariation(f)
	}
	if c.OnVariation != "" {
		return c.OnVariation
	}
	return onVariation(f)
}

// restOf is what the contexts outside a percentage rollout get: false for a boolean flag (so the
// percentage is always the share that gets true, whether the default is on or off), else the
// default variation, or, when that is the on variation itself, the first other one.
func restOf(f *models.Flag, c *models.FlagConfig, on string) string {
	if f.Type == string(engine.Boolean) {
		for _, v := range f.Variations { // the other boolean: false, unless false is what rolls out
			if v.ID != on {
				return v.ID
			}
		}
		return offVariation(f)
	}
	if c.DefaultVariation != "" && c.DefaultVariation != on {
		return c.DefaultVariation
	}
	for _, v := range f.Variations {
		if v.ID != on {
			return v.ID
		}
	}
	return offVariation(f)
}

// PercentageServe is a rollout giving weight thousandths of a percent the variation (the on
// variation when empty) and the rest what restOf says: rollout_percentage, rollout stages and
// guard rollbacks all serve through it.
func PercentageServe(f *models.Flag, c *models.FlagConfig, variation string, weight int) engine.Serve {
	on := variation
	if on == "" {
		on = onOf(f, c)
	}
	weight = min(max(weight, 0), engine.BucketScale)
	return engine.Serve{Rollout: &engine.Rollout{Variations: []engine.WeightedVariation{
		{Variation: on, Weight: weight}, {Variation: restOf(f, c, on), Weight: engine.BucketScale - weight}}}}
}

func (fl *Flags) project(db *gorm.DB, sc Scope, ref string) (*models.Project, error) {
	return fl.s.Projects.resolve(db, sc, ref)
}

// resolve finds a flag of a project the scope may see.
func (fl *Flags) resolve(db *gorm.DB, sc Scope, projectRef, ref string) (*models.Project, *models.Flag, error) {
	p, err := fl.project(db, sc, projectRef)
	if err != nil {
		return nil, nil, err
	}
	f, err := models.FlagByRef(db, sc.OrgID, p.ID, ref)
	return p, f, err
}

// Create makes a flag and its configuration (DRAFT, serving the off variation) in every
// environment of the project.
func (fl *Flags) Create(ctx context.Context, sc Scope, projectRef string, in FlagInput) (*FlagWithConfigs, error) {
	if err := projectWide(sc, "create a flag"); err != nil {
		return nil, err
	}
	var v errs.Validation
	in.Name = strings.TrimSpace(in.Name)
	in.Key = strings.TrimSpace(in.Key)
	if in.Key == "" && in.Name != "" {
		in.Key = keys.FromName(in.Name) // source 002: the key is generated from the name
	}
	if p := keys.Problem(in.Key); p != "" {
		v.Add("key", "%s", p)
	}
	if in.Name == "" {
		in.Name = in.Key
	}
	if len(in.Name) > 200 {
		v.Add("name", "must be at most 200 characters")
	}
	if len(in.Description) > 5000 {
		v.Add("description", "must be at most 5000 characters")
	}
	if in.Type == "" {
		in.Type = engine.Boolean
	}
	if len(in.Variations) == 0 {
		in.Variations = defaultVariations(in.Type)
	}
	in.Variations = normaliseVariations(in.Variations)
	if err := engine.CheckVariations(in.Type, in.Variations); err != nil {
		v.Merge("", err) // alone: the configurations refer to variations that are not usable yet
	}
	validateTags(&v, in.Tags)
	switch in.Status {
	case "", engine.Draft, engine.Active, engine.Enabled:
	default:
		v.Add("status", "a new flag starts as DRAFT, ACTIVE or ENABLED")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	temporary := true
	if in.Temporary != nil {
		temporary = *in.Temporary
	}
	now := fl.s.now()
	f := &models.Flag{ID: models.NewID(), OrgID: sc.OrgID, Key: in.Key, Name: in.Name, Description: in.Description,
		Type: string(in.Type), Variations: in.Variations, Tags: nonNil(in.Tags), Owner: in.Owner, Temporary: temporary,
		Experiment: in.Experiment, CreatedAt: now, UpdatedAt: now, Version: 1}
	var out *FlagWithConfigs
	err := fl.s.tx(ctx, func(tx *gorm.DB) error {
		p, err := fl.project(tx, sc, projectRef)
		if err != nil {
			return err
		}
		if err := models.LockProject(tx, sc.OrgID, p.ID); err != nil { // before the segments its rules are checked against
			return err
		}
		f.ProjectID = p.ID
		f.ClientVisible = p.ClientVisibleDefault
		if in.ClientVisible != nil {
			f.ClientVisible = *in.ClientVisible
		}
		envs, err := models.EnvironmentsOfProject(tx, sc.OrgID, p.ID)
		if err != nil {
			return err
		}
		if err := models.Create(tx, fmt.Sprintf("flag %q in project %q", f.Key, p.Key), f); err != nil {
			return err
		}
		out = &FlagWithConfigs{Flag: *f, Configs: map[string]*models.FlagConfig{}, EnvKeys: map[string]string{}}
		for _, env := range envs {
			out.EnvKeys[env.ID] = env.Key
			here := in
			if in.ConfigEnvironment != "" && env.ID != in.ConfigEnvironment {
				here.Status, here.Config = "", nil
			}
			c := fl.initialConfig(f, env.ID, here, now)
			if here.Config != nil {
				if err := fl.applyPatch(f, c, *here.Config); err != nil {
					return err
				}
			}
			if _, err := fl.compile(tx, sc, f, c); err != nil {
				return err
			}
			if err := models.Create(tx, "flag configuration", c); err != nil {
				return err
			}
			out.Configs[env.ID] = c
		}
		if err := models.BumpConfigVersion(tx, sc.OrgID, p.ID, models.ConfigChange{Flags: []string{f.Key}}, now); err != nil {
			return err
		}
		return fl.s.audit(tx, sc, "feature_flag.created", "flag", f.ID, p.Key+"/"+f.Key, nil, flagView(f))
	})
	if err != nil {
		return nil, err
	}
	fl.s.changed(ctx, sc.OrgID, f.ProjectID)
	return out, nil
}

func (fl *Flags) initialConfig(f *models.Flag, envID string, in FlagInput, now time.Time) *models.FlagConfig {
	def := in.DefaultVariation
	if def == "" {
		def = offVariation(f)
	}
	on := in.OnVariation
	if on == "" {
		on = onVariation(f)
	}
	status := in.Status
	if status == "" {
		status = engine.Draft
	}
	return &models.FlagConfig{ID: models.NewID(), OrgID: f.OrgID, ProjectID: f.ProjectID, EnvironmentID: envID, FlagID: f.ID,
		Status: string(status), DefaultVariation: def, OnVariation: on, Targets: []engine.Target{}, Rules: []engine.Rule{},
		Fallthrough: engine.Serve{Variation: def}, CreatedAt: now, UpdatedAt: now, Version: 1}
}

func validateTags(v *errs.Validation, tags []string) {
	if len(tags) > 50 {
		v.Add("tags", "at most 50 tags")
	}
	for i, t := range tags {
		if t == "" || len(t) > 64 || strings.ContainsAny(t, `"\`) {
			v.Add(fmt.Sprintf("tags[%d]", i), "must be 1–64 characters without quotes or backslashes")
		}
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Get returns a flag with its configurations in every environment.
func (fl *Flags) Get(ctx context.Context, sc Scope, projectRef, ref string) (*FlagWithConfigs, error) {
	db := fl.s.db.WithContext(ctx)
	_, f, err := fl.resolve(db, sc, projectRef, ref)
	if err != nil {
		return nil, err
	}
	var cs []models.FlagConfig
	if err := db.Where("org_id = ? AND flag_id = ?", sc.OrgID, f.ID).Find(&cs).Error; err != nil {
		return nil, models.Translate(err, "flag configurations")
	}
	out := &FlagWithConfigs{Flag: *f, Configs: map[string]*models.FlagConfig{}}
	for i := range cs {
		if visibleEnv(sc, cs[i].EnvironmentID) {
			out.Configs[cs[i].EnvironmentID] = &cs[i]
		}
	}
	out.EnvKeys, err = envKeys(db, sc.OrgID, f.ProjectID)
	return out, err
}

// visibleEnv reports whether the scope may see an environment: an API key bound to one
// environment sees only that one.
func visibleEnv(sc Scope, envID string) bool {
	p := sc.Principal
	return p == nil || p.EnvironmentID == "" || p.EnvironmentID == envID
}

// FlagListOptions are a flag list's filters and order.
type FlagListOptions struct {
	ListOptions
	Q           string
	Tag         string
	Archived    *bool
	Environment string // needed for status, evaluations and stale
	Status      string
	Sort        models.FlagSort
	StaleDays   int // > 0: only flags not evaluated for that many days
	// Offset skips that many flags instead of following a cursor (not in the default order), so that
	// a client that knows the total can ask for every page at once.
	Offset int
}

// FlagPage is a page of flags and how many flags pass the filters in all.
type FlagPage struct {
	Page[FlagWithConfigs]
	Total int64
}

// List returns a project's flags, filtered and sorted.
func (fl *Flags) List(ctx context.Context, sc Scope, projectRef string, o FlagListOptions) (FlagPage, error) {
	var v errs.Validation
	switch o.Sort {
	case models.SortCreated, models.SortKey, models.SortUpdatedAt, models.SortEvaluations:
	default:
		v.Add("sort", "must be key, updated_at or evaluations")
	}
	switch {
	case o.Offset < 0:
		v.Add("offset", "must not be negative")
	case o.Offset > 0 && o.Cursor != "":
		v.Add("offset", "cannot be combined with cursor")
	case o.Offset > 0 && o.Sort == models.SortCreated:
		v.Add("offset", "needs sort key, updated_at or evaluations")
	}
	if o.Status != "" && !KnownStatus(o.Status) {
		v.Add("status", "must be one of DRAFT, ACTIVE, ENABLED, DISABLED, PAUSED, ROLLED_OUT, ARCHIVED (any case: Enabled, RolledOut …)")
	}
	if (o.Status != "" || o.Sort == models.SortEvaluations || o.StaleDays > 0) && o.Environment == "" {
		v.Add("environment", "status, sort=evaluations and stale need an environment")
	}
	if err := v.Err(); err != nil {
		return FlagPage{}, err
	}
	db := fl.s.db.WithContext(ctx)
	gen := fl.lists.gen.Load()
	// The project and its environments' versions (the cache's stamp) in one statement; a project
	// without environments, or none, is resolved on its own.
	envs, err := models.EnvironmentsOfProjectRef(db, sc.OrgID, projectRef)
	if err != nil {
		return FlagPage{}, err
	}
	var p *models.Project
	if len(envs) > 0 && sameProject(envs) {
		p = &models.Project{ID: envs[0].ProjectID, OrgID: sc.OrgID, Key: projectRef}
		if b := sc.Principal; b != nil && b.ProjectID != "" && b.ProjectID != p.ID {
			return FlagPage{}, errs.NotFoundf("project not found")
		}
	} else { // no environments, or a reference that is one project's key and another's id
		if p, err = fl.project(db, sc, projectRef); err != nil {
			return FlagPage{}, err
		}
		if envs, err = models.EnvironmentsOfProject(db, sc.OrgID, p.ID); err != nil {
			return FlagPage{}, err
		}
	}
	filter := models.FlagFilter{Q: o.Q, Tag: o.Tag, Archived: o.Archived}
	if o.Status != "" {
		filter.Status = string(ParseStatus(o.Status))
	}
	if o.Environment != "" {
		_, env, err := fl.s.Environments.resolve(db, sc, p.ID, o.Environment) // an environment-bound key filters only its own
		if err != nil {
			return FlagPage{}, errs.Field("environment", "no such environment in project %q", p.Key)
		}
		filter.EnvironmentID = env.ID
	}
	if o.StaleDays > 0 {
		cut := fl.s.now().AddDate(0, 0, -o.StaleDays)
		filter.StaleBefore = &cut
	}
	var (
		pg     models.Page
		offset int
	)
	if o.Sort == models.SortCreated {
		if pg, err = o.pageUpTo(false, MaxFlagLimit); err != nil {
			return FlagPage{}, err
		}
	} else {
		if pg, err = (ListOptions{Limit: o.Limit}).pageUpTo(false, MaxFlagLimit); err != nil {
			return FlagPage{}, err
		}
		if offset, err = decodeOffset(o.Cursor); err != nil {
			return FlagPage{}, err
		}
		offset += o.Offset
	}
	key, versions, now := flagListKey(sc, p.ID, filter, o.Sort, pg, offset, o.StaleDays), envVersions(envs), fl.s.now()
	if page, ok := fl.lists.get(key, versions, now); ok {
		return page, nil
	}
	page, err := fl.list(db, sc, p.ID, envs, filter, o.Sort, pg, offset)
	if err != nil {
		return FlagPage{}, err
	}
	return fl.lists.put(key, versions, gen, now, page), nil
}

// sameProject reports whether environments all belong to one project.
func sameProject(envs []models.Environment) bool {
	for _, e := range envs {
		if e.ProjectID != envs[0].ProjectID {
			return false
		}
	}
	return true
}

// list builds a page of flags with their configurations in the environments the scope sees.
func (fl *Flags) list(db *gorm.DB, sc Scope, projectID string, envs []models.Environment, filter models.FlagFilter,
	sort models.FlagSort, pg models.Page, offset int) (FlagPage, error) {
	rows, err := models.ListFlags(db, sc.OrgID, projectID, filter, sort, pg, offset)
	if err != nil {
		return FlagPage{}, err
	}
	more := len(rows) > pg.Limit
	if more {
		rows = rows[:pg.Limit]
	}
	// The total costs a query only when there are more pages: the last page knows it.
	total := int64(offset + len(rows))
	if more || (len(rows) == 0 && offset > 0) {
		if total, err = models.CountFlags(db, sc.OrgID, projectID, filter); err != nil {
			return FlagPage{}, err
		}
	}
	keysByEnv := make(map[string]string, len(envs))
	for _, e := range envs {
		keysByEnv[e.ID] = e.Key
	}
	page := FlagPage{Page: Page[FlagWithConfigs]{Items: make([]FlagWithConfigs, len(rows))}, Total: total}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
		page.Items[i] = FlagWithConfigs{Flag: rows[i], Configs: map[string]*models.FlagConfig{}, EnvKeys: keysByEnv}
	}
	if len(ids) > 0 {
		cs, err := models.ConfigSummaries(db, sc.OrgID, ids)
		if err != nil {
			return FlagPage{}, err
		}
		byFlag := map[string]int{}
		for i, id := range ids {
			byFlag[id] = i
		}
		for i := range cs {
			if visibleEnv(sc, cs[i].EnvironmentID) {
				page.Items[byFlag[cs[i].FlagID]].Configs[cs[i].EnvironmentID] = &cs[i]
			}
		}
	}
	if more {
		if sort == models.SortCreated {
			page.NextCursor = encodeCursor(rows[len(rows)-1].ID)
		} else {
			page.NextCursor = encodeCursor(fmt.Sprintf("offset:%d", offset+len(rows)))
		}
	}
	return page, nil
}

func decodeOffset(cursor string) (int, error) {
	if cursor == "" {
		return 0, nil
	}
	o, err := (ListOptions{Cursor: cursor}).page(false)
	var n int
	if err != nil || !strings.HasPrefix(o.After, "offset:") {
		return 0, errs.Field("cursor", "is not a cursor this API returned")
	}
	if _, err := fmt.Sscanf(o.After, "offset:%d", &n); err != nil || n < 0 {
		return 0, errs.Field("cursor", "is not a cursor this API returned")
	}
	return n, nil
}

// FlagPatch changes a flag's project-wide definition; nil fields stay. The key is immutable.
type FlagPatch struct {
	Key         *string
	Name        *string
	Description *string
	Variations  *[]engine.Variation
	Tags        *[]string
	Owner       *string
	Temporary   *bool
	Archived    *bool
	Experiment  *string
	// ClientVisible says whether client-side SDK keys (cli-…) may evaluate the flag.
	ClientVisible *bool
}

// Update changes a flag. New variations must still satisfy every environment's configuration.
func (fl *Flags) Update(ctx context.Context, sc Scope, projectRef, ref string, patch FlagPatch, ifMatch int64) (*FlagWithConfigs, error) {
	var f *models.Flag
	err := fl.s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		f, err = fl.update(tx, sc, projectRef, ref, patch, ifMatch)
		return err
	})
	if err != nil {
		return nil, err
	}
	fl.s.changed(ctx, sc.OrgID, f.ProjectID)
	return fl.Get(ctx, sc, projectRef, f.ID)
}

func (fl *Flags) update(tx *gorm.DB, sc Scope, projectRef, ref string, patch FlagPatch, ifMatch int64) (*models.Flag, error) {
	if err := projectWide(sc, "change a flag's definition"); err != nil {
		return nil, err
	}
	var v errs.Validation
	var f *models.Flag
	err := func() error {
		p, before, err := fl.resolve(tx, sc, projectRef, ref)
		if err != nil {
			return err
		}
		if err := models.LockProject(tx, sc.OrgID, p.ID); err != nil {
			return err
		}
		if before, err = models.FlagByRef(tx, sc.OrgID, p.ID, before.ID); err != nil { // as it is now we hold the lock
			return err
		}
		if patch.Key != nil && *patch.Key != before.Key {
			v.Add("key", "a flag's key cannot change after creation")
		}
		after := *before
		fields := nameAndDescription(&v, patch.Name, patch.Description)
		if patch.Name != nil {
			after.Name = fields["name"].(string)
		}
		if patch.Description != nil {
			after.Description = *patch.Description
		}
		if patch.Tags != nil {
			validateTags(&v, *patch.Tags)
			after.Tags = nonNil(*patch.Tags)
			fields["tags"] = after.Tags
		}
		if patch.Owner != nil {
			after.Owner = *patch.Owner
			fields["owner"] = after.Owner
		}
		if patch.Temporary != nil {
			after.Temporary = *patch.Temporary
			fields["temporary"] = after.Temporary
		}
		if patch.Archived != nil {
			after.Archived = *patch.Archived
			fields["archived"] = after.Archived
		}
		if patch.Experiment != nil {
			after.Experiment = *patch.Experiment
			fields["experiment"] = after.Experiment
		}
		if patch.ClientVisible != nil {
			after.ClientVisible = *patch.ClientVisible
			fields["client_visible"] = after.ClientVisible
		}
		if patch.Variations != nil {
			after.Variations = normaliseVariations(*patch.Variations)
			fields["variations"] = after.Variations
			if err := engine.CheckVariations(engine.Type(after.Type), after.Variations); err != nil {
				v.Merge("", err)
				return v.Err()
			}
			var cs []models.FlagConfig
			if err := tx.Where("org_id = ? AND flag_id = ?", sc.OrgID, before.ID).Find(&cs).Error; err != nil {
				return models.Translate(err, "flag configurations")
			}
			for i := range cs {
				if _, err := fl.compile(tx, sc, &after, &cs[i]); err != nil {
					v.Merge("", err)
					break
				}
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		if len(fields) == 0 {
			f = before
			return nil
		}
		if fields["variations"] != nil { // gorm's map updates skip serializers: encode ourselves
			b, _ := json.Marshal(after.Variations)
			fields["variations"] = string(b)
		}
		if fields["tags"] != nil {
			b, _ := json.Marshal(after.Tags)
			fields["tags"] = string(b)
		}
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "flags", What: "flag", OrgID: sc.OrgID, ID: before.ID,
			Expect: ifMatch, Current: before.Version}, fl.s.now(), fields); err != nil {
			return err
		}
		if f, err = models.FlagByRef(tx, sc.OrgID, p.ID, before.ID); err != nil {
			return err
		}
		if err := models.BumpConfigVersion(tx, sc.OrgID, p.ID, models.ConfigChange{Flags: []string{f.Key}}, fl.s.now()); err != nil {
			return err
		}
		return fl.s.audit(tx, sc, "feature_flag.updated", "flag", f.ID, p.Key+"/"+f.Key, flagView(before), flagView(f))
	}()
	return f, err
}

// Delete removes a flag from every environment. Evaluations of its key then get FLAG_NOT_FOUND and
// the caller's default (source 003: a safe false).
func (fl *Flags) Delete(ctx context.Context, sc Scope, projectRef, ref string) error {
	return fl.delete(ctx, sc, projectRef, ref, nil)
}

// delete removes a flag once check (if any) allows it, in the same transaction.
func (fl *Flags) delete(ctx context.Context, sc Scope, projectRef, ref string, check func(tx *gorm.DB, f *models.Flag) error) error {
	if err := projectWide(sc, "delete a flag"); err != nil {
		return err
	}
	var projectID string
	err := fl.s.tx(ctx, func(tx *gorm.DB) error {
		p, f, err := fl.resolve(tx, sc, projectRef, ref)
		if err != nil {
			return err
		}
		if err := models.LockProject(tx, sc.OrgID, p.ID); err != nil {
			return err
		}
		if check != nil {
			if err := check(tx, f); err != nil {
				return err
			}
		}
		projectID = p.ID
		if err := tx.Where("org_id = ? AND id = ?", sc.OrgID, f.ID).Delete(&models.Flag{}).Error; err != nil {
			return models.Translate(err, "flag")
		}
		if err := models.BumpConfigVersion(tx, sc.OrgID, p.ID, models.ConfigChange{Flags: []string{f.Key}}, fl.s.now()); err != nil {
			return err
		}
		return fl.s.audit(tx, sc, "feature_flag.deleted", "flag", f.ID, p.Key+"/"+f.Key, flagView(f), nil)
	})
	if err != nil {
		return err
	}
	fl.s.changed(ctx, sc.OrgID, projectID)
	return nil
}

// projectWide refuses a change that reaches every environment of a project (a flag's definition,
// a segment) to an API key bound to one environment: such a key changes only its environment.
func projectWide(sc Scope, what string) error {
	if p := sc.Principal; p != nil && p.EnvironmentID != "" {
		return errs.Forbiddenf("this API key is bound to one environment; it cannot %s, which changes every environment of the project", what)
	}
	return nil
}

// Config is a flag's configuration in one environment with the flag and the environment.
type Config struct {
	Flag        models.Flag
	Environment models.Environment
	models.FlagConfig
	// Notice tells the editor about a side effect (a rollout plan paused by their edit).
	Notice     string
	pausedPlan *models.RolloutPlan
}

func (fl *Flags) resolveConfig(db *gorm.DB, sc Scope, projectRef, flagRef, envRef string) (*Config, error) {
	p, f, err := fl.resolve(db, sc, projectRef, flagRef)
	if err != nil {
		return nil, err
	}
	env, err := models.EnvironmentByRef(db, sc.OrgID, p.ID, envRef)
	if err != nil {
		return nil, err
	}
	if b := sc.Principal; b != nil && b.EnvironmentID != "" && b.EnvironmentID != env.ID {
		return nil, errs.NotFoundf("environment not found")
	}
	c, err := models.ConfigOf(db, sc.OrgID, f.ID, env.ID)
	if err != nil {
		return nil, err
	}
	return &Config{Flag: *f, Environment: *env, FlagConfig: *c}, nil
}

// lockedConfig resolves a configuration for a write and takes its locks (project, plan, then
// configuration: the one order every write follows), so concurrent writers — people, rollout stages, guards — queue instead of
// overwriting each other.
func (fl *Flags) lockedConfig(tx *gorm.DB, sc Scope, projectRef, flagRef, envRef string) (*Config, error) {
	cur, err := fl.resolveConfig(tx, sc, projectRef, flagRef, envRef)
	if err != nil {
		return nil, err
	}
	fresh, err := models.LockConfigForWrite(tx, sc.OrgID, cur.ID)
	if err != nil {
		return nil, err
	}
	cur.FlagConfig = *fresh
	return cur, nil
}

// GetConfig returns a flag's configuration in an environment.
func (fl *Flags) GetConfig(ctx context.Context, sc Scope, projectRef, flagRef, envRef string) (*Config, error) {
	return fl.resolveConfig(fl.s.db.WithContext(ctx), sc, projectRef, flagRef, envRef)
}

// ConfigPatch changes a configuration; nil fields stay.
type ConfigPatch struct {
	Status            *engine.Status
	Enabled           *bool // source 003: false is the kill switch; true turns the flag on
	DefaultVariation  *string
	OnVariation       *string
	Targets           *[]engine.Target
	Rules             *[]engine.Rule
	Fallthrough       *engine.Serve
	RolloutPercentage *float64 // shorthand: the fallthrough serves "on" to this share, "off" to the rest
	BucketBy          *string
	Salt              *string
}

// applyPatch changes c in memory (targeting only; status goes through transition).
func (fl *Flags) applyPatch(f *models.Flag, c *models.FlagConfig, p ConfigPatch) error {
	var v errs.Validation
	if p.DefaultVariation != nil {
		c.DefaultVariation = *p.DefaultVariation
	}
	if p.OnVariation != nil {
		c.OnVariation = *p.OnVariation
	}
	if p.Targets != nil {
		c.Targets = nonNil(*p.Targets)
	}
	if p.Rules != nil {
		rules := slices.Clone(nonNil(*p.Rules))
		for i := range rules {
			givenPercentages(&v, fmt.Sprintf("rules[%d].serve", i), rules[i].Serve)
			if rules[i].ID == "" {
				rules[i].ID = "rule-" + strings.ToLower(keys.Random(8))
			}
			rules[i].Conditions = nonNil(rules[i].Conditions)
		}
		c.Rules = rules
	}
	if p.Fallthrough != nil {
		givenPercentages(&v, "fallthrough", *p.Fallthrough)
		c.Fallthrough = *p.Fallthrough
	}
	if p.RolloutPercentage != nil {
		pct := *p.RolloutPercentage
		if pct < 0 || pct > 100 {
			v.Add("rollout_percentage", "must be between 0 and 100")
		} else {
			c.Fallthrough = percentageServe(f, c, pct)
		}
	}
	if p.BucketBy != nil {
		c.BucketBy = *p.BucketBy
	}
	if p.Salt != nil {
		if len(*p.Salt) > 200 {
			v.Add("salt", "must be at most 200 characters")
		}
		c.Salt = *p.Salt
	}
	engine.NormalizeRollouts(c.Rules, &c.Fallthrough)
	return v.Err()
}

// givenPercentages refuses a rollout's percentage that its weights do not give. Percentages are
// computed from the (relative) weights for readers; a configuration read and sent back as it is
// passes, but a percentage cannot stand in for a weight.
func givenPercentages(v *errs.Validation, field string, s engine.Serve) {
	if s.Rollout == nil {
		return
	}
	for i, wv := range s.Rollout.Variations {
		if wv.Percentage == nil {
			continue
		}
		share := s.Rollout.SliceShare(i)
		if math.Abs(share-*wv.Percentage) > 0.001 {
			v.Add(fmt.Sprintf("%s.rollout.variations[%d].percentage", field, i),
				"is computed from the weights (they give %g); set weight instead (weights are relative: 1 and 4 give 20%% and 80%%)", share)
		}
	}
}

// percentageServe is a rollout giving pct percent the "on" variation (see PercentageServe).
func percentageServe(f *models.Flag, c *models.FlagConfig, pct float64) engine.Serve {
	return PercentageServe(f, c, "", int(pct*1000+0.5))
}

// transitions are the status changes allowed (DESIGN §1): target status → the statuses it may
// come from. The kill switch works from ACTIVE, ENABLED and ROLLED_OUT.
var transitions = map[engine.Status][]engine.Status{
	engine.Active:    {engine.Draft},
	engine.Enabled:   {engine.Active, engine.Disabled, engine.Paused},
	engine.Disabled:  {engine.Active, engine.Enabled, engine.RolledOut},
	engine.Paused:    {engine.Disabled},
	engine.RolledOut: {engine.Enabled},
	engine.Archived:  {engine.RolledOut, engine.Disabled},
}

// statusEvents names the audit event of arriving in a status (source 004).
var statusEvents = map[engine.Status]string{
	engine.Active: "feature_flag.activated", engine.Enabled: "feature_flag.enabled", engine.Disabled: "feature_flag.killed",
	engine.Paused: "feature_flag.paused", engine.RolledOut: "feature_flag.rolled_out", engine.Archived: "feature_flag.archived",
}

func checkTransition(from, to engine.Status) error {
	if from == to {
		return nil
	}
	allowed, ok := transitions[to]
	if !ok || !slices.Contains(allowed, from) {
		var can []string
		for target, froms := range transitions {
			if slices.Contains(froms, from) {
				can = append(can, string(target))
			}
		}
		slices.Sort(can)
		msg := "none"
		if len(can) > 0 {
			msg = strings.Join(can, ", ")
		}
		return &errs.Error{Kind: errs.Conflict, Message: fmt.Sprintf("a flag cannot go from %s to %s; from %s it can go to: %s", from, to, from, msg),
			Meta: map[string]any{"allowed": can}}
	}
	return nil
}

// PatchConfig changes a flag's configuration in an environment: targeting, and status through
// the status machine. The whole result must compile, or nothing is written.
func (fl *Flags) PatchConfig(ctx context.Context, sc Scope, projectRef, flagRef, envRef string, p ConfigPatch, ifMatch int64) (*Config, error) {
	var out *Config
	err := fl.s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		out, err = fl.patchConfig(tx, sc, projectRef, flagRef, envRef, p, ifMatch)
		return err
	})
	if err != nil {
		return nil, err
	}
	fl.afterPatch(ctx, sc, out)
	return out, nil
}

// afterPatch publishes the change (a paused plan's stages leave the queue through the outbox).
func (fl *Flags) afterPatch(ctx context.Context, sc Scope, out *Config) {
	fl.s.changed(ctx, sc.OrgID, out.Flag.ProjectID)
}

func (fl *Flags) patchConfig(tx *gorm.DB, sc Scope, projectRef, flagRef, envRef string, p ConfigPatch, ifMatch int64) (*Config, error) {
	cur, err := fl.lockedConfig(tx, sc, projectRef, flagRef, envRef)
	if err != nil {
		return nil, err
	}
	if ifMatch > 0 && ifMatch != cur.Version {
		return nil, errs.StaleVersion("flag configuration", cur.Version)
	}
	before := cur.FlagConfig
	after := before
	if err := fl.applyPatch(&cur.Flag, &after, p); err != nil {
		return nil, err
	}
	var notice string
	var paused *models.RolloutPlan
	if p.Fallthrough != nil || p.RolloutPercentage != nil {
		if notice, paused, err = fl.s.Rollouts.pauseForManualEdit(tx, sc, cur); err != nil {
			return nil, err
		}
	}
	target := engine.Status(before.Status)
	switch {
	case p.Status != nil && !KnownStatus(string(*p.Status)):
		return nil, errs.Field("status", "must be one of DRAFT, ACTIVE, ENABLED, DISABLED, PAUSED, ROLLED_OUT, ARCHIVED")
	case p.Status != nil:
		target = ParseStatus(string(*p.Status))
	case p.Enabled != nil && !*p.Enabled:
		target = engine.Disabled
	case p.Enabled != nil && *p.Enabled:
		target = enableTarget(engine.Status(before.Status))
	}
	out, err := fl.write(tx, sc, cur, before, after, target, ifMatch)
	if err != nil {
		return nil, err
	}
	out.Notice, out.pausedPlan = notice, paused
	return out, nil
}

// enableTarget is where "enabled: true" leads from a status: serving, by the shortest legal way.
func enableTarget(from engine.Status) engine.Status {
	switch from {
	case engine.Draft:
		return engine.Active
	case engine.RolledOut:
		return engine.RolledOut
	}
	return engine.Enabled
}

// write validates the transition and the configuration, stores it, and records the audit events.
func (fl *Flags) write(tx *gorm.DB, sc Scope, cur *Config, before, after models.FlagConfig, target engine.Status, ifMatch int64) (*Config, error) {
	from := engine.Status(before.Status)
	if err := checkTransition(from, target); err != nil {
		return nil, err
	}
	after.Status = string(target)
	engine.NormalizeRollouts(after.Rules, &after.Fallthrough)
	if target.Serving() && after.DefaultVariation == "" {
		return nil, errs.Field("default_variation", "must be set before the flag serves (it is what everyone gets when it is off)")
	}
	if target == engine.RolledOut && after.OnVariation == "" {
		after.OnVariation = onVariation(&cur.Flag)
	}
	if _, err := fl.compile(tx, sc, &cur.Flag, &after); err != nil {
		return nil, err
	}
	fields := map[string]any{"status": after.Status, "default_variation": after.DefaultVariation, "on_variation": after.OnVariation,
		"targets": jsonText(after.Targets), "rules": jsonText(after.Rules), "fallthrough": jsonText(after.Fallthrough),
		"bucket_by": after.BucketBy, "salt": after.Salt}
	if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "flag_configs", What: "flag configuration", OrgID: sc.OrgID,
		ID: before.ID, Expect: ifMatch, Current: before.Version}, fl.s.now(), fields); err != nil {
		return nil, err
	}
	if err := models.BumpConfigVersion(tx, sc.OrgID, cur.Flag.ProjectID, models.ConfigChange{Flags: []string{cur.Flag.Key}},
		fl.s.now(), cur.Environment.ID); err != nil {
		return nil, err
	}
	stored, err := models.ConfigOf(tx, sc.OrgID, cur.Flag.ID, cur.Environment.ID)
	if err != nil {
		return nil, err
	}
	res := cur.Flag.Key + "/" + cur.Environment.Key
	if !sameTargeting(&before, stored) {
		if err := fl.s.audit(tx, sc, "feature_flag.updated", "flag_config", stored.ID, res, configView(&cur.Flag, &before), configView(&cur.Flag, stored)); err != nil {
			return nil, err
		}
	}
	if from != target {
		if err := fl.s.audit(tx, sc, statusEvents[target], "flag_config", stored.ID, res, configView(&cur.Flag, &before), fl.statusView(&cur.Flag, stored)); err != nil {
			return nil, err
		}
	}
	return &Config{Flag: cur.Flag, Environment: cur.Environment, FlagConfig: *stored}, nil
}

// statusView is what a status event says (source 004's event data): the configuration, the flag's
// key, its evaluations so far (flushed, plus those this node still holds in memory) — as
// evaluations_at_kill for the kill switch — and the rollout percentage it serves.
func (fl *Flags) statusView(f *models.Flag, c *models.FlagConfig) map[string]any {
	v := configView(f, c)
	evaluations := c.Evaluations + fl.s.pendingEvaluations(c.ID)
	v["key"], v["evaluations"] = f.Key, evaluations
	if engine.Status(c.Status) == engine.Disabled {
		v["evaluations_at_kill"] = evaluations
	}
	return v
}

func sameTargeting(a, b *models.FlagConfig) bool {
	x, y := *a, *b
	x.Status, y.Status = "", ""
	x.Version, y.Version = 0, 0
	x.UpdatedAt, y.UpdatedAt = time.Time{}, time.Time{}
	return jsonText(x) == jsonText(y)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// statusNames spells each status the ways people write it: ENABLED, Enabled, enabled, and for
// ROLLED_OUT also RolledOut, rolled-out and "rolled out".
var statusNames = func() map[string]engine.Status {
	m := map[string]engine.Status{}
	for _, st := range []engine.Status{engine.Draft, engine.Active, engine.Enabled, engine.Disabled, engine.Paused, engine.RolledOut, engine.Archived} {
		m[strings.ReplaceAll(string(st), "_", "")] = st
	}
	return m
}()

// ParseStatus reads a status in any of the spellings of statusNames; an unknown one comes back
// upper-cased for the caller's validation to refuse.
func ParseStatus(s string) engine.Status {
	norm := strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToUpper(strings.TrimSpace(s)))
	if st, ok := statusNames[norm]; ok {
		return st
	}
	return engine.Status(strings.ToUpper(strings.TrimSpace(s)))
}

// KnownStatus reports whether s names a status (in any spelling ParseStatus takes).
func KnownStatus(s string) bool {
	_, ok := statusNames[strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToUpper(strings.TrimSpace(s)))]
	return ok
}

// Verbs are the status endpoints: each moves to one status.
var Verbs = map[string]engine.Status{
	"activate": engine.Active, "enable": engine.Enabled, "disable": engine.Disabled, "pause": engine.Paused,
	"resume": engine.Enabled, "rollout": engine.RolledOut, "archive": engine.Archived,
}

// Transition applies a verb (enable, disable, pause, resume, rollout, archive, activate).
func (fl *Flags) Transition(ctx context.Context, sc Scope, projectRef, flagRef, envRef, verb string, ifMatch int64) (*Config, error) {
	target, ok := Verbs[verb]
	if !ok {
		return nil, errs.NotFoundf("no verb %q", verb)
	}
	var out *Config
	err := fl.s.tx(ctx, func(tx *gorm.DB) error {
		cur, err := fl.lockedConfig(tx, sc, projectRef, flagRef, envRef)
		if err != nil {
			return err
		}
		if verb == "resume" && engine.Status(cur.Status) != engine.Paused {
			return errs.Conflictf("only a PAUSED flag can resume; it is %s here (enable it instead)", cur.Status)
		}
		if ifMatch > 0 && ifMatch != cur.Version {
			return errs.StaleVersion("flag configuration", cur.Version)
		}
		out, err = fl.write(tx, sc, cur, cur.FlagConfig, cur.FlagConfig, target, ifMatch)
		return err
	})
	if err != nil {
		return nil, err
	}
	fl.s.changed(ctx, sc.OrgID, out.Flag.ProjectID)
	return out, nil
}

// DryRun evaluates a context against a configuration as if it were ENABLED, serving nothing and
// counting nothing: QA before activating (source 002).
func (fl *Flags) DryRun(ctx context.Context, sc Scope, projectRef, flagRef, envRef string, evalCtx engine.Context) (*Config, *engine.Compiled, engine.Result, error) {
	db := fl.s.db.WithContext(ctx)
	cur, err := fl.resolveConfig(db, sc, projectRef, flagRef, envRef)
	if err != nil {
		return nil, nil, engine.Result{}, err
	}
	c, err := fl.compile(db, sc, &cur.Flag, &cur.FlagConfig)
	if err != nil {
		return nil, nil, engine.Result{}, err
	}
	return cur, c, c.DryRun(evalCtx), nil
}
