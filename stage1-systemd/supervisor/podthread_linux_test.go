package supervisor

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/testenv"
)

// TestPodThreadDoAfterClose: a call handed to the pod thread after it was
// closed fails at once instead of waiting forever for a thread that is
// gone; one before runs on the thread, in its namespaces.
func TestPodThreadDoAfterClose(t *testing.T) {
	testenv.NeedRoot(t, "a network namespace of the pod thread")
	th := startPodThread(unix.CLONE_NEWIPC)
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
		th := StartPodThread(tc.net)
		var ns string
		var flags uint16
		err := th.t.do(func() error {
			var err error
			if ns, err = os.Readlink("/proc/thread-self/ns/net"); err != nil {
				return err
			}
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			ifr, err := unix.NewIfreq("lo")
			if err != nil {
				return err
			}
			if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
				return err
			}
			flags = ifr.Uint16()
			return nil
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
