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

	"github.com/vanehq/vane/internal/engine"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
)

// The simple API manages the flags of one environment in the flat shapes of sources 000
// ({key, name, status, rollout_percentage, targeting_rules}) and 003 ({enabled, rules: {org_ids,
// user_ids, percentage}}). Underneath it is the same model:
//   - targeting_rules become one rule ("targeting") whose conditions are AND-ed and which serves a
//     rollout_percentage rollout; everyone else gets the default;
//   - without targeting_rules, rollout_percentage is the fallthrough's rollout;
//   - org_ids and user_ids become one rule each serving "on" (OR across rules), percentage the
//     fallthrough's rollout; with no rules at all an enabled flag is on for everyone.
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
	Enabled           *bool
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
	on, off := c.OnVariation, c.DefaultVariation
	if on == "" {
		on = onVariation(f)
	}
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
	out := SimpleFlag{ID: f.ID, Key: f.Key, Name: f.Name, Description: f.Description, Status: c.Status,
		Enabled: st.Serving() || st == engine.RolledOut, RolloutPercentage: RolloutPercentage(f, c),
		TargetingRules: []SimpleRule{}, Environment: envKey, Version: c.Version, CreatedAt: f.CreatedAt, UpdatedAt: c.UpdatedAt}
	if f.UpdatedAt.After(out.UpdatedAt) {
		out.UpdatedAt = f.UpdatedAt
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

// List returns the environment's flags, flat.
func (sm *Simple) List(ctx context.Context, sc Scope, projectRef, envRef string) ([]SimpleFlag, error) {
	db := sm.s.db.WithContext(ctx)
	p, err := sm.s.Projects.resolve(db, sc, projectRef)
	if err != nil {
		return nil, err
	}
	env, err := models.EnvironmentByRef(db, sc.OrgID, p.ID, envRef)
	if err != nil {
		return nil, err
	}
	flags, err := models.ListFlags(db, sc.OrgID, p.ID, models.FlagFilter{}, models.SortKey, models.Page{}, 0)
	if err != nil {
		return nil, err
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

// Create makes a flag (in every environment of the project, as always) and configures it in this
// environment from the flat shape.
func (sm *Simple) Create(ctx context.Context, sc Scope, projectRef, envRef string, in SimpleInput) (SimpleFlag, error) {
	db := sm.s.db.WithContext(ctx)
	p, err := sm.s.Projects.resolve(db, sc, projectRef)
	if err != nil {
		return SimpleFlag{}, err
	}
	env, err := models.EnvironmentByRef(db, sc.OrgID, p.ID, envRef)
	if err != nil {
		return SimpleFlag{}, err
	}
	fi := FlagInput{ConfigEnvironment: env.ID}
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
		status = engine.Status(strings.ToUpper(*in.Status))
	case in.Enabled != nil && *in.Enabled:
		status = engine.Enabled
	}
	fi.Status = status
	// Targeting is built against a provisional flag: the same variations Create will give it.
	probe := &models.Flag{Type: string(engine.Boolean), Variations: defaultVariations(engine.Boolean)}
	probeCfg := &models.FlagConfig{DefaultVariation: offVariation(probe), OnVariation: onVariation(probe)}
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
func (sm *Simple) Update(ctx context.Context, sc Scope, projectRef, envRef, ref string, in SimpleInput) (SimpleFlag, error) {
	var out SimpleFlag
	var projectID string
	var patched *Config
	err := sm.s.tx(ctx, func(tx *gorm.DB) error {
		cur, err := sm.s.Flags.resolveConfig(tx, sc, projectRef, ref, envRef)
		if err != nil {
			return err
		}
		projectID = cur.Flag.ProjectID
		if in.Key != nil && *in.Key != cur.Flag.Key {
			return errs.Field("key", "a flag's key cannot change after creation")
		}
		if in.Name != nil || in.Description != nil {
			if _, err := sm.s.Flags.update(tx, sc, projectRef, cur.Flag.ID, FlagPatch{Name: in.Name, Description: in.Description}, 0); err != nil {
				return err
			}
		}
		patch, err := simpleTargeting(&cur.Flag, &cur.FlagConfig, sm.View(&cur.Flag, &cur.FlagConfig, cur.Environment.Key), in)
		if err != nil {
			return err
		}
		if patch == nil {
			patch = &ConfigPatch{}
		}
		if in.Status != nil {
			st := engine.Status(strings.ToUpper(*in.Status))
			patch.Status = &st
		}
		patch.Enabled = in.Enabled
		c, err := sm.s.Flags.patchConfig(tx, sc, projectRef, cur.Flag.ID, cur.Environment.ID, *patch, 0)
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

// ContextFor003 is source 003's context: user and organisation ids, either possibly absent. The key
// is the user id, or the organisation id when there is no user, so percentages bucket by whichever
// is known.
func ContextFor003(userID, orgID string, attrs map[string]any) engine.Context {
	ctx := engine.Context{}
	for k, v := range attrs {
		ctx[k] = v
	}
	if orgID != "" {
		ctx[AttrOrgID] = orgID
		if _, ok := ctx["organization"]; !ok {
			ctx["organization"] = map[string]any{"key": orgID}
		}
		ctx["key"] = orgID
	}
	if userID != "" {
		ctx[AttrUserID] = userID
		ctx["key"] = userID
	}
	return ctx
}
