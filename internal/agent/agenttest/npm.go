package agenttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NPMPackage installs name@version with npm into the user's cache directory
// (once; later runs reuse it) and returns its node_modules directory. The
// test is skipped, loudly, only when npm itself is missing, and never in CI
// (CI set), where a missing npm fails it: CI must run every interop test.
func NPMPackage(t testing.TB, name, version string) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("npm is not on PATH, and CI is set: the test needs the npm package %s@%s; install Node.js and npm", name, version)
		}
		t.Logf("!!!!!!!! npm is not on PATH: SKIPPING a test that needs the npm package %s@%s. Install Node.js and npm to run it. !!!!!!!!", name, version)
		t.Skip("npm missing")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	prefix := filepath.Join(cache, "keyshift-test", "npm", name+"@"+version)
	modules := filepath.Join(prefix, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, name, "package.json")); err == nil {
		return modules
	}
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		t.Fatalf("npm cache dir: %v", err)
	}
	t.Logf("installing %s@%s with npm into %s", name, version, prefix)
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", prefix, name+"@"+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s@%s: %v\n%s", name, version, err, out)
	}
	return modules
}

// NPMBin returns the path of an installed npm package's binary: the one on
// PATH when there is one, else the package installed by NPMPackage.
func NPMBin(t testing.TB, name, version, bin string) string {
	t.Helper()
	if p, err := exec.LookPath(bin); err == nil {
		return p
	}
	p := filepath.Join(NPMPackage(t, name, version), ".bin", bin)
	if _, err := os.Stat(p); err != nil {
		t.Fatal(fmt.Errorf("npm package %s has no binary %s: %w", name, bin, err))
	}
	return p
}
