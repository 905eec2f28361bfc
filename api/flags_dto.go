package api

import (
	"time"

	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
	"github.com/vanehq/vane/services"
)

// FlagRequest creates a flag. Only key or name is needed: the default is a boolean flag with
// variations true and false, created DRAFT in every environment, serving false.
type FlagRequest struct {
	Key              string             `json:"key" example:"new-checkout-flow"`
	Name             string             `json:"name" example:"New Checkout Flow"`
	Description      string             `json:"description"`
	Type             engine.Type        `json:"type" example:"boolean" enums:"boolean,string,number,json"`
	Variations       []engine.Variation `json:"variations,omitempty"`
	Tags             []string           `json:"tags,omitempty"`
	Owner            string             `json:"owner,omitempty"`
	Temporary        *bool              `json:"temporary,omitempty"`
	Experiment       string             `json:"experiment,omitempty"`
	DefaultVariation string             `json:"default_variation,omitempty"`
	OnVariation      string             `json:"on_variation,omitempty"`
	// ClientVisible says whether client-side SDK keys may evaluate the flag (default: the project's setting).
	ClientVisible *bool `json:"client_visible,omitempty"`
}

// FlagPatchRequest changes a flag's project-wide definition. The key cannot change.
type FlagPatchRequest struct {
	Key           *string             `json:"key,omitempty"`
	Name          *string             `json:"name,omitempty"`
	Description   *string             `json:"description,omitempty"`
	Variations    *[]engine.Variation `json:"variations,omitempty"`
	Tags          *[]string           `json:"tags,omitempty"`
	Owner         *string             `json:"owner,omitempty"`
	Temporary     *bool               `json:"temporary,omitempty"`
	Archived      *bool               `json:"archived,omitempty"`
	Experiment    *string             `json:"experiment,omitempty"`
	ClientVisible *bool               `json:"client_visible,omitempty"`
}

// FlagEnvironmentSummary is a flag's state in one environment.
type FlagEnvironmentSummary struct {
	Status            engine.Status `json:"status" example:"DRAFT"`
	DefaultVariation  string        `json:"default_variation"`
	RolloutPercentage float64       `json:"rollout_percentage"`
	Evaluations       int64         `json:"evaluations"`
	LastEvaluatedAt   *time.Time    `json:"last_evaluated_at"`
	Version           int64         `json:"version"`
}

// FlagResponse is a flag with a summary of each environment (by environment key).
type FlagResponse struct {
	ID          string             `json:"id"`
	Key         string             `json:"key"`
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Type        engine.Type        `json:"type"`
	Variations  []engine.Variation `json:"variations"`
	Tags        []string           `json:"tags"`
	Owner       string             `json:"owner"`
	Temporary   bool               `json:"temporary"`
	Archived    bool               `json:"archived"`
	Experiment  string             `json:"experiment"`
	// ClientVisible says whether client-side SDK keys (cli-…) may evaluate the flag.
	ClientVisible bool                              `json:"client_visible"`
	Evaluations   int64                             `json:"evaluations"`
	CreatedAt     time.Time                         `json:"created_at"`
	UpdatedAt     time.Time                         `json:"updated_at"`
	Version       int64                             `json:"version"`
	Environments  map[string]FlagEnvironmentSummary `json:"environments"`
}

func toFlag(f *services.FlagWithConfigs) FlagResponse {
	r := FlagResponse{ID: f.ID, Key: f.Key, Name: f.Name, Description: f.Description, Type: engine.Type(f.Type),
		Variations: f.Variations, Tags: f.Tags, Owner: f.Owner, Temporary: f.Temporary, Archived: f.Archived,
		Experiment: f.Experiment, ClientVisible: f.ClientVisible, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, Version: f.Version,
		Environments: map[string]FlagEnvironmentSummary{}}
	for envID, c := range f.Configs {
		key := f.EnvKeys[envID]
		if key == "" {
			key = envID
		}
		r.Evaluations += c.Evaluations
		r.Environments[key] = FlagEnvironmentSummary{Status: engine.Status(c.Status), DefaultVariation: c.DefaultVariation,
			RolloutPercentage: services.RolloutPercentage(&f.Flag, c), Evaluations: c.Evaluations,
			LastEvaluatedAt: c.LastEvaluatedAt, Version: c.Version}
	}
	return r
}

// FlagList is a page of flags.
type FlagList struct {
	Items      []FlagResponse `json:"items"`
	NextCursor string         `json:"next_cursor"`
	Total      int64          `json:"total" example:"5000"` // flags that pass the filters, on every page
}

// ConfigPatchRequest changes a flag's configuration in one environment. "status" moves through the
// status machine; "enabled": false is the kill switch (rules are kept); "rollout_percentage" is
// shorthand for a fallthrough rollout between the on and the default variation.
type ConfigPatchRequest struct {
	Status            *engine.Status   `json:"status,omitempty" enums:"DRAFT,ACTIVE,ENABLED,DISABLED,PAUSED,ROLLED_OUT,ARCHIVED"`
	Enabled           *bool            `json:"enabled,omitempty"`
	DefaultVariation  *string          `json:"default_variation,omitempty"`
	OnVariation       *string          `json:"on_variation,omitempty"`
	Targets           *[]engine.Target `json:"targets,omitempty"`
	Rules             *[]engine.Rule   `json:"rules,omitempty"`
	Fallthrough       *engine.Serve    `json:"fallthrough,omitempty"`
	RolloutPercentage *float64         `json:"rollout_percentage,omitempty"`
	BucketBy          *string          `json:"bucket_by,omitempty"`
	Salt              *string          `json:"salt,omitempty"`
}

func (r ConfigPatchRequest) toPatch() services.ConfigPatch {
	return services.ConfigPatch{Status: r.Status, Enabled: r.Enabled, DefaultVariation: r.DefaultVariation,
		OnVariation: r.OnVariation, Targets: r.Targets, Rules: r.Rules, Fallthrough: r.Fallthrough,
		RolloutPercentage: r.RolloutPercentage, BucketBy: r.BucketBy, Salt: r.Salt}
}

// ConfigResponse is a flag's configuration in one environment.
type ConfigResponse struct {
	Flag              string          `json:"flag" example:"new-checkout-flow"`
	Environment       string          `json:"environment" example:"production"`
	Status            engine.Status   `json:"status"`
	Enabled           bool            `json:"enabled"`
	DefaultVariation  string          `json:"default_variation"`
	OnVariation       string          `json:"on_variation"`
	Targets           []engine.Target `json:"targets"`
	Rules             []engine.Rule   `json:"rules"`
	Fallthrough       engine.Serve    `json:"fallthrough"`
	RolloutPercentage float64         `json:"rollout_percentage"`
	BucketBy          string          `json:"bucket_by"`
	Salt              string          `json:"salt"`
	Evaluations       int64           `json:"evaluations"`
	LastEvaluatedAt   *time.Time      `json:"last_evaluated_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
	Version           int64           `json:"version"`
	// Notice reports a side effect of the change, such as a rollout plan it paused.
	Notice string `json:"notice,omitempty"`
}

func toConfig(c *services.Config) ConfigResponse {
	bucketBy := c.BucketBy
	if bucketBy == "" {
		bucketBy = "key"
	}
	salt := c.Salt
	if salt == "" {
		salt = c.Flag.Key
	}
	st := engine.Status(c.Status)
	return ConfigResponse{Flag: c.Flag.Key, Environment: c.Environment.Key, Status: st,
		Enabled: st.Serving() || st == engine.RolledOut, DefaultVariation: c.DefaultVariation, OnVariation: c.OnVariation,
		Targets: c.Targets, Rules: c.Rules, Fallthrough: c.Fallthrough, RolloutPercentage: services.RolloutPercentage(&c.Flag, &c.FlagConfig),
		BucketBy: bucketBy, Salt: salt, Evaluations: c.Evaluations, LastEvaluatedAt: c.LastEvaluatedAt,
		UpdatedAt: c.UpdatedAt, Version: c.Version, Notice: c.Notice}
}

// DryRunRequest is a context to evaluate against a configuration without serving it.
type DryRunRequest struct {
	Context map[string]any `json:"context"`
}

// DryRunResponse says what the context would get if the flag were ENABLED.
type DryRunResponse struct {
	FlagKey   string        `json:"flag_key"`
	Status    engine.Status `json:"status"`
	Value     any           `json:"value"`
	Variation string        `json:"variation"`
	Reason    engine.Reason `json:"reason"`
	RuleID    string        `json:"rule_id,omitempty"`
	ErrorCode string        `json:"error_code,omitempty"`
}

// SegmentRequest creates a segment.
type SegmentRequest struct {
	Key         string             `json:"key" example:"beta-testers"`
	Name        string             `json:"name" example:"Beta testers"`
	Description string             `json:"description"`
	Conditions  []engine.Condition `json:"conditions,omitempty"`
	Included    []string           `json:"included,omitempty"`
	Excluded    []string           `json:"excluded,omitempty"`
}

// SegmentPatchRequest changes a segment.
type SegmentPatchRequest struct {
	Name        *string             `json:"name,omitempty"`
	Description *string             `json:"description,omitempty"`
	Conditions  *[]engine.Condition `json:"conditions,omitempty"`
	Included    *[]string           `json:"included,omitempty"`
	Excluded    *[]string           `json:"excluded,omitempty"`
}

// SegmentResponse is a segment.
type SegmentResponse struct {
	ID          string             `json:"id"`
	Key         string             `json:"key"`
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Conditions  []engine.Condition `json:"conditions"`
	Included    []string           `json:"included"`
	Excluded    []string           `json:"excluded"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
	Version     int64              `json:"version"`
}

func toSegment(s *models.Segment) SegmentResponse {
	return SegmentResponse{ID: s.ID, Key: s.Key, Name: s.Name, Description: s.Description, Conditions: s.Conditions,
		Included: s.Included, Excluded: s.Excluded, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Version: s.Version}
}

// SegmentList is a page of segments.
type SegmentList struct {
	Items      []SegmentResponse `json:"items"`
	NextCursor string            `json:"next_cursor"`
}
