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
	"github.com/acirun/acirun/netns/cni"
	stage1 "github.com/acirun/acirun/stage1-systemd"
)

// cniTimeout bounds the plugins of a pod's named networks, at its start
// and at its end.
const cniTimeout = time.Minute

// cniConfig is where the CNI networks, their plugins and the state of the
// host's attachments are for a stage1 with options o: the configurations
// in --net-config-dir, the state in RUN-DIR/cni.
func cniConfig(o *options) cni.Config {
	return cni.Config{ConfDir: o.NetConfigDir, PluginDirs: cni.DefaultPluginDirs(),
		StateDir: filepath.Join(o.RunDir, "cni"), Stderr: os.Stderr}
}

// cniRequests finds the pod's named networks (--net=NAME,…) and checks
// their plugins, before anything is started: an unknown network, a
// configuration that is no valid one and a missing plugin are errors
// naming them. Each network gets an interface of its own (eth0, eth1, …),
// the address asked for with IP=, and the first network with a plugin of
// the portMappings capability gets the pod's ports. A port named by
// --port that no network can publish is an error.
func cniRequests(o *options, spec *stage1.CheckedPod) (cni.Config, []cni.Request, error) {
	cfg := cniConfig(o)
	named, err := podcontract.ParseNet(o.Net)
	if err != nil || len(named) == 0 {
		return cfg, nil, err
	}
	if o.NetConfigDir == "" {
		return cfg, nil, fmt.Errorf("--net=%s: no --net-config-dir to find the networks in", o.Net)
	}
	var reqs []cni.Request
	portsGiven := false
	for i, nr := range named {
		n, err := cfg.Find(nr.Name, podcontract.IsBuiltinNet)
		if err != nil {
			return cfg, nil, err
		}
		r := cni.Request{Network: n, IfName: podcontract.PodInterfaceName(i), Args: nr.Args, IP: nr.IP()}
		if !portsGiven && n.HasCapability(cni.CapPortMappings) {
			r.Ports, portsGiven = cniPortMappings(spec.Ports, o.Publish), true
		}
		reqs = append(reqs, r)
	}
	if !portsGiven {
		for _, p := range spec.Ports {
			if p.Explicit {
				return cfg, nil, fmt.Errorf("port %s is to be published (--port), and no plugin of --net=%s has the portMappings capability "+
					"(a portmap plugin with \"capabilities\": {\"portMappings\": true})", p.Name, o.Net)
			}
		}
	}
	return cfg, reqs, nil
}

// cniPortMappings are the pod's ports as the portMappings capability
// takes them: each on its host port, on the host address --port named,
// else where publish (--publish) says: on every host address (all), on
// 127.0.0.1 (loopback) or not at all (none).
func cniPortMappings(ports []stage1.Port, publish string) []cni.PortMapping {
	var maps []cni.PortMapping
	for _, p := range ports {
		if !p.Explicit && publish == podcontract.PublishNone {
			continue
		}
		for i := uint(0); i < p.Count; i++ {
			name := p.Name
			if p.Count > 1 {
				name += "+" + strconv.Itoa(int(i))
			}
			m := cni.PortMapping{Name: name, HostPort: int(p.HostPort + i), ContainerPort: int(p.Port + i), Protocol: p.Protocol}
			switch {
			case p.Explicit && p.HostIP.IsValid() && !p.HostIP.IsUnspecified():
				m.HostIP = p.HostIP.String()
			case !p.Explicit && publish == podcontract.PublishLoopback:
				m.HostIP = "127.0.0.1"
			}
			maps = append(maps, m)
		}
	}
	return maps
}

// attachCNI puts the pod whose PID 1 is pid on its named networks and
// writes its network record. On error nothing is left behind.
func attachCNI(ctx context.Context, cfg cni.Config, reqs []cni.Request, spec *stage1.CheckedPod, podDir string, pid int) (*cni.Pod, *podcontract.Network, error) {
	p, err := cfg.Attach(ctx, spec.UUID, podDir, pid, reqs)
	if err != nil {
		return nil, nil, err
	}
	nf := cniRecord(p)
	if err := podcontract.WriteNetwork(podDir, nf); err != nil {
		err = fmt.Errorf("pod network: %w", err)
		if derr := p.Detach(context.WithoutCancel(ctx)); derr != nil {
			err = fmt.Errorf("%w (and detaching it: %v)", err, derr)
		}
		return nil, nil, err
	}
	return p, nf, nil
}

// cniRecord is the network record (net.json) of a pod on named networks:
// each network's interface, addresses, gateways, host links and ports,
// from its plugins' result, and the first network at the top (its first
// IPv4 and IPv6 address, with their gateways).
func cniRecord(p *cni.Pod) *podcontract.Network {
	nf := &podcontract.Network{}
	for _, a := range p.Attachments {
		na := podcontract.NetworkAttachment{Name: a.Network.Name, Interface: a.IfName, IPs: []string{}}
		var podAddrs []netip.Addr
		for _, ipc := range a.Result.IPs {
			// Addresses of other interfaces than the pod's one (a
			// plugin's own on the host) are not the pod's.
			if ipc.Interface != nil && *ipc.Interface >= 0 && *ipc.Interface < len(a.Result.Interfaces) &&
				a.Result.Interfaces[*ipc.Interface].Sandbox == "" {
				continue
			}
			na.IPs = append(na.IPs, ipc.Address.String())
			if ip, ok := netip.AddrFromSlice(ipc.Address.IP); ok {
				podAddrs = append(podAddrs, ip.Unmap())
			}
			if ipc.Gateway != nil {
				na.Gateways = append(na.Gateways, ipc.Gateway.String())
			}
		}
		for _, i := range a.Result.Interfaces {
			if i.Sandbox == "" {
				na.HostInterfaces = append(na.HostInterfaces, i.Name)
			}
		}
		for _, m := range a.Ports {
			host := m.HostIP
			if host == "" {
				host = "0.0.0.0"
			}
			pp := podcontract.PublishedPort{Name: m.Name, Protocol: m.Protocol,
				Host: netip.AddrPortFrom(netip.MustParseAddr(host), uint16(m.HostPort)).String()}
			if len(podAddrs) > 0 {
				pp.Pod = netip.AddrPortFrom(podAddrs[0], uint16(m.ContainerPort)).String()
			}
			na.Ports = append(na.Ports, pp)
		}
		if len(nf.Networks) == 0 {
			nf.Name, nf.Interface = na.Name, na.Interface
			for _, ipc := range a.Result.IPs {
				ip, ok := netip.AddrFromSlice(ipc.Address.IP)
				if !ok || !slices.Contains(podAddrs, ip.Unmap()) {
					continue
				}
				gw := ""
				if ipc.Gateway != nil {
					gw = ipc.Gateway.String()
				}
				if ip = ip.Unmap(); ip.Is4() && nf.IP == "" {
					nf.IP, nf.Gateway = ip.String(), gw
				} else if ip.Is6() && nf.IP6 == "" {
					nf.IP6, nf.Gateway6 = ip.String(), gw
				}
			}
			if len(na.HostInterfaces) > 0 {
				nf.HostInterface = na.HostInterfaces[len(na.HostInterfaces)-1]
			}
		}
		nf.Ports = append(nf.Ports, na.Ports...)
		nf.Networks = append(nf.Networks, na)
	}
	return nf
}
