package services

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
)

// Source is the control plane's side of dataplane.Source: configuration read from the database,
// change notices from this node's writes and, over Redis, from every other node's.
type Source struct {
	s    *Services
	mu   sync.Mutex
	subs map[int]func(dataplane.Change)
	next int
}

var _ dataplane.Source = (*Source)(nil)

// Environments lists the environments in scope with their version and unexpired SDK keys.
func (src *Source) Environments(ctx context.Context, scope dataplane.Scope) ([]dataplane.Environment, error) {
	db := src.s.db.WithContext(ctx)
	where := func(q *gorm.DB) *gorm.DB {
		if scope.OrgID != "" {
			q = q.Where("org_id = ?", scope.OrgID)
		}
		if scope.ProjectID != "" {
			q = q.Where("project_id = ?", scope.ProjectID)
		}
		return q
	}
	var envs []models.Environment
	if err := where(db.Model(&models.Environment{})).Order("id").Find(&envs).Error; err != nil {
		return nil, models.Translate(err, "environments")
	}
	var ks []models.SDKKey
	if err := where(db.Model(&models.SDKKey{})).Where("expires_at IS NULL OR expires_at > ?", src.s.now()).
		Find(&ks).Error; err != nil {
		return nil, models.Translate(err, "sdk keys")
	}
	byEnv := make(map[string][]dataplane.SDKKey, len(envs))
	for _, k := range ks {
		byEnv[k.EnvironmentID] = append(byEnv[k.EnvironmentID], dataplane.SDKKey{ID: k.ID, Key: k.Key, Kind: k.Kind,
			OrgID: k.OrgID, ProjectID: k.ProjectID, EnvironmentID: k.EnvironmentID, ExpiresAt: k.ExpiresAt})
	}
	out := make([]dataplane.Environment, len(envs))
	for i, e := range envs {
		out[i] = dataplane.Environment{ID: e.ID, Key: e.Key, OrgID: e.OrgID, ProjectID: e.ProjectID,
			Version: e.ConfigVersion, Keys: byEnv[e.ID]}
	}
	return out, nil
}

// maxPartial is how many flags and segments a partial answer names at most: past it, loading the
// environment whole costs less than looking each up.
const maxPartial = 1000

// Config loads what one environment serves. With since (a Position this source gave) it answers
// with only the flags and segments changed after it, from the project's history of changes; it
// loads everything on the first call, when the history kept no longer reaches back to since, or
// when a change named nothing in particular. Every statement reads the same moment of the
// database, so the version, the position and what is served agree.
func (src *Source) Config(ctx context.Context, envID string, since int64) (*dataplane.Config, error) {
	var out *dataplane.Config
	err := models.ReadConsistent(src.s.db.WithContext(ctx), func(db *gorm.DB) error {
		env, seq, err := models.EnvironmentWithSeq(db, envID)
		if err != nil {
			return err
		}
		out = &dataplane.Config{
			Environment: dataplane.Environment{ID: env.ID, Key: env.Key, OrgID: env.OrgID, ProjectID: env.ProjectID, Version: env.ConfigVersion},
			Position:    seq,
		}
		if since > 0 && since <= seq {
			flags, segs, changes, ok, err := changedSince(db, env, since, seq)
			if err != nil {
				return err
			}
			if ok {
				out.Partial, out.Changes = true, changes
				return src.loadChanged(db, env, out, flags, segs)
			}
		}
		return src.loadAll(db, env, out)
	})
	return out, err
}

// changedSince reads the flags and segments of an environment changed after since, up to seq,
// and how many of those changes concerned the environment; ok is false when the history cannot
// tell (pruned, or a change that named nothing).
func changedSince(db *gorm.DB, env *models.Environment, since, seq int64) (flags, segs []string, changes int, ok bool, err error) {
	if since == seq {
		return nil, nil, 0, true, nil
	}
	rows, err := models.ConfigChangesBetween(db, env.ProjectID, since, seq)
	if err != nil {
		return nil, nil, 0, false, err
	}
	numbers, here := map[int64]bool{}, map[int64]bool{}
	seenFlag, seenSeg := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		numbers[r.Seq] = true
		if r.EnvironmentID != "" && r.EnvironmentID != env.ID {
			continue
		}
		here[r.Seq] = true
		switch r.Kind {
		case models.ChangedFlag:
			if !seenFlag[r.Key] {
				seenFlag[r.Key] = true
				flags = append(flags, r.Key)
			}
		case models.ChangedSegment:
			if !seenSeg[r.Key] {
				seenSeg[r.Key] = true
				segs = append(segs, r.Key)
			}
		default:
			return nil, nil, 0, false, nil
		}
	}
	if int64(len(numbers)) != seq-since || len(flags)+len(segs) > maxPartial {
		return nil, nil, 0, false, nil
	}
	return flags, segs, len(here), true, nil
}

// loadChanged loads the named flags (with their configuration here) and segments into out; those
// no longer there are listed as deleted.
func (src *Source) loadChanged(db *gorm.DB, env *models.Environment, out *dataplane.Config, flagKeys, segKeys []string) error {
	if len(flagKeys) > 0 {
		flags, err := models.FlagsByKeys(db, env.OrgID, env.ProjectID, flagKeys)
		if err != nil {
			return err
		}
		ids := make([]string, len(flags))
		for i := range flags {
			ids[i] = flags[i].ID
		}
		configs, err := models.ConfigsOfFlags(db, env.OrgID, env.ID, ids)
		if err != nil {
			return err
		}
		found := make(map[string]bool, len(flags))
		for i := range flags {
			f := &flags[i]
			if c := configs[f.ID]; c != nil {
				found[f.Key] = true
				out.Flags = append(out.Flags, dataplane.FlagConfig{ConfigID: c.ID, Flag: engineFlag(f, c),
					RolloutPercentage: RolloutPercentage(f, c), ClientVisible: f.ClientVisible})
			}
		}
		for _, k := range flagKeys {
			if !found[k] {
				out.DeletedFlags = append(out.DeletedFlags, k)
			}
		}
	}
	if len(segKeys) > 0 {
		segs, err := models.SegmentsByKeys(db, env.OrgID, env.ProjectID, segKeys)
		if err != nil {
			return err
		}
		found := make(map[string]bool, len(segs))
		for i := range segs {
			found[segs[i].Key] = true
			out.Segments = append(out.Segments, engineSegment(&segs[i]))
		}
		for _, k := range segKeys {
			if !found[k] {
				out.DeletedSegments = append(out.DeletedSegments, k)
			}
		}
	}
	return nil
}

// loadAll loads every flag with its configuration here, and every segment of the project, into out.
func (src *Source) loadAll(db *gorm.DB, env *models.Environment, out *dataplane.Config) error {
	var flags []models.Flag
	if err := db.Where("org_id = ? AND project_id = ?", env.OrgID, env.ProjectID).Order("key").Find(&flags).Error; err != nil {
		return models.Translate(err, "flags")
	}
	var configs []models.FlagConfig
	if err := db.Where("org_id = ? AND environment_id = ?", env.OrgID, env.ID).Find(&configs).Error; err != nil {
		return models.Translate(err, "flag configurations")
	}
	segRows, err := models.SegmentsOfProject(db, env.OrgID, env.ProjectID)
	if err != nil {
		return err
	}
	byFlag := make(map[string]*models.FlagConfig, len(configs))
	for i := range configs {
		byFlag[configs[i].FlagID] = &configs[i]
	}
	out.Flags = make([]dataplane.FlagConfig, 0, len(flags))
	out.Segments = make([]engine.Segment, 0, len(segRows))
	for i := range flags {
		f := &flags[i]
		c := byFlag[f.ID]
		if c == nil {
			continue
		}
		out.Flags = append(out.Flags, dataplane.FlagConfig{ConfigID: c.ID, Flag: engineFlag(f, c),
			RolloutPercentage: RolloutPercentage(f, c), ClientVisible: f.ClientVisible})
	}
	for i := range segRows {
		out.Segments = append(out.Segments, engineSegment(&segRows[i]))
	}
	sort.Slice(out.Segments, func(i, j int) bool { return out.Segments[i].Key < out.Segments[j].Key })
	return nil
}

// Subscribe calls fn for every change notice until stop is called.
func (src *Source) Subscribe(fn func(dataplane.Change)) (stop func()) {
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.subs == nil {
		src.subs = map[int]func(dataplane.Change){}
	}
	id := src.next
	src.next++
	src.subs[id] = fn
	return func() {
		src.mu.Lock()
		delete(src.subs, id)
		src.mu.Unlock()
	}
}

func (src *Source) publish(ch dataplane.Change) {
	src.mu.Lock()
	fns := make([]func(dataplane.Change), 0, len(src.subs))
	for _, fn := range src.subs {
		fns = append(fns, fn)
	}
	src.mu.Unlock()
	for _, fn := range fns {
		fn(ch)
	}
}

// RecordEvaluations adds a batch of counts to the configurations' totals and hourly insights.
func (src *Source) RecordEvaluations(ctx context.Context, counts []dataplane.EvaluationCount) error {
	type total struct {
		n    int64
		last time.Time
	}
	totals := map[string]*total{}
	rows := make([]models.FlagInsight, 0, len(counts))
	for _, c := range counts {
		t := totals[c.ConfigID]
		if t == nil {
			t = &total{}
			totals[c.ConfigID] = t
		}
		t.n += c.Count
		if c.LastAt.After(t.last) {
			t.last = c.LastAt
		}
		rows = append(rows, models.FlagInsight{ConfigID: c.ConfigID, EnvironmentID: c.EnvironmentID, Variation: c.Variation,
			Hour: c.Hour.UTC(), Evaluations: c.Count})
	}
	defer src.s.Flags.lists.countsRecorded() // after the commit: a list built before it is behind
	return src.s.tx(ctx, func(tx *gorm.DB) error {
		ids := make([]string, 0, len(totals))
		for id := range totals {
			ids = append(ids, id)
		}
		sort.Strings(ids) // the same lock order on every node
		var live []string
		if err := tx.Model(&models.FlagConfig{}).Where("id IN ?", ids).Pluck("id", &live).Error; err != nil {
			return models.Translate(err, "flag configurations")
		}
		exists := make(map[string]bool, len(live))
		for _, id := range live {
			exists[id] = true
		}
		for _, id := range ids {
			if exists[id] {
				if err := models.AddEvaluations(tx, id, totals[id].n, totals[id].last); err != nil {
					return err
				}
			}
		}
		kept := rows[:0]
		for _, r := range rows {
			if exists[r.ConfigID] { // a configuration deleted since it was counted is dropped
				kept = append(kept, r)
			}
		}
		return models.AddInsights(tx, kept)
	})
}

// listenChanges hands other nodes' change notices (see changesChannel) to the subscribers until
// ctx ends; this node's own are skipped, it applied them when it published them. A notice lost
// while Redis is away is repaired by the data plane's poll.
func (src *Source) listenChanges(ctx context.Context, sub *redis.PubSub) {
	receive(ctx, sub, func(payload string) {
		n, ok := parseNotice(payload)
		if !ok || n.node == src.s.node {
			return
		}
		if !n.published.IsZero() {
			src.s.hook().ChangeLag(time.Since(n.published))
		}
		src.publish(n.change)
	})
}
