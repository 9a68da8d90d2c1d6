package podcontract

import (
	"fmt"
	"net/netip"
)

// SubnetNone, as --subnet or --subnet6 (the host's network.d subnet or
// subnet6), leaves the default network without that address family.
const SubnetNone = "none"

// ParseSubnet reads a value of --subnet (ipv6 false) or --subnet6: a
// subnet of that family in CIDR notation, written as the subnet's own
// address ("172.16.28.0/24", "fd61:6369:7275::/64"), or SubnetNone, for
// which it returns the zero Prefix. Whether the subnet is large enough for
// a network is netns.Network.Check's to say.
func ParseSubnet(s string, ipv6 bool) (netip.Prefix, error) {
	family, example := "IPv4", "172.16.28.0/24"
	if ipv6 {
		family, example = "IPv6", "fd61:6369:7275::/64"
	}
	if s == SubnetNone {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Is6() != ipv6 || p.Addr().Is4In6() || p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("subnet %q: want an %s subnet like %s, or %s", s, family, example, SubnetNone)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("subnet %s has host bits set: write it as %s", s, p.Masked())
	}
	return p, nil
}
