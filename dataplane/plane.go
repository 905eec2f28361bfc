package dataplane

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vanehq/vane/internal/clock"
	"github.com/vanehq/vane/internal/errs"
)

// Options tune a Plane; zero values take the defaults named.
type Options struct {
	Clock clock.Clock
	Log   *slog.Logger
	// Poll is how often every environment's version and keys are compared with the source, to
	// repair a lost change notice (default 5 s).
	Poll time.Duration
	// FlushEvery is how often evaluation counts are recorded (default 10 s).
	FlushEvery time.Duration
	// Hooks observe the data plane (metrics); nil hooks are skipped.
	Hooks Hooks
}

// Hooks let the process observe the data plane without the data plane knowing how it is observed.
type Hooks struct {
	// Rebuilt is called after each snapshot build with how long it took.
	Rebuilt func(d time.Duration, err error)
	// Compiled counts the flags a snapshot build compiled (a change: those it touched).
	Compiled func(n int)
	// Evaluated counts n evaluations with a reason (a bulk request reports each reason once).
	Evaluated func(reason string, n int)
	// Streams is called with +1 when a stream opens and -1 when it ends.
	Streams func(delta int)
	// Changed is called for every change notice applied.
	Changed func()
}

// retryAfterFailure is how long a snapshot whose rebuild failed is served as it is before the
// next read tries the source again.
const retryAfterFailure = time.Second

// Plane holds every environment's snapshot and SDK keys in memory and serves from them alone.
type Plane struct {
	src      Source
	clock    clock.Clock
	log      *slog.Logger
	poll     time.Duration
	flush    time.Duration
	hooks    Hooks
	keys     atomic.Pointer[keySet]
	keysMu   sync.Mutex // one writer of keys and environments at a time
	mu       sync.RWMutex
	envs     map[string]*entry
	counters counters
	rebuilds atomic.Int64
	serials  atomic.Uint64 // numbers snapshots
	compiles atomic.Int64  // flags compiled since start
	watchMu  sync.Mutex
	watchers map[string]map[chan *Snapshot]struct{}

	ctx    context.Context // ends with Close: background rebuilds and streams stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   func() // ends the subscription
	closed sync.Once
}

type entry struct {
	orgID     string
	projectID string
	ptr       atomic.Pointer[Snapshot]
	build     sync.Mutex   // one rebuild at a time per environment
	gen       atomic.Int64 // bumped by every change notice; a snapshot older than it is stale
	failedAt  atomic.Int64 // unix nanoseconds of the last failed rebuild
	queued    atomic.Bool  // a background rebuild waits for build
	position  int64        // the source's position the snapshot covers (guarded by build)
	compiled  atomic.Int64 // flags compiled to keep this environment's snapshot current
}

// New makes a data plane over a source. Start loads it; until then it knows no key.
func New(src Source, o Options) *Plane {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 10 * time.Second
	}
	p := &Plane{src: src, clock: o.Clock, log: o.Log, poll: o.Poll, flush: o.FlushEvery, hooks: o.Hooks,
		envs: map[string]*entry{}, watchers: map[string]map[chan *Snapshot]struct{}{}}
	p.keys.Store(&keySet{})
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// Start subscribes to change notices, loads every environment's keys and snapshot, and runs the
// version poll and the counter flush until ctx ends or Close is called. It fails only when the
// source cannot list the environments.
func (p *Plane) Start(ctx context.Context) error {
	stopAfter := context.AfterFunc(ctx, p.cancel)
	p.stop = p.src.Subscribe(p.apply)
	envs, err := p.reconcile(ctx, Scope{})
	if err != nil {
		stopAfter()
		return fmt.Errorf("load environments: %w", err)
	}
	for _, id := range envs {
		if _, err := p.rebuild(ctx, id); err != nil && errs.KindOf(err) != errs.NotFound {
			p.log.Warn("build snapshot", "environment", id, "err", err)
		}
	}
	p.wg.Add(1)
	go p.run()
	return nil
}

// Done is closed when the plane stops: streams end then.
func (p *Plane) Done() <-chan struct{} { return p.ctx.Done() }

// EndStreams ends every open stream (a graceful stop calls it first so the server need not wait).
func (p *Plane) EndStreams() { p.cancel() }

// Close stops the background work, waits for it, and records the counts still in memory.
func (p *Plane) Close(ctx context.Context) {
	p.closed.Do(func() {
		p.cancel()
		if p.stop != nil {
			p.stop()
		}
		p.wg.Wait()
		p.Flush(ctx)
	})
}

// Rebuilds counts snapshot builds since start.
func (p *Plane) Rebuilds() int64 { return p.rebuilds.Load() }

// FlagsCompiled counts the flags compiled since start: a change costs the flags it touches.
func (p *Plane) FlagsCompiled() int64 { return p.compiles.Load() }

// FlagsCompiledIn counts the flags compiled to keep one environment's snapshot current (builds
// afresh for Build not included).
func (p *Plane) FlagsCompiledIn(envID string) int64 {
	p.mu.RLock()
	e := p.envs[envID]
	p.mu.RUnlock()
	if e == nil {
		return 0
	}
	return e.compiled.Load()
}

func (p *Plane) run() {
	defer p.wg.Done()
	poll := time.NewTicker(p.poll)
	defer poll.Stop()
	flush := time.NewTicker(p.flush)
	defer flush.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-poll.C:
			ctx, cancel := context.WithTimeout(p.ctx, p.poll)
			if _, err := p.reconcile(ctx, Scope{}); err != nil {
				p.log.Warn("poll environments; serving the last known state", "err", err)
			} else {
				p.sweep(ctx)
			}
			cancel()
		case <-flush.C:
			ctx, cancel := context.WithTimeout(p.ctx, p.flush)
			p.Flush(ctx)
			cancel()
		}
	}
}

// apply handles one change notice: the project's snapshots become stale at once (the next read
// rebuilds them, so a writer reads its write), its keys and environments are reloaded unless only
// flags and segments changed, and the snapshots that streams watch are rebuilt in the background
// at once; the others on their next read or by the next sweep, so a burst of writes costs one
// rebuild, not one per write.
func (p *Plane) apply(ch Change) {
	if p.hooks.Changed != nil {
		p.hooks.Changed()
	}
	scope := Scope{OrgID: ch.OrgID, ProjectID: ch.ProjectID}
	var stale []string
	p.mu.RLock()
	for id, e := range p.envs {
		if scope.contains(e.orgID, e.projectID) {
			e.gen.Add(1)
			stale = append(stale, id)
		}
	}
	p.mu.RUnlock()
	for _, id := range stale {
		if p.watched(id) { // streams hear of it now; others rebuild on their next read or the next sweep
			p.rebuildLater(id)
		}
	}
	if ch.ConfigOnly {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if _, err := p.reconcile(ctx, scope); err != nil {
		p.log.Warn("reload environments after a change; the poll will retry", "org", ch.OrgID, "project", ch.ProjectID, "err", err)
	}
}

// sweep builds the environments that have no snapshot yet or a stale one, one at a time, so
// every environment has a recent snapshot to serve should the source go away.
func (p *Plane) sweep(ctx context.Context) {
	p.mu.RLock()
	var ids []string
	for id, e := range p.envs {
		if s := e.ptr.Load(); s == nil || s.gen.Load() < e.gen.Load() {
			ids = append(ids, id)
		}
	}
	p.mu.RUnlock()
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		if _, err := p.rebuild(ctx, id); err != nil && errs.KindOf(err) != errs.NotFound && ctx.Err() == nil {
			p.log.Warn("build snapshot", "environment", id, "err", err)
		}
	}
}

func (p *Plane) watched(envID string) bool {
	p.watchMu.Lock()
	defer p.watchMu.Unlock()
	return len(p.watchers[envID]) > 0
}

// rebuildLater rebuilds an environment in the background, owned by the plane. One rebuild at a
// time waits per environment: notices that arrive meanwhile are covered by it.
func (p *Plane) rebuildLater(id string) {
	if p.ctx.Err() != nil {
		return
	}
	e := p.entry(id)
	if !e.queued.CompareAndSwap(false, true) {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
		defer cancel()
		if _, err := p.rebuild(ctx, id); err != nil && errs.KindOf(err) != errs.NotFound && p.ctx.Err() == nil {
			p.log.Warn("rebuild snapshot", "environment", id, "err", err)
		}
	}()
}

// reconcile makes the keys and environments in scope what the source says, marks stale the
// snapshots whose version moved, and returns the environments in scope.
func (p *Plane) reconcile(ctx context.Context, scope Scope) ([]string, error) {
	envs, err := p.src.Environments(ctx, scope)
	if err != nil {
		return nil, err
	}
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	old := *p.keys.Load()
	next := make(keySet, len(old)+2*len(envs))
	for raw, k := range old {
		if !scope.contains(k.OrgID, k.ProjectID) {
			next[raw] = k
		}
	}
	ids := make([]string, 0, len(envs))
	seen := make(map[string]bool, len(envs))
	var moved []string
	p.mu.Lock()
	for i := range envs {
		env := &envs[i]
		ids = append(ids, env.ID)
		seen[env.ID] = true
		for j := range env.Keys {
			k := env.Keys[j]
			next[k.Key] = &k
		}
		e := p.envs[env.ID]
		if e != nil {
			e.failedAt.Store(0) // the source answers again: the next stale read tries it at once
		}
		if e == nil || e.orgID == "" {
			if e == nil {
				e = &entry{}
				p.envs[env.ID] = e
			}
			e.orgID, e.projectID = env.OrgID, env.ProjectID
		} else if s := e.ptr.Load(); s != nil && s.Version != env.Version && s.gen.Load() >= e.gen.Load() {
			e.gen.Add(1) // the version moved without a notice reaching this node
			if p.watched(env.ID) {
				moved = append(moved, env.ID)
			}
		}
	}
	for id, e := range p.envs {
		if scope.contains(e.orgID, e.projectID) && !seen[id] {
			delete(p.envs, id) // deleted environment
		}
	}
	p.mu.Unlock()
	p.keys.Store(&next)
	for _, id := range moved {
		p.rebuildLater(id)
	}
	return ids, nil
}

// Get returns the environment's current snapshot, building it on first use and rebuilding it
// when a change notice made it stale, so a read after a write sees the write. When the source
// cannot be reached, the last snapshot is served for as long as that lasts.
func (p *Plane) Get(ctx context.Context, envID string) (*Snapshot, error) {
	p.mu.RLock()
	e := p.envs[envID]
	p.mu.RUnlock()
	if e != nil {
		if snap := e.ptr.Load(); snap != nil {
			if snap.gen.Load() >= e.gen.Load() || p.clock.Now().UnixNano()-e.failedAt.Load() < int64(retryAfterFailure) {
				return snap, nil
			}
		}
	}
	return p.rebuild(ctx, envID)
}

func (p *Plane) entry(envID string) *entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.envs[envID]
	if e == nil {
		e = &entry{}
		p.envs[envID] = e
	}
	return e
}

// rebuild brings an environment's snapshot up to date and swaps the new one in, unless another
// caller just did so for the current generation. It asks the source for what changed since the
// snapshot was built and compiles only that; the first build, or a source that cannot tell, loads
// everything. If the source fails, the last snapshot stays.
func (p *Plane) rebuild(ctx context.Context, envID string) (*Snapshot, error) {
	e := p.entry(envID)
	e.build.Lock()
	defer e.build.Unlock()
	e.queued.Store(false) // a notice from now on needs a rebuild of its own
	gen := e.gen.Load()
	cur := e.ptr.Load()
	if cur != nil && cur.gen.Load() >= gen {
		return cur, nil
	}
	var since int64
	if cur != nil {
		since = e.position
	}
	start := time.Now()
	p.rebuilds.Add(1)
	cfg, err := p.src.Config(ctx, envID, since)
	if err == nil && cur != nil && cfg.incomplete(cur) {
		// The version moved more than the history accounts for: a write that kept no history. Load it all.
		cfg, err = p.src.Config(ctx, envID, 0)
	}
	var snap *Snapshot
	if err == nil {
		if cur != nil && cfg.unchanged(cur) {
			snap = cur // nothing this environment serves changed: the snapshot is current as it is
		} else {
			snap, err = p.derive(cur, cfg)
		}
	}
	if p.hooks.Rebuilt != nil {
		p.hooks.Rebuilt(time.Since(start), err)
	}
	if err != nil {
		if errs.KindOf(err) == errs.NotFound { // the environment is gone: forget it
			p.mu.Lock()
			delete(p.envs, envID)
			p.mu.Unlock()
			return nil, err
		}
		e.failedAt.Store(p.clock.Now().UnixNano())
		if cur != nil {
			p.log.Warn("rebuild snapshot failed; serving the last one", "environment", envID, "version", cur.Version, "err", err)
			return cur, nil
		}
		return nil, err
	}
	e.position = cfg.Position
	snap.gen.Store(gen)
	if e.orgID == "" {
		p.mu.Lock()
		e.orgID, e.projectID = snap.OrgID, snap.ProjectID
		p.mu.Unlock()
	}
	e.failedAt.Store(0)
	if snap == cur {
		return cur, nil
	}
	e.compiled.Add(int64(snap.compiled))
	e.ptr.Store(snap)
	if cur != nil && snap.Version > cur.Version {
		p.notify(snap)
	}
	return snap, nil
}

// Build compiles an environment afresh from the source without serving the result (benchmarks).
func (p *Plane) Build(ctx context.Context, envID string) (*Snapshot, error) {
	cfg, err := p.src.Config(ctx, envID, 0)
	if err != nil {
		return nil, err
	}
	return p.derive(nil, cfg)
}

// Watch returns a channel that receives each new snapshot of an environment (only the latest if
// the reader falls behind), and a function to stop watching.
func (p *Plane) Watch(envID string) (<-chan *Snapshot, func()) {
	ch := make(chan *Snapshot, 1)
	p.watchMu.Lock()
	if p.watchers[envID] == nil {
		p.watchers[envID] = map[chan *Snapshot]struct{}{}
	}
	p.watchers[envID][ch] = struct{}{}
	p.watchMu.Unlock()
	if p.hooks.Streams != nil {
		p.hooks.Streams(1)
	}
	return ch, func() {
		p.watchMu.Lock()
		delete(p.watchers[envID], ch)
		if len(p.watchers[envID]) == 0 {
			delete(p.watchers, envID)
		}
		p.watchMu.Unlock()
		if p.hooks.Streams != nil {
			p.hooks.Streams(-1)
		}
	}
}

func (p *Plane) notify(snap *Snapshot) {
	p.watchMu.Lock()
	defer p.watchMu.Unlock()
	for ch := range p.watchers[snap.EnvironmentID] {
		select {
		case <-ch: // drop the stale one the reader has not taken yet
		default:
		}
		ch <- snap
	}
}
