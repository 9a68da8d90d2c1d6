package stage1

import (
	"os/exec"
	"testing"
	"time"
)

// TestEnded: a child that runs has not ended; one that ended has, for as
// long as it is not reaped, and Ended does not reap it (WaitPid still
// gets its status); once reaped, and for a process that is not our child,
// it says no.
func TestEnded(t *testing.T) {
	sleep := exec.Command("sleep", "1h")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	pid := sleep.Process.Pid
	if Ended(pid) {
		t.Error("Ended of a running child: true")
	}
	if err := sleep.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !Ended(pid); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Ended of a killed child: still false after 10 s")
		}
	}
	if !Ended(pid) {
		t.Error("Ended reaped the child: a second call says false")
	}
	if ws := WaitPid(pid); !ws.Signaled() {
		t.Errorf("WaitPid after Ended: %v, want the child's SIGKILL", ws)
	}
	if Ended(pid) {
		t.Error("Ended of a reaped child: true")
	}
	if Ended(1) {
		t.Error("Ended of a process that is not our child: true")
	}
}
