// Go's container-aware GOMAXPROCS (Go 1.25) is off in acirun, as in
// acirun-stage1 and acirun-pod: with it on, the runtime keeps the CPU quota
// files of the process's cgroup open, two descriptors of the host's cgroup
// file system, for a thread that rereads them, and acirun runs a pod's
// supervisor in its own process (run --no-unit, or without systemd) for the
// pod's whole life. Nothing acirun does is sized by its CPU quota: its
// parallel work (decompression, hashing and writing of an import) is a few
// goroutines whatever GOMAXPROCS says. (The runtime reads them once before
// main either way; with it off it closes them.)

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

package main
