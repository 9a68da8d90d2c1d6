// Package cli holds end-to-end tests of the acirun command line: each test
// runs the real binary, built once per test run, the way a user would.
package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// acirunBin is the binary under test, built by TestMain.
var acirunBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "acirun-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	acirunBin = filepath.Join(dir, "acirun")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if err := testenv.BuildAcirun(root, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if d := testenv.CoverDir(); d != "" {
		// Every acirun the tests start inherits it (scripts/cover).
		os.Setenv("GOCOVERDIR", d)
	}
	return m.Run()
}

// result is what one acirun invocation did.
type result struct {
	stdout, stderr string
	code           int
}

// acirun runs the binary with args and returns its output and exit code.
func acirun(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(acirunBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run acirun %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// mustRun runs acirun and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := acirun(t, args...)
	if r.code != 0 {
		t.Fatalf("acirun %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// sh runs a shell command line (used for the plain unix tools: tar, gzip,
// sha512sum) in dir and returns its stdout.
func sh(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh %q: %v\n%s", script, err, stderr.String())
	}
	return string(out)
}
