package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
)

// TestRunFailedLeavesNoPodThread: run, when the pod is to run in this
// process (--no-unit), makes the pod's thread and its network and IPC
// namespaces while it prepares the pod (supervisor.StartPodThread); a run
// whose preparation fails (here, where no acirun-stage1 is beside the
// test's binary, at its first step; else at the image, which is nowhere)
// ends that thread, and its namespaces with it, and leaves no descriptor
// open. It fails with Main's Close of the thread left out.
func TestRunFailedLeavesNoPodThread(t *testing.T) {
	testenv.NeedRoot(t, "the pod thread's network namespace")
	dir := t.TempDir()
	fds := testenv.OpenFDs(t)
	args := []string{"--dir=" + filepath.Join(dir, "data"), "--run-dir=" + filepath.Join(dir, "run"),
		"run", "--no-unit", "--net=none", "sha512-" + strings.Repeat("0", 64)}
	var stderr strings.Builder
	if code := Main(args, nil, io.Discard, &stderr); code == exitOK {
		t.Fatalf("run of an image that is nowhere: exit 0 (%s)", stderr.String())
	}
	// The thread ends once its goroutine has returned: a moment after
	// Main.
	var left []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if left = threadsInOtherNamespaces(t); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("after a failed run (%s), threads of this process are still in namespaces of their own: %s", strings.TrimSpace(stderr.String()), strings.Join(left, "; "))
	}
	if now := testenv.OpenFDs(t); now != fds {
		t.Errorf("after a failed run, %d descriptors are open, %d before", now, fds)
	}
}

// threadsInOtherNamespaces lists the threads of this process whose network
// or IPC namespace is not the process's.
func threadsInOtherNamespaces(t *testing.T) []string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, ns := range []string{"net", "ipc"} {
		own, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			l, err := os.Readlink(filepath.Join("/proc/self/task", task.Name(), "ns", ns))
			if err == nil && l != own {
				left = append(left, "thread "+task.Name()+" in "+l)
			}
		}
	}
	return left
}
