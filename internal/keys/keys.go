// Package keys validates the human-chosen keys of Vane (slugs, project/environment/flag keys) and
// makes and hashes the machine-generated secrets (API keys, SDK keys, refresh and invitation tokens).
package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxLen is the longest key Vane accepts.
const MaxLen = 64

// Valid reports whether k is a key: 1–64 of lowercase letters, digits, '-' and '_', starting with a
// letter or digit.
func Valid(k string) bool {
	if len(k) == 0 || len(k) > MaxLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Problem explains why k is not a valid key, or returns "" when it is.
func Problem(k string) string {
	switch {
	case k == "":
		return "is required"
	case len(k) > MaxLen:
		return "must be at most 64 characters"
	case !Valid(k):
		return "must be lowercase letters, digits, '-' or '_', starting with a letter or digit"
	}
	return ""
}

// letters spells out the Latin letters that do not decompose into a base letter and marks.
var letters = map[rune]string{
	'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'đ': "d", 'ð': "d", 'þ': "th", 'ł': "l", 'ı': "i", 'ħ': "h",
	'ŋ': "ng", 'ĸ': "k", 'ŀ': "l", 'ſ': "s", 'ŧ': "t",
}

// FromName derives a key from a human name: "New Checkout Flow!" → "new-checkout-flow", and
// accented letters lose their accents ("Crème brûlée" → "creme-brulee"). Anything else that is not
// a letter or digit separates words.
func FromName(name string) string {
	var b strings.Builder
	dash := false
	word := func(s string) {
		b.WriteString(s)
		dash = false
	}
	for _, r := range norm.NFD.String(strings.ToLower(name)) {
		if b.Len() >= MaxLen {
			break
		}
		switch {
		case unicode.Is(unicode.Mn, r): // a combining accent of the letter before
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			word(string(r))
		case letters[r] != "":
			word(letters[r])
		case r == '_' && b.Len() > 0:
			word("_")
		default:
			if b.Len() > 0 && !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	k := strings.TrimRight(b.String(), "-_")
	if len(k) > MaxLen {
		k = strings.TrimRight(k[:MaxLen], "-_")
	}
	return k
}

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Random returns n characters of base62 from the system's secure random source.
func Random(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n*2)
	i := 0
	for i < n {
		if _, err := rand.Read(buf); err != nil {
			panic("keys: system random source failed: " + err.Error())
		}
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62: reject to keep the distribution uniform
				continue
			}
			out[i] = alphabet[int(b)%62]
			i++
			if i == n {
				break
			}
		}
	}
	return string(out)
}

// Secret makes a new secret with a recognisable prefix ("vk_", "srv-", …) and 32 random characters.
func Secret(prefix string) string { return prefix + Random(32) }

// Hash is the stored form of a high-entropy secret (a plain SHA-256 is enough for 190 random bits).
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Mask shows a secret's prefix and last four characters only: "srv-…wxyz".
func Mask(secret string) string {
	if len(secret) <= 8 {
		return "…"
	}
	p := strings.IndexAny(secret, "-_")
	if p < 0 || p > 4 {
		p = 0
	}
	return secret[:p+1] + "…" + secret[len(secret)-4:]
}
