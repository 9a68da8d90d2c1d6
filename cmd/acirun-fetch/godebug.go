// Go's container-aware GOMAXPROCS (Go 1.25) is off in acirun-fetch, as in
// acirun and its other helpers: the runtime would keep the CPU quota files
// of the process's cgroup open for a thread that rereads them, which a
// fetch, bound by the network and the disk, has no use for.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

package main
