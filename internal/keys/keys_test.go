package keys

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	cases := map[string]bool{
		"a": true, "new-checkout-flow": true, "a_b": true, "9lives": true, strings.Repeat("a", 64): true,
		"": false, "-a": false, "_a": false, "A": false, "a b": false, "a.b": false, "é": false, strings.Repeat("a", 65): false,
	}
	for k, want := range cases {
		if got := Valid(k); got != want {
			t.Errorf("Valid(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestFromName(t *testing.T) {
	cases := map[string]string{
		"New Checkout Flow":       "new-checkout-flow",
		"  Fay's  Flags!! ":       "fay-s-flags",
		"snake_case name":         "snake_case-name",
		"Ünïcode only ÆØÅ":        "unicode-only-aeoa",
		"Crème brûlée":            "creme-brulee",
		"Straße à São Paulo":      "strasse-a-sao-paulo",
		"Łódź — Kraków":           "lodz-krakow",
		"日本語 launch":              "launch",
		"!!!":                     "",
		strings.Repeat("ab ", 40): strings.TrimRight(strings.Repeat("ab-", 22)[:64], "-"),
	}
	for in, want := range cases {
		got := FromName(in)
		if got != want {
			t.Errorf("FromName(%q) = %q, want %q", in, got, want)
		}
		if got != "" && !Valid(got) {
			t.Errorf("FromName(%q) = %q, which is not a valid key", in, got)
		}
	}
}

func FuzzFromName(f *testing.F) {
	for _, s := range []string{"New Checkout Flow", "", "___", "a-_-b", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if k := FromName(name); k != "" && !Valid(k) {
			t.Errorf("FromName(%q) = %q, not a valid key", name, k)
		}
	})
}

func TestSecretsAndMask(t *testing.T) {
	a, b := Secret("srv-"), Secret("srv-")
	if a == b || len(a) != 36 || !strings.HasPrefix(a, "srv-") {
		t.Errorf("Secret = %q, %q", a, b)
	}
	if Hash(a) == Hash(b) || len(Hash(a)) != 64 {
		t.Error("Hash is not a distinct sha256 hex")
	}
	if m := Mask("srv-abcdefghijklmnopqrstuvwxyz123456"); m != "srv-…3456" {
		t.Errorf("Mask = %q", m)
	}
	if m := Mask("vk_abcdefghijkl"); m != "vk_…ijkl" {
		t.Errorf("Mask = %q", m)
	}
}
