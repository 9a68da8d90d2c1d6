// Package testenv is what tests of several packages ask of the machine
// they run on, asked one way: a test that needs root skips where it cannot
// run, except with CI=true, where tests run as root and a skip would hide
// a test that should have run (tests/README.md).
package testenv

import (
	"os"
	"testing"
)

// NeedRoot skips t unless the process is root, saying why the test needs
// it; with CI=true it fails t instead.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("needs root (%s), and CI=true forbids skipping: CI runs as root", why)
	}
	t.Skipf("needs root (%s)", why)
}
