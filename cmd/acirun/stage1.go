package main

import (
	"github.com/acirun/acirun/internal/podcontract"
	stage1 "github.com/acirun/acirun/stage1-systemd"
	"github.com/acirun/acirun/stage1-systemd/supervisor"
)

// runStage1 runs, in this process, the pod's supervisor that startStage1
// handed this process to: argv is pod.Stage1Command's `acirun-stage1 run
// … POD-DIR`; the pod's own processes (its PID 1, the apps' launchers)
// start from acirun-pod beside that acirun-stage1. This is the one place
// the CLI reaches into the pod side (with run's pre-made pod thread, nil
// or not, which the supervisor takes over); every other process of a pod
// is acirun-stage1's or acirun-pod's.
func runStage1(argv []string, thread *supervisor.PodThread) int {
	return supervisor.MainInProcess(argv[1:], podcontract.PodExecutableBeside(argv[0]), stage1.BuiltCrashHook(), thread)
}
