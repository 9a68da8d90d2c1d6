// Package cni puts a pod on named networks through the standard CNI
// plugins (containernetworking-plugins: bridge, host-local, portmap,
// macvlan, ptp, firewall, …), from configurations in the CNI format in one
// directory (acirun's LOCAL-CONFIG/net.d), so that an existing CNI setup
// works unchanged. It drives the plugins with the CNI project's own
// library, libcni: configuration loading, ADD and DEL, and the cache of
// each attachment's configuration and result, which lets a DEL run after
// the process that made the ADD was killed.
//
// The pod's supervisor on the host (stage1 run) attaches the pod once its
// network namespace exists, and detaches it when the pod ends. What a
// supervisor killed with SIGKILL leaves (the plugins' links, address
// leases and rules, kept alive by a bind mount of the pod's network
// namespace) is detached by ReleaseStale, which the next pod start and
// acirun gc call. Like its parent netns, it knows nothing of pods beyond
// an ID, an owner and a process.
package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/utils"
	"github.com/containernetworking/cni/pkg/version"
)

// DefaultPluginDirs are where the plugins are looked for, in order:
// Debian's containernetworking-plugins, then the CNI project's own
// install location, where an existing setup keeps its plugins.
func DefaultPluginDirs() []string { return []string{"/usr/lib/cni", "/opt/cni/bin"} }

// pluginPackage is the Debian package of the standard plugins.
const pluginPackage = "containernetworking-plugins"

// standardPlugins are the plugins pluginPackage provides, so that an error
// about a missing one can say what to install.
var standardPlugins = [...]string{"bandwidth", "bridge", "dhcp", "firewall", "host-device", "host-local",
	"ipvlan", "loopback", "macvlan", "portmap", "ptp", "sbr", "static", "tuning", "vlan", "vrf", "dummy", "tap"}

// Config says where the networks, the plugins and the state of their
// attachments are.
type Config struct {
	// ConfDir holds the networks' configurations: *.conflist (a network
	// of one or more plugins) and *.conf or *.json (a network of one
	// plugin), each named by its "name".
	ConfDir string
	// PluginDirs are searched for the plugins' executables, in order
	// (DefaultPluginDirs).
	PluginDirs []string
	// StateDir holds what an attachment needs to be undone: libcni's
	// cache of configurations and results (cache/) and, per pod, a bind
	// mount of its network namespace and its owner (pods/ID/). It should
	// not outlive a boot (RUN-DIR/cni), as the namespaces do not.
	StateDir string
	// Stderr receives what the plugins write on their standard error;
	// nil discards it.
	Stderr io.Writer
	// crashAt is told each step of an Attach (crashpoint.go); only the
	// package's tests set it.
	crashAt func(attachStep)
}

// Network is a named network: its configuration and the file it is from.
type Network struct {
	Name string
	File string
	List *libcni.NetworkConfigList
}

// Networks reads every network configuration in ConfDir, in the order
// libcni looks for a name (*.conflist, then *.conf and *.json, each sorted
// by file name); where two files name one network, the first is it. A file
// that cannot be read, is no valid configuration, or names a network that
// --net cannot ask for (one of acirun's own, isBuiltin) is an error naming
// it: a network meant to be used would otherwise be missing without a
// word.
func (c Config) Networks(isBuiltin func(string) bool) ([]*Network, error) {
	lists, err := libcni.ConfFiles(c.ConfDir, []string{".conflist"})
	if err != nil {
		return nil, fmt.Errorf("network configurations in %s: %w", c.ConfDir, err)
	}
	singles, err := libcni.ConfFiles(c.ConfDir, []string{".conf", ".json"})
	if err != nil {
		return nil, fmt.Errorf("network configurations in %s: %w", c.ConfDir, err)
	}
	sort.Strings(lists)
	sort.Strings(singles)
	var nets []*Network
	for _, f := range append(lists, singles...) {
		list, err := loadFile(f)
		if err != nil {
			return nil, fmt.Errorf("network configuration %s: %w", f, err)
		}
		if err := utils.ValidateNetworkName(list.Name); err != nil {
			return nil, fmt.Errorf("network configuration %s: network name %q: want a letter or digit, then letters, digits, '_', '.' or '-'", f, list.Name)
		}
		if isBuiltin(list.Name) {
			return nil, fmt.Errorf("network configuration %s: %q is the name of acirun's own network, which --net=%s always means: rename the network", f, list.Name, list.Name)
		}
		if _, err := version.GreaterThanOrEqualTo(list.CNIVersion, "0.1.0"); err != nil {
			return nil, fmt.Errorf("network configuration %s: cniVersion %q: %w", f, list.CNIVersion, err)
		}
		if slices.ContainsFunc(nets, func(n *Network) bool { return n.Name == list.Name }) {
			continue
		}
		nets = append(nets, &Network{Name: list.Name, File: f, List: list})
	}
	return nets, nil
}

// loadFile reads one configuration: a list (*.conflist), or a single
// plugin's (*.conf, *.json: the older format, which libcni reads as a
// list of that one plugin, with its name and version).
func loadFile(f string) (*libcni.NetworkConfigList, error) {
	if strings.HasSuffix(f, ".conflist") {
		return libcni.NetworkConfFromFile(f)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	one, err := libcni.NetworkPluginConfFromBytes(b)
	if err != nil {
		return nil, err
	}
	list, err := json.Marshal(map[string]any{"name": one.Network.Name, "cniVersion": one.Network.CNIVersion,
		"plugins": []json.RawMessage{one.Bytes}})
	if err != nil {
		return nil, err
	}
	return libcni.NetworkConfFromBytes(list)
}

// Find returns the network name of Networks, and checks that its plugins
// are installed. An unknown name is an error listing the networks there
// are.
func (c Config) Find(name string, isBuiltin func(string) bool) (*Network, error) {
	nets, err := c.Networks(isBuiltin)
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		if n.Name == name {
			return n, c.CheckPlugins(n)
		}
	}
	if len(nets) == 0 {
		return nil, fmt.Errorf("unknown network %s: %s has no network configurations (*.conflist, *.conf); the built-in networks are default, default-restricted, host and none", name, c.ConfDir)
	}
	names := make([]string, len(nets))
	for i, n := range nets {
		names[i] = n.Name
	}
	return nil, fmt.Errorf("unknown network %s: the networks in %s are %s (and the built-in default, default-restricted, host and none)", name, c.ConfDir, strings.Join(names, ", "))
}

// CheckPlugins checks that every plugin of n, and every IPAM plugin they
// name, is an executable in PluginDirs.
func (c Config) CheckPlugins(n *Network) error {
	var missing []string
	for _, p := range n.List.Plugins {
		for _, t := range []string{p.Network.Type, p.Network.IPAM.Type} {
			if t == "" || slices.Contains(missing, t) {
				continue
			}
			if _, err := invoke.FindInPath(t, c.PluginDirs); err != nil {
				missing = append(missing, t)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var errs []error
	for _, t := range missing {
		hint := "install it there"
		if slices.Contains(standardPlugins[:], t) {
			hint = "install Debian's " + pluginPackage
		}
		errs = append(errs, fmt.Errorf("network %s (%s): plugin %s not found in %s: %s", n.Name, n.File, t, strings.Join(c.PluginDirs, ":"), hint))
	}
	return errors.Join(errs...)
}

// Validate asks each plugin of n which versions of the CNI specification
// it speaks (VERSION), and checks that n's cniVersion is one of them: a
// configuration newer than its plugins is refused before a pod depends on
// it, rather than by its first ADD. It runs every plugin once.
func (c Config) Validate(ctx context.Context, n *Network) error {
	if _, err := c.libcni().ValidateNetworkList(ctx, n.List); err != nil {
		return fmt.Errorf("network %s (%s): %w", n.Name, n.File, err)
	}
	return nil
}

// HasCapability reports whether a plugin of n declares capability cap
// ("portMappings", "ips"), so that it gets the runtime's value of it.
func (n *Network) HasCapability(cap string) bool {
	for _, p := range n.List.Plugins {
		if p.Network.Capabilities[cap] {
			return true
		}
	}
	return false
}

// cacheDir is libcni's cache of attachments.
func (c Config) cacheDir() string { return filepath.Join(c.StateDir, "cache") }

// podsDir holds a directory per attached pod.
func (c Config) podsDir() string { return filepath.Join(c.StateDir, "pods") }

// libcni is the library's handle on c's plugins and cache.
func (c Config) libcni() *libcni.CNIConfig {
	stderr := c.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	exec := &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: stderr}, PluginDecoder: version.PluginDecoder{}}
	return libcni.NewCNIConfigWithCacheDir(c.PluginDirs, c.cacheDir(), exec)
}
