package e2e

// Pods as systemd units, in the box (tests/box): `acirun run` as the main
// process of a transient service made with systemd-run, its output in the
// journal, its exit status in the unit's, systemctl stop stopping the pod,
// and a cgroup memory limit of the unit ending an app that exceeds it.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/tests/box"
)

// boxPod is a data directory and images for pods in the shared box: the
// box's directory is bound at the same path inside it, on a real file
// system (an overlay's upper layer cannot lie on the box's overlay root).
type boxPod struct {
	t    *testing.T
	b    *box.Box
	dir  string // per test, under the box's directory
	data string
	// bin is the acirun to run, e.acirun when "" (TestKillAtEveryStartStep
	// runs one whose acirun-stage1 and acirun-pod have crash points).
	bin string
}

func newBoxPod(t *testing.T) *boxPod {
	t.Helper()
	needRoot(t)
	b := shared.Get(t)
	dir := filepath.Join(b.Dir(), "pods-"+strings.ReplaceAll(t.Name(), "/", "-"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &boxPod{t: t, b: b, dir: dir, data: filepath.Join(dir, "data")}
	t.Cleanup(func() {
		if left := podProcesses(p.data + "/pods/"); len(left) > 0 {
			t.Errorf("processes of the pod left running:\n%s", strings.Join(left, "\n"))
		}
		// The box's own mount table (its systemd's) has no mount of the pod.
		mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", b.Pid()))
		if err != nil || !strings.Contains(string(mi), b.Dir()) {
			t.Errorf("the box's mount table (want its bind of %s): %v\n%s", b.Dir(), err, mi)
		}
		for _, l := range strings.Split(string(mi), "\n") {
			if strings.Contains(l, p.data) {
				t.Errorf("mount of the pod left in the box: %s", l)
			}
		}
		os.RemoveAll(dir)
	})
	return p
}

// image copies an ACI into the test's directory, where the box sees it.
func (p *boxPod) image(aci string) string {
	p.t.Helper()
	dst := filepath.Join(p.dir, filepath.Base(aci))
	for i := 2; ; i++ { // several images of one test are all image.aci
		if _, err := os.Lstat(dst); os.IsNotExist(err) {
			break
		}
		dst = filepath.Join(p.dir, fmt.Sprintf("%s-%d%s", strings.TrimSuffix(filepath.Base(aci), ".aci"), i, ".aci"))
	}
	in, err := os.Open(aci)
	if err != nil {
		p.t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		p.t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		p.t.Fatal(err)
	}
	return dst
}

// acirun is the command line of acirun with the test's data directory.
func (p *boxPod) acirun(args ...string) []string {
	bin := e.acirun
	if p.bin != "" {
		bin = p.bin
	}
	return append([]string{bin, "--dir=" + p.data, "--local-config=" + filepath.Join(p.dir, "etc"),
		"--system-config=" + filepath.Join(p.dir, "usr")}, args...)
}

// systemdRun runs systemd-run in the box and returns its combined output
// and exit code.
func (p *boxPod) systemdRun(ctx context.Context, args ...string) (string, int) {
	p.t.Helper()
	cmd := p.b.Command(ctx, append([]string{"systemd-run"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		p.t.Fatalf("systemd-run %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// show returns properties of a unit (systemctl show -p).
func (p *boxPod) show(ctx context.Context, unit string, props ...string) map[string]string {
	p.t.Helper()
	args := []string{"systemctl", "show", unit}
	for _, pr := range props {
		args = append(args, "-p", pr)
	}
	out, err := p.b.Output(ctx, args...)
	if err != nil {
		p.t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// exitJSON reads the only pod's exit.json.
func (p *boxPod) exitJSON() (string, map[string]any) {
	p.t.Helper()
	return p.exitOf(onlyPodDir(p.t, p.data))
}

func TestPodUnit(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/unit-hello", nil,
		"hostname", "+", "env", "+", "exit", "3"), nil))

	out, code := p.systemdRun(ctx, append([]string{"--unit=pod-hello", "--wait", "--collect",
		"-p", "KillMode=mixed", "-p", "Description=acirun e2e pod"},
		p.acirun("run", "--insecure-options=image", "--net=none", "--hostname=unit-pod", img)...)...)
	if code != 3 {
		t.Errorf("systemd-run --wait exited %d, want the pod's 3:\n%s", code, out)
	}
	if !strings.Contains(out, "Main processes terminated with: code=exited/status=3") {
		t.Errorf("systemd-run --wait does not report status 3:\n%s", out)
	}
	journal, err := p.b.Journal(ctx, "pod-hello.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hostname=unit-pod", "AC_APP_NAME=unit-hello", "container=acirun",
		"warning: --insecure-options=image"} {
		if !strings.Contains(journal, want) {
			t.Errorf("journal of pod-hello.service lacks %q:\n%s", want, journal)
		}
	}
	if b, m := p.exitJSON(); m["exitCode"] != float64(3) {
		t.Errorf("exit.json: %s", b)
	}
	// The unit is collected; its pod remains for status and gc.
	st, err := p.b.Output(ctx, p.acirun("list", "--format=json")...)
	if err != nil || !strings.Contains(string(st), `"exited"`) {
		t.Errorf("list after the unit: %s %v", st, err)
	}
}

func TestPodUnitStop(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vol := filepath.Join(p.dir, "vol")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	img := p.image(podImage(t, podManifest(t, "example.com/unit-long", map[string]any{
		"mountPoints": []map[string]any{{"name": "data", "path": "/data"}},
		"eventHandlers": []map[string]any{
			{"name": "post-stop", "exec": []string{"/testapp", "write", "/data/post-stop", "ran"}},
		},
	}, "write", "/data/started", "yes", "+", "sleep", "1h"), nil))

	out, code := p.systemdRun(ctx, append([]string{"--unit=pod-long", "--collect",
		"-p", "KillMode=mixed", "-p", "TimeoutStopSec=20s"},
		p.acirun("run", "--insecure-options=image", "--net=none", "--volume=data,kind=host,source="+vol, "--stop-timeout=2s",
			img, img, "--name=stubborn", "--exec=/testapp", "--", "ignore-sigterm")...)...)
	if code != 0 {
		t.Fatalf("systemd-run: exit %d\n%s", code, out)
	}
	started := filepath.Join(vol, "started")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := os.Stat(started)
		j, _ := p.b.Journal(ctx, "pod-long.service")
		if err == nil && strings.Contains(j, "ignoring SIGTERM") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pod's apps did not start in 30s:\n%s", j)
		}
	}
	props := p.show(ctx, "pod-long.service", "ActiveState", "MainPID")
	if props["ActiveState"] != "active" || props["MainPID"] == "0" {
		t.Fatalf("pod-long.service is not running: %v", props)
	}
	if len(podProcesses(p.data+"/pods/")) != 4 { // stage1 run, init, two apps
		t.Fatalf("pod processes: %q", podProcesses(p.data+"/pods/"))
	}
	stopStart := time.Now()
	if err := p.b.Exec(ctx, "systemctl", "stop", "pod-long.service"); err != nil {
		t.Fatal(err)
	}
	// The stubborn app is killed after the pod's 2s stop timeout, long
	// before systemd's TimeoutStopSec.
	if d := time.Since(stopStart); d < 2*time.Second || d > 10*time.Second {
		t.Errorf("systemctl stop took %v, want the pod's 2s stop timeout", d)
	}
	if left := podProcesses(p.data + "/pods/"); len(left) > 0 {
		t.Errorf("processes left after systemctl stop:\n%s", strings.Join(left, "\n"))
	}
	b, m := p.exitJSON()
	if m["exitCode"] != float64(143) ||
		!strings.Contains(b, `{"name":"unit-long","exitCode":143,"signal":"SIGTERM"}`) ||
		!strings.Contains(b, `{"name":"stubborn","exitCode":137,"signal":"SIGKILL"}`) {
		t.Errorf("exit.json after systemctl stop: %s, want 143 (SIGTERM), the stubborn app SIGKILLed", b)
	}
	if got, err := os.ReadFile(filepath.Join(vol, "post-stop")); err != nil || string(got) != "ran" {
		t.Errorf("the post-stop handler did not run: %q, %v", got, err)
	}
	journal, _ := p.b.Journal(ctx, "pod-long.service")
	if !strings.Contains(journal, "write /data/post-stop ok") {
		t.Errorf("the journal lacks the post-stop handler's output:\n%s", journal)
	}
}

func TestPodUnitMemoryMax(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/unit-hog", nil, "alloc", "256"), nil))

	// Fetched first, so that only the pod runs under the limit.
	id, err := p.b.Output(ctx, p.acirun("fetch", "--insecure-options=image", "--full", img)...)
	if err != nil {
		t.Fatal(err)
	}
	// The OOM killer must choose the app, not the supervisor (acirun run,
	// which reports how the app ended), however large the supervisor is (a
	// coverage build's): the supervisor lowers its oom_score_adj from the
	// unit's OOMScoreAdjust, which the app keeps, to -1000. Without
	// CAP_SYS_RESOURCE (this box's host may drop it) it goes no lower than
	// the floor the unit inherited: the unit's value is above that floor,
	// so that the app is still the first choice there.
	out, code := p.systemdRun(ctx, append([]string{"--unit=pod-hog", "--wait", "--collect",
		"-p", "KillMode=mixed", "-p", "MemoryMax=32M", "-p", "MemorySwapMax=0", "-p", "OOMScoreAdjust=500"},
		p.acirun("run", "--net=none", strings.TrimSpace(string(id)))...)...)
	journal, _ := p.b.Journal(ctx, "pod-hog.service")
	if code != 137 || !strings.Contains(out, "status=137") {
		t.Errorf("systemd-run --wait: exit %d, want 137 (the app killed by SIGKILL):\n%s\njournal:\n%s", code, out, journal)
	}
	if strings.Contains(journal, "alloc ok") || strings.Contains(journal, "allocated 64 MiB") {
		t.Errorf("the app allocated more than MemoryMax=32M:\n%s", journal)
	}
	if !strings.Contains(journal, "allocated 8 MiB") {
		t.Errorf("the app did not run:\n%s", journal)
	}
	b, m := p.exitJSON()
	apps, _ := m["apps"].([]any)
	if len(apps) != 1 || fmt.Sprint(apps[0].(map[string]any)["signal"]) != "SIGKILL" {
		t.Errorf("exit.json: %s, want the app killed by SIGKILL", b)
	}
}
