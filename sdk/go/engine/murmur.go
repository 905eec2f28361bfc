package engine

import "math/bits"

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

func (s *murmurState) mix(k uint32) {
	k *= murmurC1
	k = bits.RotateLeft32(k, 15)
	k *= murmurC2
	s.h ^= k
	s.h = bits.RotateLeft32(s.h, 13)
	s.h = s.h*5 + 0xe6546b64
}

// write adds p to the hashed data.
func (s *murmurState) write(p string) {
	s.total += len(p)
	i := 0
	if s.nTail > 0 { // finish the block begun by the previous piece
		for ; s.nTail < 4 && i < len(p); i++ {
			s.tail |= uint32(p[i]) << (8 * s.nTail)
			s.nTail++
		}
		if s.nTail < 4 {
			return
		}
		s.mix(s.tail)
		s.tail, s.nTail = 0, 0
	}
	for ; i+4 <= len(p); i += 4 {
		s.mix(uint32(p[i]) | uint32(p[i+1])<<8 | uint32(p[i+2])<<16 | uint32(p[i+3])<<24)
	}
	for ; i < len(p); i++ {
		s.tail |= uint32(p[i]) << (8 * s.nTail)
		s.nTail++
	}
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
