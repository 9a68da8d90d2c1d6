package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// leases lists the addresses leased in n's lease directory.
func leases(t *testing.T, n Network) []string {
	t.Helper()
	ents, err := os.ReadDir(n.LeaseDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			got = append(got, e.Name())
		}
	}
	return got
}

// sysctl reads /proc/sys/net/key in the namespace ns.
func (ns *testNS) sysctl(key string) string {
	ns.t.Helper()
	var v string
	ns.do(func() error {
		b, err := os.ReadFile("/proc/sys/net/" + key)
		v = strings.TrimSpace(string(b))
		return err
	})
	return v
}

// hasLink reports whether ns has a link named name.
func (ns *testNS) hasLink(name string) bool {
	ns.t.Helper()
	var ok bool
	ns.do(func() error {
		_, err := linkIndex(name)
		ok = err == nil
		if errors.Is(err, unix.ENODEV) {
			err = nil
		}
		return err
	})
	return ok
}

// TestAttachConfigureDetach attaches a pod namespace to a network of both
// families from a host namespace, both made by the test, and checks what
// each step leaves: the host end with one queue each way, the gateways,
// its hardening sysctls and a route to each pod address, forwarding on;
// the pod's end addressed with a default route per family and reaching
// the host; after Detach no link on either side and no lease, and a
// second Detach is no error.
func TestAttachConfigureDetach(t *testing.T) {
	host, pod := newTestNS(t), newTestNS(t)
	n := Default(t.TempDir())
	var att *Attachment
	host.do(func() (err error) {
		att, err = n.Attach(context.Background(), "/pods/a", everyoneAlive, "ac-a", pod.tid)
		return err
	})
	if att.NATError != nil || att.IPv6Error != nil {
		t.Fatalf("NAT: %v, IPv6: %v", att.NATError, att.IPv6Error)
	}
	want := Attachment{Addr: netip.MustParseAddr("172.16.28.2"), Gateway: netip.MustParseAddr("172.16.28.1"),
		Addr6: netip.MustParseAddr("fd61:6369:7275::2"), Gateway6: netip.MustParseAddr("fd61:6369:7275::1")}
	if att.Addr != want.Addr || att.Gateway != want.Gateway || att.Addr6 != want.Addr6 || att.Gateway6 != want.Gateway6 || att.HostIndex == 0 {
		t.Fatalf("attachment %+v, want the addresses of %+v and an index", att, want)
	}
	if got := leases(t, n); len(got) != 2 {
		t.Errorf("leases %v, want the pod's two", got)
	}
	for key, v := range map[string]string{
		"ipv4/ip_forward":                    "1",
		"ipv6/conf/all/forwarding":           "1",
		"ipv4/conf/ac-a/accept_redirects":    "0",
		"ipv4/conf/ac-a/accept_source_route": "0",
		"ipv4/conf/ac-a/send_redirects":      "0",
		"ipv6/conf/ac-a/accept_ra":           "0",
		"ipv6/conf/ac-a/autoconf":            "0",
		"ipv6/conf/ac-a/disable_ipv6":        "0",
	} {
		if got := host.sysctl(key); got != v {
			t.Errorf("host %s = %s, want %s", key, got, v)
		}
	}
	host.do(func() error {
		l, err := netlink.LinkByName("ac-a")
		if err != nil {
			return err
		}
		// Made with one queue each way, not one per CPU cut down to one
		// (which waits for a grace period per end).
		if q := l.Attrs(); q.NumTxQueues != 1 || q.NumRxQueues != 1 {
			t.Errorf("host end: %d transmit and %d receive queues, want 1 and 1", q.NumTxQueues, q.NumRxQueues)
		}
		for fam, gw := range map[int]netip.Addr{netlink.FAMILY_V4: att.Gateway, netlink.FAMILY_V6: att.Gateway6} {
			addrs, err := netlink.AddrList(l, fam)
			if err != nil {
				return err
			}
			if !containsAddr(addrs, gw) {
				t.Errorf("host end addresses %v lack the gateway %s", addrs, gw)
			}
		}
		for _, a := range []netip.Addr{att.Addr, att.Addr6} {
			rs, err := netlink.RouteGet(a.AsSlice())
			if err != nil || len(rs) != 1 || rs[0].LinkIndex != att.HostIndex {
				t.Errorf("host route to %s: %v, %v; want one through ac-a (%d)", a, rs, err, att.HostIndex)
			}
		}
		return nil
	})
	if pod.hasLink(PodInterface) != true {
		t.Fatalf("the pod has no %s", PodInterface)
	}

	pod.do(func() error { return ConfigurePod(att.Addrs(), att.Gateways()) })
	pod.do(func() error {
		for _, dst := range []string{"192.0.2.1", "2001:db8::1"} {
			rs, err := netlink.RouteGet(net.ParseIP(dst))
			if err != nil || len(rs) != 1 {
				t.Errorf("pod route to %s: %v, %v", dst, rs, err)
				continue
			}
			if gw, _ := netip.AddrFromSlice(rs[0].Gw); gw.Unmap() != att.Gateway && gw != att.Gateway6 {
				t.Errorf("pod route to %s through %s, want the gateway", dst, rs[0].Gw)
			}
		}
		return nil
	})
	if got := pod.sysctl("ipv6/conf/eth0/accept_dad"); got != "0" {
		t.Errorf("pod eth0 accept_dad = %s, want 0", got)
	}
	// The host's server, asked from the pod over each family.
	var ln net.Listener
	host.do(func() (err error) {
		ln, err = net.Listen("tcp", ":8081")
		return err
	})
	defer ln.Close()
	go who(ln)
	for _, gw := range []netip.Addr{att.Gateway, att.Gateway6} {
		if got, err := pod.ask(netip.AddrPortFrom(gw, 8081).String(), netip.Addr{}); err != nil || got != att.Addr.String() && got != att.Addr6.String() {
			t.Errorf("pod to the host at %s: %q, %v; want the pod's address", gw, got, err)
		}
	}

	host.do(att.Detach)
	if host.hasLink("ac-a") || pod.hasLink(PodInterface) {
		t.Errorf("after Detach: host ac-a %v, pod %s %v; want neither", host.hasLink("ac-a"), PodInterface, pod.hasLink(PodInterface))
	}
	if got := leases(t, n); len(got) != 0 {
		t.Errorf("after Detach: leases %v, want none", got)
	}
	host.do(att.Detach)
}

// awaitLinkGone waits for the kernel to remove the link name from ns
// with the namespace of its other end, in its own time (the machine's one
// namespace-cleanup work).
func (ns *testNS) awaitLinkGone(name string) {
	ns.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ns.hasLink(name); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			ns.t.Fatalf("%s is still there 20s after the namespace of its other end ended", name)
		}
	}
}

// TestReleaseWhenLinkGone: an ended pod gives its addresses back without
// waiting for its link, which outlives it while something else holds its
// network namespace (a descriptor or a bind mount of it):
// ReleaseWhenLinkGone returns with the link still there, the next pod on a
// network of one IPv4 address gets none meanwhile (an IPv6 lease gets the
// /126's other address), and acirun gc (ReleaseStale) releases nothing and
// names what holds the namespace (LinkHolders). Once the namespace has
// gone, with the link and the host's routes to the pod, the next attach or
// gc takes the addresses back, and a pod started then gets them with
// routes of its own.
func TestReleaseWhenLinkGone(t *testing.T) {
	host := newTestNS(t)
	routes := func(a netip.Addr) (rs []netlink.Route) {
		host.do(func() (err error) {
			rs, err = netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Dst: hostNet(a)}, netlink.RT_FILTER_DST)
			return err
		})
		return rs
	}
	for _, tc := range []struct {
		name    string
		hold    string // what holds the namespace: "descriptor" or "mount"
		reclaim string // what takes the addresses back: "attach" or "gc"
	}{
		{"descriptor, next attach takes back", "descriptor", "attach"},
		{"mount, gc takes back", "mount", "gc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testNetwork(t, "10.78.0.0/30")
			n.Subnet6 = netip.MustParsePrefix("fd00:78::/126")
			pod := newTestNS(t)
			var att *Attachment
			host.do(func() (err error) {
				att, err = n.Attach(context.Background(), "/pods/a", everyoneAlive, "ac-ended", pod.tid)
				return err
			})
			// Held by a descriptor (as by a process that entered it), or
			// by a bind mount of it in a mount namespace of the host
			// thread's own (private: the machine's mounts stay as they
			// are).
			var unhold func()
			var holder string
			switch tc.hold {
			case "descriptor":
				var held int
				pod.do(func() (err error) {
					held, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
					return err
				})
				unhold = func() { unix.Close(held) }
				holder = fmt.Sprintf("a descriptor of process %d (", os.Getpid())
			case "mount":
				target := filepath.Join(t.TempDir(), "ns")
				if err := os.WriteFile(target, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				host.do(func() error {
					if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
						return err
					}
					if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
						return err
					}
					return unix.Mount(fmt.Sprintf("/proc/%d/ns/net", pod.tid), target, "", unix.MS_BIND, "")
				})
				unhold = func() { host.do(func() error { return unix.Unmount(target, unix.MNT_DETACH) }) }
				holder = "a mount on " + target
			}
			held := true
			defer func() {
				if held {
					unhold()
				}
			}()
			pod.end()
			host.do(att.ReleaseWhenLinkGone)
			if !host.hasLink("ac-ended") {
				t.Fatal("ac-ended is gone with its namespace held: ReleaseWhenLinkGone removed it, or waited for it")
			}
			for _, a := range []netip.Addr{att.Addr, att.Addr6} {
				if b, err := os.ReadFile(filepath.Join(n.LeaseDir, a.String())); err != nil || string(b) != fmt.Sprintf("/pods/a\nlink ac-ended %d\n", att.HostIndex) {
					t.Errorf("lease of %s after ReleaseWhenLinkGone: %q, %v; want the owner and the link's condition", a, b, err)
				}
			}

			// Meanwhile neither address is given out, to an attach or
			// by gc, whoever is alive; gc names the holder.
			next := newTestNS(t)
			host.try(func() error {
				again, err := n.Attach(context.Background(), "/pods/b", func(string) bool { return false }, "ac-next", next.tid)
				if err == nil {
					defer again.Detach()
					t.Errorf("the next pod got %s and %s while the ended pod's link is there", again.Addr, again.Addr6)
				} else if !strings.Contains(err.Error(), "no free address") {
					t.Errorf("the next pod: %v; want no free address", err)
				}
				return nil
			})
			// The IPv6 subnet's other address is given instead of the
			// ended pod's.
			n6 := n
			n6.Subnet = netip.Prefix{}
			host.do(func() error {
				got, err := n6.Lease(context.Background(), "/pods/c", everyoneAlive)
				if err != nil || got.IPv6 == att.Addr6 {
					t.Errorf("an IPv6 lease: %s, %v; want the address other than %s", got.IPv6, err, att.Addr6)
				}
				return n6.Release(got, "/pods/c")
			})
			host.do(func() error {
				released, waiting, err := n.ReleaseStale(context.Background(), func(string) bool { return false })
				if err != nil || len(released) != 0 || len(waiting) != 2 || waiting[0].Link != "ac-ended" || waiting[0].Owner != "/pods/a" {
					t.Errorf("gc with the link there: released %v, waiting %+v, %v; want nothing released and both waiting for ac-ended", released, waiting, err)
				}
				holders, err := LinkHolders("ac-ended", att.HostIndex)
				if err != nil || len(holders) != 1 || !strings.HasPrefix(holders[0], holder) {
					t.Errorf("LinkHolders: %q, %v; want %q…", holders, err, holder)
				}
				return nil
			})

			unhold()
			held = false
			host.awaitLinkGone("ac-ended")
			for _, a := range []netip.Addr{att.Addr, att.Addr6} {
				if rs := routes(a); len(rs) != 0 {
					t.Errorf("routes to %s after its link went: %v", a, rs)
				}
			}
			if tc.reclaim == "gc" {
				host.do(func() error {
					released, waiting, err := n.ReleaseStale(context.Background(), everyoneAlive)
					if err != nil || len(released) != 2 || len(waiting) != 0 {
						t.Errorf("gc once the link is gone: released %v, waiting %+v, %v; want both released", released, waiting, err)
					}
					return nil
				})
				if l := leases(t, n); len(l) != 0 {
					t.Errorf("leases after gc: %v", l)
				}
			}
			var again *Attachment
			host.do(func() (err error) {
				again, err = n.Attach(context.Background(), "/pods/b", everyoneAlive, "ac-next", next.tid)
				return err
			})
			defer host.do(again.Detach)
			if again.Addr != att.Addr || again.Addr6 != att.Addr6 || len(again.TookBackFrom) != 0 {
				t.Errorf("the next pod got %s and %s, taken back from %q; want %s and %s again, from nobody's rules", again.Addr, again.Addr6, again.TookBackFrom, att.Addr, att.Addr6)
			}
			for _, a := range []netip.Addr{again.Addr, again.Addr6} {
				if rs := routes(a); len(rs) != 1 || rs[0].LinkIndex != again.HostIndex {
					t.Errorf("routes to %s: %v, want one through ac-next (%d)", a, rs, again.HostIndex)
				}
			}
		})
	}
}

// addLink makes a link named name (a veth pair with name+"p", both in the
// caller's namespace: this kernel may lack the dummy driver).
func addLink(name string) error {
	return netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"})
}

func containsAddr(addrs []netlink.Addr, a netip.Addr) bool {
	for _, x := range addrs {
		if y, ok := netip.AddrFromSlice(x.IP); ok && y.Unmap() == a {
			return true
		}
	}
	return false
}

// TestAttachIPv4Only: on a network without IPv6 the host end has no IPv6
// at all (disable_ipv6), so it ignores what the pod sends over IPv6, and
// the pod gets one address.
func TestAttachIPv4Only(t *testing.T) {
	host, pod := newTestNS(t), newTestNS(t)
	n := testNetwork(t, "10.77.0.0/29")
	var att *Attachment
	host.do(func() (err error) {
		att, err = n.Attach(context.Background(), "/pods/a", everyoneAlive, "ac-4", pod.tid)
		return err
	})
	defer host.do(att.Detach)
	if att.Addr != netip.MustParseAddr("10.77.0.2") || att.Addr6.IsValid() || att.Gateway6.IsValid() {
		t.Errorf("attachment %+v: want 10.77.0.2 and no IPv6", att)
	}
	if got := host.sysctl("ipv6/conf/ac-4/disable_ipv6"); got != "1" {
		t.Errorf("host ac-4 disable_ipv6 = %s, want 1", got)
	}
	if got := host.sysctl("ipv6/conf/all/forwarding"); got != "0" {
		t.Errorf("IPv6 forwarding turned on (%s) for a network without IPv6", got)
	}
}

// TestAttachRefusals: each way Attach fails names what is wrong and leaves
// nothing behind: no lease, no link of its own, and a link of the same
// name that was there before untouched.
func TestAttachRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		iface string
		net   func(t *testing.T) Network
		setup func(host *testNS) // before Attach, in the host namespace
		pid   func(pod *testNS) int
		want  string
		keep  bool // the link iface was there before and must stay
	}{
		{name: "empty interface name", iface: "", want: `network default: interface name "": want 1 to 15 bytes`},
		{name: "interface name too long", iface: "ac-0123456789abc", want: `network default: interface name "ac-0123456789abc": want 1 to 15 bytes`},
		{name: "subnet with host bits", iface: "ac-x", net: func(t *testing.T) Network {
			n := testNetwork(t, "10.77.0.0/24")
			n.Subnet = netip.MustParsePrefix("10.77.0.9/24")
			return n
		}, want: "network test: subnet 10.77.0.9/24 has host bits set: write it as 10.77.0.0/24"},
		{name: "interface name taken", iface: "ac-x", setup: func(host *testNS) {
			host.do(func() error { return addLink("ac-x") })
		}, want: "network default: create veth pair ac-x/eth0: file exists", keep: true},
		{name: "no such pod", iface: "ac-x", pid: func(*testNS) int { return 1 << 30 },
			want: "network default: create veth pair ac-x/eth0: no such process"},
		{name: "route to the pod's address taken", iface: "ac-x", setup: func(host *testNS) {
			host.do(func() error {
				if err := addLink("other"); err != nil {
					return err
				}
				l, err := netlink.LinkByName("other")
				if err == nil {
					err = netlink.LinkSetUp(l)
				}
				if err != nil {
					return err
				}
				return netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: hostNet(netip.MustParseAddr("172.16.28.2"))})
			})
		}, want: "network default: the host already has a route to 172.16.28.2 (another pod network, or a stale lease directory?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, pod := newTestNS(t), newTestNS(t)
			n := Default(t.TempDir())
			if tc.net != nil {
				n = tc.net(t)
			}
			if tc.setup != nil {
				tc.setup(host)
			}
			pid := pod.tid
			if tc.pid != nil {
				pid = tc.pid(pod)
			}
			err := host.try(func() error {
				att, err := n.Attach(context.Background(), "/pods/a", everyoneAlive, tc.iface, pid)
				if err == nil {
					att.Detach()
				}
				return err
			})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Attach: %v\nwant: %s", err, tc.want)
			}
			if got := leases(t, n); len(got) != 0 {
				t.Errorf("leases %v left", got)
			}
			if tc.iface != "" && len(tc.iface) < unix.IFNAMSIZ && host.hasLink(tc.iface) != tc.keep {
				t.Errorf("host link %s there: %v, want %v", tc.iface, !tc.keep, tc.keep)
			}
			if pod.hasLink(PodInterface) {
				t.Errorf("the pod's %s left", PodInterface)
			}
		})
	}
}

// TestConfigurePodRefusals: ConfigurePod refuses addresses that do not
// match the gateways, no address at all, and a namespace without the
// pod's end of the link, naming it.
func TestConfigurePodRefusals(t *testing.T) {
	a4, g4 := netip.MustParseAddr("172.16.28.2"), netip.MustParseAddr("172.16.28.1")
	a6, g6 := netip.MustParseAddr("fd61:6369:7275::2"), netip.MustParseAddr("fd61:6369:7275::1")
	for _, tc := range []struct {
		name            string
		addrs, gateways Addrs
		want            string
	}{
		{"IPv4 without its gateway", Addrs{IPv4: a4}, Addrs{IPv6: g6}, "pod network: addresses 172.16.28.2 and gateways fd61:6369:7275::1 do not match"},
		{"IPv6 without its gateway", Addrs{IPv4: a4, IPv6: a6}, Addrs{IPv4: g4}, "pod network: addresses 172.16.28.2 fd61:6369:7275::2 and gateways 172.16.28.1 do not match"},
		{"no address", Addrs{}, Addrs{}, "pod network: no address"},
		{"no eth0", Addrs{IPv4: a4}, Addrs{IPv4: g4}, "pod network: eth0: no such device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := newTestNS(t)
			err := pod.try(func() error { return ConfigurePod(tc.addrs, tc.gateways) })
			if err == nil || err.Error() != tc.want {
				t.Errorf("ConfigurePod(%v, %v): %v\nwant: %s", tc.addrs, tc.gateways, err, tc.want)
			}
		})
	}
}

// TestDetachLeavesOthersLink: Detach of an attachment whose interface name
// is now another link's (its own went with the pod's namespace, and the
// name was reused) removes nothing but its leases.
func TestDetachLeavesOthersLink(t *testing.T) {
	host := newTestNS(t)
	n := Default(t.TempDir())
	host.do(func() error { return addLink("ac-o") })
	addrs, err := n.Lease(context.Background(), "/pods/a", everyoneAlive)
	if err != nil {
		t.Fatal(err)
	}
	att := &Attachment{Network: n, Owner: "/pods/a", HostIface: "ac-o", HostIndex: 1 << 20, Addr: addrs.IPv4, Addr6: addrs.IPv6}
	host.do(att.Detach)
	if !host.hasLink("ac-o") {
		t.Error("Detach removed another's link of the same name")
	}
	if got := leases(t, n); len(got) != 0 {
		t.Errorf("leases %v left", got)
	}
	if _, err := os.Stat(filepath.Join(n.LeaseDir, ".lock")); err != nil {
		t.Errorf("lease lock: %v", err)
	}
}

// TestDetachLinkNotFound: a lookup of the attachment's link that fails
// for another reason than "no such device" is an error, not the link
// gone, and Detach keeps the leases, which their owner holds while it
// lives: the host's route to the pod may still be there. It fails when
// any lookup error is taken for the link gone.
func TestDetachLinkNotFound(t *testing.T) {
	n := testNetwork(t, "10.9.0.0/30")
	addrs, err := n.Lease(context.Background(), "/pods/a", everyoneAlive)
	if err != nil {
		t.Fatal(err)
	}
	// A name the kernel's lookup refuses (longer than IFNAMSIZ allows).
	att := &Attachment{Network: n, Owner: "/pods/a", HostIface: "ac-0123456789abcdef", HostIndex: 7, Addr: addrs.IPv4}
	if err := att.RemoveLink(); err == nil || !strings.Contains(err.Error(), att.HostIface) {
		t.Errorf("RemoveLink: %v; want an error naming %s", err, att.HostIface)
	}
	if err := att.Detach(); err == nil {
		t.Error("Detach: no error")
	}
	if got := leases(t, n); len(got) != 1 {
		t.Errorf("leases %v after a Detach that could not find the link; want the pod's kept", got)
	}
}

// TestAttachRemovesKilledPodsLink: a pod whose stage1 was killed with
// SIGKILL gave nothing back, and its link stays until the kernel removes
// its network namespace (2 to 40 ms on, or never while something holds
// it: here a descriptor). The next pod given its address (on a /30, the
// only one) takes the lease back with the link and its route, and starts;
// gc (ReleaseStale) does the same. It fails on the old code with "the host
// already has a route to 10.77.0.2".
func TestAttachRemovesKilledPodsLink(t *testing.T) {
	host := newTestNS(t)
	for _, reclaim := range []string{"attach", "gc"} {
		t.Run(reclaim, func(t *testing.T) {
			n := testNetwork(t, "10.77.0.0/30")
			n.Subnet6 = netip.MustParsePrefix("fd00:77::/126")
			killed := "/pods/0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
			link := HostInterface(filepath.Base(killed))
			pod := newTestNS(t)
			var att *Attachment
			host.do(func() (err error) {
				att, err = n.Attach(context.Background(), killed, everyoneAlive, link, pod.tid)
				return err
			})
			var held int
			pod.do(func() (err error) {
				held, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
				return err
			})
			defer unix.Close(held)
			// Killed: no Detach, no ReleaseWhenLinkGone; its owner is no
			// longer alive.
			pod.end()
			if !host.hasLink(link) {
				t.Fatalf("%s is gone with its namespace held", link)
			}
			notKilled := func(o string) bool { return o != killed }
			if reclaim == "gc" {
				host.do(func() error {
					released, waiting, err := n.ReleaseStale(context.Background(), notKilled)
					if err != nil || len(released) != 2 || len(waiting) != 0 {
						t.Errorf("gc of the killed pod's leases: released %v, waiting %v, %v; want both released", released, waiting, err)
					}
					return nil
				})
				if host.hasLink(link) {
					t.Errorf("gc released the killed pod's addresses and left its link %s", link)
				}
			}
			next := newTestNS(t)
			host.do(func() error {
				again, err := n.Attach(context.Background(), "/pods/next", notKilled, "ac-next", next.tid)
				if err != nil {
					t.Errorf("the next pod: %v; want the killed pod's addresses", err)
					return nil
				}
				defer again.Detach()
				// The /126's other address may come first (the hint).
				if again.Addr != att.Addr || !again.Addr6.IsValid() {
					t.Errorf("the next pod got %s %s, want %s and an IPv6 address", again.Addr, again.Addr6, att.Addr)
				}
				return nil
			})
			if host.hasLink(link) {
				t.Errorf("the killed pod's link %s outlived the next pod's start", link)
			}
		})
	}
}
