package stage1

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/trace"
)

// Main runs one of the entry points of acirun-stage1; args are the words
// after the program's name: `run [flags] POD-DIR`, `init [flags] POD-DIR`,
// `app [flags] POD-DIR NAME` or `enter [flags] POD-DIR NAME CMD...`. exe is
// the stage1 binary the pod's processes start from (init and the apps'
// launchers, from a sealed copy): "" for this process's own executable,
// or the path of acirun-stage1 when acirun runs `run` in its own process.
// It returns the process exit code: for run and init the pod's exit code,
// 254 when stage1 itself fails, 2 on bad usage.
func Main(args []string, exe string) int {
	return mainWith(args, exe, builtCrashHook())
}

// mainWith is Main with the crash hook of the start's steps
// (crashpoint_linux.go): nil but in the tests' builds.
func mainWith(args []string, exe string, crashAt func(startStep)) int {
	// Nothing of ours may be inspected or entered by an app through
	// /proc/PID: not our executable, not our root, not our memory.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1: prctl(PR_SET_DUMPABLE): %v\n", err)
		return 254
	}
	// Whatever descriptors our caller leaked to us must not reach an app.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1: close_range: %v\n", err)
		return 254
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: acirun-stage1 run|init|app|enter ...")
		return 2
	}
	// ACIRUN_TRACE: the steps of a pod's start (internal/trace).
	tr := trace.FromEnv("stage1 " + args[0])
	tr.Step("main")
	switch args[0] {
	case "run":
		return runMain(args[1:], exe, tr, crashAt)
	case "init":
		return initMain(args[1:], tr, crashAt)
	case "app":
		return appMain(args[1:], tr, crashAt)
	case "enter":
		return enterMain(args[1:])
	}
	fmt.Fprintf(os.Stderr, "acirun-stage1: unknown command %q (want run, init, app or enter; acirun runs it, users do not)\n", args[0])
	return 2
}

// exitCodeFailure is the exit code of a pod that stage1 could not run.
const exitCodeFailure = 254
