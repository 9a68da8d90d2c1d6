package host

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/netns"
	"github.com/acirun/acirun/netns/cni"
	"github.com/acirun/acirun/userns"
)

// stage1RunDir is where stage1 keeps the host's state shared by pods
// (address leases, the metadata key): RunDir when given, else
// podcontract.DefaultRunDir, never a store's (see Stage1Command).
func (c Config) stage1RunDir() string {
	if c.RunDir != "" {
		return c.RunDir
	}
	return podcontract.DefaultRunDir
}

// releaseStaleLeases gives back the default network's leases of pods that
// no stage1 runs (a lease's owner is a pod directory; podcontract.Running
// is stage1's own rule when it takes a lease back). A stage1 killed with
// SIGKILL cannot release its address; its link goes with the pod's network
// namespace, and the one still there (the namespace held) goes with the
// lease.
//
// The rules of those pods in acirun's nftables table go too: a stage1
// killed with SIGKILL leaves them behind; so do the host ID ranges leased
// to --private-users pods.
func (h *Host) releaseStaleLeases(ctx context.Context) error {
	root := filepath.Join(h.cfg.stage1RunDir(), "net")
	n := netns.Default(root)
	_, waiting, err := n.ReleaseStale(ctx, podcontract.Running)
	h.warnWaiting(waiting)
	if _, ferr := netns.DefaultFirewall(root).RemoveStale(ctx, podcontract.Running); ferr != nil {
		err = errors.Join(err, ferr)
	}
	// The host ID ranges of --private-users pods, kept beside.
	ids := userns.Leases{Dir: filepath.Join(h.cfg.stage1RunDir(), podcontract.UserNSLeaseDir)}
	if _, uerr := ids.ReleaseStale(ctx, podcontract.Running); uerr != nil {
		err = errors.Join(err, uerr)
	}
	return err
}

// NetConfigDir is where the named networks are configured, in the CNI
// format: LocalConfig/net.d, as an absolute path (stage1 gets it as
// --net-config-dir).
func (c Config) NetConfigDir() (string, error) {
	dir, err := filepath.Abs(filepath.Join(c.LocalConfig, "net.d"))
	if err != nil {
		return "", fmt.Errorf("network configurations: %w", err)
	}
	return dir, nil
}

// cniConfig is the named networks' configuration as stage1 uses it: the
// same directories, so that what is checked here is what stage1 finds.
func (h *Host) cniConfig() (cni.Config, error) {
	dir, err := h.cfg.NetConfigDir()
	return cni.Config{ConfDir: dir, PluginDirs: cni.DefaultPluginDirs(), StateDir: filepath.Join(h.cfg.stage1RunDir(), "cni"),
		Stderr: h.cfg.Warnings}, err
}

// CheckNetworks checks the named networks of a --net value before a pod is
// prepared or started on them: each is configured in NetConfigDir with a
// valid configuration, and its plugins are installed; and when the pod
// publishes ports (--port, the pod manifest's ports), one of them has a
// plugin that can (the portMappings capability), as stage1 requires; and
// every plugin speaks the configuration's cniVersion (cni.Config.Validate,
// which runs each plugin once). The built-in networks (and "", the
// default) need nothing.
func (h *Host) CheckNetworks(ctx context.Context, net string, ports []aci.ExposedPort) error {
	if net == "" {
		return nil
	}
	named, err := podcontract.ParseNet(net)
	if err != nil || len(named) == 0 {
		return err
	}
	cfg, err := h.cniConfig()
	if err != nil {
		return err
	}
	canPublish := false
	for _, n := range named {
		nw, err := cfg.Find(n.Name, podcontract.IsBuiltinNet)
		if err != nil {
			return err
		}
		if err := cfg.Validate(ctx, nw); err != nil {
			return err
		}
		canPublish = canPublish || nw.HasCapability(cni.CapPortMappings)
	}
	if len(ports) > 0 && !canPublish {
		return fmt.Errorf("port %s is to be published (--port), and no plugin of --net=%s has the portMappings capability "+
			"(a portmap plugin with \"capabilities\": {\"portMappings\": true})", ports[0].Name, net)
	}
	return nil
}

// releaseStaleNetworks detaches the named networks of pods that no stage1
// runs (killed with SIGKILL): their plugins' links, address leases and
// rules go.
func (h *Host) releaseStaleNetworks(ctx context.Context) error {
	cfg, err := h.cniConfig()
	if err != nil {
		return err
	}
	_, err = cfg.ReleaseStale(ctx, podcontract.Running)
	return err
}

// warnWaiting says, for each ended pod whose addresses wait for its link
// (ReleaseStale's waiting: given back on condition of the link), what
// keeps them leased: the processes and mounts that hold its network
// namespace, and so its link, or why they could not be looked for.
// Nothing is said of a pod where nothing is found: the kernel is most
// likely removing the namespace now, and the next gc or pod start takes
// the addresses back.
func (h *Host) warnWaiting(waiting []netns.Waiting) {
	type link struct {
		name  string
		index int
	}
	var links []link
	addrs := map[link][]string{}
	owner := map[link]string{}
	for _, w := range waiting {
		l := link{w.Link, w.Index}
		if _, ok := addrs[l]; !ok {
			links = append(links, l)
		}
		addrs[l] = append(addrs[l], w.Addr.String())
		owner[l] = w.Owner
	}
	for _, l := range links {
		holders, err := netns.LinkHolders(l.name, l.index)
		if err != nil {
			h.warnf("the ended pod %s keeps its addresses %s while its link %s is there; what holds its network namespace could not be found: %v",
				filepath.Base(owner[l]), strings.Join(addrs[l], " "), l.name, err)
			continue
		}
		if len(holders) == 0 {
			continue
		}
		h.warnf("the ended pod %s keeps its addresses %s while its link %s is there: its network namespace is held by %s; they are free again once that is gone",
			filepath.Base(owner[l]), strings.Join(addrs[l], " "), l.name, strings.Join(holders, ", "))
	}
}
