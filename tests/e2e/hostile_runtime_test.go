package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/tests/testimage"
	"github.com/acirun/acirun/unitgen"
)

// TestPodTasksMax: a pod whose app forks 10000 processes is stopped at the
// unit's TasksMax (unitgen.TasksMax, shown by systemctl show): fork fails
// with EAGAIN once the unit's tasks (the supervisor's and the app's
// threads, and the forks) reach it, the pod goes on, and its processes are
// gone once it is stopped. The bound is the pod's own, whatever the host's
// DefaultTasksMax.
func TestPodTasksMax(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/forks", nil, "forks", "10000", "+", "sleep", "1h"), nil))
	_, unit, _ := p.runDetached(ctx, "--insecure-options=image", "--net=none", img)
	if st := p.show(ctx, unit, "TasksMax"); st["TasksMax"] != strconv.Itoa(unitgen.TasksMax) {
		t.Errorf("systemctl show %s: %v, want TasksMax=%d", unit, st, unitgen.TasksMax)
	}
	// A fork costs about a millisecond of system time here; on a loaded
	// machine the bomb takes a while to reach the bound.
	var journal string
	start := time.Now()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		journal, _ = p.b.Journal(ctx, unit)
		if strings.Contains(journal, "killed=") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app did not report its forks in 3 minutes:\n%s", journal)
		}
	}
	t.Logf("forks reported after %v", time.Since(start))
	m := regexp.MustCompile(`forked=(\d+)`).FindStringSubmatch(journal)
	if m == nil {
		t.Fatalf("no forked= in the journal:\n%s", journal)
	}
	n, _ := strconv.Atoi(m[1])
	t.Logf("forked %d processes", n)
	// The supervisor and the app have a few dozen threads between them.
	if n > unitgen.TasksMax || n < unitgen.TasksMax-100 {
		t.Errorf("the app forked %d processes, want fewer than TasksMax=%d by the pod's threads only", n, unitgen.TasksMax)
	}
	if !strings.Contains(journal, "fork error=EAGAIN") {
		t.Errorf("the forks did not end with EAGAIN:\n%s", journal)
	}
	if st := p.show(ctx, unit, "ActiveState"); st["ActiveState"] != "active" {
		t.Errorf("the pod after its fork bomb: %v, want it still active", st)
	}
}

// TestRunSymlinkedSystemPaths: an image whose rootfs makes a path that
// stage1 mounts or writes (/proc, /dev, /sys, /etc/hosts,
// /etc/resolv.conf) or that apps write to (/tmp) a symlink out of the
// root, to a directory or file of the host (absolute, and climbing with
// ../), one expectation each. /proc, /dev and /sys are refused before the
// app runs, naming the path; /etc/hosts and /etc/resolv.conf are the pod's
// own (the app reads what --hosts-entry and --dns asked for, and its
// writes stay in the pod); the image's /tmp stays the image's symlink,
// resolved inside the root (here a loop: the app's write fails). In every
// case nothing is written behind the symlink on the host, and nothing of
// the pod is left.
func TestRunSymlinkedSystemPaths(t *testing.T) {
	h := podHost(t)
	pod := []string{"--net=none", "--hosts-entry=10.9.9.9=hosts-marker", "--dns=10.9.9.8"}
	ownFiles := []string{"10.9.9.9\thosts-marker", "nameserver 10.9.9.8"}
	for _, tc := range []struct {
		path   string
		toFile bool     // the symlink leads to a host file, not a directory
		want   []string // in the app's output; nil: refused, naming the path
	}{
		{path: "/proc"},
		{path: "/dev"},
		{path: "/sys"},
		{path: "/tmp", want: append([]string{"write /tmp/x error=ELOOP open /tmp/x: too many levels of symbolic links"}, ownFiles...)},
		{path: "/etc/hosts", toFile: true, want: append([]string{"write /etc/hosts ok"}, ownFiles...)},
		{path: "/etc/resolv.conf", toFile: true, want: append([]string{"write /etc/resolv.conf ok"}, ownFiles...)},
	} {
		t.Run(strings.TrimPrefix(strings.ReplaceAll(tc.path, "/", "_"), "_"), func(t *testing.T) {
			sentinel := t.TempDir()
			if err := os.WriteFile(filepath.Join(sentinel, "file"), []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			target := sentinel
			if tc.toFile {
				target = filepath.Join(sentinel, "file")
			}
			args := []string{"cat", "/etc/hosts", "+", "cat", "/etc/resolv.conf", "+", "write", tc.path + "/x", "y"}
			if tc.toFile {
				args = append(args, "+", "write", tc.path, "y")
			}
			for _, link := range []string{target, "../../../../../../.." + target} {
				img := podImage(t, podManifest(t, "example.com/hostile-system", nil, args...),
					&testimage.Options{Symlinks: map[string]string{tc.path: link}})
				r := h.pod(append(pod, img)...)
				if tc.want == nil {
					if want := "mount point " + tc.path + " (symlinks are refused here)"; r.code != 254 || !strings.Contains(r.stderr, want) || r.stdout != "" {
						t.Errorf("%s -> %s: want exit 254 saying %q, and the app not run: %s", tc.path, link, want, r)
					}
				} else {
					wantExit(t, r, 0)
					wantLines(t, r, tc.want...)
				}
				if b, _ := os.ReadFile(filepath.Join(sentinel, "file")); string(b) != "keep" {
					t.Errorf("%s -> %s: the host file behind the symlink changed: %q", tc.path, link, b)
				}
				if ents, _ := os.ReadDir(sentinel); len(ents) != 1 {
					t.Errorf("%s -> %s: the pod wrote into the host directory behind the symlink: %v", tc.path, link, ents)
				}
			}
		})
	}
}
