package models

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/sdk/go/engine"
)

// Flag is a feature flag of a project: its key, type and variations are shared by all environments.
type Flag struct {
	ID          string `gorm:"primaryKey"`
	OrgID       string
	ProjectID   string
	Key         string
	Name        string
	Description string
	Type        string
	Variations  []engine.Variation `gorm:"serializer:json"`
	Tags        []string           `gorm:"serializer:json"`
	Owner       string
	Temporary   bool
	Archived    bool
	Experiment  string
	// ClientVisible is whether client-side SDK keys (cli-…, public) may evaluate the flag.
	ClientVisible bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       int64
}

// FlagConfig is a flag's configuration in one environment: status, targeting, what to serve.
type FlagConfig struct {
	ID               string `gorm:"primaryKey"`
	OrgID            string
	ProjectID        string
	EnvironmentID    string
	FlagID           string
	Status           string
	DefaultVariation string
	OnVariation      string
	Targets          []engine.Target `gorm:"serializer:json"`
	Rules            []engine.Rule   `gorm:"serializer:json"`
	Fallthrough      engine.Serve    `gorm:"serializer:json"`
	BucketBy         string
	Salt             string
	Evaluations      int64
	LastEvaluatedAt  *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Version          int64
}

// Segment is a reusable audience of a project.
type Segment struct {
	ID          string `gorm:"primaryKey"`
	OrgID       string
	ProjectID   string
	Key         string
	Name        string
	Description string
	Conditions  []engine.Condition `gorm:"serializer:json"`
	Included    []string           `gorm:"serializer:json"`
	Excluded    []string           `gorm:"serializer:json"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64
}

// FlagByRef finds a project's flag by key or id.
func FlagByRef(db *gorm.DB, orgID, projectID, ref string) (*Flag, error) {
	return first[Flag](db, "flag", "org_id = ? AND project_id = ? AND (key = ? OR id = ?)", orgID, projectID, strings.ToLower(ref), ref)
}

// FlagFilter narrows a flag listing.
type FlagFilter struct {
	Q        string // substring of key, name or description
	Tag      string
	Archived *bool
	// Status, Sort by evaluations and staleness need an environment.
	EnvironmentID string
	Status        string
	StaleBefore   *time.Time // not evaluated since (or never)
}

// FlagSort orders a flag listing. Cursor pagination walks ids, so sorted lists use offsets.
type FlagSort string

// Flag sorts.
const (
	SortKey         FlagSort = "key"
	SortUpdatedAt   FlagSort = "updated_at"
	SortEvaluations FlagSort = "evaluations"
	SortCreated     FlagSort = ""
)

// ListFlags lists a project's flags with a filter; with an environment, each comes with its config.
func ListFlags(db *gorm.DB, orgID, projectID string, f FlagFilter, sort FlagSort, p Page, offset int) ([]Flag, error) {
	q := flagQuery(db, orgID, projectID, f)
	var rows []Flag
	switch sort {
	case SortKey:
		q = q.Order("flags.key ASC")
	case SortUpdatedAt:
		q = q.Order("flags.updated_at DESC").Order("flags.id DESC")
	case SortEvaluations:
		q = q.Order("fc.evaluations DESC").Order("flags.id ASC")
	default:
		return rows, Translate(p.apply(q, "flags.id", false).Find(&rows).Error, "flags")
	}
	q = q.Offset(offset)
	if p.Limit > 0 {
		q = q.Limit(p.Limit + 1)
	}
	return rows, Translate(q.Find(&rows).Error, "flags")
}

// ConfigSummaries loads what a flag list shows of the configurations of flags (status, default
// and on variations, rules and fallthrough for the rollout percentage, evaluations, version),
// scanned by hand: a list of thousands of flags spends most of its time here.
func ConfigSummaries(db *gorm.DB, orgID string, flagIDs []string) ([]FlagConfig, error) {
	rows, err := db.Model(&FlagConfig{}).Select("flag_id, environment_id, status, default_variation, on_variation, rules, fallthrough, "+
		"evaluations, last_evaluated_at, version").Where("org_id = ? AND flag_id IN ?", orgID, flagIDs).Rows()
	if err != nil {
		return nil, Translate(err, "flag configurations")
	}
	defer func() { _ = rows.Close() }()
	out := make([]FlagConfig, 0, len(flagIDs)*3)
	for rows.Next() {
		var (
			c           FlagConfig
			rules, fall []byte
		)
		if err := rows.Scan(&c.FlagID, &c.EnvironmentID, &c.Status, &c.DefaultVariation, &c.OnVariation, &rules, &fall,
			&c.Evaluations, &c.LastEvaluatedAt, &c.Version); err != nil {
			return nil, Translate(err, "flag configurations")
		}
		if s := string(rules); s != "" && s != "[]" && s != "null" {
			if err := json.Unmarshal(rules, &c.Rules); err != nil {
				return nil, fmt.Errorf("flag configuration of %s: rules: %w", c.FlagID, err)
			}
		}
		if s := string(fall); s != "" && s != "{}" && s != "null" {
			if err := json.Unmarshal(fall, &c.Fallthrough); err != nil {
				return nil, fmt.Errorf("flag configuration of %s: fallthrough: %w", c.FlagID, err)
			}
		}
		out = append(out, c)
	}
	return out, Translate(rows.Err(), "flag configurations")
}

// CountFlags counts a project's flags that pass the filter.
func CountFlags(db *gorm.DB, orgID, projectID string, f FlagFilter) (int64, error) {
	var n int64
	err := flagQuery(db, orgID, projectID, f).Count(&n).Error
	return n, Translate(err, "flags")
}

// flagQuery selects a project's flags that pass the filter (joined as fc with their configuration in
// the filter's environment, when it names one).
func flagQuery(db *gorm.DB, orgID, projectID string, f FlagFilter) *gorm.DB {
	q := db.Model(&Flag{}).Where("flags.org_id = ? AND flags.project_id = ?", orgID, projectID)
	if f.Q != "" {
		like := "%" + strings.ToLower(f.Q) + "%"
		q = q.Where("(LOWER(flags.key) LIKE ? OR LOWER(flags.name) LIKE ? OR LOWER(flags.description) LIKE ?)", like, like, like)
	}
	if f.Tag != "" {
		q = q.Where("flags.tags LIKE ?", `%"`+strings.ReplaceAll(f.Tag, `"`, "")+`"%`)
	}
	if f.Archived != nil {
		q = q.Where("flags.archived = ?", *f.Archived)
	}
	if f.EnvironmentID != "" {
		q = q.Joins("JOIN flag_configs fc ON fc.flag_id = flags.id AND fc.environment_id = ?", f.EnvironmentID)
		if f.Status != "" {
			q = q.Where("fc.status = ?", f.Status)
		}
		if f.StaleBefore != nil {
			// Stale: not evaluated since the cut-off, or unchanged since then while serving one
			// value to everyone (rolled out, or no targeting and a fixed fallthrough).
			q = q.Where(`(fc.last_evaluated_at IS NULL OR fc.last_evaluated_at < ? OR (fc.updated_at < ? AND
				(fc.status = 'ROLLED_OUT' OR (fc.rules = '[]' AND fc.targets = '[]' AND fc.fallthrough NOT LIKE '%"rollout"%'))))`,
				*f.StaleBefore, *f.StaleBefore)
		}
	}
	return q
}

// ConfigOf finds a flag's configuration in an environment.
func ConfigOf(db *gorm.DB, orgID, flagID, envID string) (*FlagConfig, error) {
	return first[FlagConfig](db, "flag configuration", "org_id = ? AND flag_id = ? AND environment_id = ?", orgID, flagID, envID)
}

// ConfigsOfFlags loads the configurations of flags in an environment, by flag id.
func ConfigsOfFlags(db *gorm.DB, orgID, envID string, flagIDs []string) (map[string]*FlagConfig, error) {
	var rows []FlagConfig
	err := db.Where("org_id = ? AND environment_id = ? AND flag_id IN ?", orgID, envID, flagIDs).Find(&rows).Error
	out := make(map[string]*FlagConfig, len(rows))
	for i := range rows {
		out[rows[i].FlagID] = &rows[i]
	}
	return out, Translate(err, "flag configurations")
}

// SegmentByRef finds a project's segment by key or id.
func SegmentByRef(db *gorm.DB, orgID, projectID, ref string) (*Segment, error) {
	return first[Segment](db, "segment", "org_id = ? AND project_id = ? AND (key = ? OR id = ?)", orgID, projectID, strings.ToLower(ref), ref)
}

// SegmentsOfProject lists every segment of a project (for compiling flags).
func SegmentsOfProject(db *gorm.DB, orgID, projectID string) ([]Segment, error) {
	var rows []Segment
	err := db.Where("org_id = ? AND project_id = ?", orgID, projectID).Order("id").Find(&rows).Error
	return rows, Translate(err, "segments")
}

// ListSegments pages through a project's segments.
func ListSegments(db *gorm.DB, orgID, projectID string, p Page) ([]Segment, error) {
	var rows []Segment
	err := p.apply(db.Where("org_id = ? AND project_id = ?", orgID, projectID), "id", false).Find(&rows).Error
	return rows, Translate(err, "segments")
}

// ConfigChange names what a write changed in a project's configuration (flags and segments by
// key, which never change), so each node compiles only that. Naming neither means anything may
// have changed: nodes load the environments whole.
type ConfigChange struct {
	Flags    []string
	Segments []string
}

// Kinds of ConfigChangeRow.
const (
	ChangedFlag    = "flag"
	ChangedSegment = "segment"
	ChangedAll     = "all"
)

// ConfigChangeRow is one entry of a project's history of configuration changes: under the number
// Seq (the project's config_seq after the write), a flag or a segment changed (or, kind "all",
// anything) in one environment, or in all of them (EnvironmentID "").
type ConfigChangeRow struct {
	ProjectID     string
	Seq           int64
	EnvironmentID string
	Kind          string
	Key           string
	CreatedAt     time.Time
}

// TableName is config_changes.
func (ConfigChangeRow) TableName() string { return "config_changes" }

// BumpConfigVersion records a change to what environments serve, in the writer's transaction: it
// numbers the change in the project's history (config_seq; the UPDATE holds the project's row
// until commit, so numbers follow commit order and none is skipped), names what changed under that
// number, and bumps the environments' config versions. With no environment ids, every environment
// of the project changed (a flag's definition, a segment).
func BumpConfigVersion(db *gorm.DB, orgID, projectID string, ch ConfigChange, now time.Time, envIDs ...string) error {
	var seqs []int64
	err := db.Raw("UPDATE projects SET config_seq = config_seq + 1 WHERE org_id = ? AND id = ? RETURNING config_seq", orgID, projectID).
		Scan(&seqs).Error
	if err != nil {
		return Translate(err, "project")
	}
	if len(seqs) == 0 {
		return errs.NotFoundf("project not found")
	}
	seq := seqs[0]
	q := db.Model(&Environment{}).Where("org_id = ? AND project_id = ?", orgID, projectID)
	if len(envIDs) > 0 {
		q = q.Where("id IN ?", envIDs)
	}
	if err := q.Update("config_version", gorm.Expr("config_version + 1")).Error; err != nil {
		return Translate(err, "environment")
	}
	envs := envIDs
	if len(envs) == 0 {
		envs = []string{""}
	}
	rows := make([]ConfigChangeRow, 0, len(envs)*(len(ch.Flags)+len(ch.Segments)+1))
	for _, env := range envs {
		add := func(kind, key string) {
			rows = append(rows, ConfigChangeRow{ProjectID: projectID, Seq: seq, EnvironmentID: env, Kind: kind, Key: key, CreatedAt: now})
		}
		for _, k := range ch.Flags {
			add(ChangedFlag, k)
		}
		for _, k := range ch.Segments {
			add(ChangedSegment, k)
		}
		if len(ch.Flags)+len(ch.Segments) == 0 {
			add(ChangedAll, "")
		}
	}
	return Translate(db.CreateInBatches(rows, 500).Error, "configuration change")
}

// EnvironmentWithSeq loads an environment and the number of its project's latest configuration
// change, in one statement (so the two agree).
func EnvironmentWithSeq(db *gorm.DB, envID string) (*Environment, int64, error) {
	var row struct {
		Environment
		ConfigSeq int64
	}
	err := db.Table("environments").Select("environments.*, projects.config_seq").
		Joins("JOIN projects ON projects.id = environments.project_id").Where("environments.id = ?", envID).Take(&row).Error
	if err != nil {
		return nil, 0, Translate(err, "environment")
	}
	return &row.Environment, row.ConfigSeq, nil
}

// FlagsByKeys loads a project's flags by key (those that exist).
func FlagsByKeys(db *gorm.DB, orgID, projectID string, keys []string) ([]Flag, error) {
	var rows []Flag
	err := db.Where("org_id = ? AND project_id = ? AND key IN ?", orgID, projectID, keys).Find(&rows).Error
	return rows, Translate(err, "flags")
}

// SegmentsByKeys loads a project's segments by key (those that exist).
func SegmentsByKeys(db *gorm.DB, orgID, projectID string, keys []string) ([]Segment, error) {
	var rows []Segment
	err := db.Where("org_id = ? AND project_id = ? AND key IN ?", orgID, projectID, keys).Find(&rows).Error
	return rows, Translate(err, "segments")
}

// ConfigChangesBetween lists a project's configuration changes numbered after since and up to
// until, oldest first.
func ConfigChangesBetween(db *gorm.DB, projectID string, since, until int64) ([]ConfigChangeRow, error) {
	var rows []ConfigChangeRow
	err := db.Where("project_id = ? AND seq > ? AND seq <= ?", projectID, since, until).Order("seq").Find(&rows).Error
	return rows, Translate(err, "configuration changes")
}

// ReadConsistent runs fn in a read-only transaction that sees the database at one moment:
// REPEATABLE READ on Postgres, a deferred transaction on SQLite (one snapshot in WAL mode).
func ReadConsistent(db *gorm.DB, fn func(tx *gorm.DB) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.Name() == "postgres" {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return Translate(db.Transaction(fn, opts), "configuration")
}

// PruneConfigChanges deletes the history of changes made before a time.
func PruneConfigChanges(db *gorm.DB, before time.Time) (int64, error) {
	res := db.Where("created_at < ?", before).Delete(&ConfigChangeRow{})
	return res.RowsAffected, Translate(res.Error, "configuration changes")
}

// EnvironmentsOfProjectRef lists, in one statement, the environments of the project a reference
// (key or id) names. None: no such project, or one without environments.
func EnvironmentsOfProjectRef(db *gorm.DB, orgID, ref string) ([]Environment, error) {
	var rows []Environment
	err := db.Model(&Environment{}).Select("environments.*").Joins("JOIN projects ON projects.id = environments.project_id").
		Where("projects.org_id = ? AND (projects.key = ? OR projects.id = ?)", orgID, strings.ToLower(ref), ref).
		Order("environments.id").Find(&rows).Error
	return rows, Translate(err, "environments")
}

// EnvironmentsOfProject lists a project's environments.
func EnvironmentsOfProject(db *gorm.DB, orgID, projectID string) ([]Environment, error) {
	var rows []Environment
	err := db.Where("org_id = ? AND project_id = ?", orgID, projectID).Order("id").Find(&rows).Error
	return rows, Translate(err, "environments")
}
