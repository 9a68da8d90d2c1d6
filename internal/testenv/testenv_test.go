package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNeedRoot runs NeedRoot in a child test as a non-root user, with and
// without CI=true: skipped without, failed with; as root it returns.
func TestNeedRoot(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		NeedRoot(t, "the reason")
		return
	}
	NeedRoot(t, "to run the child as nobody") // and, as root, returns
	checkChild(t, "TestNeedRoot", []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, "needs root (the reason)")
}

// TestNeedTool runs NeedTool in a child test for a program that is not
// installed, with and without CI=true: skipped without, failed with; a
// program that is there is found.
func TestNeedTool(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		NeedTool(t, "acirun-testenv-no-such-program", "the reason")
		return
	}
	want, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	if got := NeedTool(t, "sh", "to find it"); got != want {
		t.Errorf("NeedTool(sh) = %q, want %q", got, want)
	}
	checkChild(t, "TestNeedTool", nil, `needs acirun-testenv-no-such-program (the reason): exec: "acirun-testenv-no-such-program"`)
}

// TestUnmetPart runs UnmetPart in a child test, without and with CI=true:
// it passes, logging what was not checked, without; it fails with.
func TestUnmetPart(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		UnmetPart(t, "the part's need", "the reason CI has it")
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ci, want string
		wantCode int
	}{
		{"", "not checked: the part's need", 0},
		{"true", "the part's need, and CI=true forbids leaving it unchecked: the reason CI has it", 1},
	} {
		cmd := exec.Command(exe, "-test.run=^TestUnmetPart$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run the child: %v", err)
		}
		if code != tc.wantCode || !strings.Contains(string(out), tc.want) {
			t.Errorf("CI=%q: exit %d, want %d with %q:\n%s", tc.ci, code, tc.wantCode, tc.want, out)
		}
	}
}

// checkChild runs test in a child of this test binary (behind the command
// prefix, if any), with TESTENV_CHILD=1, without and with CI=true: it must
// be skipped, then failed, with the message want both times.
func checkChild(t *testing.T, test string, prefix []string, want string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ci       string
		wantCode int
		want     string
	}{
		{"", 0, "--- SKIP: " + test},
		{"true", 1, "--- FAIL: " + test},
	} {
		argv := append(append([]string{}, prefix...), exe, "-test.run=^"+test+"$", "-test.v")
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run the child: %v", err)
		}
		if code != tc.wantCode || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), want) {
			t.Errorf("CI=%q: exit %d, want %d with %q and %q:\n%s", tc.ci, code, tc.wantCode, tc.want, want, out)
		}
	}
}

// TestKilledBySIGKILL: only a child that SIGKILL ended counts as killed;
// an exit with 137, another signal, a success or a start failure do not.
func TestKilledBySIGKILL(t *testing.T) {
	for _, c := range []struct {
		script string
		want   bool
	}{
		{"kill -KILL $$", true},
		{"exit 137", false},
		{"kill -TERM $$", false},
		{"true", false},
	} {
		err := exec.Command("/bin/sh", "-c", c.script).Run()
		if got := KilledBySIGKILL(err); got != c.want {
			t.Errorf("%q: KilledBySIGKILL(%v) = %v, want %v", c.script, err, got, c.want)
		}
	}
	if KilledBySIGKILL(exec.Command("/nonexistent/program").Run()) {
		t.Error("a child that never started counts as killed")
	}
}
