package stage1

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// crashEnv is the environment variable the crash hook reads, in the test
// binary of this package and in an acirun-stage1 or acirun-pod built with
// the acirun_crashpoints tag (crashpoint_on_linux.go), never in the shipped
// ones (crashpoint_off_linux.go): STEP dies at that step; record:FILE appends
// each step reached, one a line, to FILE.
const crashEnv = "ACIRUN_STAGE1_CRASH"

// crashHook is the hook for the value of crashEnv, nil for "". Dying is
// SIGKILL to itself, as kill -9 or the OOM killer would end the process
// there; the pod's PID 1 cannot SIGKILL itself (the kernel protects a PID
// namespace's init from signals sent inside it), so it ends with
// exit_group: no deferred function runs either way.
func crashHook(value string) func(StartStep) {
	if value == "" {
		return nil
	}
	if file, ok := strings.CutPrefix(value, "record:"); ok {
		// Opened now: an app's launcher reaches its step inside the
		// app's root, where the file is not.
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		return func(step StartStep) {
			if err == nil {
				f.WriteString(string(step) + "\n")
			}
		}
	}
	return func(step StartStep) {
		if string(step) != value {
			return
		}
		if os.Getpid() == 1 {
			unix.Exit(128 + int(unix.SIGKILL))
		}
		unix.Kill(os.Getpid(), unix.SIGKILL)
		select {}
	}
}

// reached marks step for the crash hook (crashAt, set only in test
// builds); it does nothing otherwise.
func (o *podOptions) reached(step StartStep) {
	if o.crashAt != nil {
		o.crashAt(step)
	}
}
