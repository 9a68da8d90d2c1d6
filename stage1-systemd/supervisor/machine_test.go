package supervisor

import (
	"bytes"
	"fmt"
	"testing"
)

func TestKeepUnit(t *testing.T) {
	for _, tc := range []struct {
		name, cgroup, unit string
		keep               bool
	}{
		{"v2 service", "0::/system.slice/aci@example.com-hello:1.0.service\n", "aci@example.com-hello:1.0.service", true},
		{"v2 transient service", "0::/system.slice/run-u7.service\n", "run-u7.service", true},
		{"v2 delegated subtree", "0::/system.slice/hello.service/payload\n", "hello.service", true},
		{"v2 scope of systemd-run --scope", "0::/system.slice/run-r1.scope\n", "run-r1.scope", true},
		{"v2 login session", "0::/user.slice/user-0.slice/session-4.scope\n", "session-4.scope", false},
		{"v2 user manager", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/tmux.scope\n", "user@1000.service", false},
		{"v2 root", "0::/\n", "", false},
		{"v2 slice only", "0::/machine.slice\n", "", false},
		{"v2 systemd itself", "0::/init.scope\n", "init.scope", false},
		{"v2 no unit name", "0::/acirun-box/x\n", "", false},
		{"v1 hybrid: name=systemd wins",
			"12:memory:/system.slice/other.service\n1:name=systemd:/system.slice/hello.service\n0::/system.slice/hello.service\n",
			"hello.service", true},
		{"v1 session", "5:cpu,cpuacct:/\n1:name=systemd:/user.slice/user-0.slice/session-c1.scope\n", "session-c1.scope", false},
		{"nothing", "", "", false},
	} {
		unit, keep := keepUnit(tc.cgroup)
		if unit != tc.unit || keep != tc.keep {
			t.Errorf("%s: keepUnit = %q, %v; want %q, %v", tc.name, unit, keep, tc.unit, tc.keep)
		}
	}
}

func TestMachineID(t *testing.T) {
	id, err := machineID("4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11")
	want := []byte{0x4f, 0x21, 0x5d, 0x60, 0x0b, 0x37, 0x4c, 0x2d, 0x9a, 0x1e, 0x5b, 0x0c, 0x9f, 0x3e, 0x2a, 0x11}
	if err != nil || !bytes.Equal(id, want) {
		t.Errorf("machineID = %x, %v; want %x", id, err, want)
	}
	for _, bad := range []string{"", "4f215d60", "4f215d600b374c2d9a1e5b0c9f3e2a11", "4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a1z", "4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a1"} {
		if _, err := machineID(bad); err == nil || err.Error() != fmt.Sprintf("pod UUID %q is not a UUID", bad) {
			t.Errorf("machineID(%q): %v, want a refusal naming it", bad, err)
		}
	}
	if n := machineName("4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11"); n != "acirun-4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11" || len(n) > 64 {
		t.Errorf("machineName = %q", n)
	}
}
