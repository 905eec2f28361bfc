package dataplane

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// TestTable: a table edited at random (sets, deletes, growth past several splits) always holds
// what a plain map holds, earlier tables are never changed by later edits, and an edit copies only
// the shards it touches.
func TestTable(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	want := map[string]int{}
	var cur *table[int]
	type version struct {
		t    *table[int]
		want map[string]int
	}
	var history []version
	for round := 0; round < 300; round++ {
		e := editTable(cur, 16)
		for i := 0; i < 1+rnd.IntN(40); i++ {
			k := fmt.Sprintf("k%d", rnd.IntN(5000))
			if rnd.IntN(4) == 0 {
				e.delete(k)
				delete(want, k)
			} else {
				e.set(k, round)
				want[k] = round
			}
		}
		next := e.done()
		if next.Len() != len(want) {
			t.Fatalf("round %d: Len = %d, want %d", round, next.Len(), len(want))
		}
		if got := next.flat(); !maps.Equal(got, want) {
			t.Fatalf("round %d: table differs from the map", round)
		}
		if cur != nil && len(cur.shards) == len(next.shards) {
			shared := 0
			for i := range cur.shards {
				if cur.shards[i] == next.shards[i] {
					shared++
				}
			}
			if len(cur.shards) > 40 && shared < len(cur.shards)/2 {
				t.Errorf("round %d: %d of %d shards shared after ≤ 40 changes", round, shared, len(cur.shards))
			}
		}
		history = append(history, version{next, maps.Clone(want)})
		cur = next
	}
	for i, h := range history {
		if got := h.t.flat(); !maps.Equal(got, h.want) {
			t.Fatalf("table %d changed after later edits", i)
		}
	}
	if len(cur.shards) < 8 || cur.Len()/len(cur.shards) > maxShard {
		t.Errorf("%d entries in %d shards", cur.Len(), len(cur.shards))
	}
	if v, ok := cur.Get("absent"); ok || v != 0 {
		t.Errorf("Get(absent) = %v, %v", v, ok)
	}
	var empty *table[int]
	if _, ok := empty.Get("x"); ok || empty.Len() != 0 {
		t.Error("a nil table is not empty")
	}
}

// TestChangedShards: comparing two tables visits only the shards they do not share.
func TestChangedShards(t *testing.T) {
	e := editTable[int](nil, 2000)
	for i := 0; i < 2000; i++ {
		e.set(fmt.Sprint(i), i)
	}
	a := e.done()
	e = editTable(a, 0)
	e.set("7", -1)
	e.delete("8")
	b := e.done()
	visited, seen := 0, map[string]bool{}
	changedShards(a, b, func(am, bm map[string]int) {
		visited++
		for k, v := range am {
			if bm[k] != v {
				seen[k] = true
			}
		}
	})
	if !seen["7"] || !seen["8"] || len(seen) != 2 || visited > 2 {
		t.Errorf("visited %d shards, differences %v", visited, seen)
	}
}
