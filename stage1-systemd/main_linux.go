package stage1

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/trace"
)

// Main runs one of the entry points of acirun-pod, the binary of the pod's
// own processes; args are the words after the program's name: `init
// [flags] POD-DIR` (the pod's PID 1), `app [flags] POD-DIR NAME` (an app's
// launcher) or `enter [flags] POD-DIR NAME CMD...`. The pod's supervisor,
// `run`, is package supervisor's (acirun-stage1). crashAt is told each
// step of the start (BuiltCrashHook): nil but in the tests' builds. It
// returns the process exit code: for init the pod's exit code, 254 when
// stage1 itself fails, 2 on bad usage.
func Main(args []string, crashAt func(StartStep)) int {
	if err := HardenProcess(); err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1: %v\n", err)
		return ExitCodeFailure
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: acirun-pod init|app|enter ...")
		return 2
	}
	// ACIRUN_TRACE: the steps of a pod's start (internal/trace).
	tr := trace.FromEnv("stage1 " + args[0])
	tr.Step("main")
	switch args[0] {
	case "init":
		return initMain(args[1:], tr, crashAt)
	case "app":
		return appMain(args[1:], tr, crashAt)
	case "enter":
		return enterMain(args[1:])
	}
	fmt.Fprintf(os.Stderr, "acirun-pod: unknown command %q (want init, app or enter; acirun runs it, users do not)\n", args[0])
	return 2
}

// HardenProcess is what every process of the pod side does first, PID 1's
// supervisor too: nothing of ours may be inspected or entered by an app
// through /proc/PID (not our executable, not our root, not our memory),
// and whatever descriptors our caller leaked to us must not reach an app.
func HardenProcess() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
	}
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	return nil
}

// ExitCodeFailure is the exit code of a pod that stage1 could not run.
const ExitCodeFailure = 254
