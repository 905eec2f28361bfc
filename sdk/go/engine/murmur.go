package engine

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// murmurState is MurmurHash3 x86_32 (seed 0) over data written in pieces, so a flag hashes
// salt + "." once and bucketing adds only the value, without building the concatenation.
type murmurState struct {
	h     uint32
	tail  uint32 // the bytes of an unfinished block, little endian
	nTail int
	total int
}

const (
	murmurC1 = 0xcc9e2d51
	murmurC2 = 0x1b873593
)

func murmurMix(h, k uint32) uint32 {
	k *= murmurC1
	k = bits.RotateLeft32(k, 15)
	k *= murmurC2
	h ^= k
	h = bits.RotateLeft32(h, 13)
	return h*5 + 0xe6546b64
}

// write adds p to the hashed data, four bytes at a time even when the data before it left an
// unfinished block (its bytes are carried in front of each word of p).
func (s *murmurState) write(p string) {
	s.h, s.tail, s.nTail = murmurWrite(s.h, s.tail, s.nTail, p)
	s.total += len(p)
}

func murmurWrite(h, t uint32, n int, p string) (uint32, uint32, int) {
	b := unsafe.Slice(unsafe.StringData(p), len(p))
	shift := uint(8 * n) // 0–24; a shift by 32 yields 0
	i := 0
	for ; i+4 <= len(b); i += 4 {
		w := binary.LittleEndian.Uint32(b[i:])
		h = murmurMix(h, t|w<<shift)
		t = w >> (32 - shift)
	}
	if i == len(b) {
		return h, t, n
	}
	// Fewer than 4 bytes are left: carried in front of them, they finish a block or not.
	var w uint32
	for j := len(b) - 1; j >= i; j-- {
		w = w<<8 | uint32(b[j])
	}
	t |= w << shift
	n += len(b) - i
	if n >= 4 {
		h = murmurMix(h, t)
		t, n = w>>(32-shift), n-4
	}
	return h, t, n
}

// sum finishes the hash (s is a copy: the state it came from can go on being written).
func (s murmurState) sum() uint32 {
	h := s.h
	if s.nTail > 0 {
		k := s.tail * murmurC1
		k = bits.RotateLeft32(k, 15)
		k *= murmurC2
		h ^= k
	}
	h ^= uint32(s.total)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// bucket is Bucket for the salt s was given (s holds salt + ".").
func (s murmurState) bucket(value string) int {
	s.write(value)
	return int(s.sum() % BucketScale)
}

// murmur3 computes MurmurHash3 x86_32 with seed 0 over the concatenation of parts.
func murmur3(parts ...string) uint32 {
	var s murmurState
	for _, p := range parts {
		s.write(p)
	}
	return s.sum()
}

// BucketScale is the number of buckets: weights are thousandths of a percent.
const BucketScale = 100000

// Bucket places a value in [0, 100000) for a flag's salt: murmur3_x86_32(salt + "." + value) % 100000.
// SDKs in other languages must give the same answer (see testdata/bucket_vectors.json).
func Bucket(salt, value string) int {
	var s murmurState
	s.write(salt)
	s.write(".")
	return s.bucket(value)
}
