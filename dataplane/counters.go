package dataplane

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// counters counts evaluations per flag configuration and variation between flushes. They outlive
// snapshots, which are replaced on every change, and variations, which come and go with edits.
type counters struct {
	m     sync.Map // config id → *configCounter
	plans sync.Map // *bulkPlan → struct{}: bulk plans whose static evaluations are not folded in yet
}

type configCounter struct {
	configID string
	envID    string
	last     atomic.Int64 // unix nanoseconds of the latest evaluation
	mu       sync.Mutex
	vars     map[string]*atomic.Int64 // variation id → evaluations not flushed yet
}

func (cs *counters) of(configID, envID string) *configCounter {
	if c, ok := cs.m.Load(configID); ok {
		return c.(*configCounter)
	}
	c, _ := cs.m.LoadOrStore(configID, &configCounter{configID: configID, envID: envID, vars: map[string]*atomic.Int64{}})
	return c.(*configCounter)
}

func (c *configCounter) variation(id string) *atomic.Int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.vars[id]
	if n == nil {
		n = &atomic.Int64{}
		c.vars[id] = n
	}
	return n
}

// pending is how many evaluations of a configuration were counted and not flushed yet.
func (cs *counters) pending(configID string) int64 {
	cs.fold()
	c, ok := cs.m.Load(configID)
	if !ok {
		return 0
	}
	cc := c.(*configCounter)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	var n int64
	for _, v := range cc.vars {
		n += v.Load()
	}
	return n
}

// take empties the counters into one batch, attributed to the hour of now.
func (cs *counters) take(now time.Time) []EvaluationCount {
	cs.fold()
	hour := now.UTC().Truncate(time.Hour)
	var out []EvaluationCount
	cs.m.Range(func(_, v any) bool {
		c := v.(*configCounter)
		c.mu.Lock()
		for id, n := range c.vars {
			if k := n.Swap(0); k > 0 {
				out = append(out, EvaluationCount{ConfigID: c.configID, EnvironmentID: c.envID, Variation: id, Hour: hour,
					Count: k, LastAt: time.Unix(0, c.last.Load()).UTC().Truncate(time.Microsecond)})
			}
		}
		c.mu.Unlock()
		return true
	})
	return out
}

// giveBack returns a batch that could not be recorded, to be tried with the next flush.
func (cs *counters) giveBack(batch []EvaluationCount) {
	for _, b := range batch {
		cs.of(b.ConfigID, b.EnvironmentID).variation(b.Variation).Add(b.Count)
	}
}

// Pending is how many evaluations of a flag configuration this node counted and has not
// recorded yet.
func (p *Plane) Pending(configID string) int64 { return p.counters.pending(configID) }

// Flush records the evaluations counted since the last flush through the source, in one batch;
// what cannot be recorded now (the source is down) is kept for the next flush.
func (p *Plane) Flush(ctx context.Context) {
	batch := p.counters.take(p.clock.Now())
	if len(batch) == 0 {
		return
	}
	if err := p.src.RecordEvaluations(ctx, batch); err != nil {
		p.counters.giveBack(batch)
		p.log.Warn("record evaluation counts; keeping them for the next flush", "err", err)
	}
}
