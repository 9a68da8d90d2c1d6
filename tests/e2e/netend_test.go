package e2e

import (
	"bufio"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPodNetworkEndHeldNamespace (issue 19): a pod's end does not wait for
// the kernel to remove its link with its network namespace, and its
// addresses stay out of other pods' reach until the link is gone. With
// the namespace held by a process that entered it, `acirun run` returns
// while the link is still there; on a network of one IPv4 address the
// next pod is refused for want of an address, and acirun gc gives nothing
// back and names the process; once that process is gone and the kernel
// has removed the namespace and the link, the next pod gets the address.
func TestPodNetworkEndHeldNamespace(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p.networkConfig("50-one.json", `{"rktKind": "network", "rktVersion": "v1", "subnet": "10.79.0.0/30", "subnet6": "fd00:79::/126"}`)
	img := p.image(podImage(t, podManifest(t, "example.com/net-held", nil, "print", "up", "+", "sleep", "1h"), nil))
	quick := p.image(podImage(t, podManifest(t, "example.com/net-held-next", nil, "print", "next ran"), nil))
	a := p.startPod(ctx, "up", img)
	na := a.net()
	if na.IP != "10.79.0.2" {
		t.Fatalf("the pod's address %q, want 10.79.0.2, the /30's one", na.IP)
	}

	// A process enters the pod's network namespace and stays.
	holderPID := holdNetNS(t, p, ctx, a)

	a.stop(p)
	// acirun run has returned, and the link is still there: the pod's end
	// neither removed it nor waited for it.
	if !slices.Contains(hostEnds(t, p), na.HostInterface) {
		t.Fatalf("the host end %s was gone when acirun run returned, with the pod's namespace held", na.HostInterface)
	}
	if held := leaseFiles(t, p); !slices.Contains(held, na.IP) || !slices.Contains(held, na.IP6) {
		t.Fatalf("leases %q, want the ended pod's %s and %s while its link is there", held, na.IP, na.IP6)
	}
	if r := p.runInBox(ctx, "run", "--insecure-options=image", quick); r.code == 0 || !strings.Contains(r.stderr, "no free address in 10.79.0.0/30") {
		t.Errorf("a pod started while the ended pod's link is there: %s; want it refused: no free address", r)
	}
	r := p.runInBox(ctx, "gc", "--grace-period=0s")
	if want := "the ended pod " + a.uuid + " keeps its addresses " + na.IP + " " + na.IP6 + " while its link " + na.HostInterface +
		" is there: its network namespace is held by process " + holderPID + " (sleep)"; r.code != 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("gc with the link there: %s; want it to say %q", r, want)
	}
	if held := leaseFiles(t, p); !slices.Contains(held, na.IP) || !slices.Contains(held, na.IP6) {
		t.Errorf("leases after gc %q, want the ended pod's %s and %s while its link is there", held, na.IP, na.IP6)
	}

	// The process gone, the kernel removes the namespace and the link
	// with it, and the next start takes the addresses back.
	boxOut(t, p, ctx, "kill", holderPID)
	awaitHostEndsGone(t, p, na.HostInterface)
	if r := p.runInBox(ctx, "run", "--insecure-options=image", quick); r.code != 0 || !strings.Contains(r.stdout, "next ran") {
		t.Errorf("a pod started once the ended pod's link is gone: %s", r)
	}
	reclaim(t, p, ctx)
	if left := leaseFiles(t, p); len(left) != 0 {
		t.Errorf("leases left once every pod ended and its link went: %q", left)
	}
}

// TestPodNetworkKilledHeldNamespace: a pod whose supervisor is killed with
// SIGKILL gives nothing back, and its link stays while something holds
// its network namespace (a process that entered it). The next pod on a
// network of one IPv4 address takes the dead pod's lease back and, with
// it, the link and the host's route to the address, which it is given:
// it used to fail with "the host already has a route". No link of either
// pod is left once the holder and the next pod are gone.
func TestPodNetworkKilledHeldNamespace(t *testing.T) {
	p := newBoxPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p.networkConfig("50-one.json", `{"rktKind": "network", "rktVersion": "v1", "subnet": "10.79.0.0/30", "subnet6": "fd00:79::/126"}`)
	img := p.image(podImage(t, podManifest(t, "example.com/net-killed-held", nil, "print", "up", "+", "sleep", "1h"), nil))
	quick := p.image(podImage(t, podManifest(t, "example.com/net-killed-held-next", nil, "print", "next ran"), nil))
	a := p.startPod(ctx, "up", img)
	na := a.net()
	holderPID := holdNetNS(t, p, ctx, a)
	a.kill(p)
	if !slices.Contains(hostEnds(t, p), na.HostInterface) {
		t.Fatalf("the host end %s went with its killed pod, its namespace held: the test shows nothing", na.HostInterface)
	}
	if r := p.runInBox(ctx, "run", "--insecure-options=image", quick); r.code != 0 || !strings.Contains(r.stdout, "next ran") {
		t.Errorf("a pod started after a killed one whose link is held: %s; want it to take the address back", r)
	}
	if slices.Contains(hostEnds(t, p), na.HostInterface) {
		t.Errorf("the killed pod's host end %s outlived the next pod's start", na.HostInterface)
	}
	boxOut(t, p, ctx, "kill", holderPID)
	reclaim(t, p, ctx)
	if left := leaseFiles(t, p); len(left) != 0 {
		t.Errorf("leases left once every pod ended and its link went: %q", left)
	}
}

// holdNetNS starts a process in the box that enters pod a's network
// namespace and stays, and returns its PID in the box; the test kills it
// (kill PID in the box) when the namespace is to go, and its end kills it
// anyway.
func holdNetNS(t *testing.T, p *boxPod, ctx context.Context, a *bgPod) string {
	t.Helper()
	holder := p.b.Command(ctx, "nsenter", "-t", ppid1(t, a.dir), "-n", "sh", "-c", "echo $$; exec sleep 1h")
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	pid := strings.TrimSpace(line)
	t.Cleanup(func() {
		if pid != "" {
			_ = p.b.Exec(context.Background(), "kill", pid)
		}
		holder.Process.Kill()
		holder.Wait()
	})
	if err != nil {
		t.Fatalf("the process entering the pod's namespace: %v", err)
	}
	return pid
}
