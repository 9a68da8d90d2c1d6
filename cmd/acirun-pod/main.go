// Command acirun-pod is the binary of a pod's own processes
// (docs/pod-layout.md, "The entry points"): `init`, the pod's PID 1, and
// `app`, the last step before an app's exec, which the pod's supervisor
// (acirun-stage1's `run`) starts from a sealed view of it; and `enter`,
// what `acirun enter` execs. Users do not type it; acirun-stage1 finds it
// beside itself (podcontract.PodExecutableBeside) and make install puts
// the three in PREFIX/bin.
//
// It is a binary of its own, rather than acirun-stage1 with one more
// command, so that a pod's PID 1 and launchers link only the pod side
// (package stage1): none of the supervisor's network, nftables, netlink,
// CNI, D-Bus, HTTP and TLS code, whose packages' initialisation and pages
// every start of them paid (ACIRUN_TRACE shows a process's start as the
// CPU time of its first line).
package main

import (
	"os"

	stage1 "github.com/acirun/acirun/stage1-systemd"
)

func main() {
	os.Exit(stage1.Main(os.Args[1:], stage1.BuiltCrashHook()))
}
