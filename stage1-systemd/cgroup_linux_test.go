package stage1

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/mountinfo"
	"github.com/acirun/acirun/internal/testenv"
)

func init() {
	// The main thread runs the main goroutine only, as in PID 1 and
	// stage1 enter (startInCgroups): a thread locked for good that the
	// runtime ends is never the main one, which it would park instead,
	// in the cgroups a test joined it to.
	runtime.LockOSThread()
}

// TestStartInCgroups: a process started through startInCgroups begins in
// a cgroup of a v1 hierarchy, which the forking thread joined alone, and
// in the deepest of the unified hierarchy's cgroups given, entered at its
// fork (CLONE_INTO_CGROUP); the forking thread is gone afterwards, so no
// thread of ours stays in them; and no cgroup.procs of ours was written
// (the test's other threads stay where they were). It needs a host with
// both kinds of hierarchy, as this project's machines (v1 + unified).
func TestStartInCgroups(t *testing.T) {
	needRoot(t)
	ms, err := mountinfo.Self()
	must(t, err)
	var v1, v2 string
	for _, m := range ms {
		switch {
		case m.FSType == "cgroup" && strings.Contains(","+m.SuperOptions+",", ",pids,") && m.Root == "/":
			v1 = m.Mountpoint
		case m.FSType == "cgroup2" && m.Root == "/":
			v2 = m.Mountpoint
		}
	}
	if v1 == "" || v2 == "" {
		testenv.Unmet(t, fmt.Sprintf("needs a v1 pids hierarchy (%q) and a unified one (%q) mounted at their roots", v1, v2),
			"CI's machines are hybrid, as this project's: v1 controllers and the unified hierarchy")
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	must(t, err)
	cgs := ProcCgroups(string(own))
	name := "acirun-test-" + strconv.Itoa(os.Getpid())
	pidsDir := filepath.Join(v1, cgs["pids"], name)
	v2Dir := filepath.Join(v2, cgs[""], name)
	v2App := filepath.Join(v2Dir, "app")
	for _, d := range []string{pidsDir, v2App} {
		must(t, os.MkdirAll(d, 0o755))
	}
	t.Cleanup(func() {
		for _, d := range []string{pidsDir, v2App, v2Dir} {
			os.Remove(d)
		}
	})

	r, w, err := os.Pipe()
	must(t, err)
	defer r.Close()
	pid, err := startInCgroups([]string{pidsDir, v2Dir, v2App}, func(cgroupFD int) (int, error) {
		if cgroupFD < 0 {
			t.Error("no descriptor of the unified hierarchy's cgroup")
		}
		return syscall.ForkExec("/bin/cat", []string{"cat", "/proc/self/cgroup"}, &syscall.ProcAttr{
			Files: []uintptr{0, w.Fd(), 2},
			Sys:   &syscall.SysProcAttr{UseCgroupFD: cgroupFD >= 0, CgroupFD: cgroupFD},
		})
	})
	w.Close()
	must(t, err)
	b, err := io.ReadAll(r)
	must(t, err)
	WaitPid(pid)
	out := string(b)
	got := ProcCgroups(out)
	if want := strings.TrimPrefix(pidsDir, v1); got["pids"] != want {
		t.Errorf("the child's pids cgroup: %q, want %q\n%s", got["pids"], want, out)
	}
	if want := strings.TrimPrefix(v2App, v2); got[""] != want {
		t.Errorf("the child's cgroup of the unified hierarchy: %q, want %q\n%s", got[""], want, out)
	}
	// The forking thread ends with its goroutine: the cgroup empties.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(pidsDir, "tasks"))
		must(t, err)
		if len(strings.TrimSpace(string(b))) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks of %s after the start: %s", pidsDir, b)
		}
	}
	if b, err = os.ReadFile("/proc/self/cgroup"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), name) {
		t.Errorf("the test process joined the cgroups itself:\n%s", b)
	}

	// A process is in one cgroup of the unified hierarchy.
	other := filepath.Join(v2, cgs[""], name+"-other")
	must(t, os.MkdirAll(other, 0o755))
	defer os.Remove(other)
	if fd, err := cgroupFD([]string{v2App, other}); err == nil || !strings.Contains(err.Error(), "a process can be in one only") {
		t.Errorf("cgroupFD of two unrelated cgroups: %d, %v", fd, err)
	}
}
