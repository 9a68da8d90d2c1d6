// Package testenv is what tests of several packages ask of the machine
// they run on, asked one way: a test that needs root or a program skips
// where it cannot run, except with CI=true, where tests run as root with
// every program scripts/setup installs and a skip would hide a test that
// should have run (tests/README.md).
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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

// CoverVar names the environment variable that asks the end-to-end suites
// for coverage of what they run (scripts/cover sets it): the absolute path
// of a directory where every acirun, acirun-fetch, acirun-stage1 and
// acirun-pod process they start writes its coverage data, as GOCOVERDIR.
// Unset, the suites build and run the binaries exactly as a user would.
const CoverVar = "ACIRUN_COVERDIR"

// CoverDir is the directory CoverVar names, or "" when coverage is not
// asked for.
func CoverDir() string {
	return os.Getenv(CoverVar)
}

// CoverPkg is the -coverpkg pattern of coverage builds: every package of
// the module, so that a binary counts what it runs of each.
const CoverPkg = Module + "/..."

// BuildAcirun builds acirun, and acirun-fetch, acirun-stage1 and
// acirun-pod beside it where acirun finds them, into the directory dir, as
// GoBuild does from the module root repo, with the build tags given
// (acirun_crashpoints: the crash points of a pod's start, for
// TestKillAtEveryStartStep only).
// When CoverDir is set they are built with -cover over CoverPkg: the caller
// then runs them with GOCOVERDIR (CoverEnv) so that each process writes its
// counters there when it exits. A process that execs another program or is
// killed by a signal writes none (Go writes them at exit).
func BuildAcirun(repo, dir string, tags ...string) error {
	for _, pkg := range []string{"acirun", "acirun-fetch", "acirun-stage1", "acirun-pod"} {
		if err := BuildCommand(repo, filepath.Join(dir, pkg), pkg, tags...); err != nil {
			return err
		}
	}
	return nil
}

// BuildCommand builds one of acirun's binaries, cmd/NAME, into the file
// out, as BuildAcirun builds it: for a package's tests that run one of
// them (stage0/host's run acirun-fetch), with coverage when CoverDir is
// set.
func BuildCommand(repo, out, name string, tags ...string) error {
	var flags []string
	if len(tags) > 0 {
		flags = []string{"-tags=" + strings.Join(tags, ",")}
	}
	if d := CoverDir(); d != "" {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || !filepath.IsAbs(d) {
			return fmt.Errorf("%s=%s: not the absolute path of a directory (scripts/cover makes it)", CoverVar, d)
		}
		flags = append(flags, "-cover", "-coverpkg="+CoverPkg)
	}
	return goBuild(repo, out, "./cmd/"+name, flags...)
}

// CoverEnv is the environment entry that makes a coverage build of acirun
// write its counters into CoverDir, or "" when coverage is not asked for.
// A coverage build run without it warns on its standard error.
func CoverEnv() string {
	if d := CoverDir(); d != "" {
		return "GOCOVERDIR=" + d
	}
	return ""
}

// Module is the import path of acirun's module.
const Module = "github.com/acirun/acirun"

// Deps lists the packages pkg (a pattern of the go command, relative to the
// test's package directory: "." for its own) depends on, itself among
// them, as `go list -deps` does for its build: how a test holds a package
// to the brief's map of what may import what.
func Deps(t testing.TB, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatalf("go list -deps %s listed nothing", pkg)
	}
	return deps
}

// DepsAmong is Deps of pkg reduced to the packages that are one of exact
// or under one of prefixes: what a test of what a binary must not link
// reports, each one it finds.
func DepsAmong(t testing.TB, pkg string, exact, prefixes []string) []string {
	t.Helper()
	var found []string
	for _, d := range Deps(t, pkg) {
		if slices.Contains(exact, d) || slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(d, p) }) {
			found = append(found, d)
		}
	}
	return found
}

// OwnDeps is Deps of pkg reduced to the module's packages, without
// Module's prefix ("internal/flock"), pkg's own included.
func OwnDeps(t testing.TB, pkg string) []string {
	t.Helper()
	var own []string
	for _, d := range Deps(t, pkg) {
		if rest, ok := strings.CutPrefix(d, Module+"/"); ok {
			own = append(own, rest)
		}
	}
	return own
}

// GoBuild builds the package pkg static (CGO_ENABLED=0) and with
// -trimpath into the file out, running the go command in dir ("" for the
// current directory) so that a relative pkg is of the module there: how
// the tests build acirun, testapp and tools to run them as a user would.
// The error holds the go command's output.
func GoBuild(dir, out, pkg string) error {
	return goBuild(dir, out, pkg)
}

func goBuild(dir, out, pkg string, flags ...string) error {
	args := append(append([]string{"build", "-trimpath"}, flags...), "-o", out, pkg)
	cmd := exec.Command("go", args...)
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

// UnmetPart is Unmet for a part of a test that the machine cannot run (user
// xattrs on a file system without them): the test goes on without it,
// logging what is not checked, or with CI=true it fails, saying why CI
// should have met the need. A part left out quietly would pass unseen.
func UnmetPart(t testing.TB, need, inCI string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Errorf("%s, and CI=true forbids leaving it unchecked: %s", need, inCI)
		return
	}
	t.Logf("not checked: %s", need)
}

// KilledBySIGKILL reports whether err, from running a child, says that the
// child was killed by SIGKILL: what a crash-point test's child must end
// with, and nothing else (an exit, even 137, means it was not killed).
func KilledBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// RunKilled runs cmd, a child that kills itself at a crash point, with its
// output captured, and fails t unless SIGKILL ended it: "the WHAT was not
// killed at STEP", with the child's error and output.
func RunKilled(t testing.TB, cmd *exec.Cmd, what, step string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); !KilledBySIGKILL(err) {
		t.Fatalf("the %s was not killed at %s: %v: %s", what, step, err, out.String())
	}
}

// OpenFDs counts the test process's open descriptors, for a test that
// checks that what it calls leaves none open.
func OpenFDs(t testing.TB) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}
