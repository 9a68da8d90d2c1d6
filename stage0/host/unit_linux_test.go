package host

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/acirun/acirun/stage0/pod"
)

func TestMainExitCode(t *testing.T) {
	for _, tc := range []struct {
		code, status int32
		want         int
		ok           bool
	}{
		{cldExited, 0, 0, true},
		{cldExited, 3, 3, true},
		{cldExited, 254, 254, true},
		{cldKilled, 9, 137, true},
		{cldKilled, 15, 143, true},
		{cldDumped, 6, 134, true},
		{0, 0, 0, false}, // never ran, or still running
	} {
		got, ok := mainExitCode(tc.code, tc.status)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ExecMainCode=%d ExecMainStatus=%d: %d, %v; want %d, %v", tc.code, tc.status, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTerminalProperties(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	props := terminalProperties(r, w, nil)
	if len(props) != 2 || props[0].Name != "StandardInputFileDescriptor" || props[1].Name != "StandardOutputFileDescriptor" {
		t.Fatalf("properties %v: want stdin and stdout only", props)
	}
	if fd, ok := props[1].Value.Value().(dbus.UnixFD); !ok || int(fd) != int(w.Fd()) || props[1].Value.Signature().String() != "h" {
		t.Errorf("stdout property %v: want the pipe's fd %d as a unix fd (h)", props[1].Value, w.Fd())
	}
}

// TestRunPodDetachNeedsSystemd: --detach where the pod would run in this
// process is refused before anything is prepared.
func TestRunPodDetachNeedsSystemd(t *testing.T) {
	h := newHost(t)
	_, err := h.RunPod(context.Background(), &pod.RunRequest{}, PrepareOptions{}, UnitOptions{NoUnit: true, Detach: true},
		func(*pod.Pod, []string) error { t.Fatal("the pod was started"); return nil })
	if err == nil || !strings.Contains(err.Error(), "--detach") {
		t.Errorf("--detach with --no-unit: %v", err)
	}
	if pods, err := h.Pods(context.Background()); err != nil || len(pods) != 0 {
		t.Errorf("pods after a refused run: %v, %v", pods, err)
	}
}

func TestCgroupsInService(t *testing.T) {
	for _, tc := range []struct {
		file string
		want bool
	}{
		{"0::/user.slice/user-0.slice/session-3.scope\n", false},
		{"0::/\n", false},
		{"0::/system.slice/aci@example.com-hello:1.0.service\n", true},
		{"0::/system.slice/foo.service/payload\n", true},                           // a delegated service's sub-cgroup
		{"12:pids:/\n1:name=systemd:/system.slice/acirun-x.service\n0::/\n", true}, // v1 + v2 hybrid
		{"12:pids:/user.slice\n1:name=systemd:/user.slice/session-1.scope\n0::/user.slice/session-1.scope\n", false},
		{"0::/init.scope\n", false},
		{"0::/system.slice/not-a.service.d/x\n", false},
		{"", false},
		{"garbage\n", false},
	} {
		if got := cgroupsInService(tc.file); got != tc.want {
			t.Errorf("cgroupsInService(%q) = %t, want %t", tc.file, got, tc.want)
		}
	}
}
