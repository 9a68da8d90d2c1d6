package netns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/nftables"
)

// TestFirewallPortConflicts runs Install in namespaces the test makes and
// checks what it says of ports it cannot publish: a port another pod
// publishes (one whose ports did not fit in its tag, so that its own chain
// is read), a port a process of the host listens on (named with its pid
// and command), a protocol other than tcp and udp; each an error naming
// the port and its owner that leaves the table as it was, or, for an
// implicit port, a warning and the rest published. A drop policy on the
// forward hook of another table is warned of.
func TestFirewallPortConflicts(t *testing.T) {
	host := newTestNS(t)
	root := t.TempDir()
	n := Default(root)
	fw := DefaultFirewall(root)
	_, att := podOnNetwork(t, host, n, "/pods/a", "ac-a")
	rules := func(uuid string, ports ...PortMap) PodRules {
		return PodRules{UUID: uuid, Owner: "/pods/" + uuid, HostIndex: att.HostIndex, HostIface: att.HostIface,
			Gateways: []netip.Addr{att.Gateway}, Ports: ports}
	}
	port := func(name, proto, hostAddr string, implicit bool) PortMap {
		h := netip.MustParseAddrPort(hostAddr)
		return PortMap{Name: name, Protocol: proto, Host: h, Pod: netip.AddrPortFrom(att.Addr, h.Port()), Implicit: implicit}
	}
	install := func(p PodRules) (pub *Published, err error) {
		err = host.try(func() (err error) {
			pub, err = fw.Install(context.Background(), p, everyoneAlive)
			return err
		})
		return pub, err
	}

	// Twenty ports: more than the tag of the pod's jump rule holds.
	var many []PortMap
	for i := range 20 {
		many = append(many, port(fmt.Sprintf("p%d", i), "tcp", fmt.Sprintf("0.0.0.0:%d", 10000+i), false))
	}
	if pub, err := install(rules("many", many...)); err != nil || len(pub.Ports) != 20 {
		t.Fatalf("Install of 20 ports: %+v, %v", pub, err)
	}
	before := ruleCount(t, host)

	// A host socket of this process.
	var ln net.Listener
	host.do(func() (err error) {
		ln, err = net.Listen("tcp4", "0.0.0.0:10100")
		return err
	})
	defer ln.Close()
	self, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	socket := fmt.Sprintf("a socket on 0.0.0.0:10100 of process %d (%s)", os.Getpid(), strings.TrimSpace(string(self)))

	for _, tc := range []struct {
		name string
		port PortMap
		want string
	}{
		{"another pod's port, on every address", port("web", "tcp", "0.0.0.0:10007", false),
			"publish port web (tcp) on every IPv4 address: the host's port 10007 is taken by pod many (on every IPv4 address)"},
		{"another pod's port, on one address", port("web", "tcp", "127.0.0.1:10019", false),
			"publish port web (tcp) on 127.0.0.1: the host's port 10019 is taken by pod many (on every IPv4 address)"},
		{"a host process's port", port("web", "tcp", "0.0.0.0:10100", false),
			"publish port web (tcp) on every IPv4 address: the host's port 10100 is taken by " + socket},
		{"sctp", port("sig", "sctp", "0.0.0.0:3868", false),
			"publish port sig: protocol sctp: acirun publishes tcp and udp ports only (reach an SCTP port at the pod's own address)"},
		{"an unknown protocol", port("x", "dccp", "0.0.0.0:3869", false), `publish port x: protocol "dccp": want tcp or udp`},
	} {
		if pub, err := install(rules("other", tc.port)); err == nil || err.Error() != tc.want {
			t.Errorf("%s: Install: %+v, %v\nwant: %s", tc.name, pub, err, tc.want)
		}
		if got := ruleCount(t, host); got != before {
			t.Errorf("%s: a refused Install changed the table: %d rules, had %d", tc.name, got, before)
		}
	}

	// Implicit ports (the image's, not asked for): warned of, and the
	// others published; the same port number over udp is free.
	pub, err := install(rules("other",
		port("web", "tcp", "0.0.0.0:10007", true),
		port("sig", "sctp", "0.0.0.0:3868", true),
		port("dns", "udp", "0.0.0.0:10007", true)))
	if err != nil {
		t.Fatal(err)
	}
	wantWarnings := []string{
		"WARNING: port web (tcp) not published on every IPv4 address: the host's port 10007 is taken by pod many (on every IPv4 address); the pod answers at its own address",
		"WARNING: port sig not published: protocol sctp: acirun publishes tcp and udp ports only (reach an SCTP port at the pod's own address)",
	}
	if len(pub.Ports) != 1 || pub.Ports[0].Name != "dns" || strings.Join(pub.Warnings, "\n") != strings.Join(wantWarnings, "\n") {
		t.Errorf("implicit ports: published %+v, warnings\n%s\nwant dns alone and\n%s", pub.Ports, strings.Join(pub.Warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}
	// Once many is gone, its ports are free.
	host.do(func() error { return fw.Remove(context.Background(), "many") })
	if pub, err := install(rules("third", port("web", "tcp", "0.0.0.0:10007", false))); err != nil || len(pub.Ports) != 1 {
		t.Errorf("a removed pod's port: %+v, %v; want it published", pub, err)
	}

	// Another table's forward chain dropping by default (as iptables -P
	// FORWARD DROP makes it): the pod's forwarded traffic may be dropped.
	host.do(func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		tb := c.AddTable(&nftables.Table{Name: "filter", Family: nftables.TableFamilyIPv4})
		drop := nftables.ChainPolicyDrop
		c.AddChain(&nftables.Chain{Name: "FORWARD", Table: tb, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
		return c.Flush()
	})
	pub, err = install(rules("fourth"))
	want := "WARNING: the host's firewall drops forwarded packets by default (table ip filter, chain FORWARD, policy drop): the pod may not reach beyond the host, nor be reached from elsewhere at its published ports, unless that firewall accepts what is forwarded from and to ac-a"
	if err != nil || len(pub.Warnings) != 1 || pub.Warnings[0] != want {
		t.Errorf("with a forward drop policy: %+v, %v\nwant the warning: %s", pub, err, want)
	}
}
