package dataplane

import (
	"hash/maphash"
	"maps"
	"math/bits"
	"slices"
)

// table is an immutable map from key to value kept in shards: a copy with a few changes copies
// only the shards the changes fall in (and the list of shards), so a change to one flag of an
// environment of 50 000 copies about a hundred entries, not 50 000. Shards shared by two tables
// are the same pointer, which lets a comparison skip them.
type table[V any] struct {
	shards []*shard[V] // a power of two of them
	n      int
}

type shard[V any] struct{ m map[string]V }

// Entries per shard: a table is split so shards hold about targetShard entries, and split again
// when they average more than maxShard.
const (
	targetShard = 128
	maxShard    = 4 * targetShard
)

var tableSeed = maphash.MakeSeed() // fixed for the process: shards are only ever compared within it

func shardsFor(n int) int {
	if n <= targetShard {
		return 1
	}
	return 1 << bits.Len(uint((n-1)/targetShard))
}

func (t *table[V]) index(k string) int {
	if len(t.shards) == 1 {
		return 0
	}
	return int(maphash.String(tableSeed, k) & uint64(len(t.shards)-1))
}

// Get returns the value of a key.
func (t *table[V]) Get(k string) (V, bool) {
	if t == nil || len(t.shards) == 0 {
		var zero V
		return zero, false
	}
	v, ok := t.shards[t.index(k)].m[k]
	return v, ok
}

// Len is the number of entries.
func (t *table[V]) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// All calls fn for every entry, in no order, until fn returns false.
func (t *table[V]) All(fn func(k string, v V) bool) {
	if t == nil {
		return
	}
	for _, s := range t.shards {
		for k, v := range s.m {
			if !fn(k, v) {
				return
			}
		}
	}
}

// tableEdit makes a new table from a base: shards are copied on their first change.
type tableEdit[V any] struct {
	t     *table[V]
	owned []bool
}

// editTable starts a new table from base (nil: an empty table expected to hold about hint entries).
func editTable[V any](base *table[V], hint int) *tableEdit[V] {
	if base == nil || len(base.shards) == 0 {
		n := shardsFor(hint)
		t := &table[V]{shards: make([]*shard[V], n)}
		for i := range t.shards {
			t.shards[i] = &shard[V]{m: make(map[string]V, hint/n+1)}
		}
		return &tableEdit[V]{t: t, owned: fill(n)}
	}
	return &tableEdit[V]{t: &table[V]{shards: slices.Clone(base.shards), n: base.n}, owned: make([]bool, len(base.shards))}
}

func fill(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

func (e *tableEdit[V]) own(k string) map[string]V {
	i := e.t.index(k)
	if !e.owned[i] {
		e.t.shards[i] = &shard[V]{m: maps.Clone(e.t.shards[i].m)}
		e.owned[i] = true
	}
	return e.t.shards[i].m
}

func (e *tableEdit[V]) get(k string) (V, bool) { return e.t.Get(k) }

func (e *tableEdit[V]) set(k string, v V) {
	m := e.own(k)
	if _, ok := m[k]; !ok {
		e.t.n++
	}
	m[k] = v
}

func (e *tableEdit[V]) delete(k string) {
	if _, ok := e.t.Get(k); !ok {
		return
	}
	delete(e.own(k), k)
	e.t.n--
}

// done returns the new table, split into more shards if it outgrew them.
func (e *tableEdit[V]) done() *table[V] {
	t := e.t
	if t.n <= len(t.shards)*maxShard {
		return t
	}
	next := editTable[V](nil, t.n)
	t.All(func(k string, v V) bool {
		next.t.shards[next.t.index(k)].m[k] = v
		return true
	})
	next.t.n = t.n
	return next.t
}

// changedShards calls fn with the entries of each shard that differs between a and b; when the
// tables are not split alike, with all of both.
func changedShards[V any](a, b *table[V], fn func(am, bm map[string]V)) {
	if a != nil && b != nil && len(a.shards) == len(b.shards) {
		for i := range a.shards {
			if a.shards[i] != b.shards[i] {
				fn(a.shards[i].m, b.shards[i].m)
			}
		}
		return
	}
	fn(a.flat(), b.flat())
}

// flat is every entry in one map.
func (t *table[V]) flat() map[string]V {
	out := make(map[string]V, t.Len())
	t.All(func(k string, v V) bool {
		out[k] = v
		return true
	})
	return out
}
