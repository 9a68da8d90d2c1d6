// The runtime must not hold cgroup files open (Go 1.25's container-aware
// GOMAXPROCS does): "fds" reports every open descriptor as a possible leak.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

package main
