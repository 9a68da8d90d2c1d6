// Package sysnum gives the Linux system call numbers of the architecture
// this program runs on, by name, and the audit architecture seccomp_data
// reports for them: what stage1 assembles an app's seccomp filter from.
//
// The tables are generated (mksysnum.go, from golang.org/x/sys/unix's) as
// sorted arrays, which the linker lays out as data: a start initialises
// nothing. The seccomp library stage1 used before built maps of every
// architecture's calls in its package initialisation, 0.9 M instructions
// of each start of acirun-stage1 (40 %), PID 1's and the app launcher's
// included, though a pod's filter needs one architecture's.
package sysnum

import "slices"

//go:generate go run mksysnum.go

// Number returns the number of the system call name on this architecture,
// and whether it has one.
func Number(name string) (uint32, bool) {
	i, ok := slices.BinarySearch(names[:], name)
	if !ok {
		return 0, false
	}
	return numbers[i], true
}

// Supported says whether this architecture has a table: without one no
// seccomp filter can be assembled.
func Supported() bool { return len(names) > 0 }
