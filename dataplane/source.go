// Package dataplane serves evaluations: it keeps, per environment, a compiled snapshot and the SDK
// keys that open it, in memory, and answers evaluations, OFREP, /sdk/config and streams from them
// alone. It reads configuration only through Source, which the control plane implements over the
// database and Redis (and which a relay could implement over an upstream Vane); when the source is
// down, the data plane keeps serving the last state it loaded.
package dataplane

import (
	"context"
	"time"

	"github.com/vanehq/vane/sdk/go/engine"
)

// SDK key kinds.
const (
	KindServer = "server"
	KindClient = "client"
)

// Source is everything the data plane needs from whoever manages configuration.
type Source interface {
	// Environments lists the environments in scope (every one when both ids are empty; an
	// organisation's, or one project's) with their version and their SDK keys, rotated keys in
	// their grace period included.
	Environments(ctx context.Context, scope Scope) ([]Environment, error)
	// Config loads what one environment serves: its flags with their configurations, and the
	// project's segments. With since = 0 it is all of it. Otherwise since is the Position of an
	// earlier answer, and the source may answer with only what changed after it (Partial); when
	// it cannot tell what changed, it answers with everything. A missing environment is an
	// errs.NotFound.
	Config(ctx context.Context, envID string, since int64) (*Config, error)
	// Subscribe calls fn for every change notice (writes of this node at once, other nodes' as they
	// arrive) until the returned function is called. fn must not block for long.
	Subscribe(fn func(Change)) (stop func())
	// RecordEvaluations adds evaluation counts to the flag configurations' totals and hourly
	// insights, in one batch.
	RecordEvaluations(ctx context.Context, counts []EvaluationCount) error
}

// Scope narrows Environments: an organisation, a project, or everything.
type Scope struct {
	OrgID     string
	ProjectID string
}

// Change says that what a project's environments serve changed (ProjectID empty: the whole
// organisation, e.g. it was deleted). The plane asks the source what changed when it next brings
// a snapshot up to date.
type Change struct {
	OrgID     string
	ProjectID string
	// ConfigOnly says only flags and segments changed, not the environments or their SDK keys,
	// which the plane then need not reload.
	ConfigOnly bool
}

// Environment is one environment as the data plane sees it.
type Environment struct {
	ID        string
	Key       string
	OrgID     string
	ProjectID string
	Version   int64 // bumped by every change to what it serves
	Keys      []SDKKey
}

// SDKKey opens exactly one environment. A rotated key has ExpiresAt set (the end of its grace).
type SDKKey struct {
	ID            string
	Key           string
	Kind          string // KindServer or KindClient
	OrgID         string
	ProjectID     string
	EnvironmentID string
	ExpiresAt     *time.Time
}

// Client reports whether the key is a client-side (public) key: it sees client-visible flags only.
func (k *SDKKey) Client() bool { return k.Kind == KindClient }

// Config is what one environment serves, before compilation: all of it, or (Partial) what changed.
type Config struct {
	Environment Environment
	// Position is where in the source's history of changes this answer stands: the since of the
	// next question. Zero when the source keeps no such history (every answer is then whole).
	Position int64
	// Partial says Flags and Segments are only those that changed after since, and DeletedFlags
	// and DeletedSegments name those gone (or, for flags, no longer served here); otherwise Flags
	// and Segments are everything and the Deleted lists are empty.
	Partial bool
	// Changes is, in a partial answer, how many changes to this environment it covers: each moved
	// the environment's version by one, so a version that moved by more means a change the
	// source's history missed (a node of an older release wrote it), and the plane loads it all.
	Changes         int
	Flags           []FlagConfig
	Segments        []engine.Segment
	DeletedFlags    []string
	DeletedSegments []string
}

// unchanged reports whether a partial answer changes nothing of snap.
func (c *Config) unchanged(snap *Snapshot) bool {
	return c.Partial && c.names() == 0 && c.Environment.Version == snap.Version && c.Environment.Key == snap.EnvironmentKey
}

// incomplete reports whether a partial answer does not account for every move of the
// environment's version since snap: the source's history missed a change, so it cannot be trusted.
func (c *Config) incomplete(snap *Snapshot) bool {
	return c.Partial && c.Environment.Version-snap.Version != int64(c.Changes)
}

func (c *Config) names() int {
	return len(c.Flags) + len(c.Segments) + len(c.DeletedFlags) + len(c.DeletedSegments)
}

// FlagConfig is one flag in one environment.
type FlagConfig struct {
	ConfigID string // the flag configuration's id: what evaluation counts are recorded against
	Flag     engine.Flag
	// RolloutPercentage is the share getting the "on" variation (source 000's field).
	RolloutPercentage float64
	// ClientVisible is whether client-side SDK keys may evaluate the flag.
	ClientVisible bool
}

// EvaluationCount is how many evaluations of one flag configuration served one variation within
// one hour, and when the last of them happened.
type EvaluationCount struct {
	ConfigID      string
	EnvironmentID string
	Variation     string
	Hour          time.Time
	Count         int64
	LastAt        time.Time
}
