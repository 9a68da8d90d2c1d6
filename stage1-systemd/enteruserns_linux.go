package stage1

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/forkhook"
)

// userNSJoined are the namespaces startInUserNS joins together with the
// app's user namespace: those owned by the host's user namespace (PID 1
// made them), which the entering process could not join once in the app's,
// where it holds capabilities over the app's namespaces only. The app's
// mount namespace, owned by the app's user namespace, is joined later
// (joinAppNamespaces), by the thread that executes the command.
const userNSJoined = unix.CLONE_NEWUSER | unix.CLONE_NEWNET | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP

// Steps of startInUserNS's child, named in its error.
const (
	inUserNSSetns = iota + 1
	inUserNSCapset
	inUserNSAmbient
	inUserNSDup
	inUserNSNofile
	inUserNSExec
)

// inUserNSStepName names step of startInUserNS's child for its error. A
// switch, not a package-level map, which every start of acirun-pod
// would build and which anyone could change.
func inUserNSStepName(step uint32) string {
	switch step {
	case inUserNSSetns:
		return "join the app's user, network, UTS, IPC and cgroup namespaces"
	case inUserNSCapset:
		return "keep its capabilities in the app's user namespace"
	case inUserNSAmbient:
		return "raise its ambient capabilities"
	case inUserNSDup:
		return "pass the app's pidfd"
	case inUserNSNofile:
		return "restore RLIMIT_NOFILE"
	case inUserNSExec:
		return "execute the stage1 executable"
	}
	return "step " + strconv.FormatUint(uint64(step), 10)
}

// startInUserNS starts the executable exe (a descriptor) with argv and the
// process's environment as one more process of the app whose pidfd is
// pidfd, in a user namespace of its own (--private-users), and returns its
// PID. The calling thread must already be in the app's PID namespace (for
// its children).
//
// setns(CLONE_NEWUSER) is refused to a process of more than one thread, as
// every Go process is (nsenter and runc's nsexec are C for this reason), so
// it happens in the forked child before it executes anything, as
// systemd-nspawn and nsenter do: the child, in the app's cgroups from its
// fork on (the calling thread's of v1 hierarchies, and the one of the
// unified hierarchy whose descriptor is cgroupFD, entered at the fork, if
// not -1: see startInCgroups), joins the app's user namespace together with the
// namespaces the host's user namespace owns, in one setns of the pidfd
// (the kernel checks all of them with the host root's credentials before
// it switches any), keeps every capability of the app's user namespace as
// ambient ones across its exec (its user, the host's root, is not the
// namespace's root) and executes exe, with pidfd as its descriptor 3 and
// 0, 1 and 2 as ours, and with nofile as its RLIMIT_NOFILE unless nil: the
// limit this process began with (childNofile, which Go's runtime restores
// only in the children it forks itself), so that the command entered gets
// it as it would without --private-users. What follows is `stage1 app --phase=enter
// --private-users`: the app's mount namespace, then the app's confinement.
//
// The child calls nothing but raw system calls on data prepared here.
//
//go:norace
func startInUserNS(exe *os.File, argv []string, pidfd, cgroupFD int, nofile *unix.Rlimit) (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	lastCap, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("/proc/sys/kernel/cap_last_cap: %w", err)
	}
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return 0, err
	}
	envp, err := syscall.SlicePtrFromStrings(os.Environ())
	if err != nil {
		return 0, err
	}
	empty := []byte{0}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	all := [2]unix.CapUserData{
		{Effective: ^uint32(0), Permitted: ^uint32(0), Inheritable: ^uint32(0)},
		{Effective: ^uint32(0), Permitted: ^uint32(0), Inheritable: ^uint32(0)},
	}
	// The child's descriptors 0-2 are ours and 3 the pidfd: what it
	// needs besides must not be overwritten on the way (all close on
	// exec).
	high := func(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 10) }
	pfd, err := high(pidfd)
	if err != nil {
		return 0, fmt.Errorf("dup pidfd: %w", err)
	}
	defer unix.Close(pfd)
	efd, err := high(int(exe.Fd()))
	if err != nil {
		return 0, fmt.Errorf("dup the stage1 executable: %w", err)
	}
	defer unix.Close(efd)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return 0, err
	}
	rfd := p[0]
	defer unix.Close(rfd)
	wfd, err := high(p[1])
	unix.Close(p[1])
	if err != nil {
		return 0, err
	}
	var report [2]uint32 // step, errno
	// clone3 only to enter a cgroup at the fork (see nsChild.start).
	args := cloneArgs{flags: unix.CLONE_INTO_CGROUP, exitSignal: uint64(unix.SIGCHLD), cgroup: uint64(cgroupFD)}
	var r1 uintptr
	var e1 syscall.Errno

	syscall.ForkLock.Lock()
	forkhook.Before()
	if cgroupFD >= 0 {
		r1, _, e1 = syscall.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args), 0)
	} else {
		r1, _, e1 = syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	}
	if e1 == 0 && r1 == 0 {
		// The child: raw system calls only.
		forkhook.AfterInChild()
		var e syscall.Errno
		step := uint32(inUserNSSetns)
		if _, _, e = syscall.RawSyscall(unix.SYS_SETNS, uintptr(pfd), userNSJoined, 0); e != 0 {
			goto fail
		}
		step = inUserNSCapset
		if _, _, e = syscall.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&all[0])), 0); e != 0 {
			goto fail
		}
		step = inUserNSAmbient
		for c := 0; c <= lastCap; c++ {
			if _, _, e = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0, 0); e != 0 {
				goto fail
			}
		}
		step = inUserNSDup
		if _, _, e = syscall.RawSyscall(unix.SYS_DUP3, uintptr(pfd), 3, 0); e != 0 {
			goto fail
		}
		if nofile != nil {
			step = inUserNSNofile
			if _, _, e = syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, uintptr(unsafe.Pointer(nofile)), 0, 0, 0); e != 0 {
				goto fail
			}
		}
		step = inUserNSExec
		_, _, e = syscall.RawSyscall6(unix.SYS_EXECVEAT, uintptr(efd), uintptr(unsafe.Pointer(&empty[0])),
			uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
	fail:
		report[0], report[1] = step, uint32(e)
		syscall.RawSyscall(unix.SYS_WRITE, uintptr(wfd), uintptr(unsafe.Pointer(&report[0])), unsafe.Sizeof(report))
		for {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, ExitCodeFailure, 0, 0)
		}
	}
	forkhook.After()
	syscall.ForkLock.Unlock()
	unix.Close(wfd)
	if e1 != 0 {
		return 0, fmt.Errorf("fork: %w", e1)
	}
	pid := int(r1)
	return childReport(rfd, pid, inUserNSStepName,
		"the child entering the app's user namespace failed without saying why")
}

// childReport learns whether the child pid, forked to set itself up with
// raw system calls and exec, got as far as its exec: the report pipe fd
// (close-on-exec in the child) ends without a word when it did, and PID is
// returned. Else the child wrote the step that failed and its errno, two
// native-endian uint32s, before it exited: it is reaped and the error names
// the step (name), or says silent when the report was cut short.
func childReport(fd, pid int, name func(step uint32) string, silent string) (int, error) {
	var buf [8]byte
	n, err := readFull(fd, buf[:])
	if err != nil || n == 0 {
		return pid, err
	}
	WaitPid(pid)
	if n != len(buf) {
		return 0, errors.New(silent)
	}
	step, errno := binary.NativeEndian.Uint32(buf[:4]), syscall.Errno(binary.NativeEndian.Uint32(buf[4:]))
	return 0, fmt.Errorf("%s: %w", name(step), errno)
}

// readFull reads fd until buf is full or the end, retrying on EINTR.
func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}
