package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
)

// crashEnv is the variable an acirun-stage1 or acirun-pod built with the
// acirun_crashpoints tag reads (stage1-systemd crashpoint_linux.go): STEP
// dies at that step of a pod's start, record:FILE writes each step reached
// to FILE.
const crashEnv = "ACIRUN_STAGE1_CRASH"

// crashBuild builds acirun, acirun-stage1 and acirun-pod with crash points
// where the box sees them (the repository's bin/), once per test run, and
// returns acirun's path. All have them: acirun runs stage1's supervisor in
// its own process with --no-unit.
func crashBuild(t *testing.T) string {
	t.Helper()
	crashBin.once.Do(func() {
		dir := filepath.Join(e.repo, "bin", "e2e-crash")
		if crashBin.err = os.MkdirAll(dir, 0o755); crashBin.err == nil {
			crashBin.err = testenv.BuildAcirun(e.repo, dir, "acirun_crashpoints")
		}
		crashBin.path = filepath.Join(dir, "acirun")
	})
	if crashBin.err != nil {
		t.Fatal(crashBin.err)
	}
	return crashBin.path
}

var crashBin struct {
	once sync.Once
	path string
	err  error
}

// TestKillAtEveryStartStep (issues 18, 21 and 23): `acirun run` of a pod
// on the default network, with a memory limit, through its transient unit
// in the box, killed with SIGKILL at every step of its start — the
// supervisor's, its PID 1's and its app launcher's, as the acirun-stage1
// and acirun-pod of a build with crash points report them (the stage1 package's
// TestCrashAtEveryStartStep checks that list against the code) — leaves a
// failed unit and, once acirun gc has run, nothing: no unit, machine,
// mount, link, lease, nftables rule, cgroup, process or pod directory; and
// the next start of the image succeeds and leaves nothing either (the next
// gc removes it). About 5 s a step on an idle machine.
func TestKillAtEveryStartStep(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p.bin = crashBuild(t)
	img := p.image(podImage(t, podManifest(t, "example.com/crash", map[string]any{
		"isolators": []map[string]any{{"name": "resource/memory", "value": map[string]string{"limit": "64M"}}},
	}, "print", "hello from the crash test"), nil))
	// The pod's unit gets the variable from the box's service manager.
	setCrash := func(v string) {
		t.Helper()
		boxOut(t, p, ctx, "systemctl", "set-environment", crashEnv+"="+v)
	}
	unsetCrash := func() {
		t.Helper()
		boxOut(t, p, ctx, "systemctl", "unset-environment", crashEnv)
	}
	t.Cleanup(func() { p.b.Exec(context.Background(), "systemctl", "unset-environment", crashEnv) })
	pods := func() []string {
		t.Helper()
		dirs, err := filepath.Glob(filepath.Join(p.data, "pods", "*-*-*-*-*"))
		if err != nil {
			t.Fatal(err)
		}
		var uuids []string
		for _, d := range dirs {
			uuids = append(uuids, filepath.Base(d))
		}
		return uuids
	}
	gc := func(uuids []string) {
		t.Helper()
		// The links of pods that ended go with their network
		// namespaces in the kernel's time, and their addresses with
		// gc once they have.
		var ifaces []string
		for _, u := range uuids {
			ifaces = append(ifaces, hostIface(u))
		}
		awaitHostEndsGone(t, p, ifaces...)
		r := p.runInBox(ctx, "gc", "--grace-period=0s")
		if r.code != 0 {
			t.Errorf("gc: %s", r)
		}
		for _, u := range uuids {
			if !strings.Contains(r.stdout, "removed "+u) {
				t.Errorf("gc did not remove %s: %s", u, r)
			}
		}
		if left := pods(); len(left) > 0 {
			t.Errorf("pods left after gc: %q", left)
		}
		p.noPodsLeft(ctx, uuids)
	}
	// run runs acirun run ARGS… IMG and returns the pod it made.
	run := func(args ...string) (string, result) {
		t.Helper()
		before := pods()
		r := p.runInBox(ctx, append(append([]string{"run", "--insecure-options=image"}, args...), img)...)
		var uuid string
		for _, u := range pods() {
			if !slices.Contains(before, u) {
				uuid = u
			}
		}
		if uuid == "" {
			t.Fatalf("run made no pod: %s", r)
		}
		return uuid, r
	}
	record := filepath.Join(p.dir, "steps")
	setCrash("record:" + record)
	uuid, r := run()
	unsetCrash()
	if r.code != 0 || !strings.Contains(r.stdout, "hello from the crash test") {
		t.Fatalf("the recorded start: %s", r)
	}
	gc([]string{uuid})
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	steps := slices.Compact(slices.Sorted(slices.Values(strings.Fields(string(b)))))
	if len(steps) < 10 {
		t.Fatalf("a start reported steps %q: too few (the supervisor's, PID 1's and the launcher's)", steps)
	}
	var collect []string // pods the next gc must remove
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			// Detached, so that the unit outlives acirun: a start
			// killed before the pod is ready fails run -d, one killed
			// after it (apps-started) fails the unit only.
			setCrash(step)
			killed, r := run("-d")
			unsetCrash()
			unit := "acirun-" + killed + ".service"
			var st map[string]string
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				st = p.show(ctx, unit, "ActiveState", "Result")
				if st["ActiveState"] == "failed" || time.Now().After(deadline) {
					break
				}
			}
			if st["ActiveState"] != "failed" {
				t.Errorf("killed at %s: the pod's unit is %v, want failed (run -d: %s)", step, st, r)
			}
			gc(append(collect, killed))
			next, r := run()
			if r.code != 0 || !strings.Contains(r.stdout, "hello from the crash test") {
				t.Errorf("the next start after a kill at %s: %s", step, r)
			}
			collect = []string{next}
		})
	}
	// With --private-users the supervisor leases a range of host IDs
	// before it marks the pod locked: gc takes it back too.
	t.Run("private-users/pod-locked", func(t *testing.T) {
		setCrash("pod-locked")
		killed, r := run("-d", "--private-users")
		unsetCrash()
		if r.code == 0 {
			t.Errorf("killed at pod-locked, run -d succeeded: %s", r)
		}
		leases, err := p.b.Path("/run/acirun/userns")
		if err != nil {
			t.Fatal(err)
		}
		held, _ := filepath.Glob(filepath.Join(leases, "[0-9]*"))
		if len(held) == 0 {
			t.Errorf("no host ID range leased by the killed pod: the test shows nothing")
		}
		gc(append(collect, killed))
		collect = nil
		if held, _ := filepath.Glob(filepath.Join(leases, "[0-9]*")); len(held) != 0 {
			t.Errorf("host ID ranges leased after gc: %q", held)
		}
	})
	gc(collect)
}

// TestKillNoUnitStart: `acirun run --no-unit`, whose own process is the
// pod's supervisor, killed with SIGKILL after the pod's network is attached
// and after its apps started leaves nothing once acirun gc has run. The
// cgroups of the app's memory limit are recorded in the pod; in the box
// they are below the scope systemd-machined made for the pod, which goes
// with it. Where no machined moves PID 1 they are below acirun's own
// cgroup, and gc removes them from the record (stage0/pod
// TestRemoveKilledPodsCgroups, stage1-systemd TestCrashAtEveryStartStep).
func TestKillNoUnitStart(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p.bin = crashBuild(t)
	img := p.image(podImage(t, podManifest(t, "example.com/crash-nounit", map[string]any{
		"isolators": []map[string]any{{"name": "resource/memory", "value": map[string]string{"limit": "64M"}}},
	}, "print", "up", "+", "sleep", "1h"), nil))
	for _, step := range []string{"network-attached", "apps-started"} {
		t.Run(step, func(t *testing.T) {
			cmd := p.b.Command(ctx, append([]string{"env", crashEnv + "=" + step}, p.acirun("run", "--no-unit", "--insecure-options=image", img)...)...)
			out, err := cmd.CombinedOutput()
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != -1 && cmd.ProcessState.ExitCode() != 137 {
				t.Fatalf("acirun run --no-unit was not killed at %s: %v\n%s", step, err, out)
			}
			dirs, _ := filepath.Glob(filepath.Join(p.data, "pods", "*-*-*-*-*"))
			if len(dirs) != 1 {
				t.Fatalf("pods after the kill: %q", dirs)
			}
			uuid := filepath.Base(dirs[0])
			if step == "apps-started" {
				b, err := os.ReadFile(filepath.Join(dirs[0], "cgroups"))
				if err != nil || len(b) == 0 {
					t.Errorf("the pod recorded no cgroups (%v): the test shows nothing", err)
				}
				t.Logf("recorded cgroups: %s", b)
			}
			r := p.runInBox(ctx, "gc", "--grace-period=0s")
			if r.code != 0 || !strings.Contains(r.stdout, "removed "+uuid) {
				t.Errorf("gc: %s", r)
			}
			p.noPodsLeft(ctx, []string{uuid})
		})
	}
}

// TestInitDiesWhileNetworkAttaches: a PID 1 that dies once it has the go
// message, while its supervisor attaches the pod's network, is not
// registered with systemd-machined (it is gone: nothing to register), and
// the failed start says nothing about machined, with or without a unit of
// its own; nothing is left once gc has run. It fails when the supervisor
// registers whatever PID 1 it started: without a unit, machined kept the
// machine (and its scope) of the dead PID 1 ("machine left").
func TestInitDiesWhileNetworkAttaches(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p.bin = crashBuild(t)
	img := p.image(podImage(t, podManifest(t, "example.com/crash-early-init", nil, "print", "up"), nil))
	for _, unit := range []bool{false, true} {
		args := []string{"run", "--insecure-options=image", img}
		if !unit {
			args = slices.Insert(args, 1, "--no-unit")
		}
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			var r result
			if unit {
				boxOut(t, p, ctx, "systemctl", "set-environment", crashEnv+"=init-go-received")
				r = p.runInBox(ctx, args...)
				boxOut(t, p, ctx, "systemctl", "unset-environment", crashEnv)
			} else {
				cmd := p.b.Command(ctx, append([]string{"env", crashEnv + "=init-go-received"}, p.acirun(args...)...)...)
				var out, errb lockedOutput
				cmd.Stdout, cmd.Stderr = &out, &errb
				_ = cmd.Run()
				r = result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
			}
			t.Logf("%s", r)
			if r.code == 0 {
				t.Fatalf("run with PID 1 killed once it had go: %s", r)
			}
			if strings.Contains(r.stderr, "machine") {
				t.Errorf("run with PID 1 dead before the network was ready: %s; want nothing said of machined", r)
			}
			dirs, _ := filepath.Glob(filepath.Join(p.data, "pods", "*-*-*-*-*"))
			var uuids []string
			for _, d := range dirs {
				uuids = append(uuids, filepath.Base(d))
			}
			var ifaces []string
			for _, u := range uuids {
				ifaces = append(ifaces, hostIface(u))
			}
			awaitHostEndsGone(t, p, ifaces...)
			if r := p.runInBox(ctx, "gc", "--grace-period=0s"); r.code != 0 {
				t.Errorf("gc: %s", r)
			}
			p.noPodsLeft(ctx, uuids)
		})
	}
}
