package stage1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/acirun/acirun/internal/flock"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/netns"
)

// attachHeld starts pod p on the default network of the calling thread's
// namespace (inNewNetNS) with the steps of its start recorded, while the
// test holds the default network's lease lock, so that the supervisor's
// attach waits for it: the network is not ready until release is called.
// It returns once PID 1 has recorded stepInitRootsBuilt, or an error
// (the pod let go and ended) if PID 1 does not get there in 20 s. It runs
// off the test's goroutine (inNewNetNS): it reports with errors, not
// t.Fatal.
func attachHeld(p *testPod, runDir string) (cmd *exec.Cmd, out *bytes.Buffer, steps func() []string, release func(), err error) {
	leaseDir := filepath.Join(runDir, "net", "default")
	if err := os.MkdirAll(leaseDir, 0o700); err != nil {
		return nil, nil, nil, nil, err
	}
	lock, err := flock.Lock(context.Background(), filepath.Join(leaseDir, ".lock"), true)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	released := false
	release = func() {
		if !released {
			released = true
			lock.Close()
		}
	}
	record := filepath.Join(filepath.Dir(runDir), "steps")
	steps = func() []string {
		b, _ := os.ReadFile(record) // none yet: no step
		return strings.Fields(string(b))
	}
	cmd = p.command("--net=default", "--run-dir="+runDir)
	cmd.Env = append(cmd.Env, crashEnv+"=record:"+record)
	out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		release()
		return nil, nil, nil, nil, err
	}
	for deadline := time.Now().Add(20 * time.Second); !slices.Contains(steps(), string(stepInitRootsBuilt)); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			release()
			_ = cmd.Wait()
			return nil, nil, nil, nil, fmt.Errorf("PID 1 did not build the apps' roots while the network was being attached (steps %q): %s", steps(), out)
		}
	}
	return cmd, out, steps, release, nil
}

// TestNetworkReadyAfterRoots: PID 1 sets the pod up (its mounts, the apps'
// roots) while the supervisor is still attaching the pod's network (here
// held up on the network's lease lock), and goes no further until the
// supervisor says the network is ready: no cgroup made, no app started.
// Once it is, the pod starts and ends normally, each step in its order.
func TestNetworkReadyAfterRoots(t *testing.T) {
	needRoot(t)
	p := crashPod(t)
	runDir := filepath.Join(t.TempDir(), "run")
	inNewNetNS(t, func() {
		cmd, out, steps, release, err := attachHeld(p, runDir)
		if err != nil {
			t.Error(err)
			return
		}
		defer release()
		// A PID 1 that did not wait would be starting its app by now.
		time.Sleep(300 * time.Millisecond)
		for _, s := range []StartStep{StepNetworkAttached, StepNetworkReadySent, stepInitSetUp, stepAppRootEntered} {
			if slices.Contains(steps(), string(s)) {
				t.Errorf("%s reached while the network is being attached: %q", s, steps())
			}
		}
		if _, err := os.Stat(filepath.Join(p.dir, podcontract.CgroupsFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("PID 1 made the pod's cgroups before the network was ready (%s: %v)", podcontract.CgroupsFile, err)
		}
		release()
		if err := cmd.Wait(); err != nil {
			t.Errorf("pod: %v: %s", err, out)
			return
		}
		// Each pair is one step that must come before another. Steps of
		// two processes are ordered only where one causes the other:
		// the supervisor records network-ready-sent after its write,
		// which PID 1 may have read and acted on by then, so what PID 1
		// waits for is the supervisor's last step before that write.
		got := steps()
		for _, p := range [][2]StartStep{
			{stepInitGoReceived, stepInitRootsBuilt},
			{stepInitRootsBuilt, stepInitSetUp},
			{StepMachineRegistered, stepInitSetUp},
			{StepMachineRegistered, StepNetworkReadySent},
			{stepInitSetUp, stepAppRootEntered},
			{StepNetworkReadySent, StepAppsStarted},
			{stepAppRootEntered, StepAppsStarted},
		} {
			before, after := slices.Index(got, string(p[0])), slices.Index(got, string(p[1]))
			if before < 0 || after <= before {
				t.Errorf("steps %q: want %s before %s", got, p[0], p[1])
			}
		}
	})
}

// TestNetworkAttachFailsAfterGo: an attach that fails once PID 1 has gone
// on and set the pod up (a host route already there for the pod's address)
// ends the pod cleanly: the error names the network and what is in the
// way, PID 1 started no app, and nothing is left of the pod (no lease,
// link or rule here; no mount, process or cgroup, checkClean).
func TestNetworkAttachFailsAfterGo(t *testing.T) {
	needRoot(t)
	p := crashPod(t)
	runDir := filepath.Join(t.TempDir(), "run")
	leases := filepath.Join(runDir, "net")
	inNewNetNS(t, func() {
		// The first address a fresh lease directory gives, routed
		// elsewhere.
		addr := netns.Default(leases).Gateway().Next()
		// A veth pair of the test's own (the kernel may have no dummy
		// links), both ends up.
		other := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "netgo0"}, PeerName: "netgo1"}
		if err := netlink.LinkAdd(other); err != nil {
			t.Error(err)
			return
		}
		for _, name := range []string{"netgo0", "netgo1"} {
			if err := netlink.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
				t.Error(err)
				return
			}
		}
		route := &netlink.Route{LinkIndex: other.Attrs().Index, Dst: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(32, 32)}}
		if err := netlink.RouteAdd(route); err != nil {
			t.Error(err)
			return
		}
		cmd, out, steps, release, err := attachHeld(p, runDir)
		if err != nil {
			t.Error(err)
			return
		}
		release()
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != ExitCodeFailure {
			t.Errorf("pod: %v, want exit %d: %s", err, ExitCodeFailure, out)
		}
		if want := "network default: the host already has a route to " + addr.String(); !strings.Contains(out.String(), want) {
			t.Errorf("the pod's error does not say %q: %s", want, out)
		}
		for _, s := range []StartStep{StepNetworkReadySent, stepInitSetUp, stepAppRootEntered} {
			if slices.Contains(steps(), string(s)) {
				t.Errorf("%s reached by a pod whose network failed: %q", s, steps())
			}
		}
		exit, err := os.ReadFile(filepath.Join(p.dir, podcontract.ExitFile))
		if x, perr := podcontract.ParseExit(exit); err != nil || perr != nil || x.ExitCode != ExitCodeFailure {
			t.Errorf("exit record %q (%v, %v), want exit code %d", exit, err, perr, ExitCodeFailure)
		}
		if left := podNetworkLeft(t, leases, p.uuid); len(left) > 0 {
			t.Errorf("left on the network: %q", left)
		}
		// The network works for the next pod once the route is gone.
		if err := netlink.RouteDel(route); err != nil {
			t.Error(err)
			return
		}
		next := crashPod(t)
		if r := next.run(t, "--net=default", "--run-dir="+runDir); r.code != 0 {
			t.Errorf("the next pod: exit %d", r.code)
		}
		// Its addresses are given back once the kernel has removed its
		// link: then gc takes them back.
		if awaitHostEndGone(t, next.uuid) {
			gcNetwork(t, leases)
		}
		if left := podNetworkLeft(t, leases, next.uuid); len(left) > 0 {
			t.Errorf("the next pod left on the network: %q", left)
		}
	})
}
