package forkhook

import _ "unsafe" // go:linkname

// Before blocks signals on the calling thread and makes its stack unable
// to grow (a child that would grow it throws instead of running the
// scheduler, which has no other thread in the child). The caller holds
// syscall.ForkLock, so that no descriptor is made without close-on-exec
// meanwhile.
//
//go:linkname Before syscall.runtime_BeforeFork
func Before()

// After undoes Before in the parent, after the fork.
//
//go:linkname After syscall.runtime_AfterFork
func After()

// AfterInChild resets the child's signal handlers and unblocks its
// signals: from then on the child may make nothing but raw system calls
// (no allocation, no lock, no call that may grow the stack).
//
//go:linkname AfterInChild syscall.runtime_AfterForkInChild
func AfterInChild()
