package services

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
)

// The simple API manages the flags of one environment in the flat shapes of sources 000
// ({key, name, status, rollout_percentage, targeting_rules}) and 003 ({enabled, rules: {org_ids,
// user_ids, percentage}}). Underneath it is the same model:
//   - targeting_rules become one rule ("targeting") whose conditions are AND-ed and which serves a
//     rollout_percentage rollout; everyone else gets the default;
//   - without targeting_rules, rollout_percentage is the fallthrough's rollout;
//   - org_ids and user_ids become one rule each serving "on" (OR across rules), percentage the
//     fallthrough's rollout; with no rules at all an enabled flag is on for everyone — also when
//     a flag is created with no targeting of either shape;
//   - rollout_percentage is always the share of eligible contexts that get "on" (true); the
//     default value is what everyone else gets (not matching, not serving, errors).
type Simple struct{ s *Services }

// Rule ids the simple API owns.
const (
	simpleTargetingRule = "targeting"
	simpleOrgRule       = "org_ids"
	simpleUserRule      = "user_ids"
)

// Attributes source 003's contexts carry.
const (
	AttrUserID = "user_id"
	AttrOrgID  = "org_id"
)

// SimpleRule is one of source 000's targeting rules.
type SimpleRule struct {
	Attribute string          `json:"attribute"`
	Operator  string          `json:"operator"`
	Value     json.RawMessage `json:"value" swaggertype:"object"`
}

// SimpleRules are source 003's rules: whoever matches any of them gets the feature.
type SimpleRules struct {
	OrgIDs     []json.RawMessage `json:"org_ids,omitempty" swaggertype:"array,object"`
	UserIDs    []json.RawMessage `json:"user_ids,omitempty" swaggertype:"array,object"`
	Percentage *float64          `json:"percentage,omitempty"`
}

// SimpleFlag is a flag in one environment, flat.
type SimpleFlag struct {
	ID                string       `json:"id"`
	Key               string       `json:"key"`
	Name              string       `json:"name"`
	Description       string       `json:"description"`
	Status            string       `json:"status"`
	Enabled           bool         `json:"enabled"`
	IsActive          bool         `json:"is_active"` // the same as enabled, under another name
	DefaultValue      any          `json:"default_value" swaggertype:"object"`
	ClientVisible     bool         `json:"client_visible"`
	RolloutPercentage float64      `json:"rollout_percentage"`
	TargetingRules    []SimpleRule `json:"targeting_rules"`
	Rules             *SimpleRules `json:"rules"`
	Environment       string       `json:"environment"`
	Version           int64        `json:"version"`
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
}

// SimpleInput is a create or a partial update in either flat shape; nil fields stay.
type SimpleInput struct {
	Key               *string
	Name              *string
	Description       *string
	Status            *string
	Enabled           *bool // also is_active
	DefaultValue      json.RawMessage
	ClientVisible     *bool
	RolloutPercentage *float64
	TargetingRules    *[]SimpleRule
	RulesSet          bool         // "rules" was present (null clears them)
	Rules             *SimpleRules // source 003
}

// SimpleEnv is the environment a simple-API request works on.
type SimpleEnv struct {
	Scope       Scope
	ProjectKey  string
	Environment models.Environment
}

var operatorAliases = map[string]string{
	"=": engine.OpEquals, "==": engine.OpEquals, "eq": engine.OpEquals, "is": engine.OpEquals,
	"!=": engine.OpNotEquals, "<>": engine.OpNotEquals, "ne": engine.OpNotEquals,
	">": engine.OpGreaterThan, "gt": engine.OpGreaterThan, ">=": engine.OpGreaterThanOrEqual, "gte": engine.OpGreaterThanOrEqual,
	"<": engine.OpLessThan, "lt": engine.OpLessThan, "<=": engine.OpLessThanOrEqual, "lte": engine.OpLessThanOrEqual,
	"not in": engine.OpNotIn, "regex": engine.OpMatchesRegex, "matches": engine.OpMatchesRegex,
}

func simpleOperator(op string) string {
	op = strings.ToLower(strings.TrimSpace(op))
	if a, ok := operatorAliases[op]; ok {
		return a
	}
	return strings.ReplaceAll(op, " ", "_")
}

// conditions turns source 000's rules into conditions: a list value is the values, a scalar one value.
func conditionsOf(rules []SimpleRule) ([]engine.Condition, error) {
	var v errs.Validation
	out := make([]engine.Condition, 0, len(rules))
	for i, r := range rules {
		c := engine.Condition{Attribute: r.Attribute, Operator: simpleOperator(r.Operator)}
		raw := strings.TrimSpace(string(r.Value))
		switch {
		case c.Operator == engine.OpExists:
		case raw == "" || raw == "null":
			v.Add(fmt.Sprintf("targeting_rules[%d].value", i), "is required")
		case strings.HasPrefix(raw, "["):
			if err := json.Unmarshal(r.Value, &c.Values); err != nil {
				v.Add(fmt.Sprintf("targeting_rules[%d].value", i), "is not valid JSON")
			}
		default:
			c.Values = []json.RawMessage{r.Value}
		}
		out = append(out, c)
	}
	return out, v.Err()
}

// idStrings turns source 003's ids (numbers or strings) into strings, which is how contexts carry them.
func idStrings(field string, ids []json.RawMessage) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(ids))
	for i, raw := range ids {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, errs.Field(fmt.Sprintf("rules.%s[%d]", field, i), "is not valid JSON")
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case float64:
			if x != math.Trunc(x) {
				return nil, errs.Field(fmt.Sprintf("rules.%s[%d]", field, i), "must be a whole number or a string")
			}
			s = strconv.FormatInt(int64(x), 10)
		default:
			return nil, errs.Field(fmt.Sprintf("rules.%s[%d]", field, i), "must be a whole number or a string")
		}
		b, _ := json.Marshal(s)
		out = append(out, b)
	}
	return out, nil
}

// simpleTargeting builds the configuration's targeting from the flat input over the current view.
func simpleTargeting(f *models.Flag, c *models.FlagConfig, cur SimpleFlag, in SimpleInput) (*ConfigPatch, error) {
	patch := &ConfigPatch{}
	on, off := onOf(f, c), c.DefaultVariation
	if off == "" {
		off = offVariation(f)
	}
	if in.RulesSet { // source 003
		var rules []engine.Rule
		fall := engine.Serve{Variation: on}
		if r := in.Rules; r != nil {
			if len(r.OrgIDs) > 0 {
				ids, err := idStrings("org_ids", r.OrgIDs)
				if err != nil {
					return nil, err
				}
				rules = append(rules, engine.Rule{ID: simpleOrgRule, Conditions: []engine.Condition{
					{Attribute: AttrOrgID, Operator: engine.OpIn, Values: ids}}, Serve: engine.Serve{Variation: on}})
			}
			if len(r.UserIDs) > 0 {
				ids, err := idStrings("user_ids", r.UserIDs)
				if err != nil {
					return nil, err
				}
				rules = append(rules, engine.Rule{ID: simpleUserRule, Conditions: []engine.Condition{
					{Attribute: AttrUserID, Operator: engine.OpIn, Values: ids}}, Serve: engine.Serve{Variation: on}})
			}
			switch {
			case r.Percentage != nil:
				if *r.Percentage < 0 || *r.Percentage > 100 {
					return nil, errs.Field("rules.percentage", "must be between 0 and 100")
				}
				fall = percentageServe(f, c, *r.Percentage)
			case len(rules) > 0:
				fall = engine.Serve{Variation: off}
			}
		}
		patch.Rules, patch.Fallthrough = &rules, &fall
		return patch, nil
	}
	if in.TargetingRules == nil && in.RolloutPercentage == nil {
		return nil, nil
	}
	pct := cur.RolloutPercentage
	if in.RolloutPercentage != nil {
		if *in.RolloutPercentage < 0 || *in.RolloutPercentage > 100 {
			return nil, errs.Field("rollout_percentage", "must be between 0 and 100")
		}
		pct = *in.RolloutPercentage
	}
	targeting := cur.TargetingRules
	if in.TargetingRules != nil {
		targeting = *in.TargetingRules
	}
	conds, err := conditionsOf(targeting)
	if err != nil {
		return nil, err
	}
	serve := percentageServe(f, c, pct)
	rules := []engine.Rule{}
	fall := serve
	if len(conds) > 0 {
		rules = append(rules, engine.Rule{ID: simpleTargetingRule, Conditions: conds, Serve: serve})
		fall = engine.Serve{Variation: off}
	}
	patch.Rules, patch.Fallthrough = &rules, &fall
	return patch, nil
}

// View renders a flag's configuration in the flat shapes.
func (sm *Simple) View(f *models.Flag, c *models.FlagConfig, envKey string) SimpleFlag {
	st := engine.Status(c.Status)
	enabled := st.Serving() || st == engine.RolledOut
	out := SimpleFlag{ID: f.ID, Key: f.Key, Name: f.Name, Description: f.Description, Status: c.Status,
		Enabled: enabled, IsActive: enabled, ClientVisible: f.ClientVisible, RolloutPercentage: RolloutPercentage(f, c),
		TargetingRules: []SimpleRule{}, Environment: envKey, Version: c.Version, CreatedAt: f.CreatedAt, UpdatedAt: c.UpdatedAt}
	if f.UpdatedAt.After(out.UpdatedAt) {
		out.UpdatedAt = f.UpdatedAt
	}
	for _, v := range f.Variations {
		if v.ID == c.DefaultVariation {
			_ = json.Unmarshal(v.Value, &out.DefaultValue)
		}
	}
	rules := &SimpleRules{}
	expressible := true
	for _, r := range c.Rules {
		switch r.ID {
		case simpleTargetingRule:
			for _, cond := range r.Conditions {
				sr := SimpleRule{Attribute: cond.Attribute, Operator: cond.Operator}
				if len(cond.Values) == 1 && cond.Operator != engine.OpIn && cond.Operator != engine.OpNotIn {
					sr.Value = cond.Values[0]
				} else {
					sr.Value, _ = json.Marshal(cond.Values)
				}
				out.TargetingRules = append(out.TargetingRules, sr)
			}
			expressible = false
		case simpleOrgRule:
			rules.OrgIDs = r.Conditions[0].Values
		case simpleUserRule:
			rules.UserIDs = r.Conditions[0].Values
		default:
			expressible = false
		}
	}
	if c.Fallthrough.Rollout != nil {
		p := out.RolloutPercentage
		if len(c.Rules) > 0 && !expressible {
			p = 0
		}
		rules.Percentage = &p
	}
	if expressible && (len(rules.OrgIDs) > 0 || len(rules.UserIDs) > 0 || rules.Percentage != nil) {
		out.Rules = rules
	}
	return out
}

// Environment finds the environment of a simple-API request: X-Vane-Environment
// ("org/project/env"), else the API key's environment or project, else the first environment of
// the first project of the principal's first organisation.
func (sm *Simple) Environment(ctx context.Context, p *Principal, header string) (orgRef, projectRef, envRef string, err error) {
	if header != "" {
		parts := strings.Split(header, "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return "", "", "", errs.Field("X-Vane-Environment", "must be organization/project/environment, like default/default/production")
		}
		return parts[0], parts[1], parts[2], nil
	}
	db := sm.s.db.WithContext(ctx)
	orgID := p.OrgID
	if p.Kind == PrincipalUser {
		ms, err := models.MembershipsOfUser(db, p.ID)
		if err != nil {
			return "", "", "", err
		}
		if len(ms) == 0 {
			return "", "", "", errs.NotFoundf("you belong to no organization; send X-Vane-Environment")
		}
		orgID = ms[0].OrgID
	}
	if p.EnvironmentID != "" {
		env, err := models.EnvironmentByID(db, orgID, p.EnvironmentID)
		if err != nil {
			return "", "", "", err
		}
		return orgID, env.ProjectID, env.ID, nil
	}
	projectID := p.ProjectID
	if projectID == "" {
		ps, err := models.ListProjects(db, orgID, "", models.Page{Limit: 1})
		if err != nil {
			return "", "", "", err
		}
		if len(ps) == 0 {
			return "", "", "", errs.NotFoundf("the organization has no project; create one or send X-Vane-Environment")
		}
		projectID = ps[0].ID
	}
	envs, err := models.ListEnvironments(db, orgID, projectID, "", models.Page{Limit: 1})
	if err != nil {
		return "", "", "", err
	}
	if len(envs) == 0 {
		return "", "", "", errs.NotFoundf("the project has no environment; send X-Vane-Environment")
	}
	return orgID, projectID, envs[0].ID, nil
}

// SimpleListOptions filter and order the flat list (all optional).
type SimpleListOptions struct {
	Status string // any spelling ParseStatus takes
	Q      string
	Tag    string
	Sort   models.FlagSort // key (default), updated_at or evaluations
	Limit  int             // 0: all
}

// List returns the environment's flags, flat.
func (sm *Simple) List(ctx context.Context, sc Scope, projectRef, envRef string, o SimpleListOptions) ([]SimpleFlag, error) {
	var v errs.Validation
	if o.Status != "" && !KnownStatus(o.Status) {
		v.Add("status", "must be one of DRAFT, ACTIVE, ENABLED, DISABLED, PAUSED, ROLLED_OUT, ARCHIVED")
	}
	switch o.Sort {
	case "":
		o.Sort = models.SortKey
	case models.SortKey, models.SortUpdatedAt, models.SortEvaluations:
	default:
		v.Add("sort", "must be key, updated_at or evaluations")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	db := sm.s.db.WithContext(ctx)
	p, env, err := sm.s.Environments.resolve(db, sc, projectRef, envRef)
	if err != nil {
		return nil, err
	}
	filter := models.FlagFilter{Q: o.Q, Tag: o.Tag, EnvironmentID: env.ID}
	if o.Status != "" {
		filter.Status = string(ParseStatus(o.Status))
	}
	flags, err := models.ListFlags(db, sc.OrgID, p.ID, filter, o.Sort, models.Page{Limit: o.Limit}, 0)
	if err != nil {
		return nil, err
	}
	if o.Limit > 0 && len(flags) > o.Limit {
		flags = flags[:o.Limit]
	}
	ids := make([]string, len(flags))
	for i := range flags {
		ids[i] = flags[i].ID
	}
	configs, err := models.ConfigsOfFlags(db, sc.OrgID, env.ID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]SimpleFlag, 0, len(flags))
	for i := range flags {
		if c := configs[flags[i].ID]; c != nil {
			out = append(out, sm.View(&flags[i], c, env.Key))
		}
	}
	return out, nil
}

// Get returns one flag of the environment, flat.
func (sm *Simple) Get(ctx context.Context, sc Scope, projectRef, envRef, ref string) (SimpleFlag, error) {
	c, err := sm.s.Flags.GetConfig(ctx, sc, projectRef, ref, envRef)
	if err != nil {
		return SimpleFlag{}, err
	}
	return sm.View(&c.Flag, &c.FlagConfig, c.Environment.Key), nil
}

// defaultVariationFor finds the variation whose value is the requested default value. A boolean
// flag also takes "true"/"false" as strings (a default value stored as text).
func defaultVariationFor(f *models.Flag, raw json.RawMessage) (string, error) {
	var want any
	if err := json.Unmarshal(raw, &want); err != nil {
		return "", errs.Field("default_value", "is not valid JSON")
	}
	if s, ok := want.(string); ok && f.Type == string(engine.Boolean) {
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			want = b
		}
	}
	var values []string
	for _, v := range f.Variations {
		var got any
		if json.Unmarshal(v.Value, &got) == nil && jsonText(got) == jsonText(want) {
			return v.ID, nil
		}
		values = append(values, string(v.Value))
	}
	return "", errs.Field("default_value", "must be one of the flag's values: %s", strings.Join(values, ", "))
}

// Create makes a flag (in every environment of the project, as always) and configures it in this
// environment from the flat shape.
func (sm *Simple) Create(ctx context.Context, sc Scope, projectRef, envRef string, in SimpleInput) (SimpleFlag, error) {
	db := sm.s.db.WithContext(ctx)
	p, env, err := sm.s.Environments.resolve(db, sc, projectRef, envRef)
	if err != nil {
		return SimpleFlag{}, err
	}
	fi := FlagInput{ConfigEnvironment: env.ID, ClientVisible: in.ClientVisible}
	if in.Key != nil {
		fi.Key = *in.Key
	}
	if in.Name != nil {
		fi.Name = *in.Name
	}
	if in.Description != nil {
		fi.Description = *in.Description
	}
	status := engine.Draft
	switch {
	case in.Status != nil:
		status = ParseStatus(*in.Status)
	case in.Enabled != nil && *in.Enabled:
		status = engine.Enabled
	}
	fi.Status = status
	// Targeting is built against a provisional flag: the same variations Create will give it.
	probe := &models.Flag{Type: string(engine.Boolean), Variations: defaultVariations(engine.Boolean)}
	probeCfg := &models.FlagConfig{DefaultVariation: offVariation(probe), OnVariation: onVariation(probe)}
	if in.DefaultValue != nil {
		if probeCfg.DefaultVariation, err = defaultVariationFor(probe, in.DefaultValue); err != nil {
			return SimpleFlag{}, err
		}
		fi.DefaultVariation = probeCfg.DefaultVariation
	}
	if in.TargetingRules == nil && in.RolloutPercentage == nil && !in.RulesSet {
		in.RulesSet = true // no targeting of either shape: on for everyone once it serves
	}
	patch, err := simpleTargeting(probe, probeCfg, SimpleFlag{}, in)
	if err != nil {
		return SimpleFlag{}, err
	}
	fi.Config = patch
	created, err := sm.s.Flags.Create(ctx, sc, p.ID, fi)
	if err != nil {
		return SimpleFlag{}, err
	}
	return sm.View(&created.Flag, created.Configs[env.ID], env.Key), nil
}

// Update applies a partial flat update (source 000's PUT, 003's PUT/PATCH) in one transaction.
func (sm *Simple) Update(ctx context.Context, sc Scope, projectRef, envRef, ref string, in SimpleInput, ifMatch int64) (SimpleFlag, error) {
	var out SimpleFlag
	var projectID string
	var patched *Config
	err := sm.s.tx(ctx, func(tx *gorm.DB) error {
		cur, err := sm.s.Flags.lockedConfig(tx, sc, projectRef, ref, envRef) // the patch is built from it
		if err != nil {
			return err
		}
		projectID = cur.Flag.ProjectID
		if ifMatch > 0 && ifMatch != cur.Version {
			return errs.StaleVersion("flag configuration", cur.Version)
		}
		if in.Key != nil && *in.Key != cur.Flag.Key {
			return errs.Field("key", "a flag's key cannot change after creation")
		}
		fp := FlagPatch{ClientVisible: in.ClientVisible}
		if in.Name != nil && *in.Name != cur.Flag.Name {
			fp.Name = in.Name
		}
		if in.Description != nil && *in.Description != cur.Flag.Description {
			fp.Description = in.Description
		}
		if in.ClientVisible != nil && *in.ClientVisible == cur.Flag.ClientVisible {
			fp.ClientVisible = nil
		}
		if fp != (FlagPatch{}) {
			if _, err := sm.s.Flags.update(tx, sc, projectRef, cur.Flag.ID, fp, 0); err != nil {
				return err
			}
		}
		// A new default value is what everyone outside the targeting gets from now on: targeting
		// built in this request uses it, and a fallthrough that served the old default follows it.
		target := cur.FlagConfig
		var newDefault *string
		if in.DefaultValue != nil {
			id, err := defaultVariationFor(&cur.Flag, in.DefaultValue)
			if err != nil {
				return err
			}
			target.DefaultVariation, newDefault = id, &id
		}
		patch, err := simpleTargeting(&cur.Flag, &target, sm.View(&cur.Flag, &cur.FlagConfig, cur.Environment.Key), in)
		if err != nil {
			return err
		}
		if patch == nil {
			patch = &ConfigPatch{}
		}
		if in.Status != nil {
			st := ParseStatus(*in.Status)
			patch.Status = &st
		}
		if newDefault != nil {
			patch.DefaultVariation = newDefault
			if patch.Fallthrough == nil && len(cur.Rules) > 0 && cur.Fallthrough.Rollout == nil && cur.Fallthrough.Variation == cur.DefaultVariation {
				patch.Fallthrough = &engine.Serve{Variation: *newDefault}
			}
		}
		patch.Enabled = in.Enabled
		c, err := sm.s.Flags.patchConfig(tx, sc, projectRef, cur.Flag.ID, cur.Environment.ID, *patch, ifMatch)
		if err != nil {
			return err
		}
		patched = c
		f, err := models.FlagByRef(tx, sc.OrgID, cur.Flag.ProjectID, cur.Flag.ID)
		if err != nil {
			return err
		}
		out = sm.View(f, &c.FlagConfig, c.Environment.Key)
		return nil
	})
	if err != nil {
		return SimpleFlag{}, err
	}
	if patched != nil {
		sm.s.Flags.afterPatch(ctx, sc, patched)
	} else {
		sm.s.changed(ctx, sc.OrgID, projectID)
	}
	return out, nil
}

// Delete removes a flag (from every environment, as the project API does). With ifMatch, the
// flag's configuration in this environment must still be at that version.
func (sm *Simple) Delete(ctx context.Context, sc Scope, projectRef, envRef, ref string, ifMatch int64) error {
	return sm.s.Flags.delete(ctx, sc, projectRef, ref, func(tx *gorm.DB, f *models.Flag) error {
		cur, err := sm.s.Flags.resolveConfig(tx, sc, projectRef, f.ID, envRef)
		if err != nil {
			return err
		}
		if ifMatch > 0 && ifMatch != cur.Version {
			return errs.StaleVersion("flag configuration", cur.Version)
		}
		return nil
	})
}
