package stage1

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/forkhook"
	"github.com/acirun/acirun/internal/regfile"
	"github.com/acirun/acirun/userns"
)

// A --private-users pod's app runs in a user namespace of its own (each
// launch makes a new one, with the pod's map), as it did when the app
// launcher (`stage1 app --private-users`, a whole Go process start) was
// the first process in it. PID 1 now starts it without the launcher, as it
// starts other pods' apps (launch_linux.go), except for what a user
// namespace changes:
//
//   - A thread of a multi-threaded process cannot enter a user namespace
//     (unshare and setns refuse it), and making one resets the capability
//     bounding set and the capability sets: so the launching thread does
//     everything that does not depend on the namespace (its own mount
//     namespace, pivot_root into the app's root, resolving user, groups,
//     working directory, program, environment, the Landlock ruleset, the
//     seccomp program, the terminal), and a child it forks with
//     clone(CLONE_NEWUSER|CLONE_NEWNS) confines itself with raw system
//     calls, in the launcher's order, before its execve: Go's own
//     syscall.forkAndExecInChild does the same with the fields of
//     SysProcAttr, which have no bounding set, seccomp filter or Landlock
//     domain. The child's mount namespace is a copy of the thread's,
//     owned by the new user namespace: its root is the app's, every mount
//     of it locked (the launcher bound the root onto itself first, for a
//     pivot_root of its own; here the thread's pivot_root came before the
//     copy).
//   - The namespace's maps are written by the thread (it holds CAP_SETUID
//     in the host's user namespace, which the child does not), through
//     PID 1's /proc of the pod's PID namespace, while the child waits: so
//     the child is a fork of PID 1's memory (copied, not shared: the
//     thread cannot wait for a vfork child that waits for it), never
//     dumpable to anyone but the host's CAP_SYS_PTRACE (its memory's owner
//     is the host's user namespace), and it has nothing else in its user
//     namespace.
//   - The child starts in the app's cgroups without joining any: the
//     thread joins those of v1 hierarchies alone (joinCgroupsAsThread)
//     before it forks, and the child enters the app's cgroup of the
//     unified hierarchy at its fork (clone3's CLONE_INTO_CGROUP): a write
//     to cgroup.procs would make the kernel wait for an RCU grace period.
//   - The child inherits the app's oom-score-adj, which PID 1 takes for
//     the instant of the fork (pod.start), and that value's floor: the
//     child could not write one below PID 1's own itself, which needs
//     CAP_SYS_RESOURCE in the host's user namespace.
//   - A user or group given as a path is the owner of that file as the
//     app's namespace sees it (nsIDs), and the terminal of an interactive
//     pod is chowned to the host's ID of the app's user.
//   - The app's seccomp filter is loaded by the child just before
//     setresuid, capset and execve, as the launcher loaded its own: no
//     call of PID 1's launch runs under it, so its verdict
//     (launchRefusedBy) does not apply.
//
// Socket activation still goes through the launcher (LISTEN_PID).

// cloneArgs is the kernel's struct clone_args, the argument of clone3 (its
// second version, which has cgroup).
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls, setTID, setTIDSize, cgroup uint64
}

// nsLaunch is what PID 1 of a --private-users pod needs to launch an app's
// process into a user namespace of its own (launchInUserNS), learned once.
type nsLaunch struct {
	ids nsIDs
	// nofile is the RLIMIT_NOFILE the app starts with (childNofile), or
	// nil for PID 1's own.
	nofile *unix.Rlimit
	// proc is PID 1's /proc (of the pod's PID namespace, O_PATH), where
	// the maps of a child's user namespace are written.
	proc int
}

// nsIDs is how a user namespace of the pod's map sees the host's IDs: the
// pod's ID for one of the range, the overflow ID for any other. A nil
// *nsIDs sees them as they are.
type nsIDs struct {
	rg                       userns.Range
	overflowUID, overflowGID uint32
}

func (v *nsIDs) user(id uint32) uint32 {
	if v == nil {
		return id
	}
	if pod, ok := v.rg.PodID(id); ok {
		return pod
	}
	return v.overflowUID
}

func (v *nsIDs) group(id uint32) uint32 {
	if v == nil {
		return id
	}
	if pod, ok := v.rg.PodID(id); ok {
		return pod
	}
	return v.overflowGID
}

// newNSLaunch learns what launchInUserNS needs for a pod of range rg. PID
// 1's /proc must be the pod's.
func newNSLaunch(rg userns.Range) (*nsLaunch, error) {
	uid, err := readProcUint("/proc/sys/kernel/overflowuid")
	if err != nil {
		return nil, err
	}
	gid, err := readProcUint("/proc/sys/kernel/overflowgid")
	if err != nil {
		return nil, err
	}
	nofile, err := childNofile()
	if err != nil {
		return nil, err
	}
	proc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /proc: %w", err)
	}
	return &nsLaunch{ids: nsIDs{rg: rg, overflowUID: uint32(uid), overflowGID: uint32(gid)}, nofile: nofile, proc: proc}, nil
}

// readProcUint reads the unsigned number in file (of /proc/sys), without
// os.ReadFile's attempt to put it under the runtime's poller (regfile).
func readProcUint(file string) (uint64, error) {
	b, err := regfile.ReadFile(file)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return n, nil
}

// childNofile returns the RLIMIT_NOFILE that a child of this process (PID
// 1, or enter's) begins with when it differs from the process's own, else
// nil. Go's runtime raised the process's soft limit at its start (to the
// hard one less one, leaving alone a soft limit already there) and
// syscall.ForkExec gives each child the limit the process started with, as
// the app launcher's exec gave the app; a child forked with raw system
// calls must set it itself. Only the runtime knows the
// original, and tells it to no one but such a child: one is started,
// stopped by ptrace at its exec before it runs anything, asked, and
// killed.
func childNofile() (*unix.Rlimit, error) {
	var own unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &own); err != nil {
		return nil, fmt.Errorf("RLIMIT_NOFILE: %w", err)
	}
	if own.Cur != own.Max-1 {
		return nil, nil
	}
	// The tracer is the thread that forked: stay on it until the child
	// is reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"acirun-nofile"}, &syscall.ProcAttr{
		Sys: &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return nil, fmt.Errorf("RLIMIT_NOFILE of PID 1's children: start one: %w", err)
	}
	defer func() {
		unix.Kill(pid, unix.SIGKILL)
		WaitPid(pid)
	}()
	if ws := WaitPid(pid); !ws.Stopped() {
		return nil, fmt.Errorf("RLIMIT_NOFILE of PID 1's children: the child did not stop at its exec (status %#x)", ws)
	}
	var lim unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &lim); err != nil {
		return nil, fmt.Errorf("RLIMIT_NOFILE of PID 1's children: %w", err)
	}
	if lim == own {
		return nil, nil
	}
	return &lim, nil
}

// launchInUserNS is launchOnThread for a --private-users pod (see above):
// the calling thread, locked to its goroutine for good, enters the app's
// root in a mount namespace of its own and resolves l there; a child forked
// from it into a new user namespace confines itself and executes l. It
// returns the child's PID once the app's program has been executed, or why
// it was not.
func (p *pod) launchInUserNS(r *appRun, phase string, l *appLaunch, root string, files []int, console int) (int, error) {
	k := nsChild{ns: p.ns, peer: -1, ruleset: -1, cgroup: -1}
	defer k.close()
	// While the host's cgroup file system is in sight.
	unified, err := joinCgroupsAsThread(r.cgroups)
	if err != nil {
		return 0, err
	}
	if k.cgroup, err = cgroupFD(unified); err != nil {
		return 0, err
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return 0, fmt.Errorf("unshare the mount namespace: %w", err)
	}
	if err := enterRoot(root, false); err != nil {
		return 0, err
	}
	p.o.trace.Step("app %s: root entered", r.name)
	if phase == "main" {
		p.o.reached(stepAppRootEntered)
	}
	l.ids = &p.ns.ids
	c, err := resolveConfined(r.spec, l)
	if err != nil {
		return 0, err
	}
	defer c.close()
	if console >= 0 {
		// The app's user's, as in any pod. (The launcher's fchown, made
		// in the app's namespace, of a terminal the host's root owns
		// failed with EPERM: interactive --private-users pods did not
		// start.)
		uid, ok := p.ns.ids.rg.HostID(c.uid)
		if !ok {
			return 0, fmt.Errorf("terminal: the app's user %d is outside the pod's %d IDs", c.uid, p.ns.ids.rg.Count)
		}
		if k.peer, err = openTerminal(console, uid); err != nil {
			return 0, err
		}
		if err := k.prepareTerminal(c.uid); err != nil {
			return 0, err
		}
		files = nil
	}
	if c.apart {
		fd, err := apartRuleset(c.rootFd)
		if err != nil && !landlockAbsent(err) {
			return 0, err
		}
		k.ruleset = fd
	}
	if err := k.prepare(c, files); err != nil {
		return 0, err
	}
	p.o.trace.Step("app %s: exec %s", r.name, c.prog)
	return k.start()
}

// nsChild is what the child of launchInUserNS does, prepared by the thread
// so that the child makes nothing but raw system calls (nsChild.start).
type nsChild struct {
	ns *nsLaunch
	// cgroup is the app's cgroup of the unified hierarchy, which the
	// child enters at its fork (or -1), peer the terminal's peer as this
	// thread opened it (or -1), ruleset the Landlock ruleset of the app's
	// domain (or -1), wd the working directory; files are the descriptors
	// that become 0, 1 and 2 (copies above 2, close-on-exec), or -1 when
	// the terminal is.
	cgroup        int
	peer, ruleset int
	// The terminal of an interactive pod, as the child opens it again
	// (ttyHow, ttyPath: in its own mount namespace, as the app's user,
	// ttyUID) and checks it (ttyStat: the very node peer is open on).
	ttyPath         []byte
	ttyHow          unix.OpenHow
	ttyUID          uint32
	ttyStat, ttyGot unix.Stat_t
	wd              int
	files           [3]int
	bounding        capSet // kept in the bounding set
	groups          []uint32
	ngroups         int
	uid, gid        uint32
	nnp             bool
	filter          *unix.SockFprog
	capHdr          unix.CapUserHeader
	capData         [2]unix.CapUserData
	prog            *byte
	progName        string
	argv, env       []*byte
	// idMap is the pod's map, as uid_map and gid_map take it.
	idMap string
}

// Steps of nsChild's child, named in its error.
const (
	nsStepMaps = iota + 1
	nsStepTerminal
	nsStepSetsid
	nsStepCtty
	nsStepDup
	nsStepNofile
	nsStepChdir
	nsStepLandlock
	nsStepBounding
	nsStepSetgroups
	nsStepSetresgid
	nsStepKeepcaps
	nsStepNoNewPrivs
	nsStepSeccomp
	nsStepSetresuid
	nsStepCapset
	nsStepAmbient
	nsStepExec
)

// nsStepName names step of nsChild's child for its error, in the words of
// the launcher's.
func nsStepName(step uint32, k *nsChild) string {
	switch step {
	case nsStepMaps:
		return "wait for its user namespace's maps"
	case nsStepTerminal:
		return "terminal: open " + string(k.ttyPath[:len(k.ttyPath)-1]) + " in the app's mount namespace"
	case nsStepSetsid:
		return "terminal: setsid"
	case nsStepCtty:
		return "terminal: make it the controlling terminal"
	case nsStepDup:
		return "pass descriptors 0, 1 and 2"
	case nsStepNofile:
		return "restore RLIMIT_NOFILE"
	case nsStepChdir:
		return "working directory"
	case nsStepLandlock:
		return "keep the app apart: landlock_restrict_self"
	case nsStepBounding:
		return "drop capabilities from the bounding set"
	case nsStepSetgroups:
		return fmt.Sprintf("setgroups %v", k.groups[:k.ngroups])
	case nsStepSetresgid:
		return fmt.Sprintf("setresgid %d", k.gid)
	case nsStepKeepcaps:
		return "prctl(PR_SET_KEEPCAPS)"
	case nsStepNoNewPrivs:
		return "prctl(PR_SET_NO_NEW_PRIVS)"
	case nsStepSeccomp:
		return "load seccomp filter"
	case nsStepSetresuid:
		return fmt.Sprintf("setresuid %d", k.uid)
	case nsStepCapset:
		return "capset " + k.bounding.String()
	case nsStepAmbient:
		return "clear ambient capabilities"
	case nsStepExec:
		return "exec " + k.progName
	}
	return "step " + strconv.Itoa(int(step))
}

// prepare fills k from c, confined as the app's process, and files, its
// descriptors 0, 1 and 2.
func (k *nsChild) prepare(c *confinedExec, files []int) error {
	k.wd = c.wdFd
	for i := range k.files {
		k.files[i] = -1
	}
	for i, fd := range files {
		// Above 2, so that placing one cannot overwrite another.
		hi, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return fmt.Errorf("descriptor %d of the app: %w", i, err)
		}
		k.files[i] = hi
	}
	k.bounding = c.caps
	k.groups = append(append([]uint32(nil), c.supp...), 0) // never empty: &groups[0]
	k.ngroups = len(c.supp)
	k.uid, k.gid, k.nnp = c.uid, c.gid, c.nnp
	k.filter = seccompProg(c.plan.filter)
	k.capHdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	k.capData = [2]unix.CapUserData{
		{Effective: uint32(c.caps), Permitted: uint32(c.caps)},
		{Effective: uint32(c.caps >> 32), Permitted: uint32(c.caps >> 32)},
	}
	var err error
	k.progName = c.prog
	if k.prog, err = syscall.BytePtrFromString(c.prog); err != nil {
		return fmt.Errorf("exec %s: %w", c.prog, err)
	}
	if k.argv, err = syscall.SlicePtrFromStrings(c.argv); err != nil {
		return fmt.Errorf("exec %s: %w", c.prog, err)
	}
	if k.env, err = syscall.SlicePtrFromStrings(c.env); err != nil {
		return fmt.Errorf("exec %s: %w", c.prog, err)
	}
	rg := k.ns.ids.rg
	k.idMap = fmt.Sprintf("0 %d %d\n", rg.First, rg.Count)
	return nil
}

// prepareTerminal readies the child to open the terminal whose peer k
// holds again in its own mount namespace, as uid (the app's user there),
// where the thread's descriptor would show a mount of another namespace
// (/proc/PID/fd names it "/0", not /dev/pts/0): by its path in the app's
// root, without symlinks, and only if it is the very node the thread
// opened (as terminalNode checks a console).
func (k *nsChild) prepareTerminal(uid uint32) error {
	path, err := os.Readlink(fdPath(k.peer))
	if err != nil || !strings.HasPrefix(path, "/dev/pts/") {
		return fmt.Errorf("terminal: its path in the app's root: %q, %v", path, err)
	}
	if err := unix.Fstat(k.peer, &k.ttyStat); err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	k.ttyPath = append([]byte(path), 0)
	k.ttyHow = unix.OpenHow{Flags: unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	k.ttyUID = uid
	return nil
}

// close closes the descriptors k holds.
func (k *nsChild) close() {
	for _, fd := range append(k.files[:], k.peer, k.ruleset, k.cgroup) {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// start forks the child into a new user and mount namespace, writes the
// user namespace's maps, and waits for the child's execve. The child calls
// nothing but raw system calls on data prepared in k (no allocation, no
// lock, no stack growth: the runtime's fork hooks make the last one fatal,
// as in syscall.forkAndExecInChild).
//
//go:norace
func (k *nsChild) start() (int, error) {
	var maps, report [2]int // pipes: the maps are written; the child's error
	if err := unix.Pipe2(maps[:], unix.O_CLOEXEC); err != nil {
		return 0, fmt.Errorf("pipe: %w", err)
	}
	defer unix.Close(maps[1])
	if err := unix.Pipe2(report[:], unix.O_CLOEXEC); err != nil {
		unix.Close(maps[0])
		return 0, fmt.Errorf("pipe: %w", err)
	}
	defer unix.Close(report[0])
	var rep [2]uint32 // step, errno
	var one [1]byte
	cwd := unix.AT_FDCWD
	// clone3 only to enter a cgroup at the fork: a host's seccomp
	// profile may refuse it where it allows clone.
	args := cloneArgs{flags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_INTO_CGROUP, exitSignal: uint64(unix.SIGCHLD), cgroup: uint64(k.cgroup)}
	var r1 uintptr
	var e1 syscall.Errno

	syscall.ForkLock.Lock()
	forkhook.Before()
	if k.cgroup >= 0 {
		r1, _, e1 = syscall.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args), 0)
	} else {
		r1, _, e1 = syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.CLONE_NEWUSER|unix.CLONE_NEWNS|unix.SIGCHLD), 0, 0, 0, 0, 0)
	}
	if e1 == 0 && r1 == 0 {
		// The child: raw system calls only.
		forkhook.AfterInChild()
		var e syscall.Errno
		var n uintptr
		step := uint32(nsStepMaps)
		for {
			n, _, e = syscall.RawSyscall(unix.SYS_READ, uintptr(maps[0]), uintptr(unsafe.Pointer(&one[0])), 1)
			if e != unix.EINTR {
				break
			}
		}
		if e == 0 && n != 1 {
			e = unix.EPIPE
		}
		if e != 0 {
			goto fail
		}
		// From here on, confinedExec.confine and dropPrivileges, in their
		// order, the terminal and the descriptors coming between the
		// working directory and the rest.
		step = nsStepChdir
		if _, _, e = syscall.RawSyscall(unix.SYS_FCHDIR, uintptr(k.wd), 0, 0); e != 0 {
			goto fail
		}
		if k.ttyPath != nil {
			// As its owner: the app's user (we are the host's root, whom
			// the namespace cannot name, and the terminal's group, the
			// host's tty, is none of its either, so no capability of
			// ours applies to it). setresuid below sets fsuid again.
			step = nsStepTerminal
			syscall.RawSyscall(unix.SYS_SETFSUID, uintptr(k.ttyUID), 0, 0)
			n, _, e = syscall.RawSyscall6(unix.SYS_OPENAT2, uintptr(cwd), uintptr(unsafe.Pointer(&k.ttyPath[0])),
				uintptr(unsafe.Pointer(&k.ttyHow)), unsafe.Sizeof(k.ttyHow), 0, 0)
			if e != 0 {
				goto fail
			}
			if _, _, e = syscall.RawSyscall(unix.SYS_FSTAT, n, uintptr(unsafe.Pointer(&k.ttyGot)), 0); e != 0 {
				goto fail
			}
			if k.ttyGot.Dev != k.ttyStat.Dev || k.ttyGot.Ino != k.ttyStat.Ino || k.ttyGot.Rdev != k.ttyStat.Rdev {
				e = unix.ENXIO
				goto fail
			}
			step = nsStepSetsid
			if _, _, e = syscall.RawSyscall(unix.SYS_SETSID, 0, 0, 0); e != 0 {
				goto fail
			}
			step = nsStepCtty
			if _, _, e = syscall.RawSyscall(unix.SYS_IOCTL, n, unix.TIOCSCTTY, 0); e != 0 {
				goto fail
			}
			step = nsStepDup
			for i := uintptr(0); i < 3; i++ {
				if _, _, e = syscall.RawSyscall(unix.SYS_DUP3, n, i, 0); e != 0 {
					goto fail
				}
			}
		}
		step = nsStepDup
		for i, fd := range k.files {
			if fd < 0 {
				continue
			}
			if _, _, e = syscall.RawSyscall(unix.SYS_DUP3, uintptr(fd), uintptr(i), 0); e != 0 {
				goto fail
			}
		}
		if k.ns.nofile != nil {
			step = nsStepNofile
			if _, _, e = syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, uintptr(unsafe.Pointer(k.ns.nofile)), 0, 0, 0); e != 0 {
				goto fail
			}
		}
		if k.ruleset >= 0 {
			step = nsStepLandlock
			if _, _, e = syscall.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(k.ruleset), 0, 0); e != 0 {
				goto fail
			}
		}
		step = nsStepBounding
		for c := uintptr(0); c < 64; c++ {
			if k.bounding&(1<<c) != 0 {
				continue
			}
			_, _, e = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0, 0, 0, 0)
			if e == unix.EINVAL { // past the kernel's last capability
				break
			}
			if e != 0 {
				goto fail
			}
		}
		step = nsStepSetgroups
		if _, _, e = syscall.RawSyscall(unix.SYS_SETGROUPS, uintptr(k.ngroups), uintptr(unsafe.Pointer(&k.groups[0])), 0); e != 0 {
			goto fail
		}
		step = nsStepSetresgid
		if _, _, e = syscall.RawSyscall(unix.SYS_SETRESGID, uintptr(k.gid), uintptr(k.gid), uintptr(k.gid)); e != 0 {
			goto fail
		}
		step = nsStepKeepcaps
		if _, _, e = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0, 0, 0, 0); e != 0 {
			goto fail
		}
		if k.nnp {
			step = nsStepNoNewPrivs
			if _, _, e = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
				goto fail
			}
		}
		if k.filter != nil {
			step = nsStepSeccomp
			if _, _, e = syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(k.filter))); e != 0 {
				goto fail
			}
		}
		step = nsStepSetresuid
		if _, _, e = syscall.RawSyscall(unix.SYS_SETRESUID, uintptr(k.uid), uintptr(k.uid), uintptr(k.uid)); e != 0 {
			goto fail
		}
		step = nsStepCapset
		if _, _, e = syscall.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&k.capHdr)), uintptr(unsafe.Pointer(&k.capData[0])), 0); e != 0 {
			goto fail
		}
		step = nsStepAmbient
		if _, _, e = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 && e != unix.EINVAL {
			goto fail
		}
		step = nsStepExec
		_, _, e = syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(k.prog)),
			uintptr(unsafe.Pointer(&k.argv[0])), uintptr(unsafe.Pointer(&k.env[0])))
	fail:
		rep[0], rep[1] = step, uint32(e)
		syscall.RawSyscall(unix.SYS_WRITE, uintptr(report[1]), uintptr(unsafe.Pointer(&rep[0])), unsafe.Sizeof(rep))
		for {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, ExitCodeFailure, 0, 0)
		}
	}
	forkhook.After()
	syscall.ForkLock.Unlock()
	unix.Close(maps[0])
	unix.Close(report[1])
	if e1 != 0 {
		return 0, fmt.Errorf("fork into a user namespace: %w", e1)
	}
	pid := int(r1)
	if err := k.writeMaps(pid, maps[1]); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		WaitPid(pid)
		return 0, err
	}
	return childReport(report[0], pid, func(step uint32) string { return nsStepName(step, k) },
		"the app's process failed in its user namespace without saying why")
}

// writeMaps writes the pod's map as the uid and gid maps of the user
// namespace of pid, PID 1's child, and tells it on ready (setgroups stays
// allowed: the app's groups are set in it).
func (k *nsChild) writeMaps(pid, ready int) error {
	for _, f := range []string{"uid_map", "gid_map"} {
		file := strconv.Itoa(pid) + "/" + f
		fd, err := unix.Openat(k.ns.proc, file, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("user namespace of the app: open /proc/%s: %w", file, err)
		}
		_, err = unix.Write(fd, []byte(k.idMap))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("user namespace of the app: write /proc/%s %q: %w", file, strings.TrimSpace(k.idMap), err)
		}
	}
	if _, err := unix.Write(ready, []byte{'m'}); err != nil {
		return fmt.Errorf("user namespace of the app: %w", err)
	}
	return nil
}
