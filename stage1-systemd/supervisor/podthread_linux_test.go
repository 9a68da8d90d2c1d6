package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/internal/testenv"
	"github.com/acirun/acirun/internal/trace"
	stage1 "github.com/acirun/acirun/stage1-systemd"
)

// TestPodThreadDoAfterClose: a call handed to the pod thread after it was
// closed fails at once instead of waiting forever for a thread that is
// gone; one before runs on the thread, in its namespaces.
func TestPodThreadDoAfterClose(t *testing.T) {
	testenv.NeedRoot(t, "a network namespace of the pod thread")
	th := startPodThread(unix.CLONE_NEWIPC, "", nil)
	tid, err := th.tid()
	if err != nil {
		t.Fatal(err)
	}
	if tid == unix.Gettid() {
		t.Errorf("the call ran on the caller's thread %d", tid)
	}
	th.close()
	done := make(chan error, 1)
	go func() { done <- th.do(func() error { return nil }) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("do after close: no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("do after close still waits for the thread after 10 s")
	}
}

// TestPodThreadLoopbackUp: the pod thread brings up the loopback of the
// network namespace it makes (PID 1 then finds it up), and makes none
// for --net=host.
func TestPodThreadLoopbackUp(t *testing.T) {
	testenv.NeedRoot(t, "a network namespace of the pod thread")
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		net    string
		newNet bool
	}{{"none", true}, {"default", true}, {"host", false}} {
		th := StartPodThread(tc.net, "", nil)
		var ns string
		var flags uint16
		err := th.t.do(func() error {
			var err error
			if ns, err = os.Readlink("/proc/thread-self/ns/net"); err != nil {
				return err
			}
			flags, err = stage1.LoopbackFlags()
			return err
		})
		th.Close()
		if err != nil {
			t.Fatalf("--net=%s: %v", tc.net, err)
		}
		if (ns != own) != tc.newNet {
			t.Errorf("--net=%s: the thread is in %s, the process in %s", tc.net, ns, own)
		}
		if tc.newNet && flags&unix.IFF_UP == 0 {
			t.Errorf("--net=%s: the pod's loopback is down (flags %#x)", tc.net, flags)
		}
	}
}

// TestPodThreadForksBeforeLoopback: the pod thread forks PID 1 as soon as
// it has made the pod's namespaces, and brings up their loopback after,
// beside PID 1's start rather than on its way; PID 1 still finds it up,
// as the thread's calls (go among them) come after. It fails with the
// loopback brought up before the fork.
func TestPodThreadForksBeforeLoopback(t *testing.T) {
	testenv.NeedRoot(t, "the pod thread's namespaces and PID 1's clone")
	var out strings.Builder
	th := StartPodThread("none", buildPodExe(t), trace.New("acirun", "1", &out))
	var flags uint16
	err := th.t.do(func() error {
		if th.t.initErr != nil {
			return th.t.initErr
		}
		var err error
		flags, err = stage1.LoopbackFlags()
		return err
	})
	th.Close()
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.IFF_UP == 0 {
		t.Errorf("the pod's loopback is down when the thread takes calls (flags %#x)", flags)
	}
	forked, up := strings.Index(out.String(), "init started as pid"), strings.Index(out.String(), "loopback up")
	if forked < 0 || up < 0 || up < forked {
		t.Errorf("want PID 1 forked, then the loopback up:\n%s", out.String())
	}
}

// TestFailedStartKillsInit: the pod thread forks PID 1 as soon as it has
// made the pod's namespaces, before the pod is known (forkInit); a start
// that fails before PID 1 is told go (here, a pod directory that does not
// exist, which the supervisor cannot lock), or whose thread is closed
// without a supervisor, leaves no PID 1, no thread in the pod's
// namespaces and no descriptor. It fails with endInit's kill left out.
func TestFailedStartKillsInit(t *testing.T) {
	testenv.NeedRoot(t, "the pod thread's namespaces and PID 1's clone")
	podExe := buildPodExe(t)
	for _, withSupervisor := range []bool{false, true} {
		fds := testenv.OpenFDs(t)
		th := StartPodThread("none", podExe, nil)
		var pid int
		if err := th.t.do(func() error {
			if th.t.initErr != nil {
				return th.t.initErr
			}
			pid = th.t.init.pid
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := unix.Kill(pid, 0); err != nil {
			t.Fatalf("PID 1 (pid %d) is not there before the start: %v", pid, err)
		}
		if withSupervisor {
			args := []string{"run", "--net=none", filepath.Join(t.TempDir(), "no-such-pod")}
			if code := MainInProcess(args, podExe, nil, th); code == 0 {
				t.Fatal("stage1 run of a pod directory that does not exist: exit 0")
			}
		} else {
			th.Close()
		}
		if err := unix.Kill(pid, 0); err != unix.ESRCH {
			t.Errorf("supervisor %t: PID 1 (pid %d) is left after a failed start: kill 0: %v", withSupervisor, pid, err)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if now := testenv.OpenFDs(t); now != fds {
			t.Errorf("supervisor %t: after a failed start, %d descriptors are open, %d before", withSupervisor, now, fds)
		}
	}
}

// TestEarlyInitOOMScoreAdj: PID 1, forked while the pod is prepared, gets
// the supervisor's lowered oom_score_adj (stage1.SupervisorOOMScoreAdj,
// or the floor without CAP_SYS_RESOURCE), and the process that forked it
// keeps its own throughout, the instant of the fork among it: the rest of
// the pod's preparation (a fetch helper another goroutine starts in that
// instant among it) stays as killable as it was. It fails when forkInit
// lowers its own value for the fork and puts it back after (the watcher
// sees it lowered), and without ProtectChildFromOOM.
func TestEarlyInitOOMScoreAdj(t *testing.T) {
	testenv.NeedRoot(t, "the pod thread's namespaces, and CAP_SYS_RESOURCE for oom_score_adj")
	own := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	was := own("/proc/self/oom_score_adj")
	t.Cleanup(func() { _ = os.WriteFile("/proc/self/oom_score_adj", []byte(was), 0) })
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte("100"), 0); err != nil {
		t.Fatal(err)
	}
	podExe := buildPodExe(t)
	// The watcher reads this process's value on another thread for as
	// long as the pod thread starts PID 1 (a fork and exec, a millisecond
	// or more; a read takes microseconds) and says what else it saw. On a
	// loaded machine it may sleep through one start: five of them.
	stop, seen := make(chan struct{}), make(chan string, 1)
	go func() {
		other := ""
		for {
			select {
			case <-stop:
				seen <- other
				return
			default:
			}
			if b, err := os.ReadFile("/proc/self/oom_score_adj"); err == nil && strings.TrimSpace(string(b)) != "100" && other == "" {
				other = strings.TrimSpace(string(b))
			}
		}
	}()
	for range 5 {
		th := StartPodThread("none", podExe, nil)
		var pid, now int
		err := th.t.do(func() error {
			if th.t.initErr != nil {
				return th.t.initErr
			}
			pid = th.t.init.pid
			now = th.t.init.oomNow
			return nil
		})
		if err != nil {
			th.Close()
			close(stop)
			t.Fatal(err)
		}
		// Without CAP_SYS_RESOURCE in the host's user namespace, no lower
		// than the floor this process was given (ProtectChildFromOOM).
		if now >= 100 || now < stage1.SupervisorOOMScoreAdj {
			t.Errorf("ProtectChildFromOOM took 100 to %d", now)
		}
		if got := own(fmt.Sprintf("/proc/%d/oom_score_adj", pid)); got != strconv.Itoa(now) {
			t.Errorf("PID 1's oom_score_adj %s, want the lowered %d", got, now)
		}
		th.Close()
	}
	close(stop)
	if other := <-seen; other != "" {
		t.Errorf("while PID 1 was forked, the preparing process's oom_score_adj was %s, want its own 100 throughout", other)
	}
	if got := own("/proc/self/oom_score_adj"); got != "100" {
		t.Errorf("after PID 1's fork, the preparing process's oom_score_adj is %s, want its own 100", got)
	}
}

// buildPodExe builds acirun-pod for a test, into its temporary directory.
func buildPodExe(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	podExe := filepath.Join(t.TempDir(), podcontract.PodExecutable)
	if err := testenv.BuildCommand(filepath.Join(filepath.Dir(file), "..", ".."), podExe, podcontract.PodExecutable); err != nil {
		t.Fatal(err)
	}
	return podExe
}
