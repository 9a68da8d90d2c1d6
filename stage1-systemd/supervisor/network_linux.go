package supervisor

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/netns"
	stage1 "github.com/acirun/acirun/stage1-systemd"
)

// networkTimeout bounds the wait for the lease lock of a pod network.
const networkTimeout = 30 * time.Second

// podNetwork is what `stage1 run` keeps on the host for a pod on the
// default network: its link and lease, and its rules in acirun's nftables
// table (published ports, anti-spoofing, restriction).
type podNetwork struct {
	att          *netns.Attachment
	fw           netns.Firewall
	uuid         string
	ports        []netns.PortMap // the ports published
	rules        bool            // the pod has rules of its own in the table (netns.Published.Rules)
	swept        chan struct{}   // closed when sweep is done; nil before sweep
	published    chan struct{}   // closed when sweep has put the ports into the socket path; nil if it does not
	rulesRemoved chan error      // removeRules's result, once it has started
}

// portMaps is where each of the pod's ports is published on the host,
// given the pod's addresses and where declared ports go (publish, one of
// podcontract's Publish*): a port the pod manifest names goes to its host
// address, or to every host address when it names none; another one
// follows publish. "Every address" and "loopback" are both families', for
// each of which the pod has an address.
func portMaps(ports []stage1.Port, pod []netip.Addr, publish string) []netns.PortMap {
	var maps []netns.PortMap
	for _, p := range ports {
		var hosts []netip.Addr
		switch {
		case p.HostIP.IsValid():
			hosts = []netip.Addr{p.HostIP}
		case p.Explicit || publish == podcontract.PublishAll:
			hosts = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
		case publish == podcontract.PublishLoopback:
			hosts = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}
		}
		for _, h := range hosts {
			i := slices.IndexFunc(pod, func(a netip.Addr) bool { return a.Is4() == h.Is4() })
			if i < 0 {
				continue
			}
			for j := uint(0); j < p.Count; j++ {
				name := p.Name
				if p.Count > 1 {
					name += "+" + strconv.Itoa(int(j))
				}
				maps = append(maps, netns.PortMap{
					Name:     name,
					Protocol: p.Protocol,
					Host:     netip.AddrPortFrom(h, uint16(p.HostPort+j)),
					Pod:      netip.AddrPortFrom(pod[i], uint16(p.Port+j)),
					Implicit: !p.Explicit,
				})
			}
		}
	}
	return maps
}

// attachResult is what attachNetworkTo did.
type attachResult struct {
	pn       *podNetwork
	warnings []string
	err      error
}

// attachNetworkTo is attachNetwork into the network namespace thread made
// for the pod, within networkTimeout, and the pod's end of the link
// configured from the thread (netns.ConfigurePod), all while PID 1 starts:
// PID 1 finds eth0 ready.
func attachNetworkTo(o *options, spec *stage1.CheckedPod, podDir string, thread *podThread) attachResult {
	tid, err := thread.tid()
	if err != nil {
		return attachResult{err: err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), networkTimeout)
	defer cancel()
	pn, warnings, err := attachNetwork(ctx, o, spec, podDir, tid)
	if err != nil {
		return attachResult{err: err}
	}
	if err := thread.do(func() error { return netns.ConfigurePod(pn.att.Addrs(), pn.att.Gateways()) }); err != nil {
		pn.fw.Remove(ctx, spec.UUID)
		pn.att.Detach()
		return attachResult{err: err}
	}
	return attachResult{pn, warnings, nil}
}

// attachNetwork puts the pod whose network namespace is pid's (the thread
// that made it, or its PID 1) on the default network and
// publishes its ports. It returns warnings about ports the apps declare
// that could not be published, and about a host firewall in the way. On
// error nothing is left behind.
func attachNetwork(ctx context.Context, o *options, spec *stage1.CheckedPod, podDir string, pid int) (_ *podNetwork, _ []string, err error) {
	leases := filepath.Join(o.RunDir, "net")
	n := netns.Default(leases)
	// The host's network.d may set other subnets, or none of a family;
	// ParseRunFlags has checked both.
	if o.Subnet != "" {
		n.Subnet, _ = podcontract.ParseSubnet(o.Subnet, false)
	}
	if o.Subnet6 != "" {
		n.Subnet6, _ = podcontract.ParseSubnet(o.Subnet6, true)
	}
	// A lease's owner is a pod directory; it still needs its address while
	// its stage1 holds the pod's lock.
	att, err := n.Attach(ctx, podDir, podcontract.Running, netns.HostInterface(spec.UUID), pid)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			att.Detach()
		}
	}()
	var warnings []string
	if att.NATError != nil {
		warnings = append(warnings, fmt.Sprintf("WARNING: %v", att.NATError))
	}
	pn := &podNetwork{att: att, fw: netns.DefaultFirewall(leases), uuid: spec.UUID}
	addrs, gateways := valid(att.Addrs()), valid(att.Gateways())
	maps, reserved, err := withoutMetadataPort(portMaps(spec.Ports, addrs, o.Publish), gateways)
	if err != nil {
		return nil, nil, fmt.Errorf("pod network: %w", err)
	}
	warnings = append(warnings, reserved...)
	rules := netns.PodRules{
		UUID: spec.UUID, Owner: podDir, HostIndex: att.HostIndex, HostIface: att.HostIface,
		Gateways: gateways, Ports: maps,
		Restricted: o.Net == podcontract.NetDefaultRestricted,
		Gone:       att.TookBackFrom,
	}
	pub, err := pn.fw.Install(ctx, rules, podcontract.Running)
	switch {
	case err != nil && att.NATError != nil && !rules.Restricted && !slices.ContainsFunc(rules.Ports, func(m netns.PortMap) bool { return !m.Implicit }):
		// No nftables at all (Attach could not masquerade either): the
		// pod runs on its link alone, as the warning above says, and
		// this one says what else it lacks. A pod that asked for a
		// port or for restriction is refused instead.
		warnings = append(warnings, fmt.Sprintf("WARNING: no firewall rules for the pod (no port published, no anti-spoofing on its link): %v", err))
		pub = &netns.Published{}
	case err != nil:
		return nil, nil, fmt.Errorf("pod network: %w", err)
	}
	pn.ports, pn.rules = pub.Ports, pub.Rules
	warnings = append(warnings, pub.Warnings...)
	if att.IPv6Error != nil {
		warnings = append(warnings, fmt.Sprintf("WARNING: %v", att.IPv6Error))
	}
	nf := &podcontract.Network{Name: n.Name, Interface: netns.PodInterface, HostInterface: att.HostIface}
	if att.Addr.IsValid() {
		nf.IP, nf.Gateway = att.Addr.String(), att.Gateway.String()
	}
	if att.Addr6.IsValid() {
		nf.IP6, nf.Gateway6 = att.Addr6.String(), att.Gateway6.String()
	}
	for _, m := range pub.Ports {
		nf.Ports = append(nf.Ports, podcontract.PublishedPort{Name: m.Name, Protocol: m.Protocol, Host: m.Host.String(), Pod: m.Pod.String()})
	}
	if err := podcontract.WriteNetwork(podDir, nf); err != nil {
		pn.fw.Remove(context.Background(), spec.UUID)
		return nil, nil, fmt.Errorf("pod network: %w", err)
	}
	return pn, warnings, nil
}

// withoutMetadataPort leaves out the maps that would publish TCP port
// metadataPort on every host address or on a gateway: that is where every
// pod's metadata service listens, and a DNAT of it would hand other pods'
// metadata requests, tokens and all, to this pod. A declared port is left
// out with a warning; one the pod asked for (--port) is an error.
func withoutMetadataPort(maps []netns.PortMap, gateways []netip.Addr) (keep []netns.PortMap, warnings []string, err error) {
	for _, m := range maps {
		a := m.Host.Addr()
		if m.Protocol != "tcp" || m.Host.Port() != metadataPort || !(a.IsUnspecified() || slices.Contains(gateways, a)) {
			keep = append(keep, m)
			continue
		}
		what := fmt.Sprintf("port %s (tcp) on %s: the host's port %d is the pods' metadata service's", m.Name, m.Host.Addr(), metadataPort)
		if !m.Implicit {
			return nil, nil, fmt.Errorf("publish %s; ask for another host port (--port=%s:HOSTPORT)", what, m.Name)
		}
		warnings = append(warnings, "WARNING: not published: "+what)
	}
	return keep, warnings, nil
}

// valid lists the addresses of a that are set, IPv4 first.
func valid(a netns.Addrs) []netip.Addr {
	var l []netip.Addr
	for _, x := range []netip.Addr{a.IPv4, a.IPv6} {
		if x.IsValid() {
			l = append(l, x)
		}
	}
	return l
}

// sweep puts the pod's published ports into the socket path, with
// publish (netns.Firewall.PublishSockets: the set-up of its programs is no
// part of the start, the rules translate meanwhile; removeRules waits for
// it), and takes out of the firewall, in the background, the rules of the
// pods that are no longer alive, which a stage1 killed with SIGKILL
// leaves: run calls it once PID 1 has said whether the apps started, and
// detach, without publish, if run did not.
// Install removes only those in the pod's way (of its UUID, or holding a
// port it publishes), so that no pod's start waits for a look at every
// pod's owner; this is the rest of that look, where the start no longer
// waits for it. detach waits for it to end. Errors are printed: the next
// start or acirun gc tries again.
func (pn *podNetwork) sweep(o *options, publish bool) {
	pn.swept = make(chan struct{})
	published := make(chan struct{})
	publish = pn.publishesSockets(publish)
	if publish {
		pn.published = published
	}
	go func() {
		defer close(pn.swept)
		ctx, cancel := context.WithTimeout(context.Background(), networkTimeout)
		defer cancel()
		if publish {
			debugf(o, "%s", pn.fw.PublishSockets(ctx, pn.uuid, pn.ports))
		}
		close(published)
		if _, err := pn.fw.RemoveStale(ctx, podcontract.Running); err != nil {
			fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
		}
	}()
}

// publishesSockets says whether sweep, asked to publish, puts the pod's
// ports into the socket path: not without ports, and not once removeRules
// has started, whose Remove would not wait for it (PID 1 may say the apps
// started after it said the pod is down: run takes both as they come).
func (pn *podNetwork) publishesSockets(publish bool) bool {
	return publish && len(pn.ports) > 0 && pn.rulesRemoved == nil
}

// removeRules starts taking the pod's rules out of acirun's table, once;
// detach waits for it. run calls it as soon as nothing of the pod runs but
// PID 1 (podcontract.ControlDown), and detach again (for a PID 1 that
// died without saying so). The kernel frees removed rules only after an
// RCU grace period, and closing the socket that removed them waits for it
// (5 to 25 ms here): that wait then passes while the kernel ends PID 1,
// not after. The link is still there meanwhile, but nothing is left in
// the pod to send through it; the pod's addresses are given back once the
// rules are gone (detach). A pod without rules
// of its own (no port published, not restricted) has nothing to remove,
// and does not even look: its link's removal then waits for no lock of
// nftables that the closing of such a socket holds.
func (pn *podNetwork) removeRules() {
	if pn.rulesRemoved != nil {
		return
	}
	published := pn.published
	done := make(chan error, 1)
	pn.rulesRemoved = done
	if !pn.rules {
		done <- nil
		return
	}
	go func() {
		if published != nil {
			<-published // the ports sweep put into the socket path go with the rules
		}
		ctx, cancel := context.WithTimeout(context.Background(), networkTimeout)
		defer cancel()
		done <- pn.fw.Remove(ctx, pn.uuid)
	}()
}

// detach takes the pod off its network once its PID 1 is gone: its rules
// (removeRules), then its addresses, given back on condition of its link
// (netns.Attachment.ReleaseWhenLinkGone): they stay out of other pods'
// reach until the kernel has removed the link, and the host's route to
// the pod with it, with the pod's network namespace, and the next pod's
// attach or acirun gc takes them back then. The pod's end does not wait
// for that removal, done by the machine's one namespace-cleanup work (2 to
// 40 ms, rcu_barrier; never while something else holds the namespace).
// Rules that could not be removed keep the addresses the pod's until its
// stage1 has exited: then they are taken back as a killed pod's are, with
// its rules (netns.PodRules.Gone). It waits for sweep too (started here if
// run did not: a pod that ended before PID 1 said whether its apps
// started). Errors are printed.
func (pn *podNetwork) detach(o *options) {
	if pn.swept == nil {
		pn.sweep(o, false)
	}
	pn.removeRules()
	err := <-pn.rulesRemoved
	if err == nil {
		err = pn.att.ReleaseWhenLinkGone()
	}
	<-pn.swept
	if err != nil {
		fmt.Fprintf(os.Stderr, "acirun stage1 run: %v\n", err)
	}
	o.trace.Step("network detached")
}
