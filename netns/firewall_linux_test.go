package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// testNS is a network namespace the test made, with a thread in it that
// runs what do gives it: sockets and links made there stay there. The
// thread ends, and with it the namespace, when the test does.
type testNS struct {
	t    *testing.T
	tid  int
	run  chan func()
	stop sync.Once
}

// end ends the namespace's thread, and with it the namespace (unless
// something else holds it), before the test does.
func (ns *testNS) end() {
	ns.stop.Do(func() { close(ns.run) })
}

func newTestNS(t *testing.T) *testNS {
	t.Helper()
	testenv.NeedRoot(t, "network namespaces")
	ns := &testNS{t: t, run: make(chan func())}
	ready := make(chan error)
	go func() {
		// Never unlocked: the thread dies with the goroutine rather than
		// run others in the wrong namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		ns.tid = unix.Gettid()
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		ready <- err
		for f := range ns.run {
			f()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(ns.end)
	return ns
}

// do runs f in the namespace and fails the test with its error.
func (ns *testNS) do(f func() error) {
	ns.t.Helper()
	if err := ns.try(f); err != nil {
		ns.t.Fatal(err)
	}
}

func (ns *testNS) try(f func() error) error {
	done := make(chan error)
	ns.run <- func() { done <- f() }
	return <-done
}

// who serves on ln: every connection is answered with the address it came
// from, and closed.
func who(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		fmt.Fprintf(c, "%s", c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap())
		c.Close()
	}
}

// ask connects to addr from the namespace and returns what who said; src,
// if valid, is the source address to use.
func (ns *testNS) ask(addr string, src netip.Addr) (string, error) {
	return ns.askWithin(addr, src, 3*time.Second)
}

// askWithin is ask giving up on the connection after timeout: for what
// must not connect.
func (ns *testNS) askWithin(addr string, src netip.Addr, timeout time.Duration) (string, error) {
	var c net.Conn
	err := ns.try(func() (err error) {
		d := net.Dialer{Timeout: timeout}
		if src.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		}
		c, err = d.Dial("tcp", addr)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

// timedOut tells whether err is a deadline passing: what a dropped packet
// looks like to the sender, unlike a refusal for another reason (an
// address that cannot be bound, a network that is unreachable).
func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// vethTo links ns to peer with a veth pair: name in ns with addrs, peerName
// in peer with peerAddrs.
func (ns *testNS) vethTo(peer *testNS, name, peerName string, addrs, peerAddrs []string) {
	ns.t.Helper()
	ns.do(func() error {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peerName, PeerNamespace: netlink.NsPid(peer.tid)}); err != nil {
			return err
		}
		return configure(name, addrs)
	})
	peer.do(func() error { return configure(peerName, peerAddrs) })
}

// configure gives link its addresses (without duplicate address detection)
// and brings it up.
func configure(link string, addrs []string) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		ad, err := netlink.ParseAddr(a)
		if err != nil {
			return err
		}
		ad.Flags = unix.IFA_F_NODAD
		if err := netlink.AddrAdd(l, ad); err != nil {
			return fmt.Errorf("%s on %s: %w", a, link, err)
		}
	}
	return netlink.LinkSetUp(l)
}

// podOnNetwork attaches a new namespace to n as a pod, with a server that
// says who calls on port 8080.
func podOnNetwork(t *testing.T, host *testNS, n Network, owner, iface string) (*testNS, *Attachment) {
	pod := newTestNS(t)
	var att *Attachment
	host.do(func() (err error) {
		att, err = n.Attach(context.Background(), owner, everyoneAlive, iface, pod.tid)
		if err != nil {
			return err
		}
		return errors.Join(att.NATError, att.IPv6Error)
	})
	pod.do(func() error { return ConfigurePod(att.Addrs(), att.Gateways()) })
	var ln net.Listener
	pod.do(func() (err error) {
		ln, err = net.Listen("tcp", ":8080")
		return err
	})
	t.Cleanup(func() { ln.Close() })
	go who(ln)
	return pod, att
}

// ruleCount counts the rules in acirun's table (0 with no table).
func ruleCount(t *testing.T, ns *testNS) (n int) {
	ns.do(func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if ch.Table.Name != tableName {
				continue
			}
			if strings.HasPrefix(ch.Name, "pod-") {
				n += 1000 // a pod's chain counts for more than any rule
			}
			rules, err := c.GetRules(table(), ch)
			if err != nil {
				return err
			}
			n += len(rules)
		}
		return nil
	})
	return n
}

// TestFirewallPublish runs the rules in the kernel, in namespaces the test
// makes: a host, a pod on its network and a client that reaches the host
// over a link of its own. A port published on every address answers on
// the host's non-loopback address, on 127.0.0.1 and on ::1, from the
// client with the client's own address; the pod reaches itself through the
// host (hairpin); a source address the pod does not own is dropped; the
// pod's rules go with Remove, and a dead pod's with the next Install.
func TestFirewallPublish(t *testing.T) {
	host := newTestNS(t)
	client := newTestNS(t)
	host.vethTo(client, "cl-host", "cl0", []string{"10.99.0.1/24", "fd99::1/64"}, []string{"10.99.0.2/24", "fd99::2/64"})
	client.do(func() error {
		l, err := netlink.LinkByName("cl0")
		if err != nil {
			return err
		}
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP("10.99.0.1")}); err != nil {
			return err
		}
		return netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP("fd99::1")})
	})
	root := t.TempDir()
	n := Default(root)
	fw := DefaultFirewall(root)
	pod, att := podOnNetwork(t, host, n, "/pods/a", "ac-a")
	pod6, gw6 := att.Addr6.String(), att.Gateway6.String()

	var pub *Published
	host.do(func() (err error) {
		pub, err = fw.Install(context.Background(), PodRules{
			UUID: "aaaa", Owner: "/pods/a", HostIndex: att.HostIndex, HostIface: att.HostIface,
			Gateways: []netip.Addr{att.Gateway, att.Gateway6},
			Ports: []PortMap{
				{Name: "http", Protocol: "tcp", Host: netip.MustParseAddrPort("0.0.0.0:8080"), Pod: netip.AddrPortFrom(att.Addr, 8080)},
				{Name: "http", Protocol: "tcp", Host: netip.MustParseAddrPort("[::]:8080"), Pod: netip.AddrPortFrom(att.Addr6, 8080)},
			},
		}, everyoneAlive)
		return err
	})
	if len(pub.Ports) != 2 || len(pub.Warnings) != 0 {
		t.Errorf("published %v, warnings %q", pub.Ports, pub.Warnings)
	}
	for _, tc := range []struct {
		from *testNS
		name string
		addr string
		want string
	}{
		{host, "host to the pod's IPv6 address", "[" + pod6 + "]:8080", gw6},
		{client, "client to the pod's IPv6 address", "[" + pod6 + "]:8080", "fd99::2"},
		{client, "client to the host's address", "10.99.0.1:8080", "10.99.0.2"},
		{client, "client to the host's IPv6 address", "[fd99::1]:8080", "fd99::2"},
		{host, "host to its own address", "10.99.0.1:8080", "10.99.0.1"},
		{host, "host to 127.0.0.1", "127.0.0.1:8080", att.Gateway.String()},
		{host, "host to ::1", "[::1]:8080", gw6},
		{pod, "pod to itself through the host's IPv6 address", "[fd99::1]:8080", gw6},
		{pod, "pod to itself through the host", att.Gateway.String() + ":8080", att.Gateway.String()},
		{pod, "pod to itself through the host's other address", "10.99.0.1:8080", att.Gateway.String()},
	} {
		got, err := tc.from.ask(tc.addr, netip.Addr{})
		if err != nil || got != tc.want {
			t.Errorf("%s (%s): %q, %v; want %q", tc.name, tc.addr, got, err, tc.want)
		}
	}
	// The host's own ::1 still works beside the port published there.
	var ln net.Listener
	host.do(func() (err error) {
		ln, err = net.Listen("tcp", "[::1]:9999")
		return err
	})
	defer ln.Close()
	go who(ln)
	if got, err := host.ask("[::1]:9999", netip.Addr{}); err != nil || got != "::1" {
		t.Errorf("host to its own [::1]:9999: %q, %v", got, err)
	}
	// The client at an address the host does not publish on reaches no
	// pod: prerouting never translates loopback addresses.
	if got, err := client.askWithin("10.99.0.3:8080", netip.Addr{}, 500*time.Millisecond); !timedOut(err) {
		t.Errorf("client to an address that is not the host's: %q, %v; want no answer (a timeout)", got, err)
	}

	// A second address inside the pod: what it sends from it is dropped.
	pod.do(func() error { return configure(PodInterface, []string{"172.16.28.200/32"}) })
	if got, err := pod.askWithin(att.Gateway.String()+":8080", netip.MustParseAddr("172.16.28.200"), 500*time.Millisecond); !timedOut(err) {
		t.Errorf("spoofed source: %q, %v; want it dropped (a timeout), not refused for another reason", got, err)
	}
	if got, err := pod.ask("10.99.0.1:8080", att.Addr); err != nil {
		t.Errorf("the pod's own address no longer passes: %q, %v", got, err)
	}

	// Of datagrams the pod sends to the host from every kind of address,
	// only those from its own arrive: not from another pod's (routed to
	// that pod's link), from the host's own or the gateway's (local), or
	// from one nobody has.
	_, other := podOnNetwork(t, host, n, "/pods/b", "ac-b")
	var sink net.PacketConn
	host.do(func() (err error) {
		sink, err = net.ListenPacket("udp", "[::]:9997")
		return err
	})
	defer sink.Close()
	var sent []string
	for _, src := range []netip.Addr{att.Addr, att.Addr6, other.Addr, other.Addr6, att.Gateway, att.Gateway6,
		netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("fd99::1"), netip.MustParseAddr("172.16.28.200"),
		netip.MustParseAddr("fd61:6369:7275::c8")} {
		to := netip.AddrPortFrom(att.Gateway, 9997)
		if src.Is6() {
			to = netip.AddrPortFrom(att.Gateway6, 9997)
		}
		pod.do(func() error { return sendFrom(src, to, src.String()) })
		sent = append(sent, src.String())
	}
	var arrived []string
	for {
		sink.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		b := make([]byte, 100)
		k, from, err := sink.ReadFrom(b)
		if err != nil {
			break
		}
		arrived = append(arrived, fmt.Sprintf("%s from %s", b[:k], from.(*net.UDPAddr).AddrPort().Addr().Unmap()))
	}
	if want := []string{att.Addr.String() + " from " + att.Addr.String(), att.Addr6.String() + " from " + att.Addr6.String()}; !slices.Equal(arrived, want) {
		t.Errorf("of datagrams from %q the host received %q; want only %q", sent, arrived, want)
	}

	// The link's route_localnet does not open the host's loopback to the
	// pod: a datagram the pod routes to 127.0.0.1 out of its link itself
	// reaches no socket of the host's. (TCP could not answer: the host
	// routes no loopback source out of a link.)
	var lo net.PacketConn
	host.do(func() (err error) {
		lo, err = net.ListenPacket("udp4", "127.0.0.1:9998")
		return err
	})
	defer lo.Close()
	pod.do(func() error {
		for _, f := range []string{"all", PodInterface} {
			if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+f+"/route_localnet", []byte("1"), 0o644); err != nil {
				return err
			}
		}
		l, err := netlink.LinkByName(PodInterface)
		if err != nil {
			return err
		}
		for _, p := range []string{"127.0.0.0/8", "127.0.0.1/32"} {
			_, lonet, _ := net.ParseCIDR(p)
			if err := netlink.RouteDel(&netlink.Route{Dst: lonet, Table: unix.RT_TABLE_LOCAL, Type: unix.RTN_LOCAL, Scope: unix.RT_SCOPE_HOST, LinkIndex: 1}); err != nil {
				return fmt.Errorf("the pod's local route to %s: %w", p, err)
			}
		}
		if err := netlink.RouteAdd(&netlink.Route{Dst: hostNet(netip.MustParseAddr("127.0.0.1")), LinkIndex: l.Attrs().Index, Gw: att.Gateway.AsSlice(), Flags: int(netlink.FLAG_ONLINK)}); err != nil {
			return err
		}
		c, err := net.Dial("udp4", "127.0.0.1:9998")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("from the pod"))
		return err
	})
	lo.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, from, err := lo.ReadFrom(make([]byte, 100)); !timedOut(err) {
		t.Errorf("the host's 127.0.0.1:9998 received %d bytes from %s in the pod (%v); want nothing until the deadline", n, from, err)
	}

	// Removed: nothing of the pod's is left, and the port no longer
	// answers on the host.
	if n := ruleCount(t, host); n < 1000 {
		t.Fatalf("the pod has no chain: %d", n)
	}
	host.do(func() error { return fw.Remove(context.Background(), "aaaa") })
	if got, want := ruleCount(t, host), len(masqueradeRules([]netip.Prefix{n.Subnet, n.Subnet6}))+len(spoofRules()); got != want {
		t.Errorf("after Remove: %d rules, want the %d shared ones", got, want)
	}
	if got, err := host.askWithin("127.0.0.1:8080", netip.Addr{}, 500*time.Millisecond); !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("127.0.0.1:8080 after Remove: %q, %v; want the connection refused (no proxy listening)", got, err)
	}

	// A dead pod's rules go with the next Install, or with RemoveStale;
	// a live one's stay.
	dead := func(owner string) bool { return owner != "/pods/dead" }
	rules := func(uuid, owner string) PodRules {
		return PodRules{UUID: uuid, Owner: owner, HostIndex: att.HostIndex, HostIface: att.HostIface,
			Gateways: []netip.Addr{att.Gateway},
			Ports:    []PortMap{{Name: "http", Protocol: "tcp", Host: netip.MustParseAddrPort("0.0.0.0:8080"), Pod: netip.AddrPortFrom(att.Addr, 8080), Implicit: true}}}
	}
	host.do(func() error {
		ctx := context.Background()
		if _, err := fw.Install(ctx, rules("dead1", "/pods/dead"), everyoneAlive); err != nil {
			return err
		}
		pub, err := fw.Install(ctx, rules("live", "/pods/live"), dead)
		if err != nil {
			return err
		}
		if len(pub.Ports) != 1 {
			return fmt.Errorf("the live pod did not get the dead one's port: %+v", pub)
		}
		// Its port taken by live, dead2 has rules only as a restricted
		// pod.
		dead2 := rules("dead2", "/pods/dead")
		dead2.Restricted = true
		if _, err := fw.Install(ctx, dead2, everyoneAlive); err != nil {
			return err
		}
		stale, err := fw.RemoveStale(ctx, dead)
		if err != nil || len(stale) != 1 || stale[0] != "dead2" {
			return fmt.Errorf("RemoveStale: %q, %v; want dead2 (dead1 went with live's Install)", stale, err)
		}
		pods, err := listPods()
		if err != nil || len(pods) != 1 || pods["live"] != "/pods/live" {
			return fmt.Errorf("pods left: %v, %v; want live", pods, err)
		}
		chains, err := must(nftables.New()).ListChains()
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if strings.HasPrefix(ch.Name, "pod-dead") {
				return fmt.Errorf("chain %s left of a dead pod", ch.Name)
			}
		}
		// A dead pod that published nothing (restricted: it has rules)
		// goes with the Install of a pod that took back its lease
		// (Gone), not before.
		dead3 := rules("dead3", "/pods/dead3")
		dead3.Ports, dead3.Restricted = nil, true
		if _, err := fw.Install(ctx, dead3, everyoneAlive); err != nil {
			return err
		}
		if _, err := fw.Install(ctx, rules("other", "/pods/other"), dead); err != nil {
			return err
		}
		if pods, err := listPods(); err != nil || pods["dead3"] == "" {
			return fmt.Errorf("pods after another's Install: %v, %v; want dead3 still there (its rules are RemoveStale's)", pods, err)
		}
		if err := fw.Remove(ctx, "other"); err != nil {
			return err
		}
		live := rules("live", "/pods/live")
		live.Gone = []string{"/pods/dead3"}
		if _, err := fw.Install(ctx, live, everyoneAlive); err != nil {
			return err
		}
		if pods, err := listPods(); err != nil || len(pods) != 1 || pods["live"] != "/pods/live" {
			return fmt.Errorf("pods after an Install with dead3 gone: %v, %v; want live", pods, err)
		}
		return nil
	})
	// Installed again (a pod's UUID already in the table): its old chains
	// are deleted and made again in the one transaction, and its port is
	// its own, not taken.
	before := ruleCount(t, host)
	host.do(func() error {
		pub, err := fw.Install(context.Background(), rules("live", "/pods/live"), everyoneAlive)
		if err != nil || len(pub.Ports) != 1 {
			return fmt.Errorf("Install of live again: %+v, %v; want its port", pub, err)
		}
		return nil
	})
	if after := ruleCount(t, host); after != before {
		t.Errorf("Install of live again: %d rules, had %d", after, before)
	}
	if got, err := host.ask("127.0.0.1:8080", netip.Addr{}); err != nil || got != att.Gateway.String() {
		t.Errorf("the live pod's port: %q, %v", got, err)
	}
}

// sendFrom sends one datagram with text from src (bound with
// IP_TRANSPARENT: the sender need not hold the address) to to.
func sendFrom(src netip.Addr, to netip.AddrPort, text string) error {
	lc := net.ListenConfig{Control: func(network, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if strings.HasSuffix(network, "6") {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_TRANSPARENT, 1)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_TRANSPARENT, 1)
			}
		})
		return errors.Join(err, serr)
	}}
	network := "udp4"
	if src.Is6() {
		network = "udp6"
	}
	c, err := lc.ListenPacket(context.Background(), network, netip.AddrPortFrom(src, 0).String())
	if err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	defer c.Close()
	_, err = c.WriteTo([]byte(text), net.UDPAddrFromAddrPort(to))
	return err
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestEnsureMasquerade: the masquerade chain is written when it lacks the
// rules for the subnets, and left alone (the same rule handles) when it has
// them; other subnets replace them, and an older acirun's table of family
// ip goes.
func TestEnsureMasquerade(t *testing.T) {
	ns := newTestNS(t)
	handles := func() (h []uint64, tag string) {
		ns.do(func() error {
			var rl ruleLister
			defer rl.close()
			rules, err := rl.list(chainMasquerade)
			for _, r := range rules {
				h = append(h, r.Handle)
			}
			if len(rules) > 0 {
				tag = string(rules[0].UserData)
			}
			return err
		})
		return h, tag
	}
	ns.do(func() error {
		c := must(nftables.New())
		c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: legacyTable})
		return c.Flush()
	})
	both := []netip.Prefix{netip.MustParsePrefix("172.16.28.0/24"), netip.MustParsePrefix("fd61:6369:7275::/64")}
	ns.do(func() error { return ensureMasquerade(both...) })
	first, tag := handles()
	if len(first) != 2 || tag != "acirun masquerade 172.16.28.0/24 fd61:6369:7275::/64" {
		t.Fatalf("after the first: handles %v, tag %q", first, tag)
	}
	ns.do(func() error {
		if _, err := must(nftables.New()).ListTableOfFamily(legacyTable, nftables.TableFamilyIPv4); err == nil {
			return errors.New("the older table of family ip is still there")
		}
		return nil
	})
	ns.do(func() error { return ensureMasquerade(both...) })
	if again, _ := handles(); !slices.Equal(again, first) {
		t.Errorf("the same subnets again: handles %v, had %v (rewritten)", again, first)
	}
	ns.do(func() error { return ensureMasquerade(netip.MustParsePrefix("10.88.0.0/16")) })
	if other, tag := handles(); len(other) != 1 || tag != "acirun masquerade 10.88.0.0/16" {
		t.Errorf("another subnet: handles %v, tag %q; want one rule of its own", other, tag)
	}
}

// TestRemoveStaleOlderGuard: the guard chain an older acirun gave every
// pod (no pod gets one now) still names its pods: a dead one's rules go
// with RemoveStale, a live one's stay, and the next Install adds nothing
// to that chain.
func TestRemoveStaleOlderGuard(t *testing.T) {
	ns := newTestNS(t)
	fw := DefaultFirewall(t.TempDir())
	ns.do(func() error {
		c := must(nftables.New())
		tb := c.AddTable(table())
		guard := c.AddChain(baseChain(chainGuard))
		for i, uuid := range []string{"old", "kept"} {
			ch := c.AddChain(&nftables.Chain{Name: podChain(uuid, chainGuard), Table: tb})
			c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: []expr.Any{verdict(expr.VerdictDrop)}})
			c.AddRule(&nftables.Rule{Table: tb, Chain: guard, UserData: []byte(podTagPrefix + uuid + " /pods/" + uuid),
				Exprs: cat(matchInterface(100+i, false), []expr.Any{jump(ch.Name)})})
		}
		return c.Flush()
	})
	ns.do(func() error {
		ctx := context.Background()
		if _, err := fw.Install(ctx, PodRules{UUID: "new", Owner: "/pods/new", HostIndex: 9, HostIface: "ac-new"}, everyoneAlive); err != nil {
			return err
		}
		stale, err := fw.RemoveStale(ctx, func(owner string) bool { return owner != "/pods/old" })
		if err != nil || !slices.Equal(stale, []string{"old"}) {
			return fmt.Errorf("RemoveStale: %q, %v; want old", stale, err)
		}
		pods, err := listPods()
		if err != nil || len(pods) != 1 || pods["kept"] != "/pods/kept" {
			return fmt.Errorf("pods left: %v, %v; want kept", pods, err)
		}
		var rl ruleLister
		defer rl.close()
		if ok, err := rl.hasChain(podChain("old", chainGuard)); ok || err != nil {
			return fmt.Errorf("the dead pod's guard chain is left (%v)", err)
		}
		if rules, err := rl.list(chainGuard); err != nil || len(rules) != 1 {
			return fmt.Errorf("guard chain: %d rules, %v; want the live pod's jump alone", len(rules), err)
		}
		return nil
	})
}
