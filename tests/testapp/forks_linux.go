package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// forks starts up to n processes that sleep until killed, as a fork bomb
// would, prints "forked=K" and, if a fork failed before n, "fork
// error=ERRNO ..." (EAGAIN under a pids limit, the unit's TasksMax), then
// kills them all: "killed=K".
//
// One child, in a process group of its own, forks the rest with bare
// clone(2) calls and never returns to Go: each fork of a Go program costs
// its parent copy-on-write faults on every page it touches next (over a
// millisecond each here), while this child touches one stack page between
// forks, and its children sleep in ppoll(2) at once.
func forks(n int) {
	if n < 1 {
		usage("forks: want at least 1 process")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		report("pipe", err)
		return
	}
	r := os.NewFile(uintptr(p[0]), "forks")
	defer r.Close()
	out := new([2]uint64)
	pid, errno := forkTree(n-1, uintptr(p[1]), out)
	syscall.Close(p[1])
	if errno != 0 {
		fmt.Println("forked=0")
		report("fork", errno)
		return
	}
	var buf [16]byte
	if _, err := r.Read(buf[:]); err != nil {
		report("read the count", err)
	}
	count := binary.NativeEndian.Uint64(buf[:8]) + 1 // and the forker
	fmt.Printf("forked=%d\n", count)
	if e := syscall.Errno(binary.NativeEndian.Uint64(buf[8:])); e != 0 {
		report("fork", e)
	}
	// The whole group: the forker and its children (whom the pod's PID 1
	// reaps once the forker is gone).
	if err := syscall.Kill(-int(pid), syscall.SIGKILL); err != nil {
		report("kill", err)
	}
	var ws syscall.WaitStatus
	syscall.Wait4(int(pid), &ws, 0, nil)
	fmt.Printf("killed=%d\n", count)
}

// forkTree forks the forker: a child that makes a process group of its
// own, forks up to n children that sleep, writes how many and the errno
// that stopped it into out and out to fd, and sleeps. After clone returns
// 0 the child has no Go runtime behind it (no other thread, no scheduler):
// it makes bare system calls only and never returns, hence nosplit and
// the endless ppoll; out is the parent's memory, copied on write.
//
//go:nosplit
//go:norace
func forkTree(n int, fd uintptr, out *[2]uint64) (uintptr, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		return pid, errno
	}
	syscall.RawSyscall(syscall.SYS_SETPGID, 0, 0, 0)
	for out[0] < uint64(n) {
		c, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if e != 0 {
			out[1] = uint64(e)
			break
		}
		if c == 0 {
			for {
				syscall.RawSyscall6(syscall.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
			}
		}
		out[0]++
	}
	syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(out)), 16)
	for {
		syscall.RawSyscall6(syscall.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
	}
}
