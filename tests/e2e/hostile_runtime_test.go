package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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
