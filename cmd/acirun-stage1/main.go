// Command acirun-stage1 is the pod's supervisor (docs/pod-layout.md, "The
// entry points"): `run`, which a pod's systemd unit starts, and which
// starts the pod's PID 1 from acirun-pod beside it. Users do not type it;
// acirun finds it beside itself (podcontract.FindStage1) and make install
// puts acirun, acirun-stage1 and acirun-pod in PREFIX/bin.
//
// It is a binary of its own, rather than acirun re-executing itself, so that
// a unit's start initialises only the pod side: acirun also links the
// image store, the archive formats and the command line, whose packages'
// initialisation and pages every start of it paid (ACIRUN_TRACE shows a
// process's start as the CPU time of its first line). acirun itself runs `run` in its own process (cmd/acirun's
// stage1.go).
package main

import (
	"fmt"
	"os"

	"github.com/acirun/acirun/internal/podcontract"
	stage1 "github.com/acirun/acirun/stage1-systemd"
	"github.com/acirun/acirun/stage1-systemd/supervisor"
)

func main() {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun-stage1: find the pod's binary beside this one: %v\n", err)
		os.Exit(stage1.ExitCodeFailure)
	}
	os.Exit(supervisor.Main(os.Args[1:], podcontract.PodExecutableBeside(self), stage1.BuiltCrashHook()))
}
