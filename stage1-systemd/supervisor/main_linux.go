package supervisor

import (
	"fmt"
	"os"

	"github.com/acirun/acirun/internal/trace"
	stage1 "github.com/acirun/acirun/stage1-systemd"
)

// Main runs `stage1 run [flags] POD-DIR`, the pod's supervisor; args are
// the words after the program's name. podExe is the binary the pod's PID 1
// starts from, through a sealed view of it (stage1.SealedExecutable):
// acirun-pod beside the supervisor's binary (podcontract.PodExecutableBeside).
// crashAt is told each step of the start (stage1.BuiltCrashHook): nil but
// in the tests' builds. It returns the process exit code: the pod's, 254
// when stage1 itself fails, 2 on bad usage.
func Main(args []string, podExe string, crashAt func(stage1.StartStep)) int {
	return MainInProcess(args, podExe, crashAt, nil)
}

// MainInProcess is Main in the process that prepared the pod (acirun run
// without a unit of its own), with the pod's thread that process made
// while it did (StartPodThread), or nil. The supervisor takes the thread
// over if its namespaces are the pod's (the network: --net=host makes no
// network namespace), and ends it in any case before it returns.
func MainInProcess(args []string, podExe string, crashAt func(stage1.StartStep), thread *PodThread) int {
	defer thread.Close()
	if err := stage1.HardenProcess(); err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1: %v\n", err)
		return stage1.ExitCodeFailure
	}
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(os.Stderr, "usage: acirun-stage1 run [flags] POD-DIR (acirun runs it, users do not)")
		return 2
	}
	// ACIRUN_TRACE: the steps of a pod's start (internal/trace).
	tr := trace.FromEnv("stage1 run")
	tr.Step("main")
	var premade *podThread
	if thread != nil {
		premade = thread.t
	}
	return runMain(args[1:], podExe, tr, crashAt, premade)
}
