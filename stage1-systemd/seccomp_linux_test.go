package stage1

import (
	"runtime"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/sysnum"
)

func TestPlanSeccomp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		iso    *seccompIsolator
		insec  bool
		none   bool
		report string
		err    string
	}{
		{"default", nil, false, false, "default deny list", ""},
		{"insecure", nil, true, true, "no filter", ""},
		{"remove", &seccompIsolator{set: []string{"mkdir"}, errno: "EPERM"}, false, false, "remove set of 1 calls; plus the default deny list", ""},
		{"remove insecure", &seccompIsolator{set: []string{"mkdir"}}, true, false, "remove set of 1 calls", ""},
		{"retain", &seccompIsolator{retain: true, set: []string{"read", "mount"}}, false, false, "denied mount", ""},
		{"retain adds essentials", &seccompIsolator{retain: true, set: []string{"read"}}, false, false, "added execve", ""},
		{"retain all", &seccompIsolator{retain: true, set: []string{"@appc.io/all"}}, false, false, "retain @appc.io/all: default deny list", ""},
		{"remove all", &seccompIsolator{set: []string{"@appc.io/all"}}, false, false, "retain set of", ""},
		{"empty", &seccompIsolator{set: []string{"@appc.io/empty"}}, false, false, "remove set of 0 calls", ""},
		{"retain clone", &seccompIsolator{retain: true, set: []string{"read", "clone", "clone3"}}, false, false,
			"clone of a user namespace denied (default deny list; --insecure-options=seccomp allows it); clone3 reports ENOSYS", ""},
		{"retain clone insecure", &seccompIsolator{retain: true, set: []string{"read", "clone", "clone3"}}, true, false, "retain set of 25 calls; added", ""},
		{"unknown call", &seccompIsolator{set: []string{"fly"}}, false, false, "", `unknown system call "fly"`},
		{"unknown errno", &seccompIsolator{set: []string{"read"}, errno: "EACCESS"}, false, false, "", `errno "EACCESS"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := planSeccomp(tc.iso, tc.insec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (plan.filter == nil) != tc.none || !strings.Contains(plan.report, tc.report) {
				t.Errorf("plan %q (filter %d instructions), want %q", plan.report, len(plan.filter), tc.report)
			}
		})
	}
}

func TestErrnoByName(t *testing.T) {
	for name, want := range map[string]unix.Errno{"EPERM": unix.EPERM, "ENOTSUP": unix.ENOTSUP, "EXDEV": unix.EXDEV} {
		if e, ok := errnoByName(name); !ok || e != want {
			t.Errorf("errnoByName(%s) = %v, %v", name, e, ok)
		}
	}
	if _, ok := errnoByName("EACCESS"); ok {
		t.Error("EACCESS (the spec example's typo) accepted")
	}
}

// TestAssembleSeccomp runs assembled filters as the kernel would
// (seccompData) and checks each verdict: the rules' actions, the first
// rule naming a call deciding it, the argument condition, the default,
// and the refusal of every call through a foreign ABI.
func TestAssembleSeccomp(t *testing.T) {
	nr := func(name string) uint32 {
		n, ok := sysnum.Number(name)
		if !ok {
			t.Fatalf("no system call %s", name)
		}
		return n
	}
	foreign := uint32(unix.AUDIT_ARCH_I386)
	if sysnum.Arch == unix.AUDIT_ARCH_I386 {
		foreign = unix.AUDIT_ARCH_X86_64
	}
	def, err := planSeccomp(nil, false)
	must(t, err)
	retain, err := planSeccomp(&seccompIsolator{retain: true, set: []string{"read"}}, false)
	must(t, err)
	// The default filter's refusal of user namespaces holds with an
	// isolator too: a remove set (unless it names clone, clone3 itself),
	// a retain set of clone and clone3.
	removeSet, err := planSeccomp(&seccompIsolator{set: []string{"mkdir"}, errno: "EXDEV"}, false)
	must(t, err)
	removeClone, err := planSeccomp(&seccompIsolator{set: []string{"clone", "clone3"}, errno: "EXDEV"}, false)
	must(t, err)
	retainClone, err := planSeccomp(&seccompIsolator{retain: true, set: []string{"read", "clone", "clone3"}}, false)
	must(t, err)
	exdev := unix.SECCOMP_RET_ERRNO | uint32(unix.EXDEV)
	remove, err := assembleSeccomp(seccompAllow, []seccompRule{
		{names: []string{"mkdir", "mount"}, action: unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES)},
		{names: []string{"rmdir"}, action: seccompEPERM},
	})
	must(t, err)
	type call struct {
		nr, arch uint32
		arg0     uint64
	}
	for _, tc := range []struct {
		name   string
		filter []bpf.RawInstruction
		call   call
		want   uint32
	}{
		{"default: read", def.filter, call{nr("read"), sysnum.Arch, 0}, seccompAllow},
		{"default: mount", def.filter, call{nr("mount"), sysnum.Arch, 0}, seccompEPERM},
		{"default: bpf", def.filter, call{nr("bpf"), sysnum.Arch, 0}, seccompEPERM},
		{"default: clone", def.filter, call{nr("clone"), sysnum.Arch, uint64(unix.SIGCHLD)}, seccompAllow},
		{"default: clone of a user namespace", def.filter, call{nr("clone"), sysnum.Arch, unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, seccompEPERM},
		{"default: clone3", def.filter, call{nr("clone3"), sysnum.Arch, 0}, seccompENOSYS},
		{"default: another ABI", def.filter, call{nr("read"), foreign, 0}, seccompENOSYS},
		{"retain: read", retain.filter, call{nr("read"), sysnum.Arch, 0}, seccompAllow},
		{"retain: execve (essential)", retain.filter, call{nr("execve"), sysnum.Arch, 0}, seccompAllow},
		{"retain: mkdirat", retain.filter, call{nr("mkdirat"), sysnum.Arch, 0}, seccompKillProcess},
		{"retain: another ABI", retain.filter, call{nr("read"), foreign, 0}, seccompENOSYS},
		{"remove set: mkdir", removeSet.filter, call{nr("mkdir"), sysnum.Arch, 0}, exdev},
		{"remove set: mount", removeSet.filter, call{nr("mount"), sysnum.Arch, 0}, seccompEPERM},
		{"remove set: clone", removeSet.filter, call{nr("clone"), sysnum.Arch, uint64(unix.SIGCHLD)}, seccompAllow},
		{"remove set: clone of a user namespace", removeSet.filter, call{nr("clone"), sysnum.Arch, unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, seccompEPERM},
		{"remove set: clone3", removeSet.filter, call{nr("clone3"), sysnum.Arch, 0}, seccompENOSYS},
		{"remove set of clone: clone", removeClone.filter, call{nr("clone"), sysnum.Arch, uint64(unix.SIGCHLD)}, exdev},
		{"remove set of clone3: clone3", removeClone.filter, call{nr("clone3"), sysnum.Arch, 0}, exdev},
		{"retain clone: clone", retainClone.filter, call{nr("clone"), sysnum.Arch, uint64(unix.SIGCHLD)}, seccompAllow},
		{"retain clone: clone of a user namespace", retainClone.filter, call{nr("clone"), sysnum.Arch, unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, seccompEPERM},
		{"retain clone: clone3", retainClone.filter, call{nr("clone3"), sysnum.Arch, 0}, seccompENOSYS},
		{"retain clone: mkdirat", retainClone.filter, call{nr("mkdirat"), sysnum.Arch, 0}, seccompKillProcess},
		{"retain: clone3 not retained", retain.filter, call{nr("clone3"), sysnum.Arch, 0}, seccompKillProcess},
		{"rules: first", remove, call{nr("mount"), sysnum.Arch, 0}, unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES)},
		{"rules: second", remove, call{nr("rmdir"), sysnum.Arch, 0}, seccompEPERM},
		{"rules: default", remove, call{nr("unlink"), sysnum.Arch, 0}, seccompAllow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runSeccomp(t, tc.filter, seccompData(tc.call.nr, tc.call.arch, [6]uint64{tc.call.arg0})); got != tc.want {
				t.Errorf("verdict %#x, want %#x", got, tc.want)
			}
		})
	}
	if runtime.GOARCH == "amd64" {
		// The x32 ABI: x86_64's audit architecture, numbers from
		// __X32_SYSCALL_BIT; refused, or a deny list would not hold.
		for _, name := range []string{"read", "mount"} {
			if got := runSeccomp(t, def.filter, seccompData(x32SyscallBit|nr(name), sysnum.Arch, [6]uint64{})); got != seccompENOSYS {
				t.Errorf("x32 %s: verdict %#x, want ENOSYS", name, got)
			}
		}
	}
	if _, err := assembleSeccomp(seccompAllow, []seccompRule{{names: []string{"fly"}, action: seccompEPERM}}); err == nil || !strings.Contains(err.Error(), `"fly"`) {
		t.Errorf("unknown call: %v", err)
	}
	if _, err := assembleSeccomp(seccompAllow, []seccompRule{{names: []string{"read"}, action: seccompEPERM}, {names: []string{"read"}, action: seccompAllow}}); err == nil {
		t.Error("a call in two rules accepted")
	}
	// A conditional rule and then one more; never a rule after one that
	// decides, nor two conditions.
	for _, rules := range [][]seccompRule{
		{{names: []string{"clone"}, action: seccompAllow}, {names: []string{"clone"}, action: seccompEPERM, arg0Bit: unix.CLONE_NEWUSER}},
		{{names: []string{"clone"}, action: seccompEPERM, arg0Bit: unix.CLONE_NEWUSER}, {names: []string{"clone"}, action: seccompEPERM, arg0Bit: unix.CLONE_NEWNS}},
	} {
		if _, err := assembleSeccomp(seccompAllow, rules); err == nil {
			t.Errorf("rules %+v accepted", rules)
		}
	}
}

// runSeccomp runs filter on data (seccompData) in x/net/bpf's virtual
// machine and returns its verdict.
func runSeccomp(t *testing.T, filter []bpf.RawInstruction, data []byte) uint32 {
	t.Helper()
	prog, ok := bpf.Disassemble(filter)
	if !ok {
		t.Fatal("the filter does not disassemble")
	}
	vm, err := bpf.NewVM(prog)
	must(t, err)
	ret, err := vm.Run(data)
	must(t, err)
	return uint32(ret)
}
