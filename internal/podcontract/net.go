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
