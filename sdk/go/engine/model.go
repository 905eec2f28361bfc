// Package engine evaluates feature flags. It is pure: no database, no HTTP, no clock, so the server
// and an SDK evaluate with the same code. A flag's configuration is compiled once (regexes compiled,
// `in` lists and target keys indexed, numbers, dates and versions parsed, segments inlined, the
// salt hashed) and then evaluated against contexts without allocating.
package engine

import (
	"encoding/json"
	"math"
)

// Type is a flag's value type.
type Type string

// Flag types.
const (
	Boolean Type = "boolean"
	String  Type = "string"
	Number  Type = "number"
	JSON    Type = "json"
)

// Status is where a flag's configuration in one environment stands.
type Status string

// Statuses (DESIGN §1).
const (
	Draft     Status = "DRAFT"
	Active    Status = "ACTIVE"
	Enabled   Status = "ENABLED"
	Disabled  Status = "DISABLED"
	Paused    Status = "PAUSED"
	RolledOut Status = "ROLLED_OUT"
	Archived  Status = "ARCHIVED"
)

func (s Status) String() string { return string(s) }

// Serving reports whether a status evaluates targeting (ACTIVE, ENABLED).
func (s Status) Serving() bool { return s == Active || s == Enabled }

// Variation is one value a flag can serve.
type Variation struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Value       json.RawMessage `json:"value" swaggertype:"object"`
	Description string          `json:"description,omitempty"`
}

// Condition is one test on the context: an attribute compared with an operator to values, or
// membership of a segment ({"segment": KEY} / {"not_segment": KEY}).
type Condition struct {
	Attribute  string            `json:"attribute,omitempty"`
	Operator   string            `json:"operator,omitempty"`
	Values     []json.RawMessage `json:"values,omitempty" swaggertype:"array,object"`
	Negate     bool              `json:"negate,omitempty"`
	Segment    string            `json:"segment,omitempty"`
	NotSegment string            `json:"not_segment,omitempty"`
}

// WeightedVariation is one slice of a rollout. Weights are relative (1 and 4 serve one variation to
// a fifth and the other to four fifths); weights adding up to 100000 are thousandths of a percent.
type WeightedVariation struct {
	Variation string `json:"variation"`
	Weight    int    `json:"weight"`
	// Percentage is the share the weight gives (0–100), filled in by Normalize for readers; it is
	// never read back as input.
	Percentage *float64 `json:"percentage,omitempty"`
}

// Rollout splits contexts between variations by bucket, in proportion to their weights.
type Rollout struct {
	BucketBy   string              `json:"bucket_by,omitempty"`
	Variations []WeightedVariation `json:"variations"`
}

// Serve says what to serve: one variation, or a rollout.
type Serve struct {
	Variation string   `json:"variation,omitempty"`
	Rollout   *Rollout `json:"rollout,omitempty"`
}

// Rule serves its variation or rollout when all its conditions match. Rules are tried in order.
type Rule struct {
	ID          string      `json:"id"`
	Description string      `json:"description,omitempty"`
	Conditions  []Condition `json:"conditions"`
	Serve       Serve       `json:"serve"`
}

// Target serves a variation to listed context keys, before any rule.
type Target struct {
	Variation string   `json:"variation"`
	Values    []string `json:"values"`
}

// Flag is everything needed to evaluate one flag in one environment: the project-wide definition
// (key, type, variations) and the environment's configuration.
type Flag struct {
	Key              string      `json:"key"`
	Type             Type        `json:"type"`
	Variations       []Variation `json:"variations"`
	Status           Status      `json:"status"`
	DefaultVariation string      `json:"default_variation"`
	OnVariation      string      `json:"on_variation,omitempty"`
	Targets          []Target    `json:"targets,omitempty"`
	Rules            []Rule      `json:"rules,omitempty"`
	Fallthrough      Serve       `json:"fallthrough"`
	BucketBy         string      `json:"bucket_by,omitempty"`
	Salt             string      `json:"salt,omitempty"`
	Version          int64       `json:"version"`
}

// Segment is a reusable audience: explicit keys win over the conditions (all of which must match).
type Segment struct {
	Key        string      `json:"key"`
	Conditions []Condition `json:"conditions,omitempty"`
	Included   []string    `json:"included,omitempty"`
	Excluded   []string    `json:"excluded,omitempty"`
}

// Reason says why a value was served (OpenFeature's vocabulary).
type Reason string

// Reasons.
const (
	ReasonDisabled       Reason = "DISABLED"
	ReasonTargetingMatch Reason = "TARGETING_MATCH"
	ReasonSplit          Reason = "SPLIT"
	ReasonDefault        Reason = "DEFAULT"
	ReasonStatic         Reason = "STATIC"
	ReasonError          Reason = "ERROR"
	ReasonFlagNotFound   Reason = "FLAG_NOT_FOUND"
)

// Error codes of an ERROR result (OFREP's vocabulary).
const (
	ErrTargetingKeyMissing = "TARGETING_KEY_MISSING"
	ErrGeneral             = "GENERAL"
)

// Operators.
const (
	OpEquals             = "equals"
	OpNotEquals          = "not_equals"
	OpContains           = "contains"
	OpNotContains        = "not_contains"
	OpStartsWith         = "starts_with"
	OpEndsWith           = "ends_with"
	OpIn                 = "in"
	OpNotIn              = "not_in"
	OpGreaterThan        = "greater_than"
	OpGreaterThanOrEqual = "greater_than_or_equal"
	OpLessThan           = "less_than"
	OpLessThanOrEqual    = "less_than_or_equal"
	OpMatchesRegex       = "matches_regex"
	OpBefore             = "before"
	OpAfter              = "after"
	OpSemverEquals       = "semver_equals"
	OpSemverGreaterThan  = "semver_greater_than"
	OpSemverLessThan     = "semver_less_than"
	OpExists             = "exists"
)

// Operators lists every operator, for validation messages and documentation.
var Operators = []string{OpEquals, OpNotEquals, OpContains, OpNotContains, OpStartsWith, OpEndsWith, OpIn, OpNotIn,
	OpGreaterThan, OpGreaterThanOrEqual, OpLessThan, OpLessThanOrEqual, OpMatchesRegex, OpBefore, OpAfter,
	OpSemverEquals, OpSemverGreaterThan, OpSemverLessThan, OpExists}

// Share is the percentage (0–100) of contexts the rollout serves variation, from its relative
// weights; 0 when the weights add up to nothing.
func (r *Rollout) Share(variation string) float64 {
	total, w := 0, 0
	for _, v := range r.Variations {
		if v.Weight <= 0 {
			continue
		}
		total += v.Weight
		if v.Variation == variation {
			w += v.Weight
		}
	}
	if total == 0 {
		return 0
	}
	return math.Round(float64(w)*100_000/float64(total)) / 1000
}

// SliceShare is the percentage (0–100, to a thousandth) the i-th slice's weight gives.
func (r *Rollout) SliceShare(i int) float64 {
	total := 0
	for _, v := range r.Variations {
		if v.Weight > 0 {
			total += v.Weight
		}
	}
	if total == 0 || r.Variations[i].Weight <= 0 {
		return 0
	}
	return math.Round(float64(r.Variations[i].Weight)*100_000/float64(total)) / 1000
}

// Normalize fills in each slice's Percentage from the relative weights (thousandths of a percent
// at most), so a reader sees what is served whatever scale the weights were given in.
func (r *Rollout) Normalize() {
	for i := range r.Variations {
		p := r.SliceShare(i)
		r.Variations[i].Percentage = &p
	}
}

// NormalizeRollouts fills in the percentages of every rollout a configuration serves.
func NormalizeRollouts(rules []Rule, fall *Serve) {
	for i := range rules {
		if r := rules[i].Serve.Rollout; r != nil {
			r.Normalize()
		}
	}
	if fall != nil && fall.Rollout != nil {
		fall.Rollout.Normalize()
	}
}
