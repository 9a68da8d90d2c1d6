package netns

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The pieces of acirun's nftables rules, as expressions over register 1
// (and register 2 for a port). Every rule lives in a table of family inet,
// which sees IPv4 and IPv6 alike, so each rule that looks at an address
// first says which family it is for (meta nfproto).

// loopback4 and loopback6 are the host's loopback networks: addresses that
// must never be reached from outside the host, so that prerouting never
// translates them (CVE-2020-8558: with route_localnet on, a DNAT of
// 127.0.0.1 in prerouting would let the neighbours reach the host's
// loopback services).
var (
	loopback4 = netip.MustParsePrefix("127.0.0.0/8")
	loopback6 = netip.MustParsePrefix("::1/128")
)

// matchFamily is `meta nfproto ipv4` or `meta nfproto ipv6`, by a's family.
func matchFamily(a netip.Addr) []expr.Any {
	p := byte(unix.NFPROTO_IPV4)
	if a.Is6() {
		p = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// addrField is where the source (or destination) address of a's family
// lies in the network header.
func addrField(a netip.Addr, dst bool) (offset, length uint32) {
	if a.Is4() {
		if dst {
			return 16, 4
		}
		return 12, 4
	}
	if dst {
		return 24, 16
	}
	return 8, 16
}

// matchPrefix is `ip saddr P` (or daddr, or != P): the family check and the
// comparison of the masked address.
func matchPrefix(p netip.Prefix, dst, negate bool) []expr.Any {
	p = p.Masked()
	off, n := addrField(p.Addr(), dst)
	op := expr.CmpOpEq
	if negate {
		op = expr.CmpOpNeq
	}
	e := append(matchFamily(p.Addr()), &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
	if p.Bits() != p.Addr().BitLen() {
		mask := make([]byte, n)
		for i := 0; i < p.Bits(); i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
	}
	return append(e, &expr.Cmp{Op: op, Register: 1, Data: p.Addr().AsSlice()})
}

// matchAddr is `ip saddr A` or `ip daddr A`.
func matchAddr(a netip.Addr, dst bool) []expr.Any {
	return matchPrefix(netip.PrefixFrom(a, a.BitLen()), dst, false)
}

// matchLocalDst is `fib daddr type local`: the packet is for one of the
// host's own addresses, whichever interface holds it.
func matchLocalDst() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// protocolNumbers are the transport protocols a port can be published for.
var protocolNumbers = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP}

// checkProtocol says whether ports of protocol can be published, and why
// not.
func checkProtocol(protocol string) error {
	if _, ok := protocolNumbers[protocol]; ok {
		return nil
	}
	if protocol == "sctp" {
		return fmt.Errorf("protocol sctp: acirun publishes tcp and udp ports only (reach an SCTP port at the pod's own address)")
	}
	return fmt.Errorf("protocol %q: want tcp or udp", protocol)
}

// matchPort is `meta l4proto P th dport N`.
func matchPort(protocol string, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protocolNumbers[protocol]}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
	}
}

// dnatTo is `dnat ip to A:P` (ip6 for an IPv6 address).
func dnatTo(to netip.AddrPort) []expr.Any {
	fam := uint32(unix.NFPROTO_IPV4)
	if to.Addr().Is6() {
		fam = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: to.Addr().AsSlice()},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, to.Port())},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

// matchInterface is `meta iif N` (or oif).
func matchInterface(index int, out bool) []expr.Any {
	key := expr.MetaKeyIIF
	if out {
		key = expr.MetaKeyOIF
	}
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(index))},
	}
}

// matchOriginal is `ct direction original`: the packet goes the way the
// connection's first one did.
func matchOriginal() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeyDIRECTION},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0}},
	}
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func jump(chain string) expr.Any { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }

// cat joins rule pieces into one rule.
func cat(parts ...[]expr.Any) []expr.Any {
	var e []expr.Any
	for _, p := range parts {
		e = append(e, p...)
	}
	return e
}

// dnatRules are the rules that publish m: one for prerouting (what arrives
// from elsewhere, pods included), none when m's host address is a loopback
// one, and one for output (the host's own connections). An unspecified
// host address stands for every local address of the pod address's family:
// in prerouting every one but loopback.
//
// The first packet of every connection the host opens (output), and of
// every one arriving for a host address that is not a loopback one
// (prerouting), runs the rules of every pod that publishes a port, and
// the kernel evaluates a rule's matches in order up to the first that
// fails. So the port is matched first, and `fib daddr type local`, a route
// lookup, last: with it first, each publishing pod cost every new
// connection of the host a lookup (100 pods: about 35 us of CPU per
// loopback connection).
func dnatRules(m PortMap) (pre, out []expr.Any) {
	host, pod := m.Host.Addr(), m.Pod
	port := matchPort(m.Protocol, m.Host.Port())
	if host.IsUnspecified() {
		loop := loopback4
		if pod.Addr().Is6() {
			loop = loopback6
		}
		pre = cat(port, matchPrefix(loop, true, true), matchLocalDst(), dnatTo(pod))
		out = cat(port, matchFamily(pod.Addr()), matchLocalDst(), dnatTo(pod))
		return pre, out
	}
	out = cat(matchAddr(host, true), port, dnatTo(pod))
	if host.IsLoopback() {
		return nil, out
	}
	return cat(matchAddr(host, true), port, dnatTo(pod)), out
}

// spoofRules are the rules of the antispoof chain, shared by every pod's
// link (the host ends, named HostIfacePrefix…; the rest passes at once):
// what comes from a pod passes only with a source address that the host
// routes back out of the link it came in on, the pod's own (Attach routes
// each pod address to its pod's link), or, for IPv6, a link-local one or
// none, which neighbour discovery uses: `fib saddr . iif oif missing drop`,
// the kernel's strict reverse-path check. So another pod's address (routed
// to that pod's link), one of the host's (local: routed out of no link),
// one nobody has (routed elsewhere or nowhere) and 0.0.0.0 are dropped.
// So is what a pod sends to the host's loopback addresses: the link's
// route_localnet (allowLoopback) would otherwise let it reach services the
// host keeps on 127.0.0.1. The chain sees packets before connection
// tracking translates the answers to the host's own loopback connections,
// which still carry the gateway as their destination there.
//
// A pod's part in this is its route, which goes with its link: a pod that
// publishes no port and is not restricted has no rule of its own, so that
// neither its start nor its end changes the table. A transaction that
// deletes a rule makes the closing of its socket wait for an RCU grace
// period, with the lock held that the removal of a link waits for.
func spoofRules() [][]expr.Any {
	drop := []expr.Any{verdict(expr.VerdictDrop)}
	pass := []expr.Any{verdict(expr.VerdictReturn)}
	return [][]expr.Any{
		cat(matchInputPrefix(HostIfacePrefix, true), pass),
		cat(matchPrefix(loopback4, true, false), drop),
		cat(matchPrefix(loopback6, true, false), drop),
		cat(matchAddr(netip.IPv4Unspecified(), false), drop),
		cat(matchPrefix(netip.MustParsePrefix("fe80::/10"), false, false), pass),
		cat(matchAddr(netip.IPv6Unspecified(), false), pass),
		cat(matchSourceElsewhere(), drop),
	}
}

// matchInputPrefix is `iifname "PREFIX*"` (or != ): the name of the
// interface the packet came in on begins with prefix.
func matchInputPrefix(prefix string, negate bool) []expr.Any {
	op := expr.CmpOpEq
	if negate {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: []byte(prefix)},
	}
}

// matchSourceElsewhere is `fib saddr . iif oif missing`: the host has no
// route to the packet's source out of the interface it came in on (a
// local address counts as none).
func matchSourceElsewhere() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: true, FlagIIF: true, ResultOIF: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// snatRules are the source translations of what the host sends out of a
// pod's link (the chain is jumped to for that link only): what the host
// sends from a loopback address (its connections to a port published on
// 127.0.0.1 or ::1, translated in output) and what the pod sends to itself
// through a published port (hairpin: in and out of its own link) leave
// with the host end's address of their family, gateways. A loopback
// source would be unanswerable for the pod; a hairpin connection left
// alone would be answered by the pod to itself, directly, from an address
// the client did not call.
func snatRules(index int, gateways []netip.Addr) [][]expr.Any {
	var rules [][]expr.Any
	for _, gw := range gateways {
		loop := loopback4
		if gw.Is6() {
			loop = loopback6
		}
		rules = append(rules,
			cat(matchPrefix(loop, false, false), snatTo(gw)),
			cat(matchFamily(gw), matchInterface(index, false), snatTo(gw)))
	}
	return rules
}

// snatTo is `snat ip to A` (ip6 for an IPv6 address).
func snatTo(a netip.Addr) []expr.Any {
	fam := uint32(unix.NFPROTO_IPV4)
	if a.Is6() {
		fam = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: a.AsSlice()},
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: fam, RegAddrMin: 1},
	}
}

// restrictRule drops what a restricted pod starts beyond the host: packets
// from its link forwarded in a connection's original direction. Answers to
// connections made to it (its published ports) still pass.
func restrictRule() []expr.Any {
	return cat(matchOriginal(), []expr.Any{verdict(expr.VerdictDrop)})
}

// masqueradeRules are the static rules of the masquerade chain: what a
// subnet's pods send beyond it leaves with the host's address.
func masqueradeRules(subnets []netip.Prefix) [][]expr.Any {
	var rules [][]expr.Any
	for _, s := range subnets {
		rules = append(rules, cat(matchPrefix(s, false, false), matchPrefix(s, true, true), []expr.Any{&expr.Masq{}}))
	}
	return rules
}
