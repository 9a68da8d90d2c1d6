package e2e

// Pods as systemd sees them, in the box (tests/box): a Type=notify unit
// that becomes active only once the apps have started, and every pod
// registered with systemd-machined, in the unit it runs in or, run from a
// shell, in a scope of its own that machinectl terminate stops.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// machineOf returns the properties of the pod's machine (machinectl show).
func (p *boxPod) machineOf(ctx context.Context, uuid string) map[string]string {
	p.t.Helper()
	out, err := p.b.Output(ctx, "machinectl", "show", "acirun-"+uuid)
	if err != nil {
		p.t.Fatalf("machinectl show: %v", err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// machines lists the names of the box's machines.
func (p *boxPod) machines(ctx context.Context) []string {
	p.t.Helper()
	out, err := p.b.Output(ctx, "machinectl", "list", "--no-legend", "--no-pager")
	if err != nil {
		p.t.Fatalf("machinectl list: %v", err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// onlyPod waits for the one pod of dataDir to be running and returns its
// UUID.
func onlyPod(t *testing.T, dataDir string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		pods, _ := filepath.Glob(filepath.Join(dataDir, "pods", "*-*-*-*-*"))
		if len(pods) == 1 {
			if _, err := os.Stat(filepath.Join(pods[0], "ppid1")); err == nil {
				return filepath.Base(pods[0])
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no running pod in %s after 30s: %v", dataDir, pods)
		}
	}
}

// ppid1 reads the pod's PID 1 as stage1 recorded it (a PID of the box).
func ppid1(t *testing.T, podDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(podDir, "ppid1"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestPodUnitNotify: a pod in a Type=notify unit. systemd-run returns when
// the unit is up, and by then the unit is active and the pod's app is
// running; without the pod's READY=1 the start would time out. The pod is
// the machine of that unit, and machinectl terminate stops the unit.
func TestPodUnitNotify(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vol := filepath.Join(p.dir, "vol")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	img := p.image(podImage(t, podManifest(t, "example.com/unit-ready", map[string]any{
		"mountPoints": []map[string]any{{"name": "data", "path": "/data"}},
		// The app starts late: readiness is when it has started, not when
		// its pre-start handler has.
		"eventHandlers": []map[string]any{{"name": "pre-start", "exec": []string{"/testapp", "sleep", "1s"}}},
	}, "write", "/data/started", "yes", "+", "sleep", "1h"), nil))

	start := time.Now()
	out, code := p.systemdRun(ctx, append([]string{"--unit=pod-ready", "--collect",
		"-p", "Type=notify", "-p", "KillMode=mixed", "-p", "TimeoutStartSec=30s"},
		p.acirun("run", "--insecure-options=image", "--net=none", "--volume=data,kind=host,source="+vol, img)...)...)
	if code != 0 {
		j, _ := p.b.Journal(ctx, "pod-ready.service")
		t.Fatalf("systemd-run: exit %d\n%s\njournal:\n%s", code, out, j)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("the unit was up after %v, before the pre-start handler's 1s", d)
	}
	props := p.show(ctx, "pod-ready.service", "ActiveState", "SubState", "StatusText", "MainPID")
	if props["ActiveState"] != "active" || props["SubState"] != "running" || props["StatusText"] != "Running 1 app(s)" {
		t.Errorf("pod-ready.service right after its start: %v, want active, running, StatusText Running 1 app(s)", props)
	}
	uuid := onlyPod(t, p.data)
	pod := filepath.Join(p.data, "pods", uuid)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(vol, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app did not run after the unit was up")
		}
	}

	m := p.machineOf(ctx, uuid)
	if m["Unit"] != "pod-ready.service" || m["Class"] != "container" || m["Service"] != "acirun" ||
		m["Leader"] != ppid1(t, pod) || m["State"] != "running" {
		t.Errorf("machine of the pod: %v, want unit pod-ready.service, class container, service acirun, leader %s (PID 1)", m, ppid1(t, pod))
	}
	if want := strings.ReplaceAll(uuid, "-", ""); m["Id"] != want {
		t.Errorf("machine ID %s, want the pod's UUID %s", m["Id"], want)
	}
	if err := p.b.Exec(ctx, "machinectl", "terminate", "acirun-"+uuid); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st := p.show(ctx, "pod-ready.service", "ActiveState")["ActiveState"]
		if st == "inactive" || st == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod-ready.service is still %s 20s after machinectl terminate", st)
		}
	}
	if b, m := p.exitJSON(); m["exitCode"] != float64(143) {
		t.Errorf("exit.json after machinectl terminate: %s, want 143 (the app stopped by SIGTERM)", b)
	}
	for _, n := range p.machines(ctx) {
		if n == "acirun-"+uuid {
			t.Errorf("machinectl still lists %s after the pod ended", n)
		}
	}
	journal, _ := p.b.Journal(ctx, "pod-ready.service")
	if strings.Contains(journal, "WARNING") {
		t.Errorf("the pod warned:\n%s", journal)
	}
}

// TestPodMachineScope: `acirun run` from a shell (here, in no unit at all)
// puts the pod in a new scope unit that machined makes for it, with every
// app inside; stopping the scope's machine stops the pod gracefully, and
// the scope is gone after it.
func TestPodMachineScope(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/scope-pod", nil, "sleep", "1h"), nil))
	// --no-unit: run from a shell in acirun's own process, as on a host
	// where acirun makes no transient unit.
	cmd := p.b.Command(ctx, p.acirun("run", "--no-unit", "--insecure-options=image", "--net=none", img, img, "--name=second")...)
	out := &lockedOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()
	uuid := onlyPod(t, p.data)
	pod := filepath.Join(p.data, "pods", uuid)
	scope := `machine-acirun\x2d` + strings.ReplaceAll(uuid, "-", `\x2d`) + ".scope"
	var m map[string]string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if names := p.machines(ctx); len(names) > 0 && strings.Contains(strings.Join(names, " "), uuid) {
			m = p.machineOf(ctx, uuid)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("machinectl does not list the pod after 20s:\n%s", out.String())
		}
	}
	if m["Unit"] != scope || m["Leader"] != ppid1(t, pod) {
		t.Errorf("machine of the pod: %v, want unit %s, leader %s", m, scope, ppid1(t, pod))
	}
	if st := p.show(ctx, scope, "ActiveState", "Delegate"); st["ActiveState"] != "active" || st["Delegate"] != "yes" {
		t.Errorf("%s: %v, want active and delegated", scope, st)
	}
	// PID 1 and both apps are in the scope: PID 1 started nothing before
	// it was moved there.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		cg, err := p.b.Output(ctx, "systemctl", "show", "-p", "ControlGroup", "--value", scope)
		if err != nil {
			t.Fatal(err)
		}
		// Read in the box, for PIDs of the box's namespace.
		var procs []byte
		for _, h := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup"} {
			if procs, err = p.b.Output(ctx, "cat", h+strings.TrimSpace(string(cg))+"/cgroup.procs"); err == nil {
				break
			}
		}
		n := len(strings.Fields(string(procs)))
		if n == 3 && strings.Contains(" "+strings.Join(strings.Fields(string(procs)), " ")+" ", " "+ppid1(t, pod)+" ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of %s: %q, want PID 1 (%s) and the two apps", scope, procs, ppid1(t, pod))
		}
	}
	if err := p.b.Exec(ctx, "machinectl", "terminate", "acirun-"+uuid); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("acirun run still running 30s after machinectl terminate:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("acirun run exited %d after machinectl terminate, want 143:\n%s", code, out.String())
	}
	if b, m := p.exitJSON(); m["exitCode"] != float64(143) || strings.Contains(b, "SIGKILL") {
		t.Errorf("exit.json: %s, want both apps stopped by SIGTERM", b)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st := p.show(ctx, scope, "LoadState", "ActiveState")
		if st["LoadState"] == "not-found" || st["ActiveState"] == "inactive" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after the pod ended: %v", scope, st)
		}
	}
	if strings.Contains(out.String(), "WARNING") {
		t.Errorf("the pod warned:\n%s", out.String())
	}
}

// TestPodUnitNotifyApp: an image whose app tells systemd when it is ready
// (appc.io/executor/supports-systemd-notify) makes its pod's Type=notify
// unit wait for the app's own READY=1, sent to the NOTIFY_SOCKET the pod
// gives it, not just for its start.
func TestPodUnitNotifyApp(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, manifest("example.com/notify-app", nil, map[string]any{
		"annotations": []map[string]string{{"name": "appc.io/executor/supports-systemd-notify", "value": "true"}},
	}, "env", "+", "sleep", "2s", "+", "notify", "READY=1", "+", "sleep", "1h"), nil))
	start := time.Now()
	out, code := p.systemdRun(ctx, append([]string{"--unit=pod-notify-app", "--collect",
		"-p", "Type=notify", "-p", "KillMode=mixed", "-p", "TimeoutStartSec=30s"},
		p.acirun("run", "--insecure-options=image", "--net=none", img)...)...)
	if code != 0 {
		j, _ := p.b.Journal(ctx, "pod-notify-app.service")
		t.Fatalf("systemd-run: exit %d\n%s\njournal:\n%s", code, out, j)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("the unit was up after %v, before the app said it was ready (after 2s)", d)
	}
	uuid := onlyPod(t, p.data)
	journal, _ := p.b.Journal(ctx, "pod-notify-app.service")
	for _, want := range []string{"NOTIFY_SOCKET=@acirun/" + uuid + "/notify-app", "notify READY=1 ok"} {
		if !strings.Contains(journal, want) {
			t.Errorf("the journal lacks %q:\n%s", want, journal)
		}
	}
	if st := p.show(ctx, "pod-notify-app.service", "ActiveState"); st["ActiveState"] != "active" {
		t.Errorf("pod-notify-app.service: %v", st)
	}
	if err := p.b.Exec(ctx, "systemctl", "stop", "pod-notify-app.service"); err != nil {
		t.Fatal(err)
	}
}
