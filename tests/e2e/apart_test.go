package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/tests/testimage"
)

// TestAppsKeptApart: two root apps of one pod share its PID namespace (appc
// E1), yet neither reaches the other through /proc/PID: not its root, its
// working directory, its environment nor its memory, and with CAP_SYS_PTRACE
// and CAP_SYS_ADMIN from the operator still not its root, working directory
// or memory; its own it still reaches. In the box's systemd, through the pod's transient unit.
func TestAppsKeptApart(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/apart", nil, "exit", "0"), &testimage.Options{Dirs: []string{"/d"}}))
	for _, caps := range [][]string{nil, {"--caps-retain=CAP_SYS_PTRACE,CAP_SYS_ADMIN,CAP_DAC_OVERRIDE,CAP_DAC_READ_SEARCH,CAP_KILL"}} {
		args := []string{"run", "--insecure-options=image", "--net=none",
			img, "--name=victim", "--exec=/testapp", "--", "sleep", "20s", "---",
			img, "--name=prober", "--exec=/testapp"}
		args = append(args, caps...)
		// What the domain could break: a rename across directories (the
		// first Landlock ABI denies it) and executing from the app's root.
		args = append(args, "--", "peer-roots", "sleep", "60s", "+", "caps",
			"+", "write", "/moved", "x", "+", "rename", "/moved", "/d/moved", "+", "stat", "/d/moved")
		r := p.runInBox(ctx, append(args, "---",
			img, "--name=killer", "--exec=/testapp", "--", "sleep", "3s", "+", "exit", "7")...)
		t.Logf("caps %v:\n%s", caps, r.stdout)
		if !strings.Contains(r.stdout, "peer pid=") {
			t.Fatalf("the prober found no other app: %s", r)
		}
		// With CAP_SYS_PTRACE the kernel (6.18) still lets a Landlock
		// domain read another's environ (and maps): only what reaches files
		// and memory is checked then.
		denied := []string{"root", "cwd", "mem"}
		if caps == nil {
			denied = append(denied, "environ")
		}
		for _, what := range denied {
			wantLines(t, r, "self "+what+" ok")
			if !strings.Contains(r.stdout, "peer "+what+" error=EACCES") {
				t.Errorf("another app's /proc/PID/%s: want EACCES: %s", what, r)
			}
		}
		wantLines(t, r, "rename /moved /d/moved ok")
		if caps != nil && !strings.Contains(r.stdout, "CAP_SYS_PTRACE") {
			t.Errorf("the prober lacks CAP_SYS_PTRACE: %s", r)
		}
		if r.code != 7 {
			t.Errorf("want exit code 7 (the killer app's): %s", r)
		}
	}
}
