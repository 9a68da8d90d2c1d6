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
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ci       string
		wantCode int
		want     string
	}{
		{"", 0, "--- SKIP: TestNeedRoot"},
		{"true", 1, "--- FAIL: TestNeedRoot"},
	} {
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", exe, "-test.run=^TestNeedRoot$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run the child: %v", err)
		}
		if code != tc.wantCode || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "needs root (the reason)") {
			t.Errorf("CI=%q as nobody: exit %d, want %d with %q and the reason:\n%s", tc.ci, code, tc.wantCode, tc.want, out)
		}
	}
}
