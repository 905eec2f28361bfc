package vane

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly: the module needs nothing but the standard library.
func TestStandardLibraryOnly(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(p, "/")
		if strings.Contains(first, ".") && !strings.HasPrefix(p, "github.com/vanehq/vane/sdk/go") {
			t.Errorf("depends on %s", p)
		}
	}
}
