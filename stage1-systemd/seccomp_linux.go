package stage1

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/sysnum"
)

// seccompDefaultDeny returns the calls refused (EPERM) to every app unless
// the operator passes --insecure-options=seccomp: mounting and namespace
// games, kernel keyrings and modules, kexec, eBPF, handle-based opens (the
// "shocker" escape), perf, userfaultfd, io_uring (as Docker since 2023), and
// clock, swap, reboot and accounting controls; clone with CLONE_NEWUSER is
// refused too, and clone3 reports ENOSYS (its flags cannot be inspected) so
// that libraries fall back to clone. ptrace stays allowed, as in Docker:
// without CAP_SYS_PTRACE it reaches only the app's own processes, and
// debuggers need it.
func seccompDefaultDeny() []string {
	return []string{
		"mount", "umount2", "pivot_root",
		"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
		"unshare", "setns",
		"keyctl", "add_key", "request_key",
		"kexec_load", "kexec_file_load",
		"bpf",
		"init_module", "finit_module", "delete_module", "create_module", "get_kernel_syms", "query_module",
		"open_by_handle_at", "name_to_handle_at",
		"perf_event_open", "userfaultfd",
		"swapon", "swapoff", "reboot", "acct",
		"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
		"syslog", "iopl", "ioperm", "quotactl", "lookup_dcookie", "nfsservctl", "uselib",
		"_sysctl", "ustat", "sysfs", "vhangup",
		"io_uring_setup", "io_uring_enter", "io_uring_register",
	}
}

// seccompEssential returns the calls stage1 itself makes between loading an
// app's filter and executing the app. A retain set without them could not
// start anything, so they are added (and the isolator reported as modified).
func seccompEssential() []string {
	return []string{
		"execve", "exit", "exit_group", "futex", "rt_sigprocmask", "rt_sigreturn", "rt_sigaction",
		"sigaltstack", "sched_yield", "nanosleep", "mmap", "munmap", "madvise", "getpid", "gettid",
		"tgkill", "setresuid", "capget", "capset", "prctl", "write", "close",
	}
}

// seccompPlan is the filter an app gets, and what to report about it.
type seccompPlan struct {
	filter   []bpf.RawInstruction // nil: no filter
	report   string
	modified bool // the isolator's set was changed (not merely added to)
}

// errnoByName maps a POSIX/C99 errno name (EPERM) to its number.
func errnoByName(name string) (unix.Errno, bool) {
	for e := unix.Errno(1); e < 256; e++ {
		if unix.ErrnoName(e) == name {
			return e, true
		}
	}
	return 0, false
}

// The actions of a seccomp filter's rules (seccomp(2)'s SECCOMP_RET_*).
const (
	seccompAllow       = unix.SECCOMP_RET_ALLOW
	seccompKillProcess = unix.SECCOMP_RET_KILL_PROCESS
	seccompEPERM       = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	seccompENOSYS      = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// seccompRule gives the calls of names an action: every such call, or,
// with arg0Bit set, only those whose first argument has that flag (a
// single bit of its low 32).
type seccompRule struct {
	names   []string
	action  uint32
	arg0Bit uint32
}

// planSeccomp turns an app's seccomp isolator (nil if none) into a filter.
func planSeccomp(iso *seccompIsolator, insecure bool) (*seccompPlan, error) {
	if !sysnum.Supported() {
		return nil, fmt.Errorf("seccomp: no system call table for %s", runtime.GOARCH)
	}
	known := func(n string) bool { _, ok := sysnum.Number(n); return ok }
	var deny []string // the default deny list, for this architecture
	if !insecure {
		for _, n := range seccompDefaultDeny() {
			if known(n) {
				deny = append(deny, n)
			}
		}
	}
	if iso == nil {
		if insecure {
			return &seccompPlan{report: "no filter (--insecure-options=seccomp)"}, nil
		}
		f, err := assembleSeccomp(seccompAllow, append([]seccompRule{{names: deny, action: seccompEPERM}}, seccompNoUserNS(func(string) bool { return true })...))
		return &seccompPlan{filter: f, report: fmt.Sprintf("default deny list (%d calls)", len(deny))}, err
	}
	blocked := uint32(seccompKillProcess)
	if iso.errno != "" {
		e, ok := errnoByName(iso.errno)
		if !ok {
			return nil, fmt.Errorf("seccomp errno %q: not a known errno", iso.errno)
		}
		blocked = unix.SECCOMP_RET_ERRNO | uint32(e)
	}
	set := map[string]bool{}
	all, empty := false, false
	for _, n := range iso.set {
		switch n {
		case aci.SeccompAll:
			all = true
		case aci.SeccompEmpty:
			empty = true
		default:
			if !known(n) {
				return nil, fmt.Errorf("seccomp set: unknown system call %q for %s", n, runtime.GOARCH)
			}
			set[n] = true
		}
	}
	var notes []string
	retain := iso.retain
	if !retain && all { // remove everything: only what starting the app needs
		retain, all, set = true, false, map[string]bool{}
	}
	if retain && all { // retain everything: as without an isolator
		plan, err := planSeccomp(nil, insecure)
		if plan != nil {
			plan.report = "retain " + aci.SeccompAll + ": " + plan.report
		}
		return plan, err
	}
	_ = empty // @appc.io/empty: retain nothing / remove nothing
	if !retain {
		var names []string
		for n := range set {
			names = append(names, n)
		}
		sort.Strings(names)
		rules := []seccompRule{{names: names, action: blocked}}
		var extra []string
		for _, n := range deny {
			if !set[n] {
				extra = append(extra, n)
			}
		}
		if len(extra) > 0 {
			rules = append(rules, seccompRule{names: extra, action: seccompEPERM})
			notes = append(notes, fmt.Sprintf("plus the default deny list (%d calls)", len(extra)))
		}
		if !insecure {
			// The default filter's refusal of new user namespaces too,
			// for the calls the set leaves.
			rules = append(rules, seccompNoUserNS(func(n string) bool { return !set[n] })...)
		}
		f, err := assembleSeccomp(seccompAllow, rules)
		return &seccompPlan{filter: f, report: joinReport(fmt.Sprintf("remove set of %d calls", len(names)), notes)}, err
	}
	var added []string
	for _, n := range seccompEssential() {
		if known(n) && !set[n] {
			set[n] = true
			added = append(added, n)
		}
	}
	if len(added) > 0 {
		notes = append(notes, "added "+strings.Join(added, ",")+" (needed to start the app)")
	}
	var dropped []string
	for _, n := range deny {
		if set[n] {
			delete(set, n)
			dropped = append(dropped, n)
		}
	}
	if len(dropped) > 0 {
		notes = append(notes, "denied "+strings.Join(dropped, ",")+" (default deny list; --insecure-options=seccomp allows them)")
	}
	// A retained clone still makes no user namespace, and a retained
	// clone3, whose flags a filter cannot read, reports ENOSYS, as in the
	// default filter.
	var rules []seccompRule
	if !insecure {
		rules = seccompNoUserNS(func(n string) bool { return set[n] })
		for _, r := range rules {
			switch r.names[0] {
			case "clone":
				notes = append(notes, "clone of a user namespace denied (default deny list; --insecure-options=seccomp allows it)")
			case "clone3":
				delete(set, "clone3") // decided by the rule
				notes = append(notes, "clone3 reports ENOSYS (default deny list; --insecure-options=seccomp allows it)")
			}
		}
	}
	var names []string
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	f, err := assembleSeccomp(blocked, append(rules, seccompRule{names: names, action: seccompAllow}))
	return &seccompPlan{filter: f, report: joinReport(fmt.Sprintf("retain set of %d calls", len(names)), notes), modified: len(notes) > 0}, err
}

// seccompNoUserNS are the default filter's rules against new user
// namespaces beside its deny list (which has unshare and setns), for the
// calls of clone and clone3 for which of says so (a remove set's calls
// have a rule already; a retain set's others are refused anyway): clone
// with CLONE_NEWUSER is refused, and clone3, whose flags are in memory a
// filter cannot read, reports ENOSYS, so that libraries fall back to
// clone.
func seccompNoUserNS(of func(name string) bool) []seccompRule {
	var rules []seccompRule
	if of("clone") {
		rules = append(rules, seccompRule{names: []string{"clone"}, action: seccompEPERM, arg0Bit: unix.CLONE_NEWUSER})
	}
	if of("clone3") {
		rules = append(rules, seccompRule{names: []string{"clone3"}, action: seccompENOSYS})
	}
	return rules
}

func joinReport(s string, notes []string) string {
	if len(notes) == 0 {
		return s
	}
	return s + "; " + strings.Join(notes, "; ")
}

// assembleSeccomp builds the BPF program: the first of rules that names
// a call decides it, def the calls none names. Every call made through a
// foreign ABI is refused (ENOSYS), whatever the rules: another audit
// architecture's (i386 through int 0x80 on amd64, 32-bit ARM on arm64),
// and on amd64 the x32 ABI's, which shares x86_64's audit architecture
// but numbers its calls from __X32_SYSCALL_BIT, so that no deny list can
// be gone around. Each rule's call is compared and, when it matches,
// returned from right below, so every jump is short whatever the length.
// A call is named by one rule, or by one with an argument condition and
// then one more (which decides the calls the condition lets through).
func assembleSeccomp(def uint32, rules []seccompRule) ([]bpf.RawInstruction, error) {
	// struct seccomp_data: nr, arch, instruction_pointer, args[6].
	const nrOff, archOff, argsOff = 0, 4, 16
	arg0Low := uint32(argsOff) // the low 32 bits of args[0]
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 {
		arg0Low += 4 // big-endian: the second word
	}
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: archOff, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: sysnum.Arch, SkipTrue: 1},
		bpf.RetConstant{Val: seccompENOSYS},
		bpf.LoadAbsolute{Off: nrOff, Size: 4},
	}
	if runtime.GOARCH == "amd64" {
		prog = append(prog,
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32SyscallBit, SkipFalse: 1},
			bpf.RetConstant{Val: seccompENOSYS})
	}
	// Whether a rule named the call: with an argument condition (false),
	// or deciding it whatever its arguments (true).
	seen := map[string]bool{}
	for _, r := range rules {
		for _, n := range r.names {
			nr, ok := sysnum.Number(n)
			if !ok {
				return nil, fmt.Errorf("seccomp: unknown system call %q for %s", n, runtime.GOARCH)
			}
			if decided, named := seen[n]; named && (decided || r.arg0Bit != 0) {
				return nil, fmt.Errorf("seccomp: system call %q in two rules", n)
			}
			seen[n] = r.arg0Bit == 0
			if r.arg0Bit == 0 {
				prog = append(prog,
					bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: 1},
					bpf.RetConstant{Val: r.action})
				continue
			}
			prog = append(prog,
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: 4},
				bpf.LoadAbsolute{Off: arg0Low, Size: 4},
				bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: r.arg0Bit, SkipFalse: 1},
				bpf.RetConstant{Val: r.action},
				bpf.LoadAbsolute{Off: nrOff, Size: 4}) // the call's number again
		}
	}
	prog = append(prog, bpf.RetConstant{Val: def})
	if len(prog) > bpfMaxInstructions {
		return nil, fmt.Errorf("seccomp: the filter has %d instructions, more than the kernel's %d", len(prog), bpfMaxInstructions)
	}
	return bpf.Assemble(prog)
}

const (
	// x32SyscallBit is amd64's __X32_SYSCALL_BIT: calls numbered from it
	// are the x32 ABI's.
	x32SyscallBit = 0x40000000
	// bpfMaxInstructions is BPF_MAXINSNS, the longest filter the kernel
	// loads.
	bpfMaxInstructions = 4096
)

// loadSeccomp installs filter on the calling thread.
func loadSeccomp(filter []bpf.RawInstruction) error {
	prog := seccompProg(filter)
	if prog == nil {
		return nil
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(prog))); errno != 0 {
		return fmt.Errorf("load seccomp filter: %w", errno)
	}
	return nil
}

// seccompProg is filter as seccomp(SECCOMP_SET_MODE_FILTER) takes it, or
// nil for no filter: loadSeccomp's, and the one the child of a launch into
// a user namespace loads with a raw system call (launchuserns_linux.go).
func seccompProg(filter []bpf.RawInstruction) *unix.SockFprog {
	if len(filter) == 0 {
		return nil
	}
	sf := make([]unix.SockFilter, len(filter))
	for i, in := range filter {
		sf[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return &unix.SockFprog{Len: uint16(len(sf)), Filter: &sf[0]}
}

// seccompCall is one system call as a seccomp filter sees it: its name
// and arguments.
type seccompCall struct {
	name string
	args [6]uint64
}

// launchCalls are the calls that starting an app from a thread of PID 1
// makes under the app's filter (launch_linux.go): the thread's own, from
// dropping its privileges to its exit, Go's syscall.ForkExec's in it (the
// status pipe, the vfork-style clone, reading the status, reaping a child
// whose exec failed) and in the child until the app's execve (the signal
// state reset, the descriptor shuffle, the session and controlling
// terminal of an interactive pod, the restored RLIMIT_NOFILE), and what
// the Go runtime may call on any thread meanwhile (parking, signals,
// preemption, memory). PID 1 launches an app itself only when its filter
// allows every one of them (seccompRefuses), so that the filter is
// exactly the app's: nothing is added to it for PID 1's sake.
func launchCalls() []seccompCall {
	calls := []seccompCall{
		{name: "clone", args: [6]uint64{unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD)}},
		{name: "ioctl", args: [6]uint64{0, unix.TIOCSCTTY, 1}},
		{name: "pipe2", args: [6]uint64{unix.O_CLOEXEC}},
		{name: "fcntl", args: [6]uint64{0, unix.F_SETFD}},
		{name: "dup3", args: [6]uint64{0, 0, unix.O_CLOEXEC}},
		{name: "dup3"},
	}
	for _, n := range append(seccompEssential(), "read", "wait4", "setsid", "prlimit64", "getppid",
		"mprotect", "clock_gettime", "clock_nanosleep", "getrandom", "sched_getaffinity") {
		calls = append(calls, seccompCall{name: n})
	}
	return calls
}

// seccompRefuses returns the first of calls that filter (nil: none)
// does not allow, or "" when it allows them all. It runs the filter as
// the kernel would, on the running architecture's seccomp_data.
func seccompRefuses(filter []bpf.RawInstruction, calls []seccompCall) (string, error) {
	if len(filter) == 0 {
		return "", nil
	}
	prog, ok := bpf.Disassemble(filter)
	if !ok {
		return "", errors.New("seccomp: the filter does not disassemble")
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		return "", fmt.Errorf("seccomp: %w", err)
	}
	for _, c := range calls {
		nr, ok := sysnum.Number(c.name)
		if !ok {
			continue // not on this architecture: never called
		}
		ret, err := vm.Run(seccompData(nr, sysnum.Arch, c.args))
		if err != nil {
			return "", fmt.Errorf("seccomp: run the filter on %s: %w", c.name, err)
		}
		if uint32(ret)&unix.SECCOMP_RET_ACTION_FULL != unix.SECCOMP_RET_ALLOW {
			return c.name, nil
		}
	}
	return "", nil
}

// seccompData is struct seccomp_data for a call, laid out for the BPF
// virtual machine: the kernel loads each 32-bit word in the machine's own
// byte order, the virtual machine in network order, so every word is
// written big-endian with the value the kernel would read there.
func seccompData(nr, archID uint32, args [6]uint64) []byte {
	native := make([]byte, 64)
	binary.NativeEndian.PutUint32(native[0:], nr)
	binary.NativeEndian.PutUint32(native[4:], archID)
	// native[8:16], the instruction pointer, stays 0.
	for i, a := range args {
		binary.NativeEndian.PutUint64(native[16+8*i:], a)
	}
	out := make([]byte, len(native))
	for off := 0; off < len(native); off += 4 {
		binary.BigEndian.PutUint32(out[off:], binary.NativeEndian.Uint32(native[off:]))
	}
	return out
}
