package supervisor

import (
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
