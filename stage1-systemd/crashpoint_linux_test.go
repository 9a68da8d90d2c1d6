package stage1

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/netns"
)

// inNewNetNS runs f on a thread in a network namespace of its own, made
// for the call: what f starts (a pod's stage1 run) attaches pods there, off
// the test machine's network, and the namespace lives while f runs. f is
// not on the test's goroutine: it reports with t.Error and returns.
func inNewNetNS(t *testing.T, f func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		var err error
		defer func() { done <- err }()
		if err = unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return
		}
		var lo netlink.Link
		if lo, err = netlink.LinkByName("lo"); err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err == nil {
			f()
		}
	}()
	if err := <-done; err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
}

// crashPod is the pod of TestCrashAtEveryStartStep: one app with a memory
// limit (so that PID 1 makes the pod's cgroups) that exits at once.
func crashPod(t *testing.T, probe ...string) *testPod {
	return newPod(t, []testApp{{name: "a", exec: append(append([]string{"/probe"}, probe...), "exit:0"),
		iso: []string{`{"name":"resource/memory","value":{"limit":"64Mi"}}`}}}, nil)
}

// TestCrashAtEveryStartStep kills a pod's start at each StartStep — the
// supervisor (stage1 run) with SIGKILL, PID 1 and an app's launcher as
// SIGKILL would — on the default network in a network namespace of the
// test's, and checks what is left: no process, mount or cgroup of the pod,
// no link, and once what acirun gc runs for the network has run (the
// leases and the nftables rules of pods no stage1 runs), no lease or rule;
// and the next pod starts on the same network and ends cleanly. First, a
// start reaches exactly startSteps: a step marked in the code but missing
// from the list, or listed but never reached, fails here.
func TestCrashAtEveryStartStep(t *testing.T) {
	needRoot(t)
	t.Run("steps", func(t *testing.T) {
		p := crashPod(t)
		record := filepath.Join(t.TempDir(), "steps")
		var r *podResult
		inNewNetNS(t, func() {
			cmd := p.command("--net=default")
			cmd.Env = append(cmd.Env, crashEnv+"=record:"+record)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err == nil {
				r = p.result(t, cmd, err, &out, &errb)
			} else {
				t.Errorf("pod: %v\n%s%s", err, out.String(), errb.String())
			}
		})
		if r == nil || r.code != 0 {
			t.Fatalf("the recorded start did not succeed")
		}
		b, err := os.ReadFile(record)
		must(t, err)
		seen := strings.Fields(string(b))
		var want []string
		for _, s := range startSteps() {
			want = append(want, string(s))
		}
		slices.Sort(seen)
		slices.Sort(want)
		if !slices.Equal(seen, want) {
			t.Fatalf("a pod's start reached %q, startSteps lists %q: every step marked in the code needs its place in the list (and a kill below)", seen, want)
		}
	})

	for _, step := range startSteps() {
		t.Run(string(step), func(t *testing.T) {
			// The app outlives every step: one that had ended could
			// take PID 1 with it before the supervisor reaches the step
			// (apps-started, the last), and the pod would end as no
			// kill makes it.
			p := crashPod(t, "sleep:5s")
			runDir := filepath.Join(t.TempDir(), "run")
			leases := filepath.Join(runDir, "net")
			inNewNetNS(t, func() {
				cmd := p.command("--net=default", "--run-dir="+runDir)
				cmd.Env = append(cmd.Env, crashEnv+"="+string(step))
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Errorf("the start was not killed at %s: %v: %s", step, err, out.String())
					return
				}
				ws := ee.Sys().(syscall.WaitStatus)
				switch step {
				case stepInitGoReceived, stepInitRootsBuilt, stepInitSetUp, stepAppRootEntered:
					// PID 1 or a launcher died: the supervisor ends
					// the pod as killed.
					if ws.Signaled() || ws.ExitStatus() != 128+int(syscall.SIGKILL) {
						t.Errorf("killed at %s: stage1 run ended with %v, want exit 137: %s", step, err, out.String())
						return
					}
				default:
					if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
						t.Errorf("the supervisor was not killed at %s: %v: %s", step, err, out.String())
						return
					}
				}
				// The pod directory says what happened: a pod whose
				// PID 1 or launcher died exited with 137 (exit.json);
				// one whose supervisor died has its pid and no exit
				// record, its lock free (stage0 lists it as exited,
				// code unknown, and gc removes it).
				exit, xerr := os.ReadFile(filepath.Join(p.dir, podcontract.ExitFile))
				_, perr := os.Stat(filepath.Join(p.dir, podcontract.PIDFile))
				lock, lerr := podcontract.LockPod(p.dir, false)
				if lerr != nil || lock == nil {
					t.Errorf("killed at %s: the pod's lock is still held (%v)", step, lerr)
				} else {
					lock.Close()
				}
				if ws.Signaled() {
					if xerr == nil || perr != nil {
						t.Errorf("killed at %s: exit record %q (%v), pid file %v; want no exit record and the pid file", step, exit, xerr, perr)
					}
				} else if x, err := podcontract.ParseExit(exit); err != nil || x.ExitCode != 137 {
					t.Errorf("killed at %s: exit record %q: %v", step, exit, err)
				}
				// The link goes with the pod's network namespace,
				// which the kernel frees after its last process.
				if !awaitHostEndGone(t, p.uuid) {
					return
				}
				gcNetwork(t, leases)
				// What acirun gc (pod.Remove) runs for the pod's
				// cgroups, left by a supervisor killed after PID 1
				// made them.
				if err := podcontract.RemoveCgroups(p.dir); err != nil {
					t.Error(err)
				}
				left := podNetworkLeft(t, leases, p.uuid)
				if len(left) > 0 {
					t.Errorf("killed at %s: left on the network: %q", step, left)
				}
				// The next pod, on the same network, starts and ends.
				next := crashPod(t)
				r := next.run(t, "--net=default", "--run-dir="+runDir)
				if r.code != 0 {
					t.Errorf("the next pod after a kill at %s: exit %d", step, r.code)
				}
				// Its addresses are given back once its link is gone,
				// which the kernel removes in its own time: then gc
				// takes them back.
				if awaitHostEndGone(t, next.uuid) {
					gcNetwork(t, leases)
				}
				if left := podNetworkLeft(t, leases, next.uuid); len(left) > 0 {
					t.Errorf("the next pod left on the network: %q", left)
				}
			})
			// checkClean (newPod's cleanup) looks for processes, mounts
			// and cgroups of both pods.
		})
	}
}

// awaitHostEndGone waits for the kernel to remove the host end of the
// link of the pod uuid with the pod's network namespace, after the pod's
// last process, and fails the test if it has not in 10s.
func awaitHostEndGone(t *testing.T, uuid string) bool {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := netlink.LinkByName(netns.HostInterface(uuid)); err != nil {
			return true
		}
		if time.Now().After(deadline) {
			t.Errorf("the host end %s outlived the pod by 10s", netns.HostInterface(uuid))
			return false
		}
	}
}

// gcNetwork runs what acirun gc runs for the default network whose leases
// are under leases.
func gcNetwork(t *testing.T, leases string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := netns.Default(leases).ReleaseStale(ctx, podcontract.Running); err != nil {
		t.Error(err)
	}
	if _, err := netns.DefaultFirewall(leases).RemoveStale(ctx, podcontract.Running); err != nil {
		t.Error(err)
	}
}

// podNetworkLeft lists what the default network of the calling thread's
// namespace holds of the pod uuid: leases (any: a test's run directory
// has one network), rules in acirun's nftables table, its host link.
func podNetworkLeft(t *testing.T, leases, uuid string) []string {
	t.Helper()
	var left []string
	ents, err := os.ReadDir(filepath.Join(leases, "default"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			left = append(left, "lease "+e.Name())
		}
	}
	if _, err := netlink.LinkByName(netns.HostInterface(uuid)); err == nil {
		left = append(left, "link "+netns.HostInterface(uuid))
	}
	c, err := nftables.New()
	if err != nil {
		t.Error(err)
		return left
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Error(err)
	}
	for _, ch := range chains {
		if ch.Table.Name != "acirun" {
			continue
		}
		if strings.Contains(ch.Name, uuid) {
			left = append(left, "chain "+ch.Name)
			continue
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			t.Error(err)
		}
		for _, r := range rules {
			if strings.Contains(string(r.UserData), uuid) {
				left = append(left, "rule in "+ch.Name+": "+string(r.UserData))
			}
		}
	}
	return left
}
