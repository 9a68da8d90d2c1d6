package netns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// PodInterface is the name of the pod's end of its link, inside the pod.
const PodInterface = "eth0"

// HostIfacePrefix begins the name of the host end of every pod's link on
// a network of acirun's (Attach refuses another name): the anti-spoofing
// rules, shared by all pods (spoofRules), know the pods' links by it.
const HostIfacePrefix = "ac-"

// HostInterface names the host end of the link of the pod of this UUID:
// HostIfacePrefix and the first 12 hex digits of the UUID, within the
// kernel's 15 bytes. A lease's owner is the pod's directory, named by its
// UUID: the link of an owner that ended without giving its addresses back
// is found by this name when they are taken back (removeEndedLink).
func HostInterface(uuid string) string {
	h := strings.ReplaceAll(uuid, "-", "")
	if len(h) > 12 {
		h = h[:12]
	}
	return HostIfacePrefix + h
}

// Attachment is a pod's place on a network: its link and its addresses.
type Attachment struct {
	Network   Network
	Owner     string     // the pod directory the leases are for
	HostIface string     // the host end of the veth pair
	HostIndex int        // its interface index on the host
	Addr      netip.Addr // the pod's IPv4 address; zero without IPv4
	Gateway   netip.Addr // the host end's IPv4 address; zero without IPv4
	Addr6     netip.Addr // the pod's IPv6 address; zero without IPv6
	Gateway6  netip.Addr // the host end's IPv6 address; zero without IPv6
	// NATError, if not nil, says why the host does not masquerade the
	// network's traffic: the pod reaches the host and other pods only.
	NATError error
	// IPv6Error, if not nil, says why a pod of a network with both
	// families has IPv4 only (a kernel without IPv6).
	IPv6Error error
	// TookBackFrom are the owners whose leases of the pod's addresses were
	// taken back: pods no longer alive, whose rules may still name the
	// addresses (PodRules.Gone).
	TookBackFrom []string
}

// Addrs are the pod's addresses, as leased.
func (a *Attachment) Addrs() Addrs { return Addrs{IPv4: a.Addr, IPv6: a.Addr6} }

// Gateways are the host end's addresses, as the pod's routes use them.
func (a *Attachment) Gateways() Addrs { return Addrs{IPv4: a.Gateway, IPv6: a.Gateway6} }

// Attach puts the pod whose PID 1 is podPid on network n: it leases
// addresses to owner, makes the veth pair hostIface (on the host, in the
// caller's network namespace) and PodInterface (in podPid's namespace),
// makes the host end deaf to what a pod could use to change the host's
// routes or addresses (hostLinkSettings), gives it the gateway addresses,
// without duplicate address detection, and a route to the pod, and makes
// sure the host forwards and masquerades the network's traffic (a failure
// of the last is no error: see NATError). The pod's end is left down and
// unaddressed: ConfigurePod, from inside the pod's namespace, configures it. On error nothing is
// left behind.
//
// Nothing here waits on the network: every address is usable when it is
// added (no duplicate address detection: each link has two ends, both
// ours), and each step is one netlink round trip on one socket.
func (n Network) Attach(ctx context.Context, owner string, alive func(string) bool, hostIface string, podPid int) (_ *Attachment, err error) {
	if len(hostIface) == 0 || len(hostIface) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("network %s: interface name %q: want 1 to %d bytes", n.Name, hostIface, unix.IFNAMSIZ-1)
	}
	if !strings.HasPrefix(hostIface, HostIfacePrefix) {
		return nil, fmt.Errorf("network %s: interface name %q: a pod's host end is named %s…, which the anti-spoofing rules know it by", n.Name, hostIface, HostIfacePrefix)
	}
	sys, err := openSysctls()
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	defer sys.close()
	var v6Err error
	if n.Subnet6.IsValid() && !sys.hasIPv6() {
		v6Err = fmt.Errorf("network %s: no IPv6 for the pod (%s): the kernel has no IPv6 (booted with ipv6.disable=1?)", n.Name, n.Subnet6)
		if !n.Subnet.IsValid() {
			return nil, v6Err
		}
		n.Subnet6 = netip.Prefix{}
	}
	addrs, gone, err := n.lease(ctx, owner, alive)
	if err != nil {
		return nil, err
	}
	n.reached(stepLeaseTaken)
	a := &Attachment{Network: n, Owner: owner, HostIface: hostIface,
		Addr: addrs.IPv4, Gateway: n.Gateway(), Addr6: addrs.IPv6, Gateway6: n.Gateway6(), IPv6Error: v6Err, TookBackFrom: gone}
	defer func() {
		if err != nil {
			a.Detach()
		}
	}()
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("network %s: netlink: %w", n.Name, err)
	}
	defer h.Close()
	// One queue each way on both ends, asked for: a veth left to its
	// default gets one per CPU, and cutting them down to one waits for an
	// expedited RCU grace period per end (netif_set_real_num_tx_queues),
	// with the kernel's rtnl lock held.
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: hostIface, NumTxQueues: 1, NumRxQueues: 1},
		PeerName:      PodInterface,
		PeerNamespace: netlink.NsPid(podPid),
	}
	if err := h.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("network %s: create veth pair %s/%s: %w", n.Name, hostIface, PodInterface, err)
	}
	// LinkAdd has looked the new link up by name.
	a.HostIndex = veth.Attrs().Index
	if a.HostIndex == 0 {
		return nil, fmt.Errorf("network %s: %s: made, but not found", n.Name, hostIface)
	}
	n.reached(stepVethCreated)
	if err := sys.hostLinkSettings(hostIface, a.Addr6.IsValid()); err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	n.reached(stepHostLinkSet)
	for _, gw := range []netip.Addr{a.Gateway, a.Gateway6} {
		if !gw.IsValid() {
			continue
		}
		addr := &netlink.Addr{IPNet: hostNet(gw), Flags: unix.IFA_F_NODAD}
		if gw.Is4() {
			addr.Scope = unix.RT_SCOPE_LINK
		}
		if err := h.AddrAdd(veth, addr); err != nil {
			return nil, fmt.Errorf("network %s: address %s on %s: %w", n.Name, gw, hostIface, err)
		}
	}
	n.reached(stepGatewaysAddressed)
	if err := h.LinkSetUp(veth); err != nil {
		return nil, fmt.Errorf("network %s: bring up %s: %w", n.Name, hostIface, err)
	}
	n.reached(stepLinkUp)
	for _, p := range [][2]netip.Addr{{a.Addr, a.Gateway}, {a.Addr6, a.Gateway6}} {
		pod, gw := p[0], p[1]
		if !pod.IsValid() {
			continue
		}
		route := &netlink.Route{LinkIndex: a.HostIndex, Dst: hostNet(pod), Src: gw.AsSlice(), Scope: netlink.SCOPE_LINK}
		if err := h.RouteAdd(route); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return nil, fmt.Errorf("network %s: the host already has a route to %s (another pod network, or a stale lease directory?)", n.Name, pod)
			}
			return nil, fmt.Errorf("network %s: route to %s via %s: %w", n.Name, pod, hostIface, err)
		}
	}
	n.reached(stepRoutesAdded)
	if err := sys.enableForwarding(a.Addr.IsValid(), a.Addr6.IsValid()); err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	var subnets []netip.Prefix
	for _, s := range []netip.Prefix{n.Subnet, n.Subnet6} {
		if s.IsValid() {
			subnets = append(subnets, s)
		}
	}
	if len(subnets) > 0 {
		if err := ensureMasquerade(subnets...); err != nil {
			// A kernel without nftables: the pod still reaches the host and
			// the other pods, and the caller says that it reaches no further.
			a.NATError = fmt.Errorf("network %s: no NAT beyond the host: %w", n.Name, err)
		}
	}
	n.reached(stepNATEnsured)
	return a, nil
}

// Detach removes the link and gives the leases back (RemoveLink, then
// Release). It may be called on a half-made attachment, and more than
// once. A link it could not remove keeps the leases, held while their
// owner lives: given back, the next pod to lease the address would find
// the host's route to it still there.
func (a *Attachment) Detach() error {
	if err := a.RemoveLink(); err != nil {
		return err
	}
	return a.Release()
}

// RemoveLink removes the host end of the link; the pod's end goes with it,
// and so does the host's route to the pod. It may be called on a half-made
// attachment, and more than once.
func (a *Attachment) RemoveLink() error {
	// Only the link Attach made: a name taken by another pod's link
	// (Attach failed on it) is not ours to remove. A link made but never
	// found goes when the pod's namespace does. Only "no such device"
	// says that it is gone: another error of the lookup is reported, not
	// taken for that.
	if a.HostIndex == 0 {
		return nil
	}
	i, err := linkIndex(a.HostIface)
	switch {
	case errors.Is(err, unix.ENODEV):
		return nil
	case err != nil:
		return fmt.Errorf("network %s: find %s to remove it: %w", a.Network.Name, a.HostIface, err)
	case i != a.HostIndex:
		return nil
	}
	if err := netlink.LinkDel(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: i}}); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("network %s: remove %s: %w", a.Network.Name, a.HostIface, err)
	}
	return nil
}

// Release gives the leases back; call it once the link is gone (see
// RemoveLink), or the next pod leasing an address may find the host's
// route to it still there.
func (a *Attachment) Release() error {
	return a.Network.Release(a.Addrs(), a.Owner)
}

// ReleaseWhenLinkGone gives the leases back without waiting for the link
// to go, once the pod's last process has ended (and its rules are gone):
// they are held until the link Attach made is gone (Network.
// ReleaseWhenGone), which the kernel removes with the pod's network
// namespace in its own time, or never while something else holds the
// namespace (a process that entered it, a bind mount of it): then the
// link outlives the pod, and its addresses stay out of other pods' reach
// with it. An attachment whose link was never found has only its leases
// to give back.
func (a *Attachment) ReleaseWhenLinkGone() error {
	if a.HostIndex == 0 {
		return a.Release()
	}
	return a.Network.ReleaseWhenGone(a.Addrs(), a.Owner, a.HostIface, a.HostIndex)
}

// ConfigurePod configures the pod's end of its link from inside the pod's
// network namespace (stage1 run calls it from the thread that made the
// namespace, before it tells PID 1 the network is ready): addrs as its
// addresses (IPv4, IPv6 or both), usable at once (no duplicate address
// detection: the link has one other end, the host's, whose addresses are
// the gateways), and for each family a route to the gateway on the link
// and the default route through it.
func ConfigurePod(addrs, gateways Addrs) error {
	if addrs.IPv4.IsValid() != gateways.IPv4.IsValid() || addrs.IPv6.IsValid() != gateways.IPv6.IsValid() {
		return fmt.Errorf("pod network: addresses %v and gateways %v do not match", addrs, gateways)
	}
	if !addrs.IPv4.IsValid() && !addrs.IPv6.IsValid() {
		return errors.New("pod network: no address")
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("pod network: netlink: %w", err)
	}
	defer h.Close()
	// The link by its index alone: the pod's start waits for this, and
	// netlink would list (and netlink.LinkByName parse) its every
	// attribute.
	idx, err := linkIndex(PodInterface)
	if err != nil {
		return fmt.Errorf("pod network: %s: %w", PodInterface, err)
	}
	l := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: PodInterface, Index: idx}}
	if addrs.IPv6.IsValid() {
		// A namespace's links start from the kernel's defaults, but a host
		// may have them inherit its own (net.core.devconf_inherit_init_net).
		sys, err := openSysctls()
		if err != nil {
			return fmt.Errorf("pod network: %w", err)
		}
		err = sys.set(map[string]string{
			"ipv6/conf/" + PodInterface + "/disable_ipv6": "0",
			"ipv6/conf/" + PodInterface + "/accept_dad":   "0",
		})
		sys.close()
		if err != nil {
			return fmt.Errorf("pod network: %w", err)
		}
	}
	for _, a := range []netip.Addr{addrs.IPv4, addrs.IPv6} {
		if !a.IsValid() {
			continue
		}
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: hostNet(a), Flags: unix.IFA_F_NODAD}); err != nil {
			return fmt.Errorf("pod network: address %s on %s: %w", a, PodInterface, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("pod network: bring up %s: %w", PodInterface, err)
	}
	for _, p := range [][2]netip.Addr{{addrs.IPv4, gateways.IPv4}, {addrs.IPv6, gateways.IPv6}} {
		addr, gw := p[0], p[1]
		if !addr.IsValid() {
			continue
		}
		if err := h.RouteAdd(&netlink.Route{LinkIndex: idx, Dst: hostNet(gw), Src: addr.AsSlice(), Scope: netlink.SCOPE_LINK}); err != nil {
			return fmt.Errorf("pod network: route to the gateway %s: %w", gw, err)
		}
		def := &netlink.Route{LinkIndex: idx, Gw: gw.AsSlice(), Src: addr.AsSlice()}
		if addr.Is6() {
			def.Dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
		}
		if err := h.RouteAdd(def); err != nil {
			return fmt.Errorf("pod network: default route via %s: %w", gw, err)
		}
	}
	return nil
}

// linkIndex is the index of the link named name in the caller's network
// namespace (if_nametoindex: one ioctl, where netlink would list the
// link's every attribute).
func linkIndex(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return int(ifr.Uint32()), nil
}

// hostNet is a as a network of one address.
func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

// hostLinkSettings makes the host end iface of a pod's link deaf to what
// the pod could send to change the host's routes or addresses, before the
// link is up: router advertisements (a default route or a prefix the
// host would take an address from) and ICMP redirects (a route), and
// source-routed packets; and the host sends the pod no redirects of its
// own. With IPv6 on the link, it is enabled there (a host may disable it
// on new links by default) without duplicate address detection; without,
// it is disabled: the host end then has no IPv6 at all, not even a
// link-local address, and ignores every IPv6 packet the pod sends.
func (sys *sysctls) hostLinkSettings(iface string, ipv6 bool) error {
	s := map[string]string{
		"ipv4/conf/" + iface + "/accept_redirects":    "0",
		"ipv4/conf/" + iface + "/secure_redirects":    "0",
		"ipv4/conf/" + iface + "/send_redirects":      "0",
		"ipv4/conf/" + iface + "/accept_source_route": "0",
	}
	if sys.hasIPv6() {
		if ipv6 {
			for k, v := range map[string]string{
				"disable_ipv6":        "0",
				"accept_ra":           "0",
				"accept_redirects":    "0",
				"accept_source_route": "0",
				"accept_dad":          "0",
				"autoconf":            "0",
			} {
				s["ipv6/conf/"+iface+"/"+k] = v
			}
		} else {
			s["ipv6/conf/"+iface+"/disable_ipv6"] = "1"
		}
	}
	return sys.set(s)
}

// sysctls are /proc/sys/net of the caller's network namespace and its
// directories (ipv4, ipv6), each opened once, when first needed, for the
// settings of one attachment: the kernel keeps the entries of
// /proc/sys/net and of each directory in it once per network namespace
// under one name, and each lookup of one compares its way through every
// namespace's. With 200 pods (200 namespaces) on the host, each path
// looked up from /proc cost 50 to 150 us, and a pod's start looked up
// about 15; below the directories, the entries are the namespace's own.
type sysctls struct {
	net  int // /proc/sys/net
	dirs map[string]sysctlDir
}

// sysctlDir is a directory of /proc/sys/net as opened: its descriptor,
// or -1 and why it could not be opened (ENOENT: IPv6 on a kernel without).
type sysctlDir struct {
	fd  int
	err error
}

// openSysctls opens the caller's network namespace's /proc/sys/net; the
// caller closes it.
func openSysctls() (*sysctls, error) {
	fd, err := unix.Open("/proc/sys/net", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /proc/sys/net: %w", err)
	}
	return &sysctls{net: fd, dirs: map[string]sysctlDir{}}, nil
}

func (sys *sysctls) close() {
	for _, d := range sys.dirs {
		if d.fd >= 0 {
			unix.Close(d.fd)
		}
	}
	unix.Close(sys.net)
}

// dir is the directory name of /proc/sys/net, opened on first use.
func (sys *sysctls) dir(name string) sysctlDir {
	d, ok := sys.dirs[name]
	if !ok {
		fd, err := unix.Openat(sys.net, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		d = sysctlDir{fd: fd, err: err}
		if err != nil {
			d.fd = -1
		}
		sys.dirs[name] = d
	}
	return d
}

// hasIPv6 reports whether the kernel has IPv6 (not booted with
// ipv6.disable=1, or built without it): whether its directory is there.
// (A directory there that could not be opened makes the first setting
// in it fail, naming why.)
func (sys *sysctls) hasIPv6() bool { return !errors.Is(sys.dir("ipv6").err, unix.ENOENT) }

// open opens key (below /proc/sys/net: "ipv4/…" or "ipv6/…") from its
// directory.
func (sys *sysctls) open(key string, flags int) (int, error) {
	name, rest, _ := strings.Cut(key, "/")
	err := error(unix.ENOENT)
	if rest != "" {
		d := sys.dir(name)
		if err = d.err; err == nil {
			var fd int
			if fd, err = unix.Openat(d.fd, rest, flags|unix.O_CLOEXEC, 0); err == nil {
				return fd, nil
			}
		}
	}
	return -1, &fs.PathError{Op: "open", Path: "/proc/sys/net/" + key, Err: err}
}

// read returns the value of key, as the kernel prints it.
func (sys *sysctls) read(key string) ([]byte, error) {
	fd, err := sys.open(key, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	b := make([]byte, 64)
	n, err := unix.Read(fd, b)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: "/proc/sys/net/" + key, Err: err}
	}
	return b[:n], nil
}

// write sets key to v.
func (sys *sysctls) write(key, v string) error {
	fd, err := sys.open(key, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(v+"\n")); err != nil {
		return &fs.PathError{Op: "write", Path: "/proc/sys/net/" + key, Err: err}
	}
	return nil
}

// set writes each value to its key (below /proc/sys/net).
func (sys *sysctls) set(s map[string]string) error {
	for k, v := range s {
		if strings.HasSuffix(k, "/disable_ipv6") {
			// Writing it takes the kernel's rtnl lock, which every pod's
			// start and end contends for, even when the value does not
			// change: read first.
			if b, err := sys.read(k); err == nil && strings.TrimSpace(string(b)) == v {
				continue
			}
		}
		if err := sys.write(k, v); err != nil {
			return fmt.Errorf("set /proc/sys/net/%s to %s: %w", k, v, err)
		}
	}
	return nil
}

// enableForwarding turns on IPv4 and IPv6 forwarding (as asked) in the
// caller's network namespace, which pods need to reach each other and
// beyond the host. It writes only if forwarding is off.
//
// Turning IPv6 forwarding on makes the host a router: links whose
// accept_ra is 1 stop taking router advertisements (2 takes them while
// forwarding), as with any container network that forwards IPv6.
func (sys *sysctls) enableForwarding(ipv4, ipv6 bool) error {
	var keys []string
	if ipv4 {
		keys = append(keys, "ipv4/ip_forward")
	}
	if ipv6 {
		keys = append(keys, "ipv6/conf/all/forwarding")
	}
	for _, k := range keys {
		b, err := sys.read(k)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("read /proc/sys/net/%s: %w", k, err)
		}
		if len(b) > 0 && b[0] == '1' {
			continue
		}
		if err := sys.write(k, "1"); err != nil {
			return fmt.Errorf("enable forwarding (/proc/sys/net/%s): %w", k, err)
		}
	}
	return nil
}

// removeEndedLink removes the host end of the link of owner (a pod
// directory, named by the pod's UUID: HostInterface), a pod that ended
// without giving its addresses back (its stage1 killed with SIGKILL) and
// whose lease is being taken back, if the link is still there: the kernel
// removes it with the pod's network namespace, 2 to 40 ms after the pod's
// last process or never while something else holds the namespace, and
// until then the host's route to the address through it stays, and the
// next pod given the address would find it ("the host already has a
// route"). It is ours to remove: named for a pod that no stage1 runs, by
// acirun's prefix, and a veth pair, as Attach makes. Nothing is done for a
// link gone, or a name that another kind of link has.
func removeEndedLink(owner string) error {
	name := HostInterface(filepath.Base(owner))
	i, err := linkIndex(name)
	if errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s, the link of the ended pod %s: %w", name, owner, err)
	}
	l, err := netlink.LinkByIndex(i)
	if errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s, the link of the ended pod %s: %w", name, owner, err)
	}
	if l.Attrs().Name != name || l.Type() != "veth" {
		return nil
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("remove %s, the link of the ended pod %s: %w", name, owner, err)
	}
	return nil
}

// linkGone reports whether the link named name, of interface index index,
// is gone from the caller's network namespace: no link has that name, or
// one made since (another index) has it. A lookup that fails otherwise
// counts as the link still there: what waits for it waits longer, rather
// than an address being given out while its old route may remain.
func linkGone(name string, index int) bool {
	i, err := linkIndex(name)
	return errors.Is(err, unix.ENODEV) || (err == nil && i != index)
}
