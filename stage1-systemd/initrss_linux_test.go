//go:build !race

package stage1

// Not in a test binary built with -race: the pod's PID 1 is this test
// binary, and the race detector's instrumentation multiplies every
// process's private memory, so its figure would say nothing of the real
// one's (make race leaves the test out rather than skipping it).

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestInitRSS measures the memory of the pod's PID 1 while an app runs.
// What a pod really costs is PID 1's private memory (its heap and stacks):
// the target is under 4 MiB. Its resident set also counts pages of the acirun
// executable, shared with every other acirun process through the page cache
// (and, in a test binary built with cgo, of the C library): those are logged.
func TestInitRSS(t *testing.T) {
	// As on a host with 128 CPUs, whatever this one has: the Go runtime
	// sizes itself by the CPUs it may use, and PID 1 must not.
	t.Setenv("GOMAXPROCS", "128")
	p := newPod(t, []testApp{{name: "a", exec: []string{"/probe", "spawn:hostname", "sleep:2s"}}}, nil)
	wait, _ := startPod(t, p, "--net=none")
	b, err := os.ReadFile(filepath.Join(p.dir, "ppid1"))
	must(t, err)
	pid := strings.TrimSpace(string(b))
	// PID 1 sheds its start's memory shedDelay after starting the apps.
	time.Sleep(shedDelay + 500*time.Millisecond)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	must(t, err)
	rollup, err := os.ReadFile("/proc/" + pid + "/smaps_rollup")
	must(t, err)
	wait()
	field := func(text, name string) int {
		for _, l := range strings.Split(text, "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == name+":" {
				n, _ := strconv.Atoi(f[1])
				return n
			}
		}
		t.Fatalf("no %s in\n%s", name, text)
		return 0
	}
	private := field(string(rollup), "Private_Dirty") + field(string(rollup), "Private_Clean")
	t.Logf("PID 1: VmRSS %d KiB (RssAnon %d, RssFile %d), Pss %d KiB, private %d KiB",
		field(string(status), "VmRSS"), field(string(status), "RssAnon"), field(string(status), "RssFile"),
		field(string(rollup), "Pss"), private)
	if private == 0 || private > 4096 {
		t.Errorf("PID 1 private memory is %d KiB, want under 4096", private)
	}
}
