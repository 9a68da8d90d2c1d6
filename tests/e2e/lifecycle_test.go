package e2e

// The lifecycle commands, in the box's real systemd: stop (through the
// pod's unit and without one, gracefully and --force), status --wait and
// --wait-ready (the unit's state too), cat-manifest, and --uuid-file.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// stopImage is an image whose app sleeps, with a post-stop handler that
// records that it ran in the host directory vol (mounted at /data).
func (p *boxPod) stopImage(name string) (img, vol string) {
	p.t.Helper()
	vol = filepath.Join(p.dir, "vol")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		p.t.Fatal(err)
	}
	img = p.image(podImage(p.t, podManifest(p.t, name, map[string]any{
		"mountPoints": []map[string]any{{"name": "data", "path": "/data"}},
		"eventHandlers": []map[string]any{
			{"name": "post-stop", "exec": []string{"/testapp", "write", "/data/post-stop", "ran"}},
		},
	}, "sleep", "1h"), nil))
	return img, vol
}

// unitPod starts `acirun run ARGS` as the Type=notify service unit (as
// unitgen describes a pod's unit) and returns the pod's UUID once the unit
// is up.
func (p *boxPod) unitPod(ctx context.Context, unit string, args ...string) string {
	p.t.Helper()
	uuidFile := filepath.Join(p.dir, unit+".uuid")
	out, code := p.systemdRun(ctx, append([]string{"--unit=" + unit, "-p", "Type=notify", "-p", "KillMode=mixed",
		"-p", "TimeoutStopSec=30s", "-p", "Delegate=yes"},
		p.acirun(append([]string{"run", "--insecure-options=image", "--net=none", "--uuid-file-save=" + uuidFile}, args...)...)...)...)
	if code != 0 {
		j, _ := p.b.Journal(ctx, unit+".service")
		p.t.Fatalf("systemd-run %s: exit %d\n%s\n%s", unit, code, out, j)
	}
	p.t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p.b.Exec(c, "systemctl", "stop", unit+".service")
		p.b.Exec(c, "systemctl", "reset-failed", unit+".service")
	})
	b, err := os.ReadFile(uuidFile)
	if err != nil {
		p.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// shellPod starts `acirun run --no-unit ARGS` from a shell of the box (no
// unit of its own) and returns the pod's UUID, once status --wait-ready says it is
// ready, the running command, a channel closed when it has ended, and its
// output (the apps' too).
func (p *boxPod) shellPod(ctx context.Context, args ...string) (string, *exec.Cmd, chan struct{}, *lockedOutput) {
	p.t.Helper()
	f, err := os.CreateTemp(p.dir, "shell-*.uuid")
	if err != nil {
		p.t.Fatal(err)
	}
	f.Close()
	uuidFile := f.Name()
	cmd := p.b.Command(ctx, p.acirun(append([]string{"run", "--no-unit", "--insecure-options=image", "--net=none", "--uuid-file-save=" + uuidFile}, args...)...)...)
	out := &lockedOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	done := make(chan struct{}) // closed when acirun run has ended
	go func() { cmd.Wait(); close(done) }()
	var uuid string
	p.t.Cleanup(func() {
		select {
		case <-done:
			return
		default:
		}
		if uuid != "" {
			c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p.b.Exec(c, "machinectl", "kill", "--signal=KILL", "acirun-"+uuid)
		}
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				p.t.Errorf("acirun run of pod %s does not end", uuid)
			}
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(uuidFile); err == nil && len(b) > 0 {
			uuid = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no UUID from acirun run after 30s:\n%s", out)
		}
	}
	r := p.runInBox(ctx, "status", "--wait-ready=30s", "--uuid-file="+uuidFile)
	if r.code != 0 || !strings.Contains(r.stdout, "state=running") {
		p.t.Fatalf("status --wait-ready of a pod run from a shell: %s\nacirun run:\n%s", r, out)
	}
	if strings.Contains(r.stdout, "unit=") {
		p.t.Errorf("a pod run from a shell has no unit of its own, status says:\n%s", r.stdout)
	}
	p.t.Cleanup(func() { os.Remove(uuidFile) })
	return uuid, cmd, done, out
}

// exitOf reads the pod's exit.json.
func (p *boxPod) exitOf(uuid string) (string, map[string]any) {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.data, "pods", uuid, "exit.json"))
	if err != nil {
		p.t.Fatalf("exit.json: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		p.t.Fatalf("exit.json %s: %v", b, err)
	}
	return string(b), m
}

// TestStopShellPod: a pod run from a shell (no unit) is stopped by
// signalling its stage1: the app gets SIGTERM, the post-stop handler runs,
// acirun run exits 143. Stopping it again is an error for that UUID; with
// several UUIDs the running ones are stopped all the same.
func TestStopShellPod(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img, vol := p.stopImage("example.com/stop-shell")
	uuid, cmd, done, _ := p.shellPod(ctx, "--volume=data,kind=host,source="+vol, img)

	uuidFile := filepath.Join(p.dir, "stop.uuid")
	if err := os.WriteFile(uuidFile, []byte(uuid+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := p.runInBox(ctx, "stop", "--uuid-file="+uuidFile)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "stopped "+uuid {
		t.Fatalf("stop: %s", r)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("acirun run still running after stop returned")
	}
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("acirun run exited %d after stop, want 143", code)
	}
	if b, m := p.exitOf(uuid); m["exitCode"] != float64(143) || !strings.Contains(b, `"signal":"SIGTERM"`) {
		t.Errorf("exit.json after stop: %s, want the app ended by SIGTERM", b)
	}
	if got, err := os.ReadFile(filepath.Join(vol, "post-stop")); err != nil || string(got) != "ran" {
		t.Errorf("the post-stop handler did not run: %q, %v", got, err)
	}

	// Not running: an error per UUID, the others stopped.
	uuid2, _, done2, _ := p.shellPod(ctx, "--volume=data,kind=host,source="+vol, img, "--name=second")
	r = p.runInBox(ctx, "stop", uuid, uuid2)
	if r.code != 254 || !strings.Contains(r.stderr, uuid) || !strings.Contains(r.stderr, "not running") ||
		strings.TrimSpace(r.stdout) != "stopped "+uuid2 {
		t.Errorf("stop of an exited and a running pod: %s", r)
	}
	select {
	case <-done2:
	case <-time.After(10 * time.Second):
		t.Fatal("the second pod still runs after stop")
	}
	if r := p.runInBox(ctx, "stop"); r.code != 2 {
		t.Errorf("stop without a UUID: %s, want a usage error", r)
	}
}

// TestStopUnitPod: a pod that a Type=notify service runs. status shows the
// unit's state and --wait-ready returns once it is active; stop goes
// through the unit (systemctl stop semantics): an app ignoring SIGTERM is
// killed after the pod's 2s stop timeout, the other ends by SIGTERM, the
// post-stop handler runs and the unit is inactive. --force kills a pod at
// once: 137, the unit failed with it.
func TestStopUnitPod(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img, vol := p.stopImage("example.com/stop-unit")
	uuid := p.unitPod(ctx, "pod-stop", "--volume=data,kind=host,source="+vol, "--stop-timeout=2s",
		img, img, "--name=stubborn", "--exec=/testapp", "--", "ignore-sigterm")

	r := p.runInBox(ctx, "status", "--wait-ready=30s", uuid)
	for _, want := range []string{"state=running", "unit=pod-stop.service", "unit-state=active", "unit-sub-state=running"} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("status --wait-ready lacks %q: %s", want, r)
		}
	}
	r = p.runInBox(ctx, "status", "--format=json", uuid)
	var st []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st) != 1 {
		t.Fatalf("status --format=json: %v\n%s", err, r)
	}
	if u, _ := st[0]["unit"].(map[string]any); u == nil || u["name"] != "pod-stop.service" || u["activeState"] != "active" {
		t.Errorf("status --format=json: unit %v", st[0]["unit"])
	}
	// The stubborn app must be up, or the pod could stop before it ignores SIGTERM.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if j, _ := p.b.Journal(ctx, "pod-stop.service"); strings.Contains(j, "ignoring SIGTERM") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stubborn app did not start")
		}
	}
	start := time.Now()
	r = p.runInBox(ctx, "stop", uuid[:8])
	if r.code != 0 || strings.TrimSpace(r.stdout) != "stopped (unit pod-stop.service) "+uuid {
		t.Fatalf("stop: %s", r)
	}
	if d := time.Since(start); d < 2*time.Second || d > 15*time.Second {
		t.Errorf("stop took %v, want about the pod's 2s stop timeout", d)
	}
	if s := p.show(ctx, "pod-stop.service", "ActiveState")["ActiveState"]; s != "inactive" && s != "failed" {
		t.Errorf("pod-stop.service is %s after stop", s)
	}
	b, m := p.exitOf(uuid)
	if m["exitCode"] != float64(143) || !strings.Contains(b, `{"name":"stop-unit","exitCode":143,"signal":"SIGTERM"}`) ||
		!strings.Contains(b, `{"name":"stubborn","exitCode":137,"signal":"SIGKILL"}`) {
		t.Errorf("exit.json after stop: %s", b)
	}
	if got, err := os.ReadFile(filepath.Join(vol, "post-stop")); err != nil || string(got) != "ran" {
		t.Errorf("the post-stop handler did not run: %q, %v", got, err)
	}
	if r := p.runInBox(ctx, "status", uuid); !strings.Contains(r.stdout, "state=exited\n") || !strings.Contains(r.stdout, "exit-code=143\n") {
		t.Errorf("status after stop: %s", r)
	}

	// --force: at once, though an app ignores SIGTERM.
	uuid = p.unitPod(ctx, "pod-kill", "--volume=data,kind=host,source="+vol, "--stop-timeout=30s",
		img, "--exec=/testapp", "--", "ignore-sigterm")
	if r := p.runInBox(ctx, "status", "--wait-ready=30s", uuid); r.code != 0 {
		t.Fatalf("status --wait-ready: %s", r)
	}
	start = time.Now()
	r = p.runInBox(ctx, "stop", "--force", uuid)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "killed (unit pod-kill.service) "+uuid {
		t.Fatalf("stop --force: %s", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop --force took %v", d)
	}
	if b, m := p.exitOf(uuid); m["exitCode"] != float64(137) {
		t.Errorf("exit.json after stop --force: %s, want 137", b)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		props := p.show(ctx, "pod-kill.service", "ActiveState", "ExecMainStatus")
		if props["ActiveState"] == "failed" && props["ExecMainStatus"] == "137" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod-kill.service after stop --force: %v, want failed with status 137", props)
		}
	}
}

// TestStatusWait: --wait waits for the exit (and times out with an error
// saying so), --wait-ready fails for a pod that exits before it is ready.
func TestStatusWait(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/wait", nil, "sleep", "3s", "+", "exit", "4"), nil))
	uuidFile := filepath.Join(p.dir, "uuid")
	r := p.runInBox(ctx, "prepare", "--insecure-options=image", "--net=none", "--uuid-file-save="+uuidFile, img)
	if r.code != 0 {
		t.Fatalf("prepare: %s", r)
	}
	uuid := strings.TrimSpace(r.stdout)
	// A prepared pod is waited for through its run.
	r = p.runInBox(ctx, "status", "--wait=300ms", uuid)
	if r.code != 254 || !strings.Contains(r.stderr, "--wait=300ms elapsed") || !strings.Contains(r.stderr, "it is prepared") {
		t.Errorf("status --wait=300ms of a prepared pod: %s", r)
	}
	out, code := p.systemdRun(ctx, append([]string{"--unit=pod-wait", "--collect"}, p.acirun("run-prepared", "--uuid-file="+uuidFile)...)...)
	if code != 0 {
		t.Fatalf("systemd-run: %s", out)
	}
	start := time.Now()
	r = p.runInBox(ctx, "status", "--wait", "--uuid-file="+uuidFile)
	if r.code != 0 || !strings.Contains(r.stdout, "state=exited\n") || !strings.Contains(r.stdout, "exit-code=4\n") {
		t.Errorf("status --wait: %s", r)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("status --wait returned after %v, before the pod's 3s", d)
	}
	r = p.runInBox(ctx, "status", "--wait-ready=10s", uuid)
	if r.code != 254 || !strings.Contains(r.stderr, "exited before it was ready (exit code 4)") {
		t.Errorf("status --wait-ready of an exited pod: %s", r)
	}
	if r := p.runInBox(ctx, "status", "--wait=soon", uuid); r.code != 2 || !strings.Contains(r.stderr, `"soon" is neither a duration`) {
		t.Errorf("status --wait=soon: %s", r)
	}
}

// TestCatManifestAndUUIDFile: cat-manifest prints the reified pod manifest;
// --uuid-file is read by one helper, with clear errors for an empty or
// bad file.
func TestCatManifestAndUUIDFile(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/catm", nil, "exit", "0"), nil))
	uuidFile := filepath.Join(p.dir, "uuid")
	r := p.runInBox(ctx, "prepare", "--insecure-options=image", "--net=none", "--uuid-file-save="+uuidFile, img, "--environment=FOO=bar")
	if r.code != 0 {
		t.Fatalf("prepare: %s", r)
	}
	uuid := strings.TrimSpace(r.stdout)
	r = p.runInBox(ctx, "cat-manifest", "--uuid-file="+uuidFile)
	var pm struct {
		ACKind string `json:"acKind"`
		Apps   []struct {
			Name  string
			Image struct{ ID string }
			App   struct {
				Environment []struct{ Name, Value string }
			}
		}
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &pm) != nil || pm.ACKind != "PodManifest" || len(pm.Apps) != 1 ||
		!strings.HasPrefix(pm.Apps[0].Image.ID, "sha512-") || !strings.Contains(r.stdout, "\n  \"acKind\"") {
		t.Fatalf("cat-manifest: %s", r)
	}
	if !strings.Contains(r.stdout, `"FOO"`) {
		t.Errorf("cat-manifest lacks the --environment override: %s", r.stdout)
	}
	if r2 := p.runInBox(ctx, "cat-manifest", uuid[:8]); r2.stdout != r.stdout {
		t.Errorf("cat-manifest by UUID prefix differs:\n%s", r2)
	}
	empty := filepath.Join(p.dir, "empty")
	bad := filepath.Join(p.dir, "bad")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(bad, []byte("not-a-uuid\n"), 0o644)
	for _, cmd := range []string{"cat-manifest", "status", "stop", "rm", "run-prepared"} {
		args := []string{cmd, "--uuid-file=" + empty}
		if cmd == "export" {
			args = append(args, filepath.Join(p.dir, "out.aci"))
		}
		if r := p.runInBox(ctx, args...); r.code != 254 || !strings.Contains(r.stderr, empty+": the file is empty") {
			t.Errorf("%s --uuid-file=EMPTY: %s", cmd, r)
		}
		args[1] = "--uuid-file=" + bad
		if r := p.runInBox(ctx, args...); r.code != 254 || !strings.Contains(r.stderr, `"not-a-uuid" is not a pod UUID`) {
			t.Errorf("%s --uuid-file=BAD: %s", cmd, r)
		}
	}
	if r := p.runInBox(ctx, "cat-manifest", "--uuid-file="+uuidFile, uuid); r.code != 2 {
		t.Errorf("cat-manifest with both --uuid-file and a UUID: %s, want a usage error", r)
	}
	if r := p.runInBox(ctx, "rm", "--uuid-file="+uuidFile); r.code != 0 || !strings.Contains(r.stdout, "removed "+uuid) {
		t.Errorf("rm --uuid-file: %s", r)
	}
}

// TestGCExpirePreparedMarkOnly: gc removes prepared pods older than
// --expire-prepared and exited ones past the grace period; --mark-only
// names them and removes nothing.
func TestGCExpirePreparedMarkOnly(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/gc", nil, "exit", "0"), nil))
	var uuids []string
	for range 3 {
		r := p.runInBox(ctx, "prepare", "--insecure-options=image", "--net=none", img)
		if r.code != 0 {
			t.Fatalf("prepare: %s", r)
		}
		uuids = append(uuids, strings.TrimSpace(r.stdout))
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(p.data, "pods", uuids[0], "prepared"), old, old); err != nil {
		t.Fatal(err)
	}
	if r := p.runInBox(ctx, "run-prepared", uuids[1]); r.code != 0 {
		t.Fatalf("run-prepared: %s", r)
	}
	pods := func() int {
		m, _ := filepath.Glob(filepath.Join(p.data, "pods", "*-*-*-*-*"))
		return len(m)
	}
	r := p.runInBox(ctx, "gc", "--mark-only", "--grace-period=0")
	want := "garbage " + uuids[0] + "\ngarbage " + uuids[1] + "\n"
	if r.code != 0 || !sameLines(r.stdout, want) || pods() != 3 {
		t.Errorf("gc --mark-only: %s\nwant:\n%s(and 3 pods left, have %d)", r, want, pods())
	}
	r = p.runInBox(ctx, "gc", "--grace-period=1h")
	if r.code != 0 || r.stdout != "removed "+uuids[0]+"\n" || pods() != 2 {
		t.Errorf("gc --grace-period=1h: %s, want only the expired prepared pod removed", r)
	}
	r = p.runInBox(ctx, "gc", "--grace-period=0", "--expire-prepared=0")
	if r.code != 0 || !sameLines(r.stdout, "removed "+uuids[1]+"\nremoved "+uuids[2]+"\n") || pods() != 0 {
		t.Errorf("gc --expire-prepared=0: %s", r)
	}
	if r := p.runInBox(ctx, "gc", "--expire-prepared=-1h"); r.code != 2 {
		t.Errorf("gc --expire-prepared=-1h: %s, want a usage error", r)
	}
}

// sameLines tells whether a and b hold the same lines in any order.
func sameLines(a, b string) bool {
	la, lb := strings.Split(strings.TrimSpace(a), "\n"), strings.Split(strings.TrimSpace(b), "\n")
	slices.Sort(la)
	slices.Sort(lb)
	return slices.Equal(la, lb)
}
