package podcontract

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// builtinNets are the networks acirun makes itself, which no named network
// (a CNI configuration in LOCAL-CONFIG/net.d) can stand for: --net=default
// keeps meaning the built-in one whatever net.d holds.
var builtinNets = [...]string{NetDefault, NetDefaultRestricted, NetHost, NetNone}

// IsBuiltinNet reports whether name is one of acirun's own networks
// (default, default-restricted, host, none) rather than a named one.
func IsBuiltinNet(name string) bool {
	for _, b := range builtinNets {
		if name == b {
			return true
		}
	}
	return false
}

// NetArgIP is the argument of a named network that asks for an address
// (--net=NAME:IP=ADDR), passed on as CNI_ARGS IP=ADDR and as the "ips"
// capability, so that an IPAM plugin that allows it (host-local, static)
// gives the pod that address.
const NetArgIP = "IP"

// NetRequest is one named network of --net, rkt's
// NAME[:ARG=VALUE[;ARG=VALUE]...]: the network's name in its configuration
// (the "name" of a CNI configuration list) and the arguments its plugins
// get as CNI_ARGS, in the order given.
type NetRequest struct {
	Name string
	Args [][2]string
}

// IP is the address asked for with IP=, or the zero Addr.
func (r NetRequest) IP() netip.Addr {
	for _, a := range r.Args {
		if a[0] == NetArgIP {
			ip, _ := netip.ParseAddr(a[1]) // ParseNet checked it
			return ip
		}
	}
	return netip.Addr{}
}

// String is r as --net takes it.
func (r NetRequest) String() string {
	if len(r.Args) == 0 {
		return r.Name
	}
	kv := make([]string, len(r.Args))
	for i, a := range r.Args {
		kv[i] = a[0] + "=" + a[1]
	}
	return r.Name + ":" + strings.Join(kv, ";")
}

// PodInterfaceName is the pod's interface on the i-th (from 0) of its named
// networks: eth0, eth1, … in --net's order, as rkt named them.
func PodInterfaceName(i int) string { return "eth" + strconv.Itoa(i) }

// maxNamedNets bounds the named networks of one pod: each is an interface
// in the pod and a run of plugins at every start and stop.
const maxNamedNets = 16

// ParseNet parses the value of --net: one of the built-in networks
// (default, default-restricted, host, none), for which it returns no
// request, or a comma-separated list of named networks, each
// NAME[:ARG=VALUE[;ARG=VALUE]...]. NAME is a CNI network name (a letter or
// digit, then letters, digits, '_', '.', '-'); an argument's name is
// letters, digits and '_', its value anything but ',', ';' and control
// characters, and IP= must be one IPv4 or IPv6 address. A built-in network
// cannot be listed with others, nor a network twice.
func ParseNet(s string) ([]NetRequest, error) {
	if IsBuiltinNet(s) {
		return nil, nil
	}
	if s == "" {
		return nil, fmt.Errorf("empty network: want default, default-restricted, host, none or the names of networks in net.d")
	}
	var reqs []NetRequest
	for _, item := range strings.Split(s, ",") {
		r, err := parseNetItem(item)
		if err != nil {
			return nil, err
		}
		for _, o := range reqs {
			if o.Name == r.Name {
				return nil, fmt.Errorf("network %s is named twice", r.Name)
			}
		}
		reqs = append(reqs, r)
	}
	if len(reqs) > maxNamedNets {
		return nil, fmt.Errorf("%d networks: a pod may be on %d at most", len(reqs), maxNamedNets)
	}
	return reqs, nil
}

// builtinInList is the refusal of the built-in network name in a --net
// list, or given arguments (hasArgs), saying what to do instead. A pod on
// the default network and a named one at once, as rkt allowed, is not
// offered: the default network's leases, rules and teardown are stage1's
// own, apart from CNI's; a bridge network with NAT in net.d gives the same.
func builtinInList(name string, hasArgs bool) error {
	switch {
	case hasArgs:
		return fmt.Errorf("network %s is built in and takes no arguments: ARG=VALUE (IP=, …) is for the named networks of net.d", name)
	case name == "default" || name == "default-restricted":
		return fmt.Errorf("network %s is built in and cannot be listed with named networks: to be on a NAT'd network and another at once, "+
			"configure a bridge network with ipMasq in net.d (README, Named networks) and list both, --net=BRIDGE,NAME", name)
	default:
		return fmt.Errorf("network %s cannot be listed with other networks: give --net=%s alone, or only named networks", name, name)
	}
}

// parseNetItem parses one NAME[:ARG=VALUE[;ARG=VALUE]...] of a list.
func parseNetItem(item string) (NetRequest, error) {
	name, args, hasArgs := strings.Cut(item, ":")
	if name == "" {
		return NetRequest{}, fmt.Errorf("%q: a network without a name: want NAME[:ARG=VALUE[;ARG=VALUE]...], comma-separated", item)
	}
	if IsBuiltinNet(name) {
		return NetRequest{}, builtinInList(name, hasArgs)
	}
	if !ValidNetworkName(name) {
		return NetRequest{}, fmt.Errorf("network name %q: want a letter or digit, then letters, digits, '_', '.' or '-'", name)
	}
	r := NetRequest{Name: name}
	if !hasArgs {
		return r, nil
	}
	if args == "" {
		return NetRequest{}, fmt.Errorf("network %s: nothing after ':': want ARG=VALUE, several separated by ';'", name)
	}
	for _, kv := range strings.Split(args, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return NetRequest{}, fmt.Errorf("network %s: argument %q: want ARG=VALUE", name, kv)
		}
		if strings.ContainsFunc(k, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_')
		}) {
			return NetRequest{}, fmt.Errorf("network %s: argument name %q: want letters, digits and '_'", name, k)
		}
		if strings.ContainsFunc(v, func(c rune) bool { return c < ' ' || c == 0x7f }) {
			return NetRequest{}, fmt.Errorf("network %s: argument %s: control characters in its value", name, k)
		}
		for _, o := range r.Args {
			if o[0] == k {
				return NetRequest{}, fmt.Errorf("network %s: argument %s is given twice", name, k)
			}
		}
		if k == NetArgIP {
			ip, err := netip.ParseAddr(v)
			if err != nil || ip.Zone() != "" || ip.Is4In6() || ip.IsUnspecified() {
				return NetRequest{}, fmt.Errorf("network %s: IP=%s: want one IPv4 or IPv6 address", name, v)
			}
			v = ip.String()
		}
		r.Args = append(r.Args, [2]string{k, v})
	}
	return r, nil
}

// FormatNet is the --net value of reqs, which ParseNet reads back as reqs.
func FormatNet(reqs []NetRequest) string {
	s := make([]string, len(reqs))
	for i, r := range reqs {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

// ValidNetworkName reports whether name is a network name CNI accepts
// (libcni's ValidateNetworkName): a letter or digit, then letters, digits,
// '_', '.' or '-'. It is that rule spelled out rather than libcni's call,
// whose package compiles a regular expression and links net and the
// regexp tables into every binary that parses the flags of a start, the
// pod's PID 1 among them; FuzzValidNetworkName holds it to libcni's.
func ValidNetworkName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return name != ""
}
