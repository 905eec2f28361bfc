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
