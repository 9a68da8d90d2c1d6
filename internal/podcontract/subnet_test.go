package podcontract

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseSubnet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ipv6 bool
		want string // the prefix, or the error's text
	}{
		{"172.16.28.0/24", false, "172.16.28.0/24"},
		{"10.0.0.0/8", false, "10.0.0.0/8"},
		{"none", false, "invalid Prefix"},
		{"fd61:6369:7275::/64", true, "fd61:6369:7275::/64"},
		{"2001:db8:1::/112", true, "2001:db8:1::/112"},
		{"none", true, "invalid Prefix"},
		{"fd00::/64", false, `subnet "fd00::/64": want an IPv4 subnet like 172.16.28.0/24, or none`},
		{"10.0.0.0/8", true, `subnet "10.0.0.0/8": want an IPv6 subnet like fd61:6369:7275::/64, or none`},
		{"::ffff:10.0.0.0/104", true, "want an IPv6 subnet"},
		{"fe80::%eth0/64", true, "want an IPv6 subnet"},
		{"172.16.28.1/24", false, "subnet 172.16.28.1/24 has host bits set: write it as 172.16.28.0/24"},
		{"fd00::1/64", true, "subnet fd00::1/64 has host bits set: write it as fd00::/64"},
		{"172.16.28.0", false, "want an IPv4 subnet"},
		{"", false, "want an IPv4 subnet"},
		{"None", true, "want an IPv6 subnet"},
	} {
		p, err := ParseSubnet(tc.in, tc.ipv6)
		got := p.String()
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("ParseSubnet(%q, %v) = %v, %v; want %q", tc.in, tc.ipv6, p, err, tc.want)
		}
	}
	if _, err := ParseRecordedFlags([]string{"--subnet=none", "--subnet6=none"}); err == nil || !strings.Contains(err.Error(), "needs IPv4, IPv6 or both") {
		t.Errorf("--subnet=none --subnet6=none: %v", err)
	}
	o, err := ParseRecordedFlags([]string{"--subnet=none", "--subnet6=fd00:1::/64"})
	if err != nil || o.Subnet != "none" || o.Subnet6 != "fd00:1::/64" || strings.Join(o.Args(), " ") != "--subnet=none --subnet6=fd00:1::/64" {
		t.Errorf("an IPv6-only default network: %+v, %v", o, err)
	}
}

// FuzzParseSubnet: never a panic; what is accepted is a masked prefix of
// the family asked for that reads back the same, or none.
func FuzzParseSubnet(f *testing.F) {
	for _, s := range []string{"172.16.28.0/24", "fd61:6369:7275::/64", "none", "fd00::1/64", "::ffff:1.2.3.0/120", "fe80::%x/64"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, ipv6 bool) {
		p, err := ParseSubnet(s, ipv6)
		if err != nil {
			return
		}
		if s == SubnetNone {
			if p.IsValid() {
				t.Fatalf("%q gave %s", s, p)
			}
			return
		}
		if !p.IsValid() || p.Addr().Is6() != ipv6 || p != p.Masked() || p.Addr().Zone() != "" {
			t.Fatalf("ParseSubnet(%q, %v) accepted %s", s, ipv6, p)
		}
		if back, err := netip.ParsePrefix(p.String()); err != nil || back != p {
			t.Fatalf("%s does not read back: %v, %v", p, back, err)
		}
	})
}
