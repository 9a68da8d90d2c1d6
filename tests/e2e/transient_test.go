package e2e

// `acirun run` in the box, where systemd is PID 1: the pod becomes the
// transient service acirun-UUID.service, yet the command still behaves as
// a foreground one (its output on acirun's stdout, its exit code acirun's,
// Ctrl-C stopping it), or with -d returns once the pod is ready. A pod
// killed while it starts leaves nothing once acirun gc has run.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// clientPid finds the host PID of the acirun process whose command line
// holds marker (the box's Command wrapper execs into it).
func clientPid(t *testing.T, marker string) int {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			argv := strings.Split(string(b), "\x00")
			if argv[0] == e.acirun && slices.Contains(argv, marker) && !slices.Contains(argv, "stage1") {
				var pid int
				fmt.Sscan(filepath.Base(filepath.Dir(p)), &pid)
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no acirun process with %q after 30s", marker)
		}
	}
}

// units lists the box's units matching pattern, loaded in any state.
func (p *boxPod) units(ctx context.Context, pattern string) []string {
	p.t.Helper()
	out, err := p.b.Output(ctx, "systemctl", "list-units", "--all", "--plain", "--no-legend", pattern)
	if err != nil {
		p.t.Fatalf("systemctl list-units %s: %v", pattern, err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, strings.Join(f[:min(len(f), 4)], " "))
		}
	}
	return names
}

// runInBox runs acirun ARGS in the box and returns what it did.
func (p *boxPod) runInBox(ctx context.Context, args ...string) result {
	p.t.Helper()
	cmd := p.b.Command(ctx, p.acirun(args...)...)
	var out, errb lockedOutput
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		p.t.Fatalf("acirun %q: %v", args, err)
	}
	return result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

// runDetached runs acirun run -d ARGS in the box, which must print the
// pod's UUID and its unit, acirun-UUID.service; the unit is stopped and
// reset when the test ends. It returns the UUID, the unit and what run did.
func (p *boxPod) runDetached(ctx context.Context, args ...string) (uuid, unit string, r result) {
	p.t.Helper()
	r = p.runInBox(ctx, append([]string{"run", "-d"}, args...)...)
	f := strings.Fields(r.stdout)
	if r.code != 0 || len(f) != 2 || f[1] != "acirun-"+f[0]+".service" {
		p.t.Fatalf("run -d: want \"UUID acirun-UUID.service\": %s%s", r, p.unitJournal(ctx, r.stderr))
	}
	uuid, unit = f[0], f[1]
	p.t.Cleanup(func() {
		p.b.Exec(context.Background(), "systemctl", "stop", unit)
		p.b.Exec(context.Background(), "systemctl", "reset-failed", unit)
	})
	return uuid, unit, r
}

// unitJournal is the journal of the unit that a failed start's message
// sends the user to ("see journalctl -u UNIT"), for the test's report: the
// reason a unit failed is there, not in acirun's output.
func (p *boxPod) unitJournal(ctx context.Context, stderr string) string {
	_, rest, ok := strings.Cut(stderr, "journalctl -u ")
	if !ok {
		return ""
	}
	unit := strings.Fields(rest)[0]
	out, err := p.b.Output(ctx, "journalctl", "--no-pager", "-o", "cat", "-u", unit)
	if err != nil {
		return fmt.Sprintf("\njournalctl -u %s: %v", unit, err)
	}
	return fmt.Sprintf("\nthe journal of %s:\n%s", unit, out)
}

// TestTransientRun: a one-shot `acirun run` is a transient unit while it
// runs, its output reaches acirun's stdout, its exit code is acirun's, and
// SIGINT to acirun (Ctrl-C) stops the unit, whose post-stop handler runs.
// No unit is left once acirun has returned.
func TestTransientRun(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vol := filepath.Join(p.dir, "vol")
	if err := os.MkdirAll(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	img := p.image(podImage(t, podManifest(t, "example.com/transient", map[string]any{
		"mountPoints": []map[string]any{{"name": "data", "path": "/data"}},
		"eventHandlers": []map[string]any{
			{"name": "post-stop", "exec": []string{"/testapp", "write", "/data/post", "post-stop"}},
		},
	}, "hostname"), nil))
	run := func(args ...string) result {
		t.Helper()
		return p.runInBox(ctx, append([]string{"run", "--insecure-options=image", "--net=none",
			"--volume=data,kind=host,source=" + vol, img, "--"}, args...)...)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"+", "exit", "0"}, 0},
		{[]string{"+", "exit", "3"}, 3},
		{[]string{"+", "signal", "KILL"}, 137},
	} {
		r := run(tc.args...)
		if r.code != tc.code || !slices.ContainsFunc(strings.Split(r.stdout, "\n"), func(l string) bool { return strings.HasPrefix(l, "hostname=acirun-") }) {
			t.Errorf("acirun run … %q: want exit %d and the app's output on stdout: %s", tc.args, tc.code, r)
		}
		if u := p.units(ctx, "acirun-*.service"); len(u) != 0 {
			t.Errorf("units left after acirun run … %q: %q", tc.args, u)
		}
	}

	// A pod that runs until Ctrl-C.
	os.Remove(filepath.Join(vol, "post"))
	uuidFile := filepath.Join(p.dir, "uuid-sigint")
	marker := "--uuid-file-save=" + uuidFile
	cmd := p.b.Command(ctx, p.acirun("run", "--insecure-options=image", "--net=none", marker,
		"--volume=data,kind=host,source="+vol, img, "--", "+", "sleep", "1h")...)
	out := &lockedOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "hostname="); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pod printed nothing after 30s:\n%s", out.String())
		}
	}
	b, err := os.ReadFile(uuidFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := "acirun-" + strings.TrimSpace(string(b)) + ".service"
	t.Cleanup(func() { p.b.Exec(context.Background(), "systemctl", "stop", unit) })
	if u := p.units(ctx, "acirun-*.service"); len(u) != 1 || u[0] != unit+" loaded active running" {
		t.Errorf("systemctl list-units 'acirun-*.service' while the pod runs: %q, want %s active", u, unit)
	}
	if err := syscall.Kill(clientPid(t, marker), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		t.Fatalf("acirun run still running 40s after SIGINT:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("acirun run after SIGINT: exit %d, want 143 (the app stopped by SIGTERM):\n%s", code, out.String())
	}
	if b, err := os.ReadFile(filepath.Join(vol, "post")); err != nil || string(b) != "post-stop" {
		t.Errorf("the post-stop handler after SIGINT: %q, %v", b, err)
	}
	if u := p.units(ctx, "acirun-*.service"); len(u) != 0 {
		t.Errorf("units left after SIGINT: %q", u)
	}
}

// TestTransientDetach: run -d returns once the pod is ready, printing its
// UUID and unit; list shows it running, the unit carries MemoryMax from
// --memory, and systemctl stop ends the pod.
func TestTransientDetach(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/detached", nil, "hostname", "+", "sleep", "1h"), nil))
	uuid, unit, r := p.runDetached(ctx, "--insecure-options=image", "--net=none", img, "--memory=64M")
	if strings.Contains(r.stdout+r.stderr, "hostname=") {
		t.Errorf("run -d: the pod's output reached acirun's:\n%s", r)
	}
	lr := p.runInBox(ctx, "list", "--format=json")
	var pods []map[string]any
	if err := json.Unmarshal([]byte(lr.stdout), &pods); err != nil || len(pods) != 1 || pods[0]["uuid"] != uuid || pods[0]["state"] != "running" {
		t.Errorf("list --format=json after run -d: want %s running: %v\n%s", uuid, err, lr)
	}
	if st := p.show(ctx, unit, "ActiveState", "MemoryMax"); st["ActiveState"] != "active" || st["MemoryMax"] != "64000000" {
		t.Errorf("systemctl show %s: %v, want active with MemoryMax=64000000", unit, st)
	}
	p.waitJournal(ctx, unit, "hostname=acirun-"+uuid[:8])
	if m := p.machineOf(ctx, uuid); m["Unit"] != unit {
		t.Errorf("machinectl show acirun-%s: %v, want the pod registered in %s", uuid, m, unit)
	}
	if err := p.b.Exec(ctx, "systemctl", "stop", unit); err != nil {
		t.Fatal(err)
	}
	if _, m := p.exitJSON(); m["exitCode"] != float64(143) {
		t.Errorf("exit.json after systemctl stop: %v, want 143", m)
	}
}

// TestTransientNoUnit: --no-unit runs the pod in acirun's own process, as
// before: stage1 runs in it (--debug says so).
func TestTransientNoUnit(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/no-unit", nil, "exit", "4"), nil))
	r := p.runInBox(ctx, "--debug", "run", "--no-unit", "--insecure-options=image", "--net=none", img)
	if r.code != 4 || !strings.Contains(r.stderr, "stage1 runs in this process: "+filepath.Join(filepath.Dir(e.acirun), "acirun-stage1")+" run ") {
		t.Errorf("run --no-unit: want exit 4 from stage1 run in this process: %s", r)
	}
}

// TestTransientHostileArgs: arguments that unit syntax would change reach
// the app byte for byte, and so does a data directory whose path (in the
// unit's ExecStart) holds them.
func TestTransientHostileArgs(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hostile := []string{"$HOME", "${HOME}", "%n", "%%", `\`, `\\`, "a\nb", `"`, "'", ";", "-x", "@x"}
	vol := filepath.Join(p.dir, "vol")
	if err := os.MkdirAll(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	img := p.image(podImage(t, podManifest(t, "example.com/hostile", map[string]any{
		"mountPoints": []map[string]any{{"name": "data", "path": "/data"}},
	}, "hostname"), nil))
	var args []string
	for i, h := range hostile {
		args = append(args, "+", "write", fmt.Sprintf("/data/%d", i), h)
	}
	// The data directory's name is hostile too: it is in ExecStart, and in
	// the overlay's mount options ('\', ',' and ':' are overlayfs's).
	p.data = filepath.Join(p.dir, `d $HOME %n%% ; "x" 'y' \ \\,a:b`)
	r := p.runInBox(ctx, append([]string{"run", "--insecure-options=image", "--net=none",
		"--volume=data,kind=host,source=" + vol, img, "--"}, args...)...)
	if r.code != 0 {
		t.Fatalf("acirun run: %s", r)
	}
	for i, h := range hostile {
		if b, err := os.ReadFile(filepath.Join(vol, fmt.Sprint(i))); err != nil || string(b) != h {
			t.Errorf("argument %q reached the app as %q (%v)", h, b, err)
		}
	}
}

// TestTransientKilled: stage1, the unit's main process, killed with
// SIGKILL at several moments of the start; once acirun gc has run there is
// nothing of the pod left (noPodsLeft).
func TestTransientKilled(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	img := p.servingImage("example.com/killed", 8082)
	for _, delay := range []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond, time.Second} {
		cmd := p.b.Command(ctx, p.acirun("run", "--insecure-options=image", img)...)
		out := &lockedOutput{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var pid []byte
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
			pods, _ := filepath.Glob(filepath.Join(p.data, "pods", "*-*-*-*-*", "pid"))
			if len(pods) == 1 {
				if pid, _ = os.ReadFile(pods[0]); len(pid) > 0 && pid[len(pid)-1] == '\n' {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no pod started after 30s:\n%s", out.String())
			}
		}
		time.Sleep(delay)
		// The pid is the box's: kill in the box.
		if err := p.b.Exec(ctx, "kill", "-KILL", strings.TrimSpace(string(pid))); err != nil {
			t.Logf("kill after %s: %v (the pod ended already?)", delay, err)
		}
		if err := cmd.Wait(); err == nil {
			t.Errorf("killed after %s: acirun run exited 0:\n%s", delay, out.String())
		} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 137 {
			t.Errorf("killed after %s: acirun run: %v, want exit 137 (stage1 killed by SIGKILL):\n%s", delay, err, out.String())
		}
		uuid := onlyPodDir(t, p.data)
		if r := p.runInBox(ctx, "gc", "--grace-period=0s"); r.code != 0 || !strings.Contains(r.stdout, "removed "+uuid) {
			t.Errorf("gc after the pod killed after %s: %s", delay, r)
		}
		t.Logf("the pod killed after %s, then gc: what it left follows, if anything", delay)
		p.noPodsLeft(ctx, []string{uuid})
	}

	// Detached, nobody reads the unit's status: the killed pod's unit
	// stays failed until gc.
	uuid, unit, _ := p.runDetached(ctx, "--insecure-options=image", img)
	pid, err := os.ReadFile(filepath.Join(p.data, "pods", uuid, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.b.Exec(ctx, "kill", "-KILL", strings.TrimSpace(string(pid))); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		u := p.units(ctx, "acirun-*.service")
		if len(u) == 1 && u[0] == unit+" loaded failed failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("units after the detached pod was killed: %q, want %s failed", u, unit)
		}
	}
	if st := p.show(ctx, unit, "Result", "ExecMainStatus"); st["Result"] != "signal" || st["ExecMainStatus"] != "9" {
		t.Errorf("the killed pod's unit: %v", st)
	}
	if r := p.runInBox(ctx, "gc", "--grace-period=0s"); r.code != 0 || !strings.Contains(r.stdout, "removed "+uuid) {
		t.Errorf("gc after the detached pod was killed: %s", r)
	}
	t.Log("the detached pod killed, then gc: what it left follows, if anything")
	p.noPodsLeft(ctx, []string{uuid})
}

// onlyPodDir returns the UUID of the one pod directory of dataDir.
func onlyPodDir(t *testing.T, dataDir string) string {
	t.Helper()
	pods, _ := filepath.Glob(filepath.Join(dataDir, "pods", "*-*-*-*-*"))
	if len(pods) != 1 {
		t.Fatalf("want one pod in %s, have %q", dataDir, pods)
	}
	return filepath.Base(pods[0])
}

// TestTransientMemoryMax: --memory is the transient unit's MemoryMax, and
// an app that allocates beyond it is killed (stage1's own cgroups for the
// app sit below the unit's delegated cgroup).
func TestTransientMemoryMax(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/transient-hog", nil, "alloc", "256"), nil))
	r := p.runInBox(ctx, "run", "--insecure-options=image", "--net=none", img, "--memory=32M")
	if r.code != 137 || strings.Contains(r.stdout, "allocated 64 MiB") || !strings.Contains(r.stdout, "allocated 8 MiB") {
		t.Errorf("an app over --memory=32M: want it to run and be killed (137) before 64 MiB: %s", r)
	}
}

// TestTransientTerminal: on a terminal (a pty), the pod's output reaches
// the terminal through the unit, and SIGINT to acirun (what Ctrl-C sends
// to a shell's foreground job) stops the unit: the pod ends by SIGTERM
// and so does acirun. (The ^C key itself is not typed: the box's nsenter
// would be in the foreground job too, and die of it.)
func TestTransientTerminal(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/terminal", nil, "hostname", "+", "sleep", "1h"), nil))
	ptm, pts := p.pty()
	marker := "--uuid-file-save=" + filepath.Join(p.dir, "uuid-terminal")
	cmd := p.b.Command(ctx, p.acirun("run", "--insecure-options=image", "--net=none", marker, img)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	out := readPty(ptm)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "hostname=acirun-"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the pod's output did not reach the terminal in 30s:\n%s", out.String())
		}
	}
	uuid := onlyPod(t, p.data)
	unit := "acirun-" + uuid + ".service"
	t.Cleanup(func() { p.b.Exec(context.Background(), "systemctl", "stop", unit) })
	if err := syscall.Kill(clientPid(t, marker), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		t.Fatalf("acirun run did not end 40s after SIGINT:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("acirun run after SIGINT: exit %d, want 143:\n%s", code, out.String())
	}
	if u := p.units(ctx, unit); len(u) != 0 {
		t.Errorf("%s left after SIGINT: %q", unit, u)
	}
}

// pty opens a new pseudo-terminal of the box's own devpts, as a terminal
// of the host is of the host's (stage1 gives the apps their terminal by
// its path): its master and its peer, closed when the test ends.
func (p *boxPod) pty() (ptm, pts *os.File) {
	p.t.Helper()
	ptmx, err := p.b.Path("/dev/pts/ptmx")
	if err != nil {
		p.t.Fatal(err)
	}
	ptm, err = os.OpenFile(ptmx, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		p.t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		p.t.Fatal(err)
	}
	ptsPath, err := p.b.Path(fmt.Sprintf("/dev/pts/%d", n))
	if err != nil {
		p.t.Fatal(err)
	}
	pts, err = os.OpenFile(ptsPath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { pts.Close() })
	return ptm, pts
}

// TestTraceStart: with ACIRUN_TRACE=1 every process on the way from acirun
// run to the app's exec prints its steps on one timeline, through the pod's
// transient unit and with --no-unit; PID 1 executes the app itself, with no
// app launcher between; the supervisor writes the pod's exit record that
// PID 1 sends it while the kernel ends PID 1, before PID 1 has exited;
// the app's environment does not carry the variable;
// acirun reads the network configuration once (it was read by prepare and
// again for stage1's command line).
func TestTraceStart(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/traced", nil, "env"), nil))
	line := regexp.MustCompile(`^acirun trace +([0-9]+\.[0-9]{3}) ms  ([a-z0-9 ]+)\[[0-9]+\]: (.*) \(cpu [0-9]+\.[0-9] ms\)$`)
	for _, tc := range []struct {
		name  string
		flags []string
		want  []string // process: step, in the order they happen
	}{
		// (acirun connects to systemd while it prepares the pod: the
		// connection's step is checked below, before the unit's start.)
		{"unit", nil, []string{"acirun: main", "acirun: prepare", "acirun: start unit acirun-",
			"stage1 run: main", "stage1 run: init started as pid", "stage1 run: go sent", "stage1 init: go received",
			"stage1 init: app traced: root entered", "stage1 init: app traced: exec /testapp", "stage1 init: app traced: main started",
			"stage1 run: pod down", "stage1 run: exit record written", "stage1 run: init exited", "acirun: unit inactive", "acirun: exit 0"}},
		// (acirun forks PID 1 while it prepares the pod, on the pod's
		// thread: PID 1's start is checked below, apart from acirun's
		// steps, which it races.)
		{"no-unit", []string{"--no-unit"}, []string{"acirun: main", "acirun: stage1 run in this process",
			"stage1 run: main", "stage1 run: pod locked and checked", "stage1 run: go sent", "stage1 init: go received",
			"stage1 init: app traced: exec /testapp", "stage1 run: pod down", "stage1 run: exit record written", "stage1 run: init exited",
			"stage1 run: exit 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := append([]string{"env", "ACIRUN_TRACE=1"}, p.acirun(append(append([]string{"run"}, tc.flags...), "--insecure-options=image", "--net=none", img)...)...)
			cmd := p.b.Command(ctx, argv...)
			var out, errb lockedOutput
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				t.Fatalf("ACIRUN_TRACE=1 acirun run: %v\n%s%s", err, out.String(), errb.String())
			}
			if strings.Contains(out.String(), "ACIRUN_TRACE") || !strings.Contains(out.String(), "AC_APP_NAME=traced") {
				t.Errorf("the app's environment: want AC_APP_NAME and no ACIRUN_TRACE:\n%s", out.String())
			}
			type step struct {
				ms   float64
				what string
			}
			var steps []step
			for _, l := range strings.Split(errb.String(), "\n") {
				if m := line.FindStringSubmatch(l); m != nil {
					ms, _ := strconv.ParseFloat(m[1], 64)
					steps = append(steps, step{ms, m[2] + ": " + m[3]})
				} else if strings.HasPrefix(l, "acirun trace") {
					t.Errorf("trace line not in the documented form: %q", l)
				}
			}
			slices.SortStableFunc(steps, func(a, b step) int { return cmp.Compare(a.ms, b.ms) })
			i := 0
			for _, s := range steps {
				if i < len(tc.want) && strings.HasPrefix(s.what, tc.want[i]) {
					i++
				}
			}
			if i < len(tc.want) {
				t.Errorf("the trace lacks %q (after %q) in its time order:\n%s", tc.want[i], tc.want[:i], errb.String())
			}
			at := func(prefix string) int {
				return slices.IndexFunc(steps, func(s step) bool { return strings.HasPrefix(s.what, prefix) })
			}
			if tc.flags == nil {
				if c, u := at("acirun: connected to systemd"), at("acirun: start unit"); c < 0 || c > u {
					t.Errorf("the trace lacks acirun's connection to systemd before the unit's start:\n%s", errb.String())
				}
			} else {
				// PID 1 is forked by acirun itself, from the executable
				// it sealed, and starts before it is told go. Its main
				// may come before "init started", which the forking
				// thread records once the fork has returned: a loaded
				// machine runs the child first.
				sealed, started, main, sent := at("acirun: executable sealed"), at("acirun: init started as pid"), at("stage1 init: main"), at("stage1 run: go sent")
				if sealed < 0 || started < sealed || main < sealed || sent < started || main > at("stage1 init: go received") {
					t.Errorf("the trace lacks acirun's executable sealed, then init started and PID 1's main, before go:\n%s", errb.String())
				}
			}
			if n := strings.Count(errb.String(), "]: network config read (cpu"); n != 1 {
				t.Errorf("acirun read the network configuration %d times, want once:\n%s", n, errb.String())
			}
			// PID 1 starts the app from a thread of its own: no app
			// launcher process (a whole Go process start) on the way.
			if strings.Contains(errb.String(), "stage1 app[") {
				t.Errorf("an app launcher (stage1 app) ran on the way to the app's exec:\n%s", errb.String())
			}
		})
	}
}

// TestTransientRunPrepared: run-prepared starts a prepared pod the way run
// starts a new one: as its transient unit (recorded in the pod, the pod's
// exit code acirun's, no unit left), named with --unit, or in acirun's own
// process with --no-unit; contradictory unit flags are refused before
// anything starts.
func TestTransientRunPrepared(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := p.image(podImage(t, podManifest(t, "example.com/prepared-unit", nil, "exit", "3"), nil))
	prepare := func() string {
		t.Helper()
		r := p.runInBox(ctx, "prepare", "--insecure-options=image", "--net=none", img)
		if r.code != 0 {
			t.Fatalf("prepare: %s", r)
		}
		return strings.TrimSpace(r.stdout)
	}
	unitOf := func(uuid string) string {
		b, err := os.ReadFile(filepath.Join(p.data, "pods", uuid, "unit"))
		if errors.Is(err, os.ErrNotExist) {
			return ""
		} else if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	for _, tc := range []struct {
		flags []string
		unit  string // "" for none; "-" for acirun-UUID.service
	}{
		{nil, "-"},
		{[]string{"--unit=prepared-named"}, "prepared-named.service"},
		{[]string{"--no-unit"}, ""},
	} {
		uuid := prepare()
		r := p.runInBox(ctx, append(append([]string{"run-prepared"}, tc.flags...), uuid)...)
		want := tc.unit
		if want == "-" {
			want = "acirun-" + uuid + ".service"
		}
		if r.code != 3 || unitOf(uuid) != want {
			t.Errorf("run-prepared %q: exit %d, unit %q; want 3 and unit %q: %s", tc.flags, r.code, unitOf(uuid), want, r)
		}
		if u := p.units(ctx, "*prepared*"); len(u) != 0 {
			t.Errorf("units left after run-prepared %q: %q", tc.flags, u)
		}
		if u := p.units(ctx, "acirun-*.service"); len(u) != 0 {
			t.Errorf("units left after run-prepared %q: %q", tc.flags, u)
		}
	}
	uuid := prepare()
	if r := p.runInBox(ctx, "run-prepared", "--no-unit", "-d", uuid); r.code != 2 || !strings.Contains(r.stderr, "--detach and --no-unit cannot be combined") {
		t.Errorf("run-prepared --no-unit -d: want exit 2 naming the contradiction: %s", r)
	}
	if st := p.runInBox(ctx, "status", "--format=json", uuid); !strings.Contains(st.stdout, `"prepared"`) {
		t.Errorf("the pod after a refused run-prepared: want it still prepared: %s", st)
	}
}
