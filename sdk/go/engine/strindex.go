package engine

import (
	"encoding/binary"
	"unsafe"
)

// strIndex finds strings (targets' and segments' keys, the values of equals and in): up to
// smallIndex of them are scanned, comparing a length and the first 8 bytes before any string,
// which beats hashing; more are hashed.
type strIndex struct {
	small []strEntry
	m     map[string]int
}

type strEntry struct {
	head uint64 // the first 8 bytes (fewer for a shorter string, the rest zero)
	s    string
	idx  int
}

// smallIndex is the size up to which a strIndex scans instead of hashing.
const smallIndex = 8

// head is the first 8 bytes of s as a number, zero-filled after a shorter s.
func head(s string) uint64 {
	if len(s) >= 8 {
		return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8))
	}
	var h uint64
	for i := len(s) - 1; i >= 0; i-- {
		h = h<<8 | uint64(s[i])
	}
	return h
}

// add maps s to i, unless s is already there (the first mapping wins).
func (x *strIndex) add(s string, i int) {
	if _, dup := x.find(s); dup {
		return
	}
	if x.m == nil && len(x.small) < smallIndex {
		x.small = append(x.small, strEntry{head: head(s), s: s, idx: i})
		return
	}
	if x.m == nil {
		x.m = make(map[string]int, 2*smallIndex)
		for _, e := range x.small {
			x.m[e.s] = e.idx
		}
		x.small = nil
	}
	x.m[s] = i
}

func (x *strIndex) find(s string) (int, bool) {
	if x.m != nil {
		i, ok := x.m[s]
		return i, ok
	}
	if len(x.small) == 0 {
		return 0, false
	}
	h := head(s)
	for i := range x.small {
		e := &x.small[i]
		if e.head == h && len(e.s) == len(s) && (len(s) <= 8 || e.s[8:] == s[8:]) {
			return e.idx, true
		}
	}
	return 0, false
}

func (x *strIndex) empty() bool { return x.m == nil && len(x.small) == 0 }

func (x *strIndex) has(s string) bool {
	_, ok := x.find(s)
	return ok
}

// set indexes keys (for membership only).
func set(keys []string) strIndex {
	var x strIndex
	if len(keys) > smallIndex {
		x.m = make(map[string]int, len(keys))
	} else if len(keys) > 0 {
		x.small = make([]strEntry, 0, len(keys))
	}
	for _, k := range keys {
		x.add(k, 0)
	}
	return x
}
