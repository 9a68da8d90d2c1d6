package supervisor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// onMainThreadEnv makes this test binary, in its package initialisation
// (which the runtime runs on the process's main thread, locked to it),
// serve a pod thread from there (onMainThread).
const onMainThreadEnv = "ACIRUN_TEST_POD_THREAD_ON_MAIN_THREAD"

func init() {
	if os.Getenv(onMainThreadEnv) == "1" {
		os.Exit(onMainThread())
	}
}

// onMainThread runs lockAndServe on the main thread, as a pod thread's
// goroutine that the scheduler put there would: it must serve from
// another thread, which ends once the thread is closed.
func onMainThread() int {
	if unix.Gettid() != unix.Getpid() {
		fmt.Println("package initialisation is not on the main thread")
		return 1
	}
	t := &podThread{calls: make(chan func()), stop: make(chan struct{}), ended: make(chan struct{})}
	t.lockAndServe() // the flags 0: unshare(0) changes nothing
	tid, err := t.tid()
	if err != nil {
		fmt.Println(err)
		return 1
	}
	if tid == unix.Getpid() {
		fmt.Println("the pod thread serves on the main thread")
		return 1
	}
	t.close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			fmt.Printf("the pod thread %d is still there 5 s after its close\n", tid)
			return 1
		}
	}
	fmt.Println("ok")
	return 0
}

// TestPodThreadNotOnMainThread: a pod thread whose goroutine starts on
// the process's main thread serves from another one, which ends with
// close: a goroutine locked to the main thread wedges it when it returns,
// and the pod's namespaces would stay with it. Without the hand-over
// lockAndServe serves on the main thread and the child never gets past
// its initialisation.
func TestPodThreadNotOnMainThread(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), onMainThreadEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("pod thread started on the main thread: %v: %s", err, out)
	}
}
