package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// TestDemo runs the README's first command, make demo, twice into a fresh
// directory, as a new user would: the pod says hello both times, the second
// run stores no second copy of the image (the demo build is reproducible),
// the host's run-time state stays under the demo directory, and the output
// ends with the commands that look at the pod and run it again, which work.
func TestDemo(t *testing.T) {
	testenv.NeedRoot(t, "make demo runs a pod")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	demo := t.TempDir()
	// The key the demo makes must not be the user's: GNUPGHOME is the demo's.
	var out string
	for i := 0; i < 2; i++ {
		cmd := exec.Command("make", "--no-print-directory", "demo", "DEMO_DIR="+demo)
		cmd.Dir = root
		b, err := cmd.CombinedOutput()
		out = string(b)
		if err != nil {
			t.Fatalf("make demo (run %d): %v\n%s", i+1, err, out)
		}
		for _, want := range []string{"Hello from hello, an app in an acirun pod!", "demo: the pod exited with status 0", "demo: the pod was "} {
			if !strings.Contains(out, want) {
				t.Fatalf("make demo (run %d) does not say %q:\n%s", i+1, want, out)
			}
		}
	}
	wrapper := filepath.Join(demo, "acirun")
	for _, want := range []string{wrapper + " list", wrapper + " image list", wrapper + " run --net=none " + filepath.Join(demo, "hello.aci")} {
		if !strings.Contains(out, want) {
			t.Errorf("make demo does not show %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(demo, "run", "metadata", "hmac.key")); err != nil {
		t.Errorf("the metadata key is not under the demo directory: %v", err)
	}

	run := func(args ...string) string {
		t.Helper()
		b, err := exec.Command(wrapper, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", wrapper, strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	images := run("image", "list", "--format=json")
	if n := strings.Count(images, `"id"`); n != 1 {
		t.Errorf("after two make demo runs the store holds %d images, want 1:\n%s", n, images)
	}
	if pods := run("list"); strings.Count(pods, "exited") != 2 {
		t.Errorf("after two make demo runs, list shows:\n%s\nwant two exited pods", pods)
	}
	if again := run("run", "--net=none", filepath.Join(demo, "hello.aci")); !strings.Contains(again, "Hello from hello") {
		t.Errorf("the demo's run-again command says:\n%s", again)
	}
}
