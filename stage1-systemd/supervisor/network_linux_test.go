package supervisor

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/netns"
	stage1 "github.com/acirun/acirun/stage1-systemd"
)

func TestPortMaps(t *testing.T) {
	v4, v6 := netip.MustParseAddr("172.16.28.2"), netip.MustParseAddr("fd61:6369:7275::2")
	both := []netip.Addr{v4, v6}
	declared := stage1.Port{Name: "http", Protocol: "tcp", Port: 80, Count: 1, HostPort: 80}
	asked := stage1.Port{Name: "dns", Protocol: "udp", Port: 53, Count: 2, HostPort: 5353, Explicit: true}
	askedIP := stage1.Port{Name: "api", Protocol: "tcp", Port: 9000, Count: 1, HostPort: 19000, Explicit: true, HostIP: netip.MustParseAddr("192.0.2.1")}
	for _, tc := range []struct {
		name    string
		ports   []stage1.Port
		pod     []netip.Addr
		publish string
		want    string
	}{
		{"declared, all: every address of both families", []stage1.Port{declared}, both, podcontract.PublishAll,
			"http tcp 0.0.0.0:80 172.16.28.2:80 implicit; http tcp [::]:80 [fd61:6369:7275::2]:80 implicit"},
		{"declared, loopback", []stage1.Port{declared}, both, podcontract.PublishLoopback,
			"http tcp 127.0.0.1:80 172.16.28.2:80 implicit; http tcp [::1]:80 [fd61:6369:7275::2]:80 implicit"},
		{"declared, none", []stage1.Port{declared}, both, podcontract.PublishNone, ""},
		{"declared, IPv4-only pod", []stage1.Port{declared}, []netip.Addr{v4}, podcontract.PublishAll,
			"http tcp 0.0.0.0:80 172.16.28.2:80 implicit"},
		{"declared, IPv6-only pod", []stage1.Port{declared}, []netip.Addr{v6}, podcontract.PublishLoopback,
			"http tcp [::1]:80 [fd61:6369:7275::2]:80 implicit"},
		{"--port without an address, publish none: every address, each of count", []stage1.Port{asked}, both, podcontract.PublishNone,
			"dns+0 udp 0.0.0.0:5353 172.16.28.2:53; dns+1 udp 0.0.0.0:5354 172.16.28.2:54; " +
				"dns+0 udp [::]:5353 [fd61:6369:7275::2]:53; dns+1 udp [::]:5354 [fd61:6369:7275::2]:54"},
		{"--port with an address: that one only", []stage1.Port{askedIP}, both, podcontract.PublishLoopback,
			"api tcp 192.0.2.1:19000 172.16.28.2:9000"},
		{"--port with an IPv4 address, IPv6-only pod: nothing", []stage1.Port{askedIP}, []netip.Addr{v6}, podcontract.PublishAll, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range portMaps(tc.ports, tc.pod, tc.publish) {
				s := fmt.Sprintf("%s %s %s %s", m.Name, m.Protocol, m.Host, m.Pod)
				if m.Implicit {
					s += " implicit"
				}
				got = append(got, s)
			}
			if g := strings.Join(got, "; "); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
		})
	}
}

func TestWithoutMetadataPort(t *testing.T) {
	pod := netip.MustParseAddrPort("172.16.28.2:18112")
	m := func(host string, implicit bool) netns.PortMap {
		return netns.PortMap{Name: "meta", Protocol: "tcp", Host: netip.MustParseAddrPort(host), Pod: pod, Implicit: implicit}
	}
	for _, tc := range []struct {
		name  string
		in    netns.PortMap
		kept  bool
		issue string
	}{
		{"declared on every address", m("0.0.0.0:18112", true), false, "WARNING: not published: port meta (tcp) on 0.0.0.0: the host's port 18112 is the pods' metadata service's"},
		{"declared on every IPv6 address", m("[::]:18112", true), false, "WARNING: not published"},
		{"asked for on every address", m("0.0.0.0:18112", false), false, "publish port meta (tcp) on 0.0.0.0: the host's port 18112 is the pods' metadata service's; ask for another host port (--port=meta:HOSTPORT)"},
		{"on the gateway", m("172.16.28.1:18112", false), false, "ask for another host port"},
		{"on loopback", m("127.0.0.1:18112", true), true, ""},
		{"on another address of the host", m("10.0.0.5:18112", false), true, ""},
		{"another port", m("0.0.0.0:18113", true), true, ""},
		{"udp", netns.PortMap{Name: "meta", Protocol: "udp", Host: netip.MustParseAddrPort("0.0.0.0:18112"), Pod: pod, Implicit: true}, true, ""},
	} {
		keep, warnings, err := withoutMetadataPort([]netns.PortMap{tc.in}, []netip.Addr{netip.MustParseAddr("172.16.28.1"), netip.MustParseAddr("fd61:6369:7275::1")})
		got := strings.Join(warnings, "")
		if err != nil {
			got = err.Error()
		}
		if (len(keep) == 1) != tc.kept || (tc.issue == "") != (got == "") || !strings.Contains(got, tc.issue) {
			t.Errorf("%s: kept %v, %q; want kept %v, %q", tc.name, keep, got, tc.kept, tc.issue)
		}
	}
}

// TestPublishesSockets: sweep puts a pod's ports into the socket path only
// when asked, when there are ports, and not after the pod's rule removal
// has started (its Remove would not wait, and the entries would outlive
// the pod until the next start's sweep or acirun gc).
func TestPublishesSockets(t *testing.T) {
	port := []netns.PortMap{{Name: "http", Protocol: "tcp"}}
	started := make(chan error, 1)
	for _, c := range []struct {
		name    string
		pn      podNetwork
		publish bool
		want    bool
	}{
		{"ports", podNetwork{ports: port}, true, true},
		{"not asked (detach)", podNetwork{ports: port}, false, false},
		{"no ports", podNetwork{}, true, false},
		{"rules being removed", podNetwork{ports: port, rulesRemoved: started}, true, false},
	} {
		if got := c.pn.publishesSockets(c.publish); got != c.want {
			t.Errorf("%s: %t, want %t", c.name, got, c.want)
		}
	}
}
