package podcontract

import (
	"encoding/json"
	"path/filepath"

	"github.com/acirun/acirun/internal/atomicfile"
)

// Network is NetFile: where the pod is on a pod network, written by
// `stage1 run` before any app starts, read by stage0 for status.
type Network struct {
	Name          string          `json:"network"`            // the network, "default"
	Interface     string          `json:"interface"`          // the pod's end, in its namespace
	IP            string          `json:"ip,omitempty"`       // the pod's IPv4 address; none on an IPv6-only network
	Gateway       string          `json:"gateway,omitempty"`  // the host's IPv4 address on the link
	IP6           string          `json:"ip6,omitempty"`      // the pod's IPv6 address; none on an IPv4-only network
	Gateway6      string          `json:"gateway6,omitempty"` // the host's IPv6 address on the link
	HostInterface string          `json:"hostInterface"`      // the host's end
	Ports         []PublishedPort `json:"ports"`              // the ports actually published
	// Networks lists, for a pod on named networks (--net=NAME,…), its
	// place on each, in --net's order, as the network's plugins made it.
	// The fields above then describe the first: its name, the pod's
	// interface on it, the first address and gateway and host interface
	// its plugins gave, and every port published.
	Networks []NetworkAttachment `json:"networks,omitempty"`
}

// NetworkAttachment is a pod's place on one named network, from the result
// of the network's CNI plugins.
type NetworkAttachment struct {
	Name      string `json:"name"`      // the network's name
	Interface string `json:"interface"` // the pod's interface on it
	// IPs are the pod's addresses on it, with their prefix length
	// (10.88.0.2/16).
	IPs      []string `json:"ips"`
	Gateways []string `json:"gateways,omitempty"`
	// HostInterfaces are the links the plugins made or use on the host
	// (a bridge, the host end of a veth pair).
	HostInterfaces []string        `json:"hostInterfaces,omitempty"`
	Ports          []PublishedPort `json:"ports,omitempty"`
}

// PublishedPort is one app port published on the host.
type PublishedPort struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Host     string `json:"host"` // IP:PORT on the host
	Pod      string `json:"pod"`  // IP:PORT in the pod
}

// WriteNetwork writes n as podDir's NetFile, atomically and not synced
// (it describes a pod that does not outlive a boot).
func WriteNetwork(podDir string, n *Network) error {
	if n.Ports == nil {
		n.Ports = []PublishedPort{}
	}
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(podDir, NetFile), append(b, '\n'), atomicfile.Options{NoSync: true})
}

// ParseNetwork decodes a NetFile.
func ParseNetwork(b []byte) (*Network, error) {
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	return &n, nil
}
