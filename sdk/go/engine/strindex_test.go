package engine

import (
	"fmt"
	"testing"
)

// TestStrIndex compares strIndex with a map, below and above the size where it starts hashing,
// for strings that share their first 8 bytes, differ only in length or end in zero bytes.
func TestStrIndex(t *testing.T) {
	pool := []string{"", "a", "a\x00", "\x00", "FR", "user-123", "user-1234", "user-123\x00", "user-12",
		"organization-47", "organization-48", "ünïcode", "ünïcode-κλειδί", "12345678", "123456789"}
	probes := append([]string{"b", "user-124", "organization-4", "organization-470", "1234567", "ünïcod"}, pool...)
	for n := 0; n <= len(pool); n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var x strIndex
			want := map[string]int{}
			for i, s := range pool[:n] {
				x.add(s, i)
				if _, dup := want[s]; !dup {
					want[s] = i
				}
			}
			x.add(pool[0], 99) // a duplicate keeps its first index
			if n == 0 {
				want[pool[0]] = 99
			}
			if x.empty() != (len(want) == 0) {
				t.Errorf("empty() = %v with %d strings", x.empty(), len(want))
			}
			if (x.m != nil) != (len(want) > smallIndex) {
				t.Errorf("hashed = %v with %d strings, want %v", x.m != nil, len(want), len(want) > smallIndex)
			}
			for _, s := range probes {
				wi, wok := want[s]
				if i, ok := x.find(s); ok != wok || i != wi {
					t.Errorf("find(%q) = %d, %v, want %d, %v", s, i, ok, wi, wok)
				}
			}
		})
	}
}

func TestHead(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want uint64
	}{
		{"", 0}, {"a", 0x61}, {"ab", 0x6261}, {"abcdefgh", 0x6867666564636261}, {"abcdefghij", 0x6867666564636261},
	} {
		if got := head(tc.s); got != tc.want {
			t.Errorf("head(%q) = %#x, want %#x", tc.s, got, tc.want)
		}
	}
}

// TestListsOfEverySize evaluates targets, a segment's included and excluded keys and an `in` list
// of 1 to 20 entries, short enough to be scanned and long enough to be hashed: the first, the last
// and a missing entry each get the answer a list of any size gives.
func TestListsOfEverySize(t *testing.T) {
	for _, n := range []int{1, 2, smallIndex, smallIndex + 1, 20} {
		keys := make([]any, n)
		strs := make([]string, n)
		for i := range keys {
			strs[i] = fmt.Sprintf("user-%d", i*7919)
			keys[i] = strs[i]
		}
		others := make([]string, n)
		for i := range others {
			others[i] = fmt.Sprintf("other-%d", i)
		}
		segs := map[string]Segment{"listed": {Key: "listed", Included: strs, Excluded: others,
			Conditions: []Condition{{Attribute: "plan", Operator: OpEquals, Values: raw("pro")}}}}
		inList := boolFlag(Condition{Attribute: "id", Operator: OpIn, Values: raw(keys...)})
		targeted := boolFlag()
		targeted.Rules = nil
		targeted.Targets = []Target{{Variation: "true", Values: strs}, {Variation: "true", Values: []string{strs[0]}}}
		listed := boolFlag(Condition{Segment: "listed"})
		cases := []struct {
			name string
			flag Flag
			ctx  Context
			want int // variation index: 0 true, 1 false
		}{
			{"in, first", inList, Context{"id": strs[0]}, 0},
			{"in, last", inList, Context{"id": strs[n-1]}, 0},
			{"in, missing", inList, Context{"id": strs[n-1] + "0"}, 1},
			{"target, first", targeted, Context{"key": strs[0]}, 0},
			{"target, last", targeted, Context{"key": strs[n-1]}, 0},
			{"target, missing", targeted, Context{"key": "user-"}, 1},
			{"included", listed, Context{"key": strs[n-1]}, 0},
			{"excluded", listed, Context{"key": others[n-1], "plan": "pro"}, 1},
			{"neither, by condition", listed, Context{"key": "someone", "plan": "pro"}, 0},
			{"neither", listed, Context{"key": "someone"}, 1},
		}
		for _, tc := range cases {
			c := mustCompile(t, tc.flag, segs)
			if r := c.Evaluate(tc.ctx); r.Variation != tc.want {
				t.Errorf("%d entries, %s: Evaluate(%v) = %+v, want variation %d", n, tc.name, tc.ctx, r, tc.want)
			}
		}
	}
}
