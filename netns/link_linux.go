package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// PodInterface is the name of the pod's end of its link, inside the pod.
const PodInterface = "eth0"

// Attachment is a pod's place on a network: its link and its address.
type Attachment struct {
	Network   Network
	Owner     string     // the pod directory the lease is for
	HostIface string     // the host end of the veth pair
	HostIndex int        // its interface index on the host
	Addr      netip.Addr // the pod's address
	Gateway   netip.Addr // the host end's address
	// NATError, if not nil, says why the host does not masquerade the
	// network's traffic: the pod reaches the host and other pods only.
	NATError error
}

// Attach puts the pod whose PID 1 is podPid on network n: it leases an
// address to owner, makes the veth pair hostIface (on the host, in the
// caller's network namespace) and PodInterface (in podPid's namespace),
// gives the host end the gateway address and a route to the pod, and makes
// sure the host forwards and masquerades the network's traffic (a failure
// of the last is no error: see NATError). The pod's
// end is left down and unaddressed: PID 1 configures it with
// ConfigurePod. On error nothing is left behind.
func (n Network) Attach(ctx context.Context, owner string, alive func(string) bool, hostIface string, podPid int) (_ *Attachment, err error) {
	if len(hostIface) == 0 || len(hostIface) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("network %s: interface name %q: want 1 to %d bytes", n.Name, hostIface, unix.IFNAMSIZ-1)
	}
	addr, err := n.Lease(ctx, owner, alive)
	if err != nil {
		return nil, err
	}
	a := &Attachment{Network: n, Owner: owner, HostIface: hostIface, Addr: addr, Gateway: n.Gateway()}
	defer func() {
		if err != nil {
			a.Detach()
		}
	}()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: hostIface},
		PeerName:      PodInterface,
		PeerNamespace: netlink.NsPid(podPid),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("network %s: create veth pair %s/%s: %w", n.Name, hostIface, PodInterface, err)
	}
	host, err := netlink.LinkByName(hostIface)
	if err != nil {
		return nil, fmt.Errorf("network %s: %s: %w", n.Name, hostIface, err)
	}
	a.HostIndex = host.Attrs().Index
	gw := &netlink.Addr{IPNet: hostNet(a.Gateway), Scope: unix.RT_SCOPE_LINK}
	if err := netlink.AddrAdd(host, gw); err != nil {
		return nil, fmt.Errorf("network %s: address %s on %s: %w", n.Name, a.Gateway, hostIface, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return nil, fmt.Errorf("network %s: bring up %s: %w", n.Name, hostIface, err)
	}
	route := &netlink.Route{
		LinkIndex: a.HostIndex,
		Dst:       hostNet(addr),
		Src:       a.Gateway.AsSlice(),
		Scope:     netlink.SCOPE_LINK,
	}
	if err := netlink.RouteAdd(route); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("network %s: the host already has a route to %s (another pod network, or a stale lease directory?)", n.Name, addr)
		}
		return nil, fmt.Errorf("network %s: route to %s via %s: %w", n.Name, addr, hostIface, err)
	}
	if err := enableForwarding(); err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	if err := ensureMasquerade(n.Subnet); err != nil {
		// A kernel without nftables: the pod still reaches the host and
		// the other pods, and the caller says that it reaches no further.
		a.NATError = fmt.Errorf("network %s: no NAT beyond the host: %w", n.Name, err)
	}
	return a, nil
}

// Detach removes the host end of the link (the pod's end goes with it) and
// gives the lease back. It may be called on a half-made attachment, and
// more than once.
func (a *Attachment) Detach() error {
	var errs []error
	// Only the link Attach made: a name taken by another pod's link
	// (Attach failed on it) is not ours to remove. A link made but never
	// found goes when the pod's namespace does.
	if l, err := netlink.LinkByName(a.HostIface); err == nil && a.HostIndex != 0 {
		if l.Attrs().Index == a.HostIndex {
			if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("network %s: remove %s: %w", a.Network.Name, a.HostIface, err))
			}
		}
	}
	if a.Addr.IsValid() {
		if err := a.Network.Release(a.Addr, a.Owner); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ConfigurePod configures the pod's end of its link from inside the pod's
// network namespace (PID 1 calls it): addr as its one address, a route to
// the gateway on the link, and the default route through it.
func ConfigurePod(addr, gateway netip.Addr) error {
	l, err := netlink.LinkByName(PodInterface)
	if err != nil {
		return fmt.Errorf("pod network: %s: %w", PodInterface, err)
	}
	if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: hostNet(addr)}); err != nil {
		return fmt.Errorf("pod network: address %s on %s: %w", addr, PodInterface, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("pod network: bring up %s: %w", PodInterface, err)
	}
	idx := l.Attrs().Index
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Dst: hostNet(gateway), Src: addr.AsSlice(), Scope: netlink.SCOPE_LINK}); err != nil {
		return fmt.Errorf("pod network: route to the gateway %s: %w", gateway, err)
	}
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Gw: gateway.AsSlice(), Src: addr.AsSlice()}); err != nil {
		return fmt.Errorf("pod network: default route via %s: %w", gateway, err)
	}
	return nil
}

// hostNet is a as a network of one address.
func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

// enableForwarding turns on IPv4 forwarding in the caller's network
// namespace, which pods need to reach each other and beyond the host. It
// writes only if forwarding is off.
func enableForwarding() error {
	const p = "/proc/sys/net/ipv4/ip_forward"
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if len(b) > 0 && b[0] == '1' {
		return nil
	}
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable IPv4 forwarding (%s): %w", p, err)
	}
	return nil
}
