package host

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/netns"
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
// SIGKILL cannot release its address; its link went with the pod's network
// namespace.
//
// The rules of those pods in acirun's nftables table go too: a stage1
// killed with SIGKILL leaves them behind.
func (h *Host) releaseStaleLeases(ctx context.Context) error {
	root := filepath.Join(h.cfg.stage1RunDir(), "net")
	n := netns.Default(root)
	_, err := n.ReleaseStale(ctx, podcontract.Running)
	if _, ferr := netns.DefaultFirewall(root).RemoveStale(ctx, podcontract.Running); ferr != nil {
		err = errors.Join(err, ferr)
	}
	return err
}
