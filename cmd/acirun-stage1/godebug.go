// Go's container-aware GOMAXPROCS (Go 1.25) is off in acirun-stage1, as it
// was before acirun-pod was split from it and is in acirun-pod: with it on,
// the runtime keeps the CPU quota files of the process's cgroup open, two
// descriptors of the host's cgroup file system, for a thread that rereads
// them, for the pod's whole life. The supervisor needs no CPU-quota sizing:
// it waits for its pod and relays its output and signals, and the pod's
// CPU limit is its cgroup's anyway. (The runtime reads them once before
// main either way; with it off it closes them.)

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

package main
