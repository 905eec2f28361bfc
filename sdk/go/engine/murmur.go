package engine

import "math/bits"

// murmur3 computes MurmurHash3 x86_32 with seed 0 over the concatenation of parts, without
// building the concatenation (bucketing hashes salt + "." + value on every evaluation).
func murmur3(parts ...string) uint32 {
	const (
		c1 = 0xcc9e2d51
		c2 = 0x1b873593
	)
	var (
		h     uint32
		tail  [4]byte
		nTail int
		total int
	)
	mix := func(k uint32) {
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	for _, p := range parts {
		total += len(p)
		i := 0
		for nTail > 0 && nTail < 4 && i < len(p) { // finish a block begun by the previous part
			tail[nTail] = p[i]
			nTail++
			i++
		}
		if nTail == 4 {
			mix(uint32(tail[0]) | uint32(tail[1])<<8 | uint32(tail[2])<<16 | uint32(tail[3])<<24)
			nTail = 0
		}
		for ; i+4 <= len(p); i += 4 {
			mix(uint32(p[i]) | uint32(p[i+1])<<8 | uint32(p[i+2])<<16 | uint32(p[i+3])<<24)
		}
		for ; i < len(p); i++ {
			tail[nTail] = p[i]
			nTail++
		}
	}
	var k uint32
	switch nTail {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(total)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// BucketScale is the number of buckets: weights are thousandths of a percent.
const BucketScale = 100000

// Bucket places a value in [0, 100000) for a flag's salt: murmur3_x86_32(salt + "." + value) % 100000.
// SDKs in other languages must give the same answer (see testdata/bucket_vectors.json).
func Bucket(salt, value string) int {
	return int(murmur3(salt, ".", value) % BucketScale)
}
