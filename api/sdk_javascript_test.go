package api_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestJavaScriptSDK runs sdk/js's tests (node --test) against a listening server seeded by
// newRemoteFixture. It needs node and the built package (`make test` runs `make sdk-js`: npm ci and
// tsc); VANE_REQUIRE_JS=1 turns their absence into a failure, which CI sets.
func TestJavaScriptSDK(t *testing.T) {
	t.Parallel()
	dir, _ := filepath.Abs("../sdk/js")
	node := nodeOrSkip(t, filepath.Join(dir, "dist", "esm", "index.js"), "run make sdk-js")
	f := newRemoteFixture(t)
	cmd := exec.Command(node, "--test", "--test-concurrency=1", "--test-reporter=spec", "test/") // one file at a time: a test changes a flag
	cmd.Dir = dir
	cmd.Env = f.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the JavaScript SDK's tests failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// nodeOrSkip returns node's path when it and the file a test needs exist; otherwise it skips the test,
// or fails it under VANE_REQUIRE_JS=1 (CI), saying how to get the file.
func nodeOrSkip(t *testing.T, need, how string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(need); err != nil || statErr != nil {
		if os.Getenv("VANE_REQUIRE_JS") != "" {
			t.Fatalf("node or %s missing (%s): %v %v", need, how, err, statErr)
		}
		t.Skipf("node or %s missing; make test provides it", need)
	}
	return node
}
