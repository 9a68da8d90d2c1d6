// Package testenv is what tests of several packages ask of the machine
// they run on, asked one way: a test that needs root or a program skips
// where it cannot run, except with CI=true, where tests run as root with
// every program scripts/setup installs and a skip would hide a test that
// should have run (tests/README.md).
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// NeedRoot skips t unless the process is root, saying why the test needs
// it; with CI=true it fails t instead.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	Unmet(t, "needs root ("+why+")", "CI runs as root")
}

// NeedTool returns the path of the program name, found as exec.LookPath
// finds it; where it is missing it skips t, saying why the test needs it,
// and with CI=true fails t instead.
func NeedTool(t testing.TB, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	Unmet(t, fmt.Sprintf("needs %s (%s): %v", name, why, err), "CI has every program scripts/setup installs")
	return ""
}

// GoBuild builds the package pkg static (CGO_ENABLED=0) and with
// -trimpath into the file out, running the go command in dir ("" for the
// current directory) so that a relative pkg is of the module there: how
// the tests build acirun, testapp and tools to run them as a user would.
// The error holds the go command's output.
func GoBuild(dir, out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// Unmet skips t for a need of the machine that is not met (root, a
// program, a file system, the shared test data beside the repository), or
// with CI=true fails it, saying why CI should have met it: the one way a
// test gives up on the machine it runs on.
func Unmet(t testing.TB, need, inCI string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, and CI=true forbids skipping: %s", need, inCI)
	}
	t.Skip(need)
}
