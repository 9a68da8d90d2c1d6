package netns

import (
	"fmt"
	"net/netip"
)

// PortMap is one published port: what arrives at Host goes on to Pod, with
// its destination translated by the kernel (Firewall.Install), so that the
// app sees the client's own address. An unspecified Host address is every
// address of the host of its family, loopback included.
type PortMap struct {
	Name     string // the app's name for the port
	Protocol string // "tcp" or "udp"
	Host     netip.AddrPort
	Pod      netip.AddrPort
	// Implicit: published because the app declares the port, not because
	// the pod asked for it; a host port already in use is then a warning,
	// not an error.
	Implicit bool
}

// String says what the map does, for logs: "http (tcp) 127.0.0.1:8080 -> 172.16.28.2:8080".
func (m PortMap) String() string {
	return fmt.Sprintf("%s (%s) %s -> %s", m.Name, m.Protocol, m.Host, m.Pod)
}
