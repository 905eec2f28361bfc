package services

import (
	"strings"
	"testing"

	"github.com/vanehq/vane/internal/keys"
)

func TestWellFormedAPIKey(t *testing.T) {
	for _, tc := range []struct {
		name, secret string
		want         bool
	}{
		{"issued", keys.Secret(APIKeyPrefix), true},
		{"too short", "vk_doesnotexist", false},
		{"too long", keys.Secret(APIKeyPrefix) + "x", false},
		{"other prefix", "xx_" + keys.Random(32), false},
		{"punctuation", APIKeyPrefix + strings.Repeat("a", 31) + "-", false},
		{"non-ASCII", APIKeyPrefix + strings.Repeat("a", 30) + "é", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := wellFormedAPIKey(tc.secret); got != tc.want {
				t.Errorf("wellFormedAPIKey(%q) = %v, want %v", tc.secret, got, tc.want)
			}
		})
	}
}
