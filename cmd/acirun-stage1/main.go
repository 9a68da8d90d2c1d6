// Command acirun-stage1 is the pod side of acirun: the entry points a pod's
// processes run (docs/pod-layout.md, "The entry points"): `run`, the pod's
// supervisor, which a pod's systemd unit starts; `init`, the pod's PID 1;
// `app`, the last step before an app's exec; and `enter`, what `acirun
// enter` execs. Users do not type it; acirun finds it beside itself
// (podcontract.FindStage1) and make install puts both in PREFIX/bin.
//
// It is a binary of its own, rather than acirun re-executing itself, so that
// each process of a pod's start initialises only the pod side: acirun also
// links the image store, OpenPGP, HTTP, HTML discovery and the OCI
// registry client, whose packages' initialisation and pages every start of
// it paid (ACIRUN_TRACE shows a process's start as the CPU time of its
// first line).
package main

import (
	"os"

	stage1 "github.com/acirun/acirun/stage1-systemd"
)

func main() {
	os.Exit(stage1.Main(os.Args[1:], ""))
}
