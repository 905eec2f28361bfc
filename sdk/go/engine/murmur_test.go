package engine

import (
	"encoding/json"
	"os"
	"testing"
)

func TestMurmur3KnownVectors(t *testing.T) {
	cases := map[string]uint32{
		"":      0,
		"hello": 613153351,
		"foo":   4138058784,
		"The quick brown fox jumps over the lazy dog": 776992547,
	}
	for in, want := range cases {
		if got := murmur3(in); got != want {
			t.Errorf("murmur3(%q) = %d, want %d", in, got, want)
		}
	}
	// Hashing in parts is hashing the concatenation, whatever the split.
	s := "new-checkout-flow.user-123456789"
	for i := 0; i <= len(s); i++ {
		for j := i; j <= len(s); j++ {
			if got, want := murmur3(s[:i], s[i:j], s[j:]), murmur3(s); got != want {
				t.Fatalf("murmur3 split at %d,%d = %d, want %d", i, j, got, want)
			}
		}
	}
}

// TestBucketGoldenVectors pins bucket values so SDKs in other languages can check themselves
// against testdata/bucket_vectors.json. Regenerate with VANE_WRITE_GOLDEN=1 only on purpose: a
// change here reshuffles every rollout of every user.
func TestBucketGoldenVectors(t *testing.T) {
	type vector struct {
		Salt   string `json:"salt"`
		Value  string `json:"value"`
		Bucket int    `json:"bucket"`
	}
	path := "testdata/bucket_vectors.json"
	if os.Getenv("VANE_WRITE_GOLDEN") != "" {
		var vs []vector
		for _, salt := range []string{"new-checkout-flow", "dark-mode", "bulk_export", "ünïcode-salt", ""} {
			for _, value := range []string{"user-1", "user-2", "user-123", "42", "47", "ada@example.com", "a", "日本"} {
				vs = append(vs, vector{salt, value, Bucket(salt, value)})
			}
		}
		b, _ := json.MarshalIndent(vs, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil || len(vs) < 30 {
		t.Fatalf("golden vectors unreadable or too few: %v", err)
	}
	for _, v := range vs {
		if got := Bucket(v.Salt, v.Value); got != v.Bucket {
			t.Errorf("Bucket(%q, %q) = %d, want %d", v.Salt, v.Value, got, v.Bucket)
		}
	}
}
