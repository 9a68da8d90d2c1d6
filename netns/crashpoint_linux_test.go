package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/testenv"
)

// The child of TestCrashAtEveryAttachStep: its pod, its interface and the
// UUID of its rules.
const (
	crashOwner = "/pods/crashed"
	crashIface = "ac-crashed"
	crashUUID  = "c4a5e0d1-0000-4000-8000-000000000001"
)

func TestMain(m *testing.M) {
	if step := os.Getenv("ACIRUN_TEST_ATTACH_CRASH"); step != "" {
		os.Exit(crashingAttach(attachStep(step), os.Getenv("ACIRUN_TEST_LEASES")))
	}
	os.Exit(m.Run())
}

// crashingAttach is the child of TestCrashAtEveryAttachStep, started in
// the test's host namespace: it starts a pod process in a network
// namespace of its own, which dies with the child (as a pod's PID 1 dies
// with its stage1), attaches it to the default network under leaseRoot
// and installs its rules, and SIGKILLs itself at step, as kill -9 or the
// OOM killer would end stage1 there.
func crashingAttach(step attachStep, leaseRoot string) int {
	runtime.LockOSThread() // Pdeathsig follows the thread that forks
	pod := exec.Command("sleep", "1h")
	pod.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := pod.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kill := func(s attachStep) {
		if s == step {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	n, fw := Default(leaseRoot), DefaultFirewall(leaseRoot)
	n.crashAt, fw.crashAt = kill, kill
	if _, err := attachWithRules(n, fw, crashOwner, crashIface, crashUUID, pod.Process.Pid); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// attachWithRules attaches the pod whose process is pid as stage1 does:
// Attach, then its rules, with a port published.
func attachWithRules(n Network, fw Firewall, owner, iface, uuid string, pid int) (*Attachment, error) {
	ctx := context.Background()
	att, err := n.Attach(ctx, owner, everyoneAlive, iface, pid)
	if err != nil {
		return nil, err
	}
	_, err = fw.Install(ctx, PodRules{
		UUID: uuid, Owner: owner, HostIndex: att.HostIndex, HostIface: att.HostIface,
		Gateways: []netip.Addr{att.Gateway, att.Gateway6},
		Ports:    []PortMap{{Name: "http", Protocol: "tcp", Host: netip.MustParseAddrPort("0.0.0.0:8080"), Pod: netip.AddrPortFrom(att.Addr, 8080)}},
	}, everyoneAlive)
	if err != nil {
		att.Detach()
		return nil, err
	}
	return att, nil
}

// TestCrashAtEveryAttachStep kills a pod's attachment to the default
// network (Attach, then Firewall.Install) at each attachStep, in a child
// process in a network namespace of the test's whose pod dies with it, and
// checks what is left: the link goes with the pod's namespace, and once
// what acirun gc runs for the network has run (ReleaseStale of the leases,
// RemoveStale of the rules) no lease, link, route or rule of the pod is
// left, and the next pod is attached at the same address, with its rules.
// First, an attachment reaches exactly attachSteps, in order: a step
// marked in the code but missing from the list, or listed but never
// reached, fails here.
func TestCrashAtEveryAttachStep(t *testing.T) {
	t.Run("steps", func(t *testing.T) {
		host, pod := newTestNS(t), newTestNS(t)
		root := t.TempDir()
		var seen []attachStep
		n, fw := Default(root), DefaultFirewall(root)
		n.crashAt = func(s attachStep) { seen = append(seen, s) }
		fw.crashAt = n.crashAt
		host.do(func() error {
			att, err := attachWithRules(n, fw, "/pods/a", "ac-a", crashUUID, pod.tid)
			if err != nil {
				return err
			}
			return errors.Join(fw.Remove(context.Background(), crashUUID), att.Detach())
		})
		if !slices.Equal(seen, attachSteps()) {
			t.Fatalf("an attachment reached %q, attachSteps lists %q: every step marked in the code needs its place in the list (and a kill below)", seen, attachSteps())
		}
	})

	never := func(string) bool { return false }
	for _, step := range attachSteps() {
		t.Run(string(step), func(t *testing.T) {
			host := newTestNS(t)
			root := t.TempDir()
			n, fw := Default(root), DefaultFirewall(root)
			var out bytes.Buffer
			var err error
			host.do(func() error {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), "ACIRUN_TEST_ATTACH_CRASH="+string(step), "ACIRUN_TEST_LEASES="+root)
				cmd.Stdout, cmd.Stderr = &out, &out
				err = cmd.Run()
				return nil
			})
			if !testenv.KilledBySIGKILL(err) {
				t.Fatalf("the attachment was not killed at %s: %v: %s", step, err, out.String())
			}
			// The link goes with the pod's namespace, which the kernel
			// frees after its process.
			host.do(func() error {
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					if _, err := netlink.LinkByName(crashIface); err != nil {
						return nil
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("killed at %s: %s outlived its pod by 10s", step, crashIface)
					}
				}
			})
			// Before gc, the dead pod's lease (and after Install its
			// rules) are there: what gc must take back.
			before := strings.Join(attachLeft(t, host, n), "; ")
			if !strings.Contains(before, "lease ") || (step == stepRulesInstalled) != strings.Contains(before, "chain pod-"+crashUUID) {
				t.Errorf("killed at %s, before gc: %s; want its lease, and its rules after %s only", step, before, stepRulesInstalled)
			}
			// What acirun gc runs for the network.
			host.do(func() error {
				_, _, err := n.ReleaseStale(context.Background(), never)
				if _, ferr := fw.RemoveStale(context.Background(), never); ferr != nil {
					err = errors.Join(err, ferr)
				}
				return err
			})
			if left := attachLeft(t, host, n); len(left) > 0 {
				t.Errorf("killed at %s, after gc: %q", step, left)
			}
			// The next pod is attached, with its rules.
			next := newTestNS(t)
			var att *Attachment
			host.do(func() (err error) {
				att, err = attachWithRules(n, fw, "/pods/next", "ac-next", "c4a5e0d1-0000-4000-8000-000000000002", next.tid)
				return err
			})
			host.do(func() error {
				return errors.Join(fw.Remove(context.Background(), "c4a5e0d1-0000-4000-8000-000000000002"), att.Detach())
			})
			if left := attachLeft(t, host, n); len(left) > 0 {
				t.Errorf("after the next pod: %q", left)
			}
		})
	}
}

// attachLeft lists what ns holds of pods on n: leases, links named ac-*,
// routes to the network's subnets, and chains or tagged rules of pods in
// acirun's nftables table.
func attachLeft(t *testing.T, ns *testNS, n Network) []string {
	t.Helper()
	var left []string
	ents, err := os.ReadDir(n.LeaseDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			left = append(left, "lease "+e.Name())
		}
	}
	ns.do(func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, "ac-") {
				left = append(left, "link "+l.Attrs().Name)
			}
		}
		routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			if a, ok := netip.AddrFromSlice(r.Dst.IP); ok && (n.Subnet.Contains(a.Unmap()) || n.Subnet6.Contains(a)) {
				left = append(left, "route to "+r.Dst.String())
			}
		}
		c, err := nftables.New()
		if err != nil {
			return err
		}
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if ch.Table.Name != "acirun" {
				continue
			}
			if strings.HasPrefix(ch.Name, "pod-") {
				left = append(left, "chain "+ch.Name)
				continue
			}
			rules, err := c.GetRules(ch.Table, ch)
			if err != nil {
				return err
			}
			for _, r := range rules {
				if bytes.HasPrefix(r.UserData, []byte(podTagPrefix)) {
					left = append(left, "rule in "+ch.Name+": "+string(r.UserData))
				}
			}
		}
		return nil
	})
	return left
}
