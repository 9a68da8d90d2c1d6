// Go's container-aware GOMAXPROCS (Go 1.25) is off in acirun-pod: the
// runtime would open the CPU quota files of the process's cgroup before
// main and keep them open for a thread that rereads them, so the pod's
// PID 1 would hold two descriptors of the host's cgroup file system for
// its whole life (runc's CVE-2024-21626 was such a descriptor, left open
// into a container). PID 1 needs no CPU-quota sizing: it is idle but for
// signals and launches, and the pod's CPU limit is its cgroup's anyway.
// TestRunStrayDescriptors (tests/e2e) checks that PID 1 holds no file.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

package main
