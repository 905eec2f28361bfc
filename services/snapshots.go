package services

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/internal/engine"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
)

// Snapshot is everything one environment serves, compiled, immutable: evaluation reads only this.
type Snapshot struct {
	OrgID          string
	ProjectID      string
	EnvironmentID  string
	EnvironmentKey string
	Version        int64 // the environment's config_version
	BuiltAt        time.Time
	Flags          map[string]*SnapshotFlag
	Keys           []string // flag keys in order, for bulk evaluation
	// Config is the environment's full configuration as JSON, for SDKs that evaluate locally.
	Config []byte
	gen    int64 // the entry's generation when the build began
}

// SnapshotFlag is one compiled flag and its evaluation counters.
type SnapshotFlag struct {
	*engine.Compiled
	// RolloutPercentage is the share getting the "on" variation (source 000's field).
	RolloutPercentage float64
	counter           *flagCounter
}

// Count records one evaluation for the batched flush (never a database write here).
func (f *SnapshotFlag) Count(r engine.Result, now time.Time) {
	if f.counter == nil || r.Variation < 0 || r.Variation >= len(f.counter.perVariation) {
		return
	}
	f.counter.perVariation[r.Variation].Add(1)
	// last_evaluated_at needs second precision at most: write the shared word rarely.
	if t := now.UnixNano(); t-f.counter.last.Load() > int64(time.Second) {
		f.counter.last.Store(t)
	}
}

// SDKConfig is the document /sdk/config serves: enough for an SDK to evaluate with the same engine.
type SDKConfig struct {
	Environment string           `json:"environment"`
	Version     int64            `json:"version"`
	Flags       []engine.Flag    `json:"flags"`
	Segments    []engine.Segment `json:"segments"`
}

// flagCounter counts one flag configuration's evaluations, per variation, between flushes. It
// outlives snapshots, which are replaced on every change.
type flagCounter struct {
	configID     string
	perVariation []atomic.Int64
	last         atomic.Int64
}

// Snapshots keeps each node's compiled snapshot of every environment it has served, behind an
// atomic pointer per environment. A change notice (local, or from another node over Redis)
// rebuilds the affected environments in the background and swaps them in; a periodic version poll
// repairs a lost notice.
type Snapshots struct {
	s        *Services
	mu       sync.RWMutex
	envs     map[string]*snapEntry
	counters sync.Map // config id → *flagCounter
	poll     time.Duration
	rebuilds atomic.Int64
	watchMu  sync.Mutex
	watchers map[string]map[chan *Snapshot]struct{}
}

// Watch returns a channel that receives each new snapshot of an environment (only the latest if
// the reader falls behind), and a function to stop watching.
func (sn *Snapshots) Watch(envID string) (<-chan *Snapshot, func()) {
	ch := make(chan *Snapshot, 1)
	sn.watchMu.Lock()
	if sn.watchers[envID] == nil {
		sn.watchers[envID] = map[chan *Snapshot]struct{}{}
	}
	sn.watchers[envID][ch] = struct{}{}
	sn.watchMu.Unlock()
	return ch, func() {
		sn.watchMu.Lock()
		delete(sn.watchers[envID], ch)
		if len(sn.watchers[envID]) == 0 {
			delete(sn.watchers, envID)
		}
		sn.watchMu.Unlock()
	}
}

func (sn *Snapshots) notify(snap *Snapshot) {
	sn.watchMu.Lock()
	defer sn.watchMu.Unlock()
	for ch := range sn.watchers[snap.EnvironmentID] {
		select {
		case <-ch: // drop the stale one the reader has not taken yet
		default:
		}
		ch <- snap
	}
}

type snapEntry struct {
	projectID atomic.Value // string
	ptr       atomic.Pointer[Snapshot]
	build     sync.Mutex   // one rebuild at a time per environment
	gen       atomic.Int64 // bumped by every change notice; a snapshot older than it is stale
}

func newSnapshots(s *Services) *Snapshots {
	return &Snapshots{s: s, envs: map[string]*snapEntry{}, poll: 5 * time.Second, watchers: map[string]map[chan *Snapshot]struct{}{}}
}

// Rebuilds counts snapshot builds since start (a metric).
func (sn *Snapshots) Rebuilds() int64 { return sn.rebuilds.Load() }

// Get returns the environment's current snapshot, building it on first use and rebuilding it
// when a change notice made it stale, so a read after a write sees the write.
func (sn *Snapshots) Get(ctx context.Context, envID string) (*Snapshot, error) {
	sn.mu.RLock()
	e := sn.envs[envID]
	sn.mu.RUnlock()
	if e != nil {
		if snap := e.ptr.Load(); snap != nil && snap.gen >= e.gen.Load() {
			return snap, nil
		}
	}
	return sn.rebuild(ctx, envID)
}

func (sn *Snapshots) entry(envID string) *snapEntry {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	e := sn.envs[envID]
	if e == nil {
		e = &snapEntry{}
		e.projectID.Store("")
		sn.envs[envID] = e
	}
	return e
}

// rebuild compiles an environment afresh and swaps the new snapshot in, unless another caller
// just did so for the current generation.
func (sn *Snapshots) rebuild(ctx context.Context, envID string) (*Snapshot, error) {
	e := sn.entry(envID)
	e.build.Lock()
	defer e.build.Unlock()
	gen := e.gen.Load()
	if cur := e.ptr.Load(); cur != nil && cur.gen >= gen {
		return cur, nil
	}
	snap, err := sn.Build(ctx, envID)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound { // the environment is gone: forget it
			sn.mu.Lock()
			delete(sn.envs, envID)
			sn.mu.Unlock()
		}
		return nil, err
	}
	snap.gen = gen
	e.projectID.Store(snap.ProjectID)
	cur := e.ptr.Load()
	e.ptr.Store(snap)
	if cur != nil && snap.Version > cur.Version {
		sn.notify(snap)
	}
	return snap, nil
}

// Build compiles one environment from the database.
func (sn *Snapshots) Build(ctx context.Context, envID string) (*Snapshot, error) {
	sn.rebuilds.Add(1)
	db := sn.s.db.WithContext(ctx)
	var env models.Environment
	if err := db.Where("id = ?", envID).Take(&env).Error; err != nil {
		return nil, models.Translate(err, "environment")
	}
	var flags []models.Flag
	if err := db.Where("org_id = ? AND project_id = ?", env.OrgID, env.ProjectID).Order("key").Find(&flags).Error; err != nil {
		return nil, models.Translate(err, "flags")
	}
	var configs []models.FlagConfig
	if err := db.Where("org_id = ? AND environment_id = ?", env.OrgID, env.ID).Find(&configs).Error; err != nil {
		return nil, models.Translate(err, "flag configurations")
	}
	segRows, err := models.SegmentsOfProject(db, env.OrgID, env.ProjectID)
	if err != nil {
		return nil, err
	}
	segs := engineSegments(segRows)
	byFlag := make(map[string]*models.FlagConfig, len(configs))
	for i := range configs {
		byFlag[configs[i].FlagID] = &configs[i]
	}
	snap := &Snapshot{OrgID: env.OrgID, ProjectID: env.ProjectID, EnvironmentID: env.ID, EnvironmentKey: env.Key,
		Version: env.ConfigVersion, BuiltAt: sn.s.now(), Flags: make(map[string]*SnapshotFlag, len(flags))}
	doc := SDKConfig{Environment: env.Key, Version: env.ConfigVersion, Flags: make([]engine.Flag, 0, len(flags)),
		Segments: make([]engine.Segment, 0, len(segRows))}
	for i := range flags {
		f := &flags[i]
		c := byFlag[f.ID]
		if c == nil {
			continue
		}
		ef := engineFlag(f, c)
		compiled, err := engine.Compile(ef, segs)
		if err != nil {
			sn.s.log.Error("flag configuration no longer compiles; serving its default with reason ERROR",
				"flag", f.Key, "environment", env.Key, "err", err)
			compiled = engine.Failed(ef)
		}
		snap.Flags[f.Key] = &SnapshotFlag{Compiled: compiled, RolloutPercentage: RolloutPercentage(f, c),
			counter: sn.counter(c.ID, len(f.Variations))}
		if engine.Status(c.Status) != engine.Archived {
			snap.Keys = append(snap.Keys, f.Key)
			doc.Flags = append(doc.Flags, ef)
		}
	}
	sort.Strings(snap.Keys)
	for _, s := range segRows {
		doc.Segments = append(doc.Segments, engineSegment(&s))
	}
	if snap.Config, err = json.Marshal(doc); err != nil {
		return nil, fmt.Errorf("encode sdk config: %w", err)
	}
	return snap, nil
}

func (sn *Snapshots) counter(configID string, variations int) *flagCounter {
	if c, ok := sn.counters.Load(configID); ok {
		fc := c.(*flagCounter)
		if len(fc.perVariation) == variations {
			return fc
		}
	}
	fc := &flagCounter{configID: configID, perVariation: make([]atomic.Int64, variations)}
	actual, _ := sn.counters.LoadOrStore(configID, fc)
	return actual.(*flagCounter)
}

// invalidateProject marks every loaded environment of a project stale (the next read rebuilds it)
// and rebuilds them in the background so the next read rarely has to wait.
func (sn *Snapshots) invalidateProject(projectID string) {
	sn.mu.RLock()
	var stale []string
	for id, e := range sn.envs {
		if e.projectID.Load().(string) == projectID {
			e.gen.Add(1)
			stale = append(stale, id)
		}
	}
	sn.mu.RUnlock()
	for _, id := range stale {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := sn.rebuild(ctx, id); err != nil && errs.KindOf(err) != errs.NotFound {
				sn.s.log.Warn("rebuild snapshot", "environment", id, "err", err)
			}
		}()
	}
}

// run listens for change notices and polls versions until ctx ends; it flushes counters too.
func (sn *Snapshots) run(ctx context.Context, sub *redis.PubSub, flushEvery time.Duration) {
	defer func() { _ = sub.Close() }()
	ch := sub.Channel()
	poll := time.NewTicker(sn.poll)
	defer poll.Stop()
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if _, project, found := strings.Cut(msg.Payload, "/"); found {
				sn.invalidateProject(project)
			}
		case <-poll.C:
			sn.pollVersions(ctx)
		case <-flush.C:
			sn.Flush(ctx)
		}
	}
}

// pollVersions rebuilds loaded environments whose version moved without a notice reaching us.
func (sn *Snapshots) pollVersions(ctx context.Context) {
	sn.mu.RLock()
	ids := make([]string, 0, len(sn.envs))
	cur := make(map[string]int64, len(sn.envs))
	for id, e := range sn.envs {
		ids = append(ids, id)
		if s := e.ptr.Load(); s != nil {
			cur[id] = s.Version
		}
	}
	sn.mu.RUnlock()
	if len(ids) == 0 {
		return
	}
	var rows []struct {
		ID            string
		ConfigVersion int64
	}
	if err := sn.s.db.WithContext(ctx).Model(&models.Environment{}).Select("id, config_version").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		sn.s.log.Warn("poll environment versions", "err", err)
		return
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.ID] = true
		if r.ConfigVersion != cur[r.ID] {
			sn.mu.RLock()
			if e := sn.envs[r.ID]; e != nil {
				e.gen.Add(1)
			}
			sn.mu.RUnlock()
			if _, err := sn.rebuild(ctx, r.ID); err != nil {
				sn.s.log.Warn("rebuild snapshot", "environment", r.ID, "err", err)
			}
		}
	}
	sn.mu.Lock()
	for _, id := range ids {
		if !seen[id] {
			delete(sn.envs, id) // deleted environment
		}
	}
	sn.mu.Unlock()
}

// Flush writes the evaluation counts gathered since the last flush: one UPDATE per flag
// configuration that was evaluated, never one per evaluation.
func (sn *Snapshots) Flush(ctx context.Context) {
	db := sn.s.db.WithContext(ctx)
	sn.counters.Range(func(k, v any) bool {
		fc := v.(*flagCounter)
		var n int64
		taken := make([]int64, len(fc.perVariation))
		for i := range fc.perVariation {
			taken[i] = fc.perVariation[i].Swap(0)
			n += taken[i]
		}
		if n == 0 {
			return true
		}
		last := time.Unix(0, fc.last.Load()).UTC().Truncate(time.Microsecond)
		err := db.Model(&models.FlagConfig{}).Where("id = ?", fc.configID).
			Updates(map[string]any{"evaluations": gormExpr("evaluations + ?", n), "last_evaluated_at": last}).Error
		if err != nil {
			for i, c := range taken { // try again next time
				fc.perVariation[i].Add(c)
			}
			sn.s.log.Warn("flush evaluation counts", "err", err)
		}
		return true
	})
}
