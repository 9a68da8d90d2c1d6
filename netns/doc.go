// Package netns gives a pod a network of its own: a point-to-point link
// from the host to the pod's network namespace (a veth pair), an address
// leased from the network's subnet, the routes on both ends, source NAT for
// what the pod sends beyond the host, and the pod's ports published on host
// addresses.
//
// The default network is rkt's: 172.16.28.0/24, the first address the
// gateway. Every pod's host end carries the gateway address and a route to
// the pod's one address, so that pods reach the host at the gateway, each
// other through the host, and the world through the host's NAT; the host
// reaches each pod at its address.
//
// Both sides of acirun use it: the pod's supervisor on the host (stage1
// run) leases the address, makes the veth pair with its pod end inside the
// pod's namespace, and publishes the ports; a thread of its own already in
// that namespace (the one PID 1 is forked from) configures the pod end
// with ConfigurePod. Nothing here ever enters another namespace.
package netns
