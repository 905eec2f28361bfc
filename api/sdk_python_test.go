package api_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPythonSDK installs sdk/python into a fresh venv made from Debian's python (system site packages:
// setuptools and wheel, nothing from the package index) and runs its unittest suite against a listening
// server seeded by newRemoteFixture. Without /usr/bin/python3 and its venv module it skips, unless
// VANE_REQUIRE_PYTHON=1 (CI) makes that a failure.
func TestPythonSDK(t *testing.T) {
	t.Parallel()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import venv, ensurepip").Run(); err != nil {
		if os.Getenv("VANE_REQUIRE_PYTHON") != "" {
			t.Fatalf("%s with venv is needed (apt-get install python3-venv): %v", python, err)
		}
		t.Skipf("%s with venv missing: %v", python, err)
	}
	dir, _ := filepath.Abs("../sdk/python")
	venv := filepath.Join(t.TempDir(), "venv")
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "PIP_NO_INDEX=1", "PIP_DISABLE_PIP_VERSION_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run(python, "-m", "venv", "--system-site-packages", venv)
	// a copy: pip builds in the source tree and must not leave build/ or *.egg-info in the checkout
	src := filepath.Join(t.TempDir(), "python")
	run("cp", "-r", dir, src)
	run(filepath.Join(venv, "bin", "pip"), "install", "--quiet", "--no-build-isolation", src)

	f := newRemoteFixture(t)
	// Run from elsewhere so that `import vane` is the installed package, not the source directory.
	py := filepath.Join(venv, "bin", "python")
	where, err := exec.Command(py, "-c", "import vane; print(vane.__file__)").Output()
	if err != nil || !strings.Contains(string(where), "site-packages") {
		t.Fatalf("vane is not the installed package: %s %v", where, err)
	}
	cmd := exec.Command(py, "-m", "unittest", "discover", "-v", "-s", filepath.Join(src, "tests"), "-t", filepath.Join(src, "tests"))
	cmd.Dir = t.TempDir()
	cmd.Env = append(f.env(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the Python SDK's tests failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
