package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/internal/flock"
)

// The capabilities acirun gives a value of, to the plugins that declare
// them (libcni passes a capability's value only to those).
const (
	CapPortMappings = "portMappings"
	CapIPs          = "ips"
)

// PortMapping is one port published on the host by a plugin of the
// portMappings capability (portmap), in that capability's format.
type PortMapping struct {
	Name          string `json:"-"` // the port's name, for the pod's record
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// Request asks for a pod's place on one network.
type Request struct {
	Network *Network
	// IfName is the pod's interface on it (eth0, eth1, …).
	IfName string
	// Args are the plugins' CNI_ARGS (IgnoreUnknown=1 is added unless
	// given, so that each plugin takes the arguments it knows).
	Args [][2]string
	// IP is the address asked for (also CNI_ARGS IP= when it is among
	// Args), given to plugins of the "ips" capability.
	IP netip.Addr
	// Ports are given to plugins of the portMappings capability.
	Ports []PortMapping
}

// Attachment is a pod's place on one network: what its plugins made.
type Attachment struct {
	Network *Network
	IfName  string
	Result  *types100.Result
	// Ports are the ports published: the request's, when a plugin of
	// the network declares portMappings; else none.
	Ports []PortMapping
	rt    *libcni.RuntimeConf
}

// Pod is a pod attached to its networks.
type Pod struct {
	cfg         Config
	ID          string
	dir         string // StateDir/pods/ID
	NetNS       string // the bind mount of its network namespace
	Attachments []*Attachment
}

// The files of a pod's state directory.
const (
	ownerFile   = "owner"            // the pod's owner (its pod directory), then "\n"
	netnsFile   = "netns"            // the bind mount of its network namespace
	pendingFile = "attachments.json" // the attachments begun (pending)
	tmpPrefix   = ".tmp-"            // a pod's state directory being made
)

// pending is an attachment as recorded before its ADD runs: what a DEL
// needs when the ADD never finished, and so never reached libcni's cache
// (a supervisor killed while the plugins ran, which may have leased an
// address already).
type pending struct {
	Network        string          `json:"network"`
	Config         json.RawMessage `json:"config"` // the network's configuration list
	IfName         string          `json:"ifName"`
	Args           [][2]string     `json:"args,omitempty"`
	CapabilityArgs map[string]any  `json:"capabilityArgs,omitempty"`
}

// Attach puts the pod id (a CNI container ID: the pod's UUID), owned by
// owner (its pod directory, which ReleaseStale hands to alive), whose
// network namespace is that of process pid, on the networks of reqs in
// order, running each network's plugins with ADD. The namespace is bind
// mounted in StateDir first, so that the plugins always find it by a
// path, and a DEL after the pod's processes are gone reaches the links
// inside it rather than whatever took its PID. On error, every network
// attached is detached again (DEL, also for the network that failed, as
// the CNI specification asks) and nothing is left behind.
func (c Config) Attach(ctx context.Context, id, owner string, pid int, reqs []Request) (_ *Pod, err error) {
	if err := os.MkdirAll(c.podsDir(), 0o700); err != nil {
		return nil, fmt.Errorf("pod networks: %w", err)
	}
	tmp, err := os.MkdirTemp(c.podsDir(), tmpPrefix+id+"-")
	if err != nil {
		return nil, fmt.Errorf("pod networks: %w", err)
	}
	p := &Pod{cfg: c, ID: id, dir: filepath.Join(c.podsDir(), id)}
	p.NetNS = filepath.Join(p.dir, netnsFile)
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.WriteFile(filepath.Join(tmp, ownerFile), []byte(owner+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("pod networks: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, netnsFile), nil, 0o400); err != nil {
		return nil, fmt.Errorf("pod networks: %w", err)
	}
	if err := os.Rename(tmp, p.dir); err != nil {
		return nil, fmt.Errorf("pod networks: %w", err)
	}
	c.reached(stepStateMade)
	defer func() {
		if err != nil {
			if derr := p.Detach(context.WithoutCancel(ctx)); derr != nil {
				err = fmt.Errorf("%w (and undoing it: %v)", err, derr)
			}
		}
	}()
	src := "/proc/" + strconv.Itoa(pid) + "/ns/net"
	if err := unix.Mount(src, p.NetNS, "", unix.MS_BIND, ""); err != nil {
		return p, fmt.Errorf("pod networks: bind mount %s on %s: %w", src, p.NetNS, err)
	}
	c.reached(stepNetNSBound)
	lib := c.libcni()
	for _, r := range reqs {
		a := &Attachment{Network: r.Network, IfName: r.IfName, rt: runtimeConf(id, p.NetNS, r)}
		if r.Network.HasCapability(CapPortMappings) {
			a.Ports = r.Ports
		}
		// Added before ADD, so that a failed ADD is undone by Detach,
		// and recorded, so that ReleaseStale undoes one that was cut
		// short.
		p.Attachments = append(p.Attachments, a)
		if err := p.recordPending(); err != nil {
			return p, err
		}
		c.reached(stepAddRecorded)
		res, err := lib.AddNetworkList(ctx, r.Network.List, a.rt)
		if err != nil {
			return p, fmt.Errorf("network %s (%s): %w", r.Network.Name, r.Network.File, err)
		}
		if a.Result, err = types100.GetResult(res); err != nil {
			return p, fmt.Errorf("network %s (%s): the plugins' result: %w", r.Network.Name, r.Network.File, err)
		}
		c.reached(stepAddDone)
	}
	return p, nil
}

// recordPending writes the pod's attachments begun so far.
func (p *Pod) recordPending() error {
	recs := make([]pending, len(p.Attachments))
	for i, a := range p.Attachments {
		recs[i] = pending{Network: a.Network.Name, Config: a.Network.List.Bytes, IfName: a.IfName, Args: a.rt.Args, CapabilityArgs: a.rt.CapabilityArgs}
	}
	b, err := json.Marshal(recs)
	if err != nil {
		return fmt.Errorf("pod networks: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(p.dir, pendingFile), b, atomicfile.Options{Perm: 0o600, NoSync: true}); err != nil {
		return fmt.Errorf("pod networks: %w", err)
	}
	return nil
}

// runtimeConf is what the plugins of r are run with for pod id.
func runtimeConf(id, netns string, r Request) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: r.IfName, CapabilityArgs: map[string]any{}}
	ignore := false
	for _, a := range r.Args {
		ignore = ignore || a[0] == "IgnoreUnknown"
	}
	if !ignore {
		rt.Args = append(rt.Args, [2]string{"IgnoreUnknown", "1"})
	}
	rt.Args = append(rt.Args, r.Args...)
	if len(r.Ports) > 0 {
		rt.CapabilityArgs[CapPortMappings] = r.Ports
	}
	if r.IP.IsValid() {
		rt.CapabilityArgs[CapIPs] = []string{r.IP.String()}
	}
	return rt
}

// Detach runs DEL for every network of the pod, the last attached first,
// then removes the bind mount of its network namespace and its state. It
// may be called more than once. When a DEL fails, the state stays, so that
// ReleaseStale tries again once the pod's owner is gone.
func (p *Pod) Detach(ctx context.Context) error {
	lib := p.cfg.libcni()
	var errs []error
	for i := len(p.Attachments) - 1; i >= 0; i-- {
		a := p.Attachments[i]
		if err := lib.DelNetworkList(ctx, a.Network.List, a.rt); err != nil {
			errs = append(errs, fmt.Errorf("network %s (%s): %w", a.Network.Name, a.Network.File, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	p.Attachments = nil
	return removePodState(p.dir)
}

// removePodState unmounts a pod's network namespace and removes its state
// directory.
func removePodState(dir string) error {
	ns := filepath.Join(dir, netnsFile)
	if err := unix.Unmount(ns, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("pod networks: unmount %s: %w", ns, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("pod networks: %w", err)
	}
	return nil
}

// isNetNS reports whether path is (a bind mount of) a network namespace.
func isNetNS(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// ReleaseStale detaches the pods whose owners are not alive (their
// supervisor was killed before it could detach them): for each, DEL of
// every network in libcni's cache, with the configuration and arguments of
// its ADD, in the pod's network namespace, still held by its bind mount
// (or none, after a reboot took it). It returns the IDs of the pods
// detached; one that cannot be does not stop the others.
func (c Config) ReleaseStale(ctx context.Context, alive func(owner string) bool) ([]string, error) {
	ents, err := os.ReadDir(c.podsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pod networks: %w", err)
	}
	lock, err := flock.Lock(ctx, filepath.Join(c.StateDir, ".lock"), true)
	if err != nil {
		return nil, fmt.Errorf("pod networks: %w", err)
	}
	defer flock.Unlock(lock)
	lib := c.libcni()
	var released []string
	var errs []error
	for _, e := range ents {
		dir := filepath.Join(c.podsDir(), e.Name())
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pod networks: %w", err))
			continue
		}
		if owner := strings.TrimSpace(string(b)); owner == "" || alive(owner) {
			continue
		}
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			// Its supervisor died before it attached anything.
			if err := removePodState(dir); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		id := e.Name()
		if err := c.releasePod(ctx, lib, id, dir); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", id, err))
			continue
		}
		released = append(released, id)
	}
	return released, errors.Join(errs...)
}

// releasePod runs DEL for every attachment of pod id, whose state is dir,
// the last begun first, and removes the state once all succeeded: those in
// libcni's cache (complete ADDs, DEL given their results) and those
// recorded as begun whose ADD never completed (DEL without a result, as
// the CNI specification allows).
func (c Config) releasePod(ctx context.Context, lib *libcni.CNIConfig, id, dir string) error {
	cached, err := lib.GetCachedAttachments(id)
	if err != nil {
		return fmt.Errorf("pod networks: %w", err)
	}
	var atts []pending
	if b, err := os.ReadFile(filepath.Join(dir, pendingFile)); err == nil {
		if err := json.Unmarshal(b, &atts); err != nil {
			return fmt.Errorf("pod networks: %s: %w", filepath.Join(dir, pendingFile), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pod networks: %w", err)
	}
	for _, a := range cached {
		if !slices.ContainsFunc(atts, func(p pending) bool { return p.Network == a.Network && p.IfName == a.IfName }) {
			atts = append(atts, pending{Network: a.Network, Config: a.Config, IfName: a.IfName, Args: a.CniArgs, CapabilityArgs: a.CapabilityArgs})
		}
	}
	netns := filepath.Join(dir, netnsFile)
	if !isNetNS(netns) {
		netns = "" // the namespace is gone: DEL of what lives outside it
	}
	var errs []error
	for i := len(atts) - 1; i >= 0; i-- {
		a := atts[i]
		list, err := libcni.NetworkConfFromBytes(a.Config)
		if err != nil {
			errs = append(errs, fmt.Errorf("network %s: recorded configuration: %w", a.Network, err))
			continue
		}
		rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: a.IfName, Args: a.Args, CapabilityArgs: a.CapabilityArgs}
		if err := lib.DelNetworkList(ctx, list, rt); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", a.Network, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return removePodState(dir)
}
