package netns

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// render writes a rule's expressions as short words, so that the tables
// below say what each rule does byte by byte:
//
//	fam4 | ip daddr =7f000001 | l4 =06 | dport =1f90 | dnat4 ac101c02:1f90
func render(exprs []expr.Any) string {
	var w []string
	var pending string // what the register holds, for the comparison that follows
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta:
			switch e.Key {
			case expr.MetaKeyNFPROTO:
				pending = "fam"
			case expr.MetaKeyL4PROTO:
				pending = "l4"
			case expr.MetaKeyIIF:
				pending = "iif"
			case expr.MetaKeyOIF:
				pending = "oif"
			case expr.MetaKeyIIFNAME:
				pending = "iifname"
			default:
				pending = fmt.Sprintf("meta%d", e.Key)
			}
		case *expr.Payload:
			switch {
			case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 2 && e.Len == 2:
				pending = "dport"
			case e.Len == 4 && e.Offset == 12, e.Len == 16 && e.Offset == 8:
				pending = "saddr"
			case e.Len == 4 && e.Offset == 16, e.Len == 16 && e.Offset == 24:
				pending = "daddr"
			default:
				pending = fmt.Sprintf("payload%d/%d/%d", e.Base, e.Offset, e.Len)
			}
		case *expr.Bitwise:
			pending += "&" + hex.EncodeToString(e.Mask)
		case *expr.Fib:
			switch {
			case e.FlagSADDR && e.FlagIIF && e.ResultOIF && !e.FlagDADDR && !e.FlagMARK && !e.FlagOIF && !e.ResultOIFNAME && !e.ResultADDRTYPE:
				pending = "fib(saddr.iif,oif)"
			default:
				pending = fmt.Sprintf("fib(daddr=%v,type=%v)", e.FlagDADDR, e.ResultADDRTYPE)
			}
		case *expr.Ct:
			pending = fmt.Sprintf("ct%d", e.Key)
		case *expr.Cmp:
			op := "="
			if e.Op == expr.CmpOpNeq {
				op = "!="
			}
			w = append(w, pending+" "+op+hex.EncodeToString(e.Data))
		case *expr.Immediate:
			pending = hex.EncodeToString(e.Data)
			if e.Register == 2 {
				w[len(w)-1] += ":" + pending
				continue
			}
			w = append(w, "to "+pending)
		case *expr.NAT:
			kind := "snat"
			if e.Type == expr.NATTypeDestNAT {
				kind = "dnat"
			}
			w = append(w, fmt.Sprintf("%s%d", kind, e.Family))
		case *expr.Masq:
			w = append(w, "masq")
		case *expr.Verdict:
			switch e.Kind {
			case expr.VerdictDrop:
				w = append(w, "drop")
			case expr.VerdictReturn:
				w = append(w, "return")
			case expr.VerdictJump:
				w = append(w, "jump "+e.Chain)
			default:
				w = append(w, fmt.Sprintf("verdict%d", e.Kind))
			}
		default:
			w = append(w, fmt.Sprintf("%T", e))
		}
	}
	return strings.Join(w, " | ")
}

func renderAll(rules [][]expr.Any) []string {
	var r []string
	for _, x := range rules {
		r = append(r, render(x))
	}
	return r
}

const (
	fam4 = "fam =02" // meta nfproto ipv4
	fam6 = "fam =0a" // meta nfproto ipv6
	tcp  = "l4 =06"
	udp  = "l4 =11"
	// fib daddr type local (RTN_LOCAL = 2, in the host's byte order)
	local = "fib(daddr=true,type=true) =02000000"
)

func TestDNATRules(t *testing.T) {
	if unix.RTN_LOCAL != 2 || hex.EncodeToString([]byte{2, 0, 0, 0}) != "02000000" {
		t.Fatal("constants")
	}
	pod4 := netip.MustParseAddrPort("172.16.28.2:8080")
	pod6 := netip.MustParseAddrPort("[fd61:6369:7275::2]:8080")
	for _, tc := range []struct {
		name     string
		m        PortMap
		pre, out string
	}{
		{
			"every IPv4 address: prerouting leaves out 127.0.0.0/8",
			PortMap{Protocol: "tcp", Host: netip.MustParseAddrPort("0.0.0.0:80"), Pod: pod4},
			tcp + " | dport =0050 | " + fam4 + " | daddr&ff000000 !=7f000000 | " + local + " | to ac101c02:1f90 | dnat2",
			tcp + " | dport =0050 | " + fam4 + " | " + local + " | to ac101c02:1f90 | dnat2",
		},
		{
			"every IPv6 address: prerouting leaves out ::1",
			PortMap{Protocol: "udp", Host: netip.MustParseAddrPort("[::]:53"), Pod: pod6},
			udp + " | dport =0035 | " + fam6 + " | daddr !=00000000000000000000000000000001 | " + local + " | to fd616369727500000000000000000002:1f90 | dnat10",
			udp + " | dport =0035 | " + fam6 + " | " + local + " | to fd616369727500000000000000000002:1f90 | dnat10",
		},
		{
			"127.0.0.1: output only",
			PortMap{Protocol: "tcp", Host: netip.MustParseAddrPort("127.0.0.1:8080"), Pod: pod4},
			"",
			fam4 + " | daddr =7f000001 | " + tcp + " | dport =1f90 | to ac101c02:1f90 | dnat2",
		},
		{
			"::1: output only",
			PortMap{Protocol: "tcp", Host: netip.MustParseAddrPort("[::1]:8080"), Pod: pod6},
			"",
			fam6 + " | daddr =00000000000000000000000000000001 | " + tcp + " | dport =1f90 | to fd616369727500000000000000000002:1f90 | dnat10",
		},
		{
			"one address, another port: both hooks",
			PortMap{Protocol: "tcp", Host: netip.MustParseAddrPort("192.0.2.7:18080"), Pod: pod4},
			fam4 + " | daddr =c0000207 | " + tcp + " | dport =46a0 | to ac101c02:1f90 | dnat2",
			fam4 + " | daddr =c0000207 | " + tcp + " | dport =46a0 | to ac101c02:1f90 | dnat2",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pre, out := dnatRules(tc.m)
			if got := render(pre); got != tc.pre {
				t.Errorf("prerouting:\n got %s\nwant %s", got, tc.pre)
			}
			if got := render(out); got != tc.out {
				t.Errorf("output:\n got %s\nwant %s", got, tc.out)
			}
		})
	}
}

func TestPodRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  [][]expr.Any
		want []string
	}{
		{"anti-spoofing shared by the pods' links", spoofRules(), []string{
			"iifname !=61632d | return", // not "ac-*"
			fam4 + " | daddr&ff000000 =7f000000 | drop",
			fam6 + " | daddr =00000000000000000000000000000001 | drop",
			fam4 + " | saddr =00000000 | drop",
			fam6 + " | saddr&ffc00000000000000000000000000000 =fe800000000000000000000000000000 | return",
			fam6 + " | saddr =00000000000000000000000000000000 | return",
			"fib(saddr.iif,oif) =00000000 | drop", // no route back out of the link it came in on
		}},
		{"source NAT on the link with index 7", snatRules(7, []netip.Addr{netip.MustParseAddr("172.16.28.1"), netip.MustParseAddr("fd61:6369:7275::1")}), []string{
			fam4 + " | saddr&ff000000 =7f000000 | to ac101c01 | snat2",
			fam4 + " | iif =07000000 | to ac101c01 | snat2",
			fam6 + " | saddr =00000000000000000000000000000001 | to fd616369727500000000000000000001 | snat10",
			fam6 + " | iif =07000000 | to fd616369727500000000000000000001 | snat10",
		}},
		{"restricted: ct direction original drop", [][]expr.Any{restrictRule()}, []string{"ct1 =00 | drop"}},
		{"masquerade of both subnets", masqueradeRules([]netip.Prefix{netip.MustParsePrefix("172.16.28.0/24"), netip.MustParsePrefix("fd61:6369:7275::/64")}), []string{
			fam4 + " | saddr&ffffff00 =ac101c00 | " + fam4 + " | daddr&ffffff00 !=ac101c00 | masq",
			fam6 + " | saddr&ffffffffffffffff0000000000000000 =fd616369727500000000000000000000 | " +
				fam6 + " | daddr&ffffffffffffffff0000000000000000 !=fd616369727500000000000000000000 | masq",
		}},
		{"jumps", [][]expr.Any{cat(matchJump(chainGuard, 7, nil), []expr.Any{jump("g")}), cat(matchJump(chainPostrouting, 7, nil), []expr.Any{jump("p")}),
			cat(matchJump(chainOutput, 7, nil), []expr.Any{jump("o")})}, []string{
			"iif =07000000 | jump g", "oif =07000000 | jump p", "jump o",
		}},
		{"jumps to the published ports' chains", [][]expr.Any{
			// one port on two addresses: both chains match it
			cat(matchJump(chainPrerouting, 7, []PortMap{portMap("tcp", "192.0.2.7:80"), portMap("tcp", "192.0.2.8:80")}), []expr.Any{jump("a")}),
			cat(matchJump(chainOutput, 7, []PortMap{portMap("tcp", "192.0.2.7:80"), portMap("tcp", "192.0.2.8:80")}), []expr.Any{jump("b")}),
			// two numbers, or two protocols: every packet
			cat(matchJump(chainOutput, 7, []PortMap{portMap("tcp", "0.0.0.0:80"), portMap("tcp", "0.0.0.0:443")}), []expr.Any{jump("c")}),
			cat(matchJump(chainOutput, 7, []PortMap{portMap("tcp", "0.0.0.0:53"), portMap("udp", "0.0.0.0:53")}), []expr.Any{jump("d")}),
			// a loopback port has no prerouting rule: the other one is the only one there
			cat(matchJump(chainPrerouting, 7, []PortMap{portMap("tcp", "127.0.0.1:8080"), portMap("udp", "[::]:53")}), []expr.Any{jump("e")}),
			cat(matchJump(chainOutput, 7, []PortMap{portMap("tcp", "127.0.0.1:8080"), portMap("udp", "[::]:53")}), []expr.Any{jump("f")}),
		}, []string{
			tcp + " | dport =0050 | jump a", tcp + " | dport =0050 | jump b", "jump c", "jump d", udp + " | dport =0035 | jump e", "jump f",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderAll(tc.got)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// portMap is a published port of protocol on host (to a pod address that
// matchJump does not look at).
func portMap(protocol, host string) PortMap {
	return PortMap{Protocol: protocol, Host: netip.MustParseAddrPort(host), Pod: netip.MustParseAddrPort("172.16.28.2:8080")}
}

func TestCheckProtocol(t *testing.T) {
	for _, tc := range []struct{ protocol, err string }{
		{"tcp", ""}, {"udp", ""},
		{"sctp", "protocol sctp: acirun publishes tcp and udp ports only"},
		{"TCP", `protocol "TCP": want tcp or udp`},
	} {
		err := checkProtocol(tc.protocol)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("checkProtocol(%q) = %v, want %q", tc.protocol, err, tc.err)
		}
	}
}

func TestParseTag(t *testing.T) {
	for _, tc := range []struct {
		in          string
		uuid, owner string
		ok          bool
	}{
		{"acirun pod 1234 /var/lib/acirun/pods/1234", "1234", "/var/lib/acirun/pods/1234", true},
		{"acirun pod 1234 /a dir/with space", "1234", "/a dir/with space", true},
		{"acirun pod 1234", "", "", false},
		{"acirun pod  /x", "", "", false},
		{"acirun pod 1234 /pods/1234\x00tcp 0.0.0.0:80\x00udp [::]:53", "1234", "/pods/1234", true},
		{"acirun pod 1234 /pods/1234\x00+", "1234", "/pods/1234", true},
		{"acirun pod 1234\x00tcp 0.0.0.0:80", "", "", false},
		{"acirun masquerade 172.16.28.0/24", "", "", false},
		{"", "", "", false},
	} {
		uuid, owner, ok := parseTag([]byte(tc.in))
		if uuid != tc.uuid || owner != tc.owner || ok != tc.ok {
			t.Errorf("parseTag(%q) = %q, %q, %v", tc.in, uuid, owner, ok)
		}
	}
}

// TestPortsTag: the output jump's tag carries the pod's published ports
// for publishedPorts, the owner still reads back, and ports that do not
// fit leave the marker that sends publishedPorts to the pod's chain.
func TestPortsTag(t *testing.T) {
	tag := []byte(podTagPrefix + "1234 /var/lib/acirun/pods/run/1234")
	pm := func(proto, host string) PortMap {
		return PortMap{Protocol: proto, Host: netip.MustParseAddrPort(host)}
	}
	owned := func(proto, host string) ownedPort {
		return ownedPort{protocol: proto, host: netip.MustParseAddrPort(host), owner: "pod 1234", uuid: "1234", dir: "/var/lib/acirun/pods/run/1234"}
	}
	many := make([]PortMap, 20)
	for i := range many {
		many[i] = pm("tcp", fmt.Sprintf("[fd00::1]:%d", 10000+i))
	}
	for _, tc := range []struct {
		name  string
		ports []PortMap
		want  []ownedPort // nil: did not fit
	}{
		{"one", []PortMap{pm("tcp", "0.0.0.0:8080")}, []ownedPort{owned("tcp", "0.0.0.0:8080")}},
		{"two", []PortMap{pm("tcp", "0.0.0.0:8080"), pm("udp", "[::1]:53")}, []ownedPort{owned("tcp", "0.0.0.0:8080"), owned("udp", "[::1]:53")}},
		{"too many", many, nil},
	} {
		b := portsTag(tag, tc.ports)
		if len(b) > maxUserData {
			t.Errorf("%s: tag of %d bytes, the kernel keeps %d", tc.name, len(b), maxUserData)
		}
		if uuid, owner, ok := parseTag(b); !ok || uuid != "1234" || owner != "/var/lib/acirun/pods/run/1234" {
			t.Errorf("%s: parseTag(%q) = %q, %q, %v", tc.name, b, uuid, owner, ok)
		}
		if tc.want == nil {
			if want := string(tag) + "\x00" + portsMore; string(b) != want {
				t.Errorf("%s: tag %q, want %q", tc.name, b, want)
			}
			continue
		}
		st := &tableState{base: map[string][]*nftables.Rule{chainOutput: {{UserData: b}}}}
		// (No connection: ports in the tag are read without one.)
		got, err := publishedPorts(nil, st, nil)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: publishedPorts = %v, %v; want %v", tc.name, got, err, tc.want)
		}
		if got, _ := publishedPorts(nil, st, []string{"1234"}); len(got) != 0 {
			t.Errorf("%s: publishedPorts skipping the pod = %v", tc.name, got)
		}
	}
}
