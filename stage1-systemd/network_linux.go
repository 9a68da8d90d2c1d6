package stage1

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/netns"
)

// networkTimeout bounds the wait for the lease lock of a pod network.
const networkTimeout = 30 * time.Second

// podNetwork is what `stage1 run` keeps on the host for a pod on the
// default network: its link and lease, and its published ports.
type podNetwork struct {
	att *netns.Attachment
	pub *netns.Publisher
}

// hostInterface names the host end of the pod's link: "ac-" and the first
// 12 hex digits of its UUID, within the kernel's 15 bytes.
func hostInterface(uuid string) string {
	h := strings.ReplaceAll(uuid, "-", "")
	if len(h) > 12 {
		h = h[:12]
	}
	return "ac-" + h
}

// portMaps is where each of the pod's ports is published on the host,
// given the pod's address.
func portMaps(ports []portSpec, pod netip.Addr) []netns.PortMap {
	var maps []netns.PortMap
	for _, p := range ports {
		for i := uint(0); i < p.count; i++ {
			name := p.name
			if p.count > 1 {
				name += "+" + strconv.Itoa(int(i))
			}
			maps = append(maps, netns.PortMap{
				Name:     name,
				Protocol: p.protocol,
				Host:     netip.AddrPortFrom(p.hostIP, uint16(p.hostPort+i)),
				Pod:      netip.AddrPortFrom(pod, uint16(p.port+i)),
				Implicit: !p.explicit,
			})
		}
	}
	return maps
}

// attachNetwork puts the pod whose PID 1 is pid on the default network and
// publishes its ports. It returns warnings about ports the apps declare
// that could not be published on the host's loopback. On error nothing is
// left behind.
func attachNetwork(ctx context.Context, o *podOptions, spec *podSpec, podDir string, pid int) (*podNetwork, []string, error) {
	n := netns.Default(filepath.Join(o.RunDir, "net"))
	// A lease's owner is a pod directory; it still needs its address while
	// its stage1 holds the pod's lock.
	att, err := n.Attach(ctx, podDir, podcontract.Running, hostInterface(spec.uuid), pid)
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	if att.NATError != nil {
		warnings = append(warnings, fmt.Sprintf("WARNING: %v", att.NATError))
	}
	maps := portMaps(spec.ports, att.Addr)
	pub, portWarnings, err := netns.Publish(maps, func(format string, args ...any) {
		debugf(o, format, args...)
	})
	warnings = append(warnings, portWarnings...)
	if err != nil {
		att.Detach()
		return nil, nil, err
	}
	pn := &podNetwork{att: att, pub: pub}
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
	for _, m := range pub.Published() {
		nf.Ports = append(nf.Ports, podcontract.PublishedPort{Name: m.Name, Protocol: m.Protocol, Host: m.Host.String(), Pod: m.Pod.String()})
	}
	if err := podcontract.WriteNetwork(podDir, nf); err != nil {
		pn.close()
		return nil, nil, fmt.Errorf("pod network: %w", err)
	}
	return pn, warnings, nil
}

// close stops publishing the ports, removes the link and gives the address
// back.
func (pn *podNetwork) close() error {
	pn.pub.Close()
	return pn.att.Detach()
}
